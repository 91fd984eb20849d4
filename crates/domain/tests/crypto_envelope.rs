//! Envelope byte layout, its text form and the AAD encoding.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use isms_domain::TenantId;
use isms_domain::crypto::envelope::{HEADER_LEN, NONCE_LEN, OVERHEAD, TAG_LEN};
use isms_domain::crypto::{
    Aad, Classification, Envelope, EnvelopeError, EnvelopeHeader, KeyKind, KeyRef, SubjectId, blind,
};
use proptest::prelude::*;

fn sample(len: usize) -> Envelope {
    let header = EnvelopeHeader {
        kind: KeyKind::DataKey,
        classification: Classification::Confidential,
        key_version: 0x0102_0304,
    };
    let sealed: Vec<u8> = (0..len + TAG_LEN).map(|i| i as u8).collect();
    Envelope::from_parts(header, [0xAA; NONCE_LEN], sealed).unwrap()
}

#[test]
fn layout_is_as_documented() {
    let bytes = sample(5).encode();
    assert_eq!(bytes.len(), 5 + OVERHEAD);
    assert_eq!(OVERHEAD, 39);
    assert_eq!(&bytes[..HEADER_LEN], &[1, 1, 3, 1, 2, 3, 4, 0, 0, 0, 5]);
    assert_eq!(
        &bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN],
        &[0xAA; NONCE_LEN]
    );
    assert_eq!(bytes[HEADER_LEN + NONCE_LEN], 0);
    assert_eq!(Envelope::decode(&bytes).unwrap(), sample(5));
}

#[test]
fn empty_plaintext_round_trips() {
    let e = sample(0);
    assert_eq!(e.encode().len(), OVERHEAD);
    assert_eq!(Envelope::decode(&e.encode()).unwrap(), e);
}

#[test]
fn every_truncation_and_any_trailing_byte_is_rejected() {
    let bytes = sample(20).encode();
    for cut in 0..bytes.len() {
        assert!(
            matches!(
                Envelope::decode(&bytes[..cut]),
                Err(EnvelopeError::Truncated)
            ),
            "prefix of {cut} bytes accepted"
        );
    }
    for extra in [&[0u8][..], &[1, 2, 3], &bytes[..]] {
        let mut long = bytes.clone();
        long.extend_from_slice(extra);
        assert_eq!(Envelope::decode(&long), Err(EnvelopeError::TrailingBytes));
    }
}

#[test]
fn unknown_header_values_are_rejected() {
    let bytes = sample(3).encode();
    let with = |i: usize, v: u8| {
        let mut b = bytes.clone();
        b[i] = v;
        Envelope::decode(&b)
    };
    assert_eq!(with(0, 0), Err(EnvelopeError::UnknownFormat(0)));
    assert_eq!(with(0, 2), Err(EnvelopeError::UnknownFormat(2)));
    assert_eq!(with(1, 0), Err(EnvelopeError::UnknownKeyKind(0)));
    assert_eq!(with(1, 3), Err(EnvelopeError::UnknownKeyKind(3)));
    assert_eq!(with(2, 0), Err(EnvelopeError::UnknownClassification(0)));
    assert_eq!(with(2, 9), Err(EnvelopeError::UnknownClassification(9)));
    let mut zero = bytes.clone();
    zero[3..7].copy_from_slice(&[0; 4]);
    assert_eq!(Envelope::decode(&zero), Err(EnvelopeError::ZeroKeyVersion));
    // A length that claims more than there is.
    let mut long = bytes.clone();
    long[7..11].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(Envelope::decode(&long), Err(EnvelopeError::Truncated));
}

#[test]
fn from_parts_checks_sizes() {
    let h = *sample(0).header();
    assert_eq!(
        Envelope::from_parts(h, [0; NONCE_LEN], vec![0; TAG_LEN - 1]),
        Err(EnvelopeError::Truncated)
    );
    let zero = EnvelopeHeader {
        key_version: 0,
        ..h
    };
    assert_eq!(
        Envelope::from_parts(zero, [0; NONCE_LEN], vec![0; TAG_LEN]),
        Err(EnvelopeError::ZeroKeyVersion)
    );
}

#[test]
fn text_form_round_trips_and_is_strict() {
    let e = sample(7);
    let text = e.to_text();
    assert!(text.starts_with("isms:v1:"));
    assert!(Envelope::is_text_envelope(&text));
    assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
    assert_eq!(Envelope::from_text(&text).unwrap(), e);

    assert_eq!(
        Envelope::from_text("plain value"),
        Err(EnvelopeError::NotText)
    );
    assert_eq!(
        Envelope::from_text(&text.replace("isms:v1:", "ISMS:v1:")),
        Err(EnvelopeError::NotText)
    );
    assert_eq!(
        Envelope::from_text(&text.replace("isms:v1:", "isms:v2:")),
        Err(EnvelopeError::NotText)
    );
    assert_eq!(
        Envelope::from_text(&format!("{text}=")),
        Err(EnvelopeError::BadBase64)
    );
    assert_eq!(
        Envelope::from_text(&format!("{text} ")),
        Err(EnvelopeError::BadBase64)
    );
    assert_eq!(
        Envelope::from_text(&format!(" {text}")),
        Err(EnvelopeError::NotText)
    );
    // Base64 of a valid envelope with a byte appended: structurally rejected.
    let mut long = e.encode();
    long.push(0);
    use base64::Engine as _;
    let padded = format!(
        "isms:v1:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(long)
    );
    assert_eq!(
        Envelope::from_text(&padded),
        Err(EnvelopeError::TrailingBytes)
    );
}

