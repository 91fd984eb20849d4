//! seal/open: round trips, tampering, AAD binding, wrong keys, DEK
//! wrapping and the DEK cache.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use isms_domain::TenantId;
use isms_domain::crypto::envelope::OVERHEAD;
use isms_domain::crypto::{Aad, Classification, Envelope, KeyRef};
use isms_infra::MasterKey;
use isms_infra::crypto::{CryptoError, Dek, DekCache, open, seal, unwrap_dek, wrap_dek};

fn aad(tenant: TenantId) -> Aad {
    Aad::field(
        tenant,
        "risks",
        "treatment_notes",
        "0190a8b2-0000-7000-8000-000000000001",
    )
}

#[test]
fn round_trip_every_classification_and_several_versions() {
    let tenant = TenantId::new();
    for class in Classification::ALL {
        for version in [1, 2, 17, u32::MAX] {
            let key = KeyRef::new(tenant, class, version);
            let dek = Dek::generate().unwrap();
            for plaintext in [&b""[..], b"x", &[0xFFu8; 1000][..]] {
                let env = seal(&dek, &key, &aad(tenant), plaintext).unwrap();
                assert_eq!(env.key_ref(tenant), Some(key));
                let bytes = env.encode();
                assert_eq!(bytes.len(), plaintext.len() + OVERHEAD);
                let decoded = Envelope::decode(&bytes).unwrap();
                assert_eq!(
                    open(&dek, &decoded, &aad(tenant)).unwrap().as_slice(),
                    plaintext
                );
                let text = Envelope::from_text(&env.to_text()).unwrap();
                assert_eq!(
                    open(&dek, &text, &aad(tenant)).unwrap().as_slice(),
                    plaintext
                );
            }
        }
    }
}

#[test]
fn nonces_are_fresh_and_ciphertext_hides_plaintext() {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Internal, 1);
    let dek = Dek::generate().unwrap();
    let a = seal(&dek, &key, &aad(tenant), b"same plaintext").unwrap();
    let b = seal(&dek, &key, &aad(tenant), b"same plaintext").unwrap();
    assert_ne!(a.nonce(), b.nonce());
    assert_ne!(a.sealed(), b.sealed());
    let bytes = a.encode();
    assert!(!bytes.windows(14).any(|w| w == b"same plaintext"));
}

#[test]
fn flipping_any_bit_of_any_byte_fails() {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Confidential, 3);
    let dek = Dek::generate().unwrap();
    let bytes = seal(&dek, &key, &aad(tenant), b"tamper with me")
        .unwrap()
        .encode();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = bytes.clone();
            t[i] ^= bit;
            // Either structurally rejected, or decoded and then refused:
            // never opened, never a panic.
            let result = Envelope::decode(&t).map(|e| open(&dek, &e, &aad(tenant)));
            assert!(
                matches!(result, Err(_) | Ok(Err(_))),
                "flip {bit:#x} at byte {i} was accepted"
            );
        }
    }
}

#[test]
fn header_changes_that_still_decode_are_unauthentic() {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Confidential, 3);
    let dek = Dek::generate().unwrap();
    let bytes = seal(&dek, &key, &aad(tenant), b"data").unwrap().encode();
    // Another valid classification, another key version: the same DEK
    // (as if a store handed it out for the wrong slot) still refuses.
    for (i, v) in [(2usize, 4u8), (2, 1), (6, 4), (3, 1)] {
        let mut t = bytes.clone();
        t[i] = v;
        let e = Envelope::decode(&t).unwrap();
        assert_eq!(
            open(&dek, &e, &aad(tenant)),
            Err(CryptoError::Unauthentic),
            "byte {i}"
        );
    }
}

#[test]
fn aad_swaps_between_rows_columns_tenants_and_purposes_fail() {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Restricted, 1);
    let dek = Dek::generate().unwrap();
    let here = Aad::field(tenant, "users", "phone", "row-1");
    let env = seal(&dek, &key, &here, b"+44 20 7946 0000").unwrap();
    assert!(open(&dek, &env, &here).is_ok());
    for elsewhere in [
        Aad::field(tenant, "users", "phone", "row-2"),
        Aad::field(tenant, "users", "email", "row-1"),
        Aad::field(tenant, "contacts", "phone", "row-1"),
        Aad::field(TenantId::new(), "users", "phone", "row-1"),
        Aad::service(tenant, None),
        Aad::service(tenant, Some(b"users/phone/row-1")),
    ] {
        assert_eq!(open(&dek, &env, &elsewhere), Err(CryptoError::Unauthentic));
    }
    let svc = Aad::service(tenant, Some(b"invoice-7"));
    let env = seal(&dek, &key, &svc, b"x").unwrap();
    assert_eq!(
        open(&dek, &env, &Aad::service(tenant, Some(b"invoice-8"))),
        Err(CryptoError::Unauthentic)
    );
    assert_eq!(
        open(&dek, &env, &Aad::service(tenant, None)),
        Err(CryptoError::Unauthentic)
    );
}

