//! Blind indexes and per-subject keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use isms_domain::TenantId;
use isms_domain::crypto::{Classification, SubjectId, SubjectKeyLookup};
use isms_infra::MasterKey;
use isms_infra::crypto::{BlindIndex, BlindIndexValue, CryptoError, IndexKey, SubjectKey, ct_eq};

fn index(tenant: TenantId, key: u8) -> BlindIndex {
    BlindIndex::new(tenant, IndexKey::from_bytes(&[key; 32]).unwrap())
}

#[test]
fn blind_index_is_deterministic_and_normalised() {
    let t = TenantId::new();
    let idx = index(t, 1);
    let a = idx.compute("email", "alice@example.org").unwrap();
    assert_eq!(a, idx.compute("email", "alice@example.org").unwrap());
    assert_eq!(a, idx.compute("email", "  ALICE@example.org ").unwrap());
    assert_eq!(a.as_bytes().len(), 16);
    assert_ne!(a, idx.compute("email", "bob@example.org").unwrap());
    assert_ne!(
        a,
        idx.compute("login", "alice@example.org").unwrap(),
        "columns are separated"
    );
    assert!(idx.matches("email", "Alice@Example.org", a.as_bytes()));
    assert!(!idx.matches("email", "bob@example.org", a.as_bytes()));
    assert!(!idx.matches("email", "alice@example.org", &a.as_bytes()[..15]));
    assert_eq!(format!("{a:?}"), "BlindIndexValue(..)");
}

#[test]
fn blind_index_differs_across_tenants_and_keys() {
    let t1 = TenantId::new();
    let t2 = TenantId::new();
    let v = |idx: &BlindIndex| idx.compute("email", "alice@example.org").unwrap();
    let base = v(&index(t1, 1));
    assert_ne!(base, v(&index(t2, 1)), "same key, other tenant");
    assert_ne!(base, v(&index(t1, 2)), "same tenant, other key");
    assert_ne!(v(&index(t2, 1)), v(&index(t2, 2)));
    let stored = BlindIndexValue::from_bytes(base.as_bytes()).unwrap();
    assert_eq!(stored, base);
    assert!(BlindIndexValue::from_bytes(&[0; 17]).is_err());
}

#[test]
fn index_keys_wrap_per_tenant() {
    let master = MasterKey::from_bytes(&[3u8; 32]).unwrap();
    let t = TenantId::new();
    let key = IndexKey::generate().unwrap();
    let wrapped = key.wrap(&master, t).unwrap();
    let back = IndexKey::unwrap(&master, t, &wrapped).unwrap();
    let (a, b) = (BlindIndex::new(t, key), BlindIndex::new(t, back));
    assert_eq!(a.compute("c", "v").unwrap(), b.compute("c", "v").unwrap());
    assert_eq!(
        IndexKey::unwrap(&master, TenantId::new(), &wrapped).unwrap_err(),
        CryptoError::Unauthentic
    );
    assert_eq!(
        format!("{:?}", IndexKey::generate().unwrap()),
        "IndexKey(..)"
    );
}

#[test]
fn constant_time_compare() {
    assert!(ct_eq(b"", b""));
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(!ct_eq(&[0x80], &[0x00]));
}

#[test]
fn subject_key_round_trip_and_binding() {
    let master = MasterKey::from_bytes(&[5u8; 32]).unwrap();
    let tenant = TenantId::new();
    let subject = SubjectId::new("person:42").unwrap();
    let key = SubjectKey::generate(tenant, subject.clone()).unwrap();
    let env = key
        .seal(
            Classification::Restricted,
            "contact.email",
            b"p42@example.org",
        )
        .unwrap();
    assert_eq!(
        key.open(&env, "contact.email").unwrap().as_slice(),
        b"p42@example.org"
    );
    assert_eq!(
        key.open(&env, "contact.phone").unwrap_err(),
        CryptoError::Unauthentic
    );
    let text = env.to_text();
    let decoded = isms_domain::crypto::Envelope::from_text(&text).unwrap();
    assert_eq!(
        key.open(&decoded, "contact.email").unwrap().as_slice(),
        b"p42@example.org"
    );

    // Another subject's key cannot open it.
    let other = SubjectKey::generate(tenant, SubjectId::new("person:43").unwrap()).unwrap();
    assert_eq!(
        other.open(&env, "contact.email").unwrap_err(),
        CryptoError::Unauthentic
    );

    // Wrapped and unwrapped it is the same key; moved to another subject
    // or tenant the record does not unwrap.
    let record = key.to_record(&master, isms_domain::time::now()).unwrap();
    let back = SubjectKey::from_record(&master, &record).unwrap();
    assert_eq!(
        back.open(&env, "contact.email").unwrap().as_slice(),
        b"p42@example.org"
    );
    let mut moved = record.clone();
    moved.subject = SubjectId::new("person:43").unwrap();
    assert_eq!(
        SubjectKey::from_record(&master, &moved).unwrap_err(),
        CryptoError::Unauthentic
    );
    let mut moved = record.clone();
    moved.tenant = TenantId::new();
    assert_eq!(
        SubjectKey::from_record(&master, &moved).unwrap_err(),
        CryptoError::Unauthentic
    );
    let mut bumped = record.clone();
    bumped.version = 2;
    assert_eq!(
        SubjectKey::from_record(&master, &bumped).unwrap_err(),
        CryptoError::Unauthentic
    );
    assert!(!format!("{key:?}").contains("person:42"));
    assert!(!format!("{record:?}").contains("person:42"));
}

#[test]
fn destroyed_subject_key_means_forgotten() {
    let master = MasterKey::from_bytes(&[5u8; 32]).unwrap();
    let gone = SubjectKeyLookup::Destroyed {
        destroyed_at: isms_domain::time::now(),
    };
    assert_eq!(
        SubjectKey::from_lookup(&master, &gone).unwrap_err(),
        CryptoError::SubjectForgotten
    );
    let key = SubjectKey::generate(TenantId::new(), SubjectId::new("s").unwrap()).unwrap();
    let live = SubjectKeyLookup::Live(key.to_record(&master, isms_domain::time::now()).unwrap());
    assert!(SubjectKey::from_lookup(&master, &live).is_ok());
}