#[test]
fn envelope_names_its_key_within_the_callers_tenant() {
    let tenant = TenantId::new();
    let e = sample(1);
    assert_eq!(
        e.key_ref(tenant),
        Some(KeyRef::new(
            tenant,
            Classification::Confidential,
            0x0102_0304
        ))
    );
    let subject = Envelope::from_parts(
        EnvelopeHeader {
            kind: KeyKind::SubjectKey,
            ..*e.header()
        },
        [0; NONCE_LEN],
        vec![0; TAG_LEN],
    )
    .unwrap();
    assert_eq!(subject.key_ref(tenant), None);
    assert!(
        !format!("{e:?}").contains("170"),
        "debug must not dump bytes"
    );
}

fn header(version: u32) -> EnvelopeHeader {
    EnvelopeHeader {
        kind: KeyKind::DataKey,
        classification: Classification::Internal,
        key_version: version,
    }
}

#[test]
fn aad_is_unambiguous_and_binds_everything() {
    let t = TenantId::new();
    let h = header(1);
    let all = [
        Aad::field(t, "risks", "notes", "1").bind(&h),
        Aad::field(t, "risk", "snotes", "1").bind(&h),
        Aad::field(t, "risks", "note", "s1").bind(&h),
        Aad::field(t, "risks", "notes", "2").bind(&h),
        Aad::field(TenantId::new(), "risks", "notes", "1").bind(&h),
        Aad::field(t, "risks", "notes", "1").bind(&header(2)),
        Aad::field(t, "risks", "notes", "1").bind(&EnvelopeHeader {
            classification: Classification::Restricted,
            ..h
        }),
        Aad::field(t, "risks", "notes", "1").bind(&EnvelopeHeader {
            kind: KeyKind::SubjectKey,
            ..h
        }),
        Aad::service(t, None).bind(&h),
        Aad::service(t, Some(b"")).bind(&h),
        Aad::service(t, Some(b"ctx")).bind(&h),
        Aad::subject(t, &SubjectId::new("s").unwrap(), "p").bind(&h),
        Aad::subject(t, &SubjectId::new("sp").unwrap(), "").bind(&h),
    ];
    for (i, a) in all.iter().enumerate() {
        for (j, b) in all.iter().enumerate() {
            if i != j {
                assert_ne!(a, b, "AAD {i} equals AAD {j}");
            }
        }
    }
    // The header comes first, byte for byte.
    assert_eq!(&all[0][..7], &h.to_bytes());
    assert_eq!(Aad::field(t, "a", "b", "c").tenant(), t);
    assert!(!format!("{:?}", Aad::field(t, "users", "email", "row-42")).contains("row-42"));
}

#[test]
fn subject_ids_are_validated() {
    assert!(SubjectId::new("").is_err());
    assert!(SubjectId::new("a\nb").is_err());
    assert!(SubjectId::new("x".repeat(257)).is_err());
    assert!(SubjectId::new("x".repeat(256)).is_ok());
    let u = isms_domain::UserId::new();
    assert_eq!(SubjectId::user(u).as_str(), format!("user:{u}"));
    assert_eq!(
        serde_json::to_value(SubjectId::new("p-1").unwrap()).unwrap(),
        "p-1"
    );
    assert!(serde_json::from_value::<SubjectId>("".into()).is_err());
}

#[test]
fn blind_index_normalisation() {
    assert_eq!(blind::normalise("  Alice   Example "), "alice example");
    assert_eq!(blind::normalise("ＡＬＩＣＥ"), "alice"); // full-width, NFKC
    assert_eq!(blind::normalise("Ｅ\u{301}"), blind::normalise("é"));
    let t = TenantId::new();
    assert_ne!(
        blind::index_input(t, "ab", "c"),
        blind::index_input(t, "a", "bc")
    );
    assert_ne!(
        blind::index_input(t, "a", "b"),
        blind::index_input(TenantId::new(), "a", "b")
    );
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = Envelope::decode(&bytes);
    }

    #[test]
    fn decode_of_header_like_input_never_panics(
        tail in proptest::collection::vec(any::<u8>(), 0..96),
        class in 0u8..6, kind in 0u8..4,
    ) {
        let mut b = vec![1, kind, class];
        b.extend_from_slice(&tail);
        if let Ok(e) = Envelope::decode(&b) {
            prop_assert_eq!(e.encode(), b);
        }
    }

    #[test]
    fn encode_decode_round_trip(len in 0usize..200, version in 1u32.., class in 1u8..=4) {
        let header = EnvelopeHeader {
            kind: KeyKind::DataKey,
            classification: Classification::from_code(class).unwrap(),
            key_version: version,
        };
        let e = Envelope::from_parts(header, [7; NONCE_LEN], vec![3; len + TAG_LEN]).unwrap();
        prop_assert_eq!(Envelope::decode(&e.encode()).unwrap(), e.clone());
        prop_assert_eq!(Envelope::from_text(&e.to_text()).unwrap(), e);
    }
}
