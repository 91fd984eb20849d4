//! The committed test vectors (`tests/vectors/envelope_v1.json`), made by
//! an independent implementation of the documented format: our AAD
//! encoding, sealing with the given nonce, encoding, text form and
//! opening must all reproduce them byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use isms_domain::TenantId;
use isms_domain::crypto::{Aad, Classification, Envelope, EnvelopeHeader, KeyRef};
use isms_infra::crypto::aead::seal_with_nonce_for_test_vectors;
use isms_infra::crypto::{CryptoError, Dek, open};
use serde_json::Value;

const VECTORS: &str = include_str!("vectors/envelope_v1.json");

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

fn aad_of(case: &Value, tenant: TenantId) -> Aad {
    let a = &case["aad"];
    match str_of(a, "kind") {
        "field" => Aad::field(
            tenant,
            str_of(a, "table"),
            str_of(a, "column"),
            str_of(a, "row_id"),
        ),
        "service" => Aad::service(tenant, a["context"].as_str().map(str::as_bytes)),
        other => panic!("unknown aad kind {other}"),
    }
}

#[test]
fn envelope_v1_vectors() {
    let doc: Value = serde_json::from_str(VECTORS).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let name = str_of(case, "name");
        let tenant: TenantId = str_of(case, "tenant").parse().unwrap();
        let class: Classification = str_of(case, "classification").parse().unwrap();
        let version = u32::try_from(case["key_version"].as_u64().unwrap()).unwrap();
        let key = KeyRef::new(tenant, class, version);
        assert_eq!(key.id(), str_of(case, "key_id"), "{name}: key id");

        let aad = aad_of(case, tenant);
        assert_eq!(
            aad.bind(&EnvelopeHeader::data_key(&key)),
            hex(str_of(case, "aad_hex")),
            "{name}: AAD bytes"
        );

        let dek = Dek::from_bytes(&hex(str_of(case, "dek_hex"))).unwrap();
        let nonce: [u8; 12] = hex(str_of(case, "nonce_hex")).try_into().unwrap();
        let plaintext = hex(str_of(case, "plaintext_hex"));
        let expected = hex(str_of(case, "envelope_hex"));

        let sealed = seal_with_nonce_for_test_vectors(&dek, &key, &aad, &plaintext, nonce).unwrap();
        assert_eq!(sealed.encode(), expected, "{name}: envelope bytes");
        assert_eq!(
            sealed.to_text(),
            str_of(case, "envelope_text"),
            "{name}: text form"
        );

        let decoded = Envelope::decode(&expected).unwrap();
        assert_eq!(decoded.key_ref(tenant), Some(key), "{name}: key reference");
        assert_eq!(
            open(&dek, &decoded, &aad).unwrap().as_slice(),
            plaintext,
            "{name}: open"
        );
        let from_text = Envelope::from_text(str_of(case, "envelope_text")).unwrap();
        assert_eq!(
            from_text, decoded,
            "{name}: text decodes to the same envelope"
        );

        // And the vector is not trivially satisfiable: another tenant fails.
        let elsewhere = aad_of(case, TenantId::new());
        assert_eq!(
            open(&dek, &decoded, &elsewhere),
            Err(CryptoError::Unauthentic),
            "{name}"
        );
    }
}
