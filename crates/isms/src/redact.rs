//! Structural redaction of log fields: a field whose key is on the
//! deny-list is written as `"[REDACTED]"` at any nesting depth (fields
//! holding JSON text are parsed and cleaned key by key), and a value that
//! looks like a JWT, a bearer credential or an e-mail address is masked
//! whatever its key is called.
//!
//! Keys are compared case-insensitively with `-`, `.` and `_` treated
//! alike. Short, ambiguous names (`code`, `otp`, `pin`) must match the
//! whole key (so `status_code` survives); longer ones match anywhere in it
//! (`new_password`, `refresh_token`, `admin_email`).

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use serde_json::{Map, Value};

use crate::json_escape;

pub const REDACTED: &str = "[REDACTED]";

/// Whole-key matches: short words that are secrets only on their own, and
/// personal data (ISO 27001 A.5.34).
pub const DENY_EXACT: &[&str] = &[
    "code",
    "otp",
    "pin",
    "phone",
    "mobile",
    "address",
    "street",
    "postal_code",
    "zip",
    "date_of_birth",
    "birth_date",
    "dob",
    "ssn",
    "national_id",
    "passport",
    "iban",
    "display_name",
    "full_name",
    "first_name",
    "last_name",
    "given_name",
    "family_name",
];

/// Matches anywhere in the key.
pub const DENY_CONTAINS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "master_key",
    "mfa",
    "totp",
    "otpauth",
    "credential",
    "recovery_code",
    "verification_code",
    "authorization",
    "cookie",
    "email",
    "e_mail",
    "phone_number",
];

/// Nesting beyond this is not walked; the value is redacted whole.
const MAX_DEPTH: usize = 32;

/// One byte as compared: lower case, separators unified.
fn norm(b: u8) -> u8 {
    match b {
        b'-' | b'.' => b'_',
        _ => b.to_ascii_lowercase(),
    }
}

fn eq_norm(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| norm(*x) == norm(*y))
}

/// The deny-list: the built-in lists plus the operator's extra keys
/// (`ISMS_LOG_REDACT_FIELDS`, whole-key matches). The built-in lists
/// cannot be shortened: a configuration mistake must not leak passwords.
#[derive(Debug, Clone)]
pub struct Redactor {
    extra: Vec<String>,
    /// `DENY_CONTAINS` as one automaton: every field of every log line is
    /// checked, and one pass over the key beats a scan per word.
    contains: Option<AhoCorasick>,
}

impl Default for Redactor {
    fn default() -> Self {
        Self::new(&[])
    }
}

impl Redactor {
    pub fn new(extra: &[String]) -> Self {
        Self {
            extra: extra.to_vec(),
            // Building from fixed, short words does not fail; if it ever
            // did, `denied` falls back to comparing word by word.
            contains: AhoCorasick::builder()
                .kind(Some(AhoCorasickKind::DFA))
                .build(DENY_CONTAINS)
                .ok(),
        }
    }

    /// Whether values under `key` are always redacted.
    pub fn denied(&self, key: &str) -> bool {
        // Normalise the key once (on the stack for any sane key) and
        // compare plain bytes.
        let mut buf = [0u8; 64];
        let long: Vec<u8>;
        let k: &[u8] = if key.len() <= buf.len() {
            for (d, s) in buf.iter_mut().zip(key.bytes()) {
                *d = norm(s);
            }
            &buf[..key.len()]
        } else {
            long = key.bytes().map(norm).collect();
            &long
        };
        let contains = match &self.contains {
            Some(automaton) => automaton.is_match(k),
            None => DENY_CONTAINS
                .iter()
                .any(|d| k.windows(d.len()).any(|w| w == d.as_bytes())),
        };
        contains
            || DENY_EXACT.iter().any(|d| k == d.as_bytes())
            || self.extra.iter().any(|d| eq_norm(k, d.as_bytes()))
    }

    /// The value to log for field `key`.
    pub fn clean(&self, key: &str, value: Value) -> Value {
        self.clean_at(key, value, 0)
    }