#[test]
fn key_and_context_must_share_a_tenant() {
    let key = KeyRef::new(TenantId::new(), Classification::Internal, 1);
    let dek = Dek::generate().unwrap();
    assert_eq!(
        seal(&dek, &key, &aad(TenantId::new()), b"x").unwrap_err(),
        CryptoError::TenantMismatch
    );
}

#[test]
fn wrong_dek_fails() {
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Internal, 1);
    let env = seal(&Dek::generate().unwrap(), &key, &aad(tenant), b"secret").unwrap();
    assert_eq!(
        open(&Dek::generate().unwrap(), &env, &aad(tenant)),
        Err(CryptoError::Unauthentic)
    );
    assert_eq!(
        Dek::from_bytes(&[1; 31]).unwrap_err(),
        CryptoError::Malformed
    );
    assert_eq!(
        format!("{:?}", Dek::from_bytes(&[0x42; 32]).unwrap()),
        "Dek(..)"
    );
}

#[test]
fn wrapped_dek_only_unwraps_for_its_key_slot() {
    let master = MasterKey::from_bytes(&[9u8; 32]).unwrap();
    let tenant = TenantId::new();
    let key = KeyRef::new(tenant, Classification::Confidential, 2);
    let dek = Dek::generate().unwrap();
    let wrapped = wrap_dek(&master, &key, &dek).unwrap();

    let back = unwrap_dek(&master, &key, &wrapped).unwrap();
    let env = seal(&dek, &key, &aad(tenant), b"payload").unwrap();
    assert_eq!(
        open(&back, &env, &aad(tenant)).unwrap().as_slice(),
        b"payload"
    );

    for other in [
        key.with_version(3),
        KeyRef::new(tenant, Classification::Restricted, 2),
        KeyRef::new(TenantId::new(), Classification::Confidential, 2),
    ] {
        assert_eq!(
            unwrap_dek(&master, &other, &wrapped).unwrap_err(),
            CryptoError::Unauthentic
        );
    }
    let other_master = MasterKey::from_bytes(&[10u8; 32]).unwrap();
    assert_eq!(
        unwrap_dek(&other_master, &key, &wrapped).unwrap_err(),
        CryptoError::Unauthentic
    );
    assert_eq!(
        unwrap_dek(&master, &key, &[1, 2]).unwrap_err(),
        CryptoError::Malformed
    );
}

#[test]
fn cache_returns_the_same_key_and_forgets_after_invalidation() {
    let cache = DekCache::new(100, Duration::from_secs(600));
    let t1 = TenantId::new();
    let t2 = TenantId::new();
    let k = |t, c, v| KeyRef::new(t, c, v);
    let a = k(t1, Classification::Internal, 1);

    let first = cache.insert(a, Dek::generate().unwrap());
    let again = cache.get(&a).unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    let env = seal(&first, &a, &aad(t1), b"cached").unwrap();
    assert_eq!(open(&again, &env, &aad(t1)).unwrap().as_slice(), b"cached");

    // The loader runs only on a miss.
    let mut loads = 0;
    let got = cache
        .get_or_try_insert_with(a, || {
            loads += 1;
            Dek::generate()
        })
        .unwrap();
    assert!(Arc::ptr_eq(&got, &first));
    assert_eq!(loads, 0);
    assert_eq!(
        cache
            .get_or_try_insert_with(k(t1, Classification::Internal, 9), || Err(
                CryptoError::UnknownKey
            ))
            .unwrap_err(),
        CryptoError::UnknownKey
    );
    assert!(
        cache.get(&k(t1, Classification::Internal, 9)).is_none(),
        "failures are not cached"
    );

    cache.invalidate(&a);
    assert!(cache.get(&a).is_none());

    for key in [
        k(t1, Classification::Internal, 1),
        k(t1, Classification::Internal, 2),
        k(t1, Classification::Restricted, 1),
        k(t2, Classification::Internal, 1),
    ] {
        cache.insert(key, Dek::generate().unwrap());
    }
    cache.invalidate_ring(t1, Classification::Internal);
    assert!(cache.get(&k(t1, Classification::Internal, 1)).is_none());
    assert!(cache.get(&k(t1, Classification::Internal, 2)).is_none());
    assert!(cache.get(&k(t1, Classification::Restricted, 1)).is_some());

    cache.invalidate_tenant(t1);
    assert!(cache.get(&k(t1, Classification::Restricted, 1)).is_none());
    assert!(cache.get(&k(t2, Classification::Internal, 1)).is_some());

    cache.invalidate_all();
    assert!(cache.get(&k(t2, Classification::Internal, 1)).is_none());
    assert!(cache.is_empty());
}

