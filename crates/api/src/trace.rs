//! Distributed-trace headers a caller (or its load balancer) sends: W3C
//! `traceparent` and AWS `X-Amzn-Trace-Id`. Each is accepted only when it
//! is well formed — so it cannot inject into logs, headers or webhook
//! calls — then kept in the request span, echoed on the response, stored
//! with the request's audit entries and passed on to alert webhooks.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub static X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// The validated trace headers of a request (in its extensions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: Option<String>,
    pub amzn_trace_id: Option<String>,
}

impl TraceContext {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let one = |name: &HeaderName| {
            let mut values = headers.get_all(name).iter();
            // Two values of one trace header contradict each other.
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().ok().map(str::trim),
                _ => None,
            }
        };
        Self {
            traceparent: one(&TRACEPARENT)
                .filter(|v| valid_traceparent(v))
                .map(str::to_owned),
            amzn_trace_id: one(&X_AMZN_TRACE_ID)
                .filter(|v| valid_amzn_trace_id(v))
                .map(str::to_owned),
        }
    }

    /// The trace id: W3C's 32 hex digits, else the AWS `Root`.
    pub fn trace_id(&self) -> Option<&str> {
        if let Some(tp) = &self.traceparent {
            return tp.split('-').nth(1);
        }
        self.amzn_trace_id
            .as_deref()
            .and_then(|v| v.split(';').find_map(|f| f.strip_prefix("Root=")))
    }

    /// Echoes the accepted headers on a response.
    pub fn echo(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            (&TRACEPARENT, &self.traceparent),
            (&X_AMZN_TRACE_ID, &self.amzn_trace_id),
        ] {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name.clone(), v);
            }
        }
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn all_zero(s: &str) -> bool {
    s.bytes().all(|b| b == b'0')
}

/// W3C Trace Context §3.2: `version-trace_id-parent_id-flags`, lower-case
/// hex; version `ff` and all-zero ids are invalid. Version 00 has exactly
/// these four fields; a later version may append more after a `-`.
pub fn valid_traceparent(v: &str) -> bool {
    if v.len() < 55 || v.len() > 512 {
        return false;
    }
    let mut parts = v.splitn(5, '-');
    let (Some(version), Some(trace_id), Some(parent_id), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest = parts.next();
    is_lower_hex(version, 2)
        && version != "ff"
        && is_lower_hex(trace_id, 32)
        && !all_zero(trace_id)
        && is_lower_hex(parent_id, 16)
        && !all_zero(parent_id)
        && is_lower_hex(flags, 2)
        && match rest {
            None => true,
            // Unknown future fields are tolerated, not for version 00.
            Some(extra) => {
                version != "00"
                    && extra
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }
        }
}

/// `X-Amzn-Trace-Id`: `;`-separated `Key=Value` fields with a `Root` of
/// the form `1-<8 hex time>-<24 hex id>` (Self, Parent, Sampled and
/// custom fields are kept as sent, within a safe character set).
pub fn valid_amzn_trace_id(v: &str) -> bool {
    if v.is_empty() || v.len() > 256 {
        return false;
    }
    let mut root = false;
    for field in v.split(';') {
        let Some((key, value)) = field.split_once('=') else {
            return false;
        };
        let safe = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        };
        if !safe(key) || !safe(value) {
            return false;
        }
        if key == "Root" {
            let mut p = value.split('-');
            root = matches!(
                (p.next(), p.next(), p.next(), p.next()),
                (Some("1"), Some(time), Some(id), None)
                    if time.len() == 8 && id.len() == 24
                        && time.bytes().chain(id.bytes()).all(|b| b.is_ascii_hexdigit())
            );
            if !root {
                return false;
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const AMZN: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn traceparent_validation() {
        assert!(valid_traceparent(TP));
        assert!(valid_traceparent(
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"
        ));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\nx",
        ] {
            assert!(!valid_traceparent(bad), "{bad:?}");
        }
    }

    #[test]
    fn amzn_trace_id_validation() {
        assert!(valid_amzn_trace_id(AMZN));
        assert!(valid_amzn_trace_id(
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        ));
        assert!(valid_amzn_trace_id(
            "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793"
        ));
        for bad in [
            "",
            "Parent=53995c3f42cd8ad8",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e98-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279z",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Bad Key=1",
            "Root=1-5759e988-bd862e3fe1be46a994272793;x=<script>",
            "Root=1-5759e988-bd862e3fe1be46a994272793;",
        ] {
            assert!(!valid_amzn_trace_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn context_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(&TRACEPARENT, HeaderValue::from_static(TP));
        h.insert(&X_AMZN_TRACE_ID, HeaderValue::from_static("garbage"));
        let c = TraceContext::from_headers(&h);
        assert_eq!(c.traceparent.as_deref(), Some(TP));
        assert_eq!(c.amzn_trace_id, None);
        assert_eq!(c.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let mut out = HeaderMap::new();
        c.echo(&mut out);
        assert_eq!(out.get(&TRACEPARENT).unwrap(), TP);
        assert!(out.get(&X_AMZN_TRACE_ID).is_none());

        let mut h = HeaderMap::new();
        h.insert(&X_AMZN_TRACE_ID, HeaderValue::from_static(AMZN));
        let c = TraceContext::from_headers(&h);
        assert_eq!(c.trace_id(), Some("1-5759e988-bd862e3fe1be46a994272793"));

        // Two traceparents: neither is believed.
        let mut h = HeaderMap::new();
        h.append(&TRACEPARENT, HeaderValue::from_static(TP));
        h.append(&TRACEPARENT, HeaderValue::from_static(TP));
        assert_eq!(TraceContext::from_headers(&h).traceparent, None);
    }
}