    fn clean_at(&self, key: &str, value: Value, depth: usize) -> Value {
        if self.denied(key) || depth > MAX_DEPTH {
            return Value::String(REDACTED.into());
        }
        match value {
            Value::String(s) => self.clean_str(s, depth),
            Value::Object(m) => Value::Object(self.clean_map(m, depth)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.clean_at("", v, depth + 1))
                    .collect(),
            ),
            other => other,
        }
    }

    fn clean_map(&self, m: Map<String, Value>, depth: usize) -> Map<String, Value> {
        m.into_iter()
            .map(|(k, v)| {
                let v = self.clean_at(&k, v, depth + 1);
                (k, v)
            })
            .collect()
    }

    fn clean_str(&self, s: String, depth: usize) -> Value {
        // A field holding JSON (event details, serialised bodies) is
        // cleaned key by key and logged as nested JSON.
        if let Some(parsed) = json_text(&s) {
            return self.clean_at("", parsed, depth + 1);
        }
        if looks_sensitive(&s) {
            Value::String(REDACTED.into())
        } else {
            Value::String(s)
        }
    }

    /// Appends, as JSON, what is logged for the string field `key`: the
    /// same value as `clean(key, Value::String(value))`, written without
    /// building it (this runs for every field of every log line).
    pub fn write_str(&self, key: &str, value: &str, out: &mut Vec<u8>) {
        if self.denied(key) {
            json_escape::write_str(out, REDACTED);
        } else if let Some(parsed) = json_text(value) {
            let cleaned = self.clean_at("", parsed, 1);
            let start = out.len();
            // Writing a `Value` into a `Vec` does not fail; were it to,
            // nothing half-written stays.
            if serde_json::to_writer(&mut *out, &cleaned).is_err() {
                out.truncate(start);
                json_escape::write_str(out, REDACTED);
            }
        } else if looks_sensitive(value) {
            json_escape::write_str(out, REDACTED);
        } else {
            json_escape::write_str(out, value);
        }
    }
}

/// A string holding a JSON object or array, parsed.
fn json_text(s: &str) -> Option<Value> {
    let t = s.trim_start();
    if !(t.starts_with('{') || t.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
}

/// A JWT, a bearer credential or an e-mail address anywhere in `s`.
pub fn looks_sensitive(s: &str) -> bool {
    contains_jwt(s) || contains_bearer(s) || contains_email(s)
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// `eyJ…` (base64url of `{"`) followed by two more dot-separated
/// base64url segments.
fn contains_jwt(s: &str) -> bool {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(pos) = s[from..].find("eyJ") {
        let start = from + pos;
        let mut i = start;
        let mut segments = 0;
        loop {
            let seg_start = i;
            while i < b.len() && is_b64url(b[i]) {
                i += 1;
            }
            if i == seg_start {
                break;
            }
            segments += 1;
            if segments == 3 || i >= b.len() || b[i] != b'.' {
                break;
            }
            i += 1;
        }
        if segments >= 3 {
            return true;
        }
        from = start + 3;
    }
    false
}

/// `Bearer <something>`, any case.
fn contains_bearer(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(7).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(b"bearer ") && b.get(i + 7).is_some_and(|c| !c.is_ascii_whitespace())
    })
}