#[test]
fn cache_is_bounded() {
    let cache = DekCache::new(8, Duration::from_secs(600));
    let tenant = TenantId::new();
    for v in 1..=100 {
        cache.insert(
            KeyRef::new(tenant, Classification::Internal, v),
            Dek::generate().unwrap(),
        );
    }
    assert!(cache.len() <= 8, "cache holds {}", cache.len());
}

#[test]
fn opening_a_subject_envelope_as_a_data_key_envelope_is_refused() {
    use isms_domain::crypto::SubjectId;
    use isms_infra::crypto::SubjectKey;
    let tenant = TenantId::new();
    let sk = SubjectKey::generate(tenant, SubjectId::new("p-1").unwrap()).unwrap();
    let env = sk
        .seal(Classification::Confidential, "email", b"a@example.org")
        .unwrap();
    assert_eq!(
        open(&Dek::generate().unwrap(), &env, &aad(tenant)),
        Err(CryptoError::Malformed)
    );
}

/// The encrypt path as a service runs it: pick the primary, reserve a use
/// with the store's atomic counter (simulated here), check the reserved
/// count, seal. The cap stops encryption; rotation restores it; the old
/// version still decrypts until retired.
#[test]
fn usage_cap_is_enforced_and_rotation_restores_encryption() {
    use isms_domain::crypto::{KeyPolicy, KeyRing};
    use std::collections::HashMap;

    let tenant = TenantId::new();
    let now = isms_domain::time::now();
    let policy = KeyPolicy::new(3, Duration::from_secs(3600)).unwrap();
    let mut ring = KeyRing::empty(tenant, Classification::Confidential);
    let first = ring.rotate(now, &policy).unwrap();
    ring.apply(&first);
    let mut deks: HashMap<u32, Dek> = HashMap::from([(1, Dek::generate().unwrap())]);
    let mut counters: HashMap<u32, u64> = HashMap::new();

    let encrypt = |ring: &KeyRing, counters: &mut HashMap<u32, u64>, deks: &HashMap<u32, Dek>| {
        let meta = ring.for_encrypt().map_err(CryptoError::from)?;
        let count = counters.entry(meta.key.version).or_insert(0);
        *count += 1; // increment_usage, atomically, in the store
        meta.check_reserved(*count).map_err(CryptoError::from)?;
        seal(&deks[&meta.key.version], &meta.key, &aad(tenant), b"row")
    };

    let mut sealed = Vec::new();
    for _ in 0..3 {
        sealed.push(encrypt(&ring, &mut counters, &deks).unwrap());
    }
    assert_eq!(
        encrypt(&ring, &mut counters, &deks).unwrap_err(),
        CryptoError::UsageCapReached
    );

    let second = ring.rotate(now, &policy).unwrap();
    ring.apply(&second);
    deks.insert(2, Dek::generate().unwrap());
    let fresh = encrypt(&ring, &mut counters, &deks).unwrap();
    assert_eq!(fresh.header().key_version, 2);

    // Version 1 is exhausted and demoted but still decrypts.
    let meta = ring.for_decrypt(sealed[0].header().key_version).unwrap();
    assert_eq!(
        open(&deks[&meta.key.version], &sealed[0], &aad(tenant))
            .unwrap()
            .as_slice(),
        b"row"
    );

    // Retired, it does not; an unknown version is UnknownKey.
    let retired = ring.retire(1, now).unwrap();
    let ring = KeyRing::new(
        tenant,
        Classification::Confidential,
        1,
        vec![retired, ring.get(2).unwrap().clone()],
    )
    .unwrap();
    assert_eq!(
        CryptoError::from(ring.for_decrypt(1).unwrap_err()),
        CryptoError::KeyRetired
    );
    assert_eq!(
        CryptoError::from(ring.for_decrypt(9).unwrap_err()),
        CryptoError::UnknownKey
    );
}
