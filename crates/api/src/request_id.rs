//! Request ids: a client's `X-Request-ID` is kept only if it is 1-128
//! characters of `[A-Za-z0-9._-]` (so it cannot inject into logs or
//! headers); otherwise the server makes a UUIDv7.

use axum::http::{HeaderMap, HeaderName, HeaderValue};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's correlation id, in request and response extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn is_valid(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The incoming id if acceptable, else a fresh one.
pub fn from_headers(headers: &HeaderMap) -> RequestId {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_valid(id))
        .map(|id| RequestId(id.to_owned()))
        .unwrap_or_else(generate)
}

/// A fresh UUIDv7, formatted on the stack and copied once.
fn generate() -> RequestId {
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    RequestId(
        uuid::Uuid::now_v7()
            .hyphenated()
            .encode_lower(&mut buf)
            .to_owned(),
    )
}

pub fn header_value(id: &RequestId) -> HeaderValue {
    // Valid ids are visible ASCII, so this cannot fail; a generated UUID
    // stands in should that ever change.
    HeaderValue::from_str(id.as_str())
        .unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-0000-0000-000000000000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(is_valid("abc-123_x.y"));
        assert!(is_valid(&"a".repeat(128)));
        assert!(!is_valid(""));
        assert!(!is_valid(&"a".repeat(129)));
        assert!(!is_valid("a b"));
        assert!(!is_valid("a\nb"));
        assert!(!is_valid("ä"));
    }

    #[test]
    fn invalid_incoming_ids_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert(&X_REQUEST_ID, HeaderValue::from_static("bad id!"));
        let id = from_headers(&h);
        assert_ne!(id.as_str(), "bad id!");
        let parsed = uuid::Uuid::parse_str(id.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(id.as_str(), parsed.hyphenated().to_string());
        h.insert(&X_REQUEST_ID, HeaderValue::from_static("good-id"));
        assert_eq!(from_headers(&h).as_str(), "good-id");
    }
}
