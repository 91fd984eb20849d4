//! JSON string writing for the log hot path: byte for byte what
//! `serde_json` writes (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other
//! control characters as `\u00xx` with lower-case hex, everything else —
//! DEL and all non-ASCII text included — as is), without a serializer.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a quoted JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // Multi-byte UTF-8 sequences are all ≥ 0x80 and pass through, so
        // the runs copied below never split a character.
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_backslashes_and_short_escapes() {
        assert_eq!(escaped(""), r#""""#);
        assert_eq!(escaped("plain"), r#""plain""#);
        assert_eq!(escaped(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(escaped(r"C:\path\"), r#""C:\\path\\""#);
        assert_eq!(escaped("\\\""), r#""\\\"""#);
        assert_eq!(escaped("a\nb\rc\td"), r#""a\nb\rc\td""#);
        assert_eq!(escaped("\u{8}\u{c}"), r#""\b\f""#);
    }

    #[test]
    fn other_control_characters_are_unicode_escapes() {
        assert_eq!(escaped("\0"), r#""\u0000""#);
        assert_eq!(escaped("\u{1}\u{1f}"), r#""\u0001\u001f""#);
        assert_eq!(escaped("\u{1b}[31m"), r#""\u001b[31m""#);
        // DEL is not a JSON control character.
        assert_eq!(escaped("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn unicode_passes_through() {
        assert_eq!(escaped("Grüße, 東京 🚀"), "\"Grüße, 東京 🚀\"");
        // Line and paragraph separators are valid in JSON strings.
        assert_eq!(escaped("\u{2028}\u{2029}"), "\"\u{2028}\u{2029}\"");
        assert_eq!(escaped("é\"ü\n"), "\"é\\\"ü\\n\"");
    }

    #[test]
    fn every_character_up_to_0x800_matches_serde_json() {
        for c in (0u32..0x800).filter_map(char::from_u32) {
            let s = format!("a{c}b{c}");
            assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap(), "{c:?}");
        }
    }

    #[test]
    fn appends_to_what_is_there() {
        let mut out = b"x:".to_vec();
        write_str(&mut out, "y\"");
        assert_eq!(out, br#"x:"y\"""#);
    }

    proptest! {
        #[test]
        fn matches_serde_json_and_round_trips(s in any::<String>()) {
            let ours = escaped(&s);
            prop_assert_eq!(&ours, &serde_json::to_string(&s).unwrap());
            prop_assert_eq!(serde_json::from_str::<String>(&ours).unwrap(), s);
        }

        #[test]
        fn control_heavy_strings_match(s in "[\\x00-\\x20\"\\\\a-z\u{80}-\u{10ffff}]{0,64}") {
            prop_assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap());
        }
    }
}
