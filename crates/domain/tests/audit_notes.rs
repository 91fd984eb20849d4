#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Signed notes interoperate with the reference implementation of C2SP
//! signed-note (Go's golang.org/x/mod/sumdb/note): its published example,
//! signed with its key, comes out byte for byte, and opens with its
//! verifier key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use isms_domain::audit::{open_signed_note, parse_verifier_key, sign_note, verifier_key};

fn vector() -> serde_json::Value {
    serde_json::from_str(include_str!("vectors/signed_note_go.json")).unwrap()
}

/// `PRIVATE+KEY+<name>+<hash>+<base64(0x01 ‖ seed)>` → the seed.
fn seed(signer_key: &str) -> [u8; 32] {
    let b64 = signer_key.splitn(5, '+').nth(4).unwrap();
    let raw = B64.decode(b64).unwrap();
    assert_eq!(raw[0], 0x01);
    raw[1..].try_into().unwrap()
}

#[test]
fn go_reference_note_is_reproduced_and_verifies() {
    let v = vector();
    let name = v["key_name"].as_str().unwrap();
    let text = v["text"].as_str().unwrap();
    let note = v["note"].as_str().unwrap();
    let secret = seed(v["signer_key"].as_str().unwrap());
    assert_eq!(sign_note(text, name, &secret), note);

    let (parsed_name, public) = parse_verifier_key(v["verifier_key"].as_str().unwrap()).unwrap();
    assert_eq!(parsed_name, name);
    assert_eq!(
        verifier_key(name, &public),
        v["verifier_key"].as_str().unwrap()
    );
    assert_eq!(open_signed_note(note, name, &public).unwrap(), text);

    let tampered = note.replacen("cryptography", "cryptographY", 1);
    assert!(open_signed_note(&tampered, name, &public).is_err());
}
