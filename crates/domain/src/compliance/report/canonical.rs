//! Canonical JSON for signed reports: the shared writer of
//! `crate::canonical_json` (the report carries its one float, the score,
//! as a one-decimal string).

pub use crate::canonical_json::{FloatInCanonical, write_canonical};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn enc(v: &Value) -> Result<String, FloatInCanonical> {
        let mut buf = Vec::new();
        write_canonical(&mut buf, v)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    #[test]
    fn sorted_compact_minimal() {
        let v = json!({"b": [1, -2, true, null], "a": {"é": "x\"\\\n\u{1}", "Z": 18446744073709551615u64}});
        assert_eq!(
            enc(&v).ok().as_deref(),
            Some(r#"{"a":{"Z":18446744073709551615,"é":"x\"\\\n\u0001"},"b":[1,-2,true,null]}"#)
        );
    }

    #[test]
    fn floats_are_refused() {
        assert_eq!(enc(&json!({"score": 87.5})), Err(FloatInCanonical));
    }
}