/// `local@domain.tld`: a local part, an `@`, and a domain with a dot and a
/// top-level label of at least two letters.
fn contains_email(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(at, c)| {
        if *c != b'@' || at == 0 {
            return false;
        }
        let local_ok = b[..at].last().is_some_and(|p| {
            p.is_ascii_alphanumeric() || matches!(p, b'.' | b'_' | b'%' | b'+' | b'-')
        });
        let domain: Vec<u8> = b[at + 1..]
            .iter()
            .copied()
            .take_while(|d| d.is_ascii_alphanumeric() || matches!(d, b'.' | b'-'))
            .collect();
        let domain = String::from_utf8_lossy(&domain);
        let domain = domain.trim_end_matches('.');
        let mut labels = domain.rsplit('.');
        let tld_ok = labels
            .next()
            .is_some_and(|t| t.len() >= 2 && t.bytes().all(|x| x.is_ascii_alphabetic()));
        local_ok && tld_ok && labels.next().is_some_and(|l| !l.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn built_in_lists_are_written_normalised() {
        // `denied` compares normalised keys with the lists byte for byte.
        for d in DENY_EXACT.iter().chain(DENY_CONTAINS) {
            let normalised: Vec<u8> = d.bytes().map(norm).collect();
            assert_eq!(normalised, d.as_bytes(), "{d}");
            assert!(!d.is_empty());
        }
    }

    #[test]
    fn automaton_and_word_by_word_agree() {
        let fast = Redactor::default();
        let slow = Redactor {
            contains: None,
            ..Redactor::default()
        };
        for key in [
            "password",
            "new_password",
            "X-Refresh-Token",
            "status_code",
            "code",
            "duration_ms",
            "admin.email",
            "route",
            "user_id",
            "MFA_secret",
            "",
            "cookie_jar",
            "tenant",
        ] {
            assert_eq!(fast.denied(key), slow.denied(key), "{key}");
        }
        assert!(fast.contains.is_some());
    }

    #[test]
    fn long_keys_are_checked_too() {
        let r = Redactor::default();
        let long = format!("{}_Refresh-Token", "x".repeat(80));
        assert!(r.denied(&long));
        assert!(!r.denied(&"x".repeat(80)));
    }

    #[test]
    fn deny_list_keys() {
        let r = Redactor::new(&["customer_ref".to_owned()]);
        for key in [
            "password",
            "New-Password",
            "current_password",
            "passwd",
            "client_secret",
            "access_token",
            "refresh_token",
            "mfa_token",
            "Authorization",
            "cookie",
            "set-cookie",
            "api_key",
            "X-Api-Key",
            "private_key",
            "master_key",
            "totp",
            "totp_secret",
            "otp",
            "code",
            "recovery_code",
            "email",
            "admin_email",
            "display_name",
            "customer.ref",
        ] {
            assert!(r.denied(key), "{key}");
        }
        for key in [
            "status_code",
            "error_code",
            "user_id",
            "route",
            "method",
            "status",
            "request_id",
            "client_ip",
            "tenant_id",
            "event",
            "customer_reference",
        ] {
            assert!(!r.denied(key), "{key}");
        }
    }

    #[test]
    fn nested_fields_are_redacted_at_any_depth() {
        let r = Redactor::default();
        let v = r.clean(
            "details",
            json!({
                "role": "admin",
                "user": {"email": "a@b.example", "profile": [{"password": "x"}, {"ok": 1}]},
                "deep": {"a": {"b": {"c": {"refresh_token": "t"}}}},
            }),
        );
        assert_eq!(v["role"], "admin");
        assert_eq!(v["user"]["email"], REDACTED);
        assert_eq!(v["user"]["profile"][0]["password"], REDACTED);
        assert_eq!(v["user"]["profile"][1]["ok"], 1);
        assert_eq!(v["deep"]["a"]["b"]["c"]["refresh_token"], REDACTED);
        // JSON text in a string field is parsed and cleaned the same way.
        let v = r.clean("details", json!(r#"{"new_password":"hunter2","n":2}"#));
        assert_eq!(v, json!({"new_password": REDACTED, "n": 2}));
    }

    #[test]
    fn credentials_and_addresses_are_masked_under_any_key() {
        let r = Redactor::default();
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        for value in [
            jwt.to_owned(),
            format!("token was {jwt} here"),
            "Bearer abc.def".to_owned(),
            "header: bearer x".to_owned(),
            "alice@example.com".to_owned(),
            "contact <bob.smith+x@mail.example.org>".to_owned(),
        ] {
            assert_eq!(r.clean("note", json!(value)), json!(REDACTED), "{value}");
        }
        for value in [
            "eyJ alone",
            "a.b.c",
            "token_type bearer",
            "user@localhost",
            "@example.com",
            "GET /api/v1/users/{id}",
            "isms.local/audit",
        ] {
            assert_eq!(r.clean("note", json!(value)), json!(value), "{value}");
        }
    }

    #[test]
    fn too_deep_is_redacted_whole() {
        let mut v = json!("leaf");
        for _ in 0..40 {
            v = json!({ "x": v });
        }
        let cleaned = Redactor::default().clean("details", v);
        assert!(serde_json::to_string(&cleaned).unwrap().contains(REDACTED));
    }

    #[test]
    fn write_str_writes_what_clean_returns() {
        let r = Redactor::new(&["customer_ref".to_owned()]);
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        for (key, value) in [
            ("route", "/api/v1/users/{id}"),
            ("password", "hunter2"),
            ("Customer-Ref", "C-1"),
            ("note", jwt),
            ("note", "Bearer abc"),
            ("note", "to: a.b@example.com"),
            ("details", r#"{"z":1,"a":{"refresh_token":"t","x":"q\"r"}}"#),
            ("details", "  [1, {\"email\": \"x\"}]"),
            ("details", "[not json"),
            ("details", "{}"),
            (
                "text",
                "quote \" backslash \\ newline \n tab \t nul \u{0} é 🚀",
            ),
            ("text", ""),
        ] {
            let mut out = Vec::new();
            r.write_str(key, value, &mut out);
            let expected = serde_json::to_vec(&r.clean(key, json!(value))).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected).unwrap(),
                "{key}={value}"
            );
        }
    }
}
