//! Classification, key ids and the key lifecycle rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use isms_domain::TenantId;
use isms_domain::crypto::lifecycle::{DEFAULT_MAX_USAGE, NIST_RANDOM_NONCE_LIMIT};
use isms_domain::crypto::{
    Classification, DataKeyMeta, KeyPolicy, KeyRef, KeyRing, KeyRuleError, KeyState, dek_wrap_aad,
    retire, rotation_due,
};
use isms_domain::time::{Timestamp, now};

use Classification as C;

#[test]
fn classification_names_codes_order_and_serde() {
    for c in C::ALL {
        assert_eq!(c.as_str().parse::<C>().unwrap(), c);
        assert_eq!(C::from_code(c.code()), Some(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        assert_eq!(serde_json::from_value::<C>(c.as_str().into()).unwrap(), c);
    }
    assert!(C::Public < C::Internal && C::Internal < C::Confidential);
    assert!(C::Confidential < C::Restricted);
    assert!("Secret".parse::<C>().is_err());
    assert!("Public".parse::<C>().is_err());
    assert_eq!(C::from_code(0), None);
    assert_eq!(C::from_code(5), None);
    let codes: Vec<u8> = C::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(codes, [1, 2, 3, 4], "codes are part of the stored format");
}

#[test]
fn key_id_is_stable_and_strict() {
    let tenant: TenantId = "0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b".parse().unwrap();
    let key = KeyRef::new(tenant, C::Confidential, 3);
    let id = key.id();
    assert_eq!(
        id,
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v3"
    );
    assert_eq!(id.parse::<KeyRef>().unwrap(), key);
    for bad in [
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v0",
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v03",
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v+3",
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/3",
        "tenant:0190A8B2-7C3D-7E4F-8A1B-2C3D4E5F6A7B/confidential/v3",
        "tenant:0190a8b27c3d7e4f8a1b2c3d4e5f6a7b/confidential/v3",
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/secret/v3",
        "tenant:0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v3/x",
        "0190a8b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b/confidential/v3",
        "",
    ] {
        assert!(bad.parse::<KeyRef>().is_err(), "{bad} accepted");
    }
    assert_ne!(dek_wrap_aad(&key), dek_wrap_aad(&key.with_version(4)));
    assert_eq!(dek_wrap_aad(&key), format!("isms:dek:v1:{id}").into_bytes());
}

#[test]
fn policy_cap_stays_below_the_nist_bound() {
    assert_eq!(NIST_RANDOM_NONCE_LIMIT / DEFAULT_MAX_USAGE, 2);
    assert_eq!(KeyPolicy::default().max_usage(), 1 << 31);
    assert!(KeyPolicy::new(3, Duration::from_secs(60)).is_ok());
    assert!(KeyPolicy::new(0, Duration::from_secs(60)).is_err());
    assert!(KeyPolicy::new(DEFAULT_MAX_USAGE + 1, Duration::from_secs(60)).is_err());
    assert!(KeyPolicy::new(10, Duration::ZERO).is_err());
    assert!(KeyPolicy::new(10, Duration::MAX).is_err());
}

fn meta(version: u32, state: KeyState, at: Timestamp) -> DataKeyMeta {
    let key = KeyRef::new(TenantId::from_uuid(uuid::Uuid::nil()), C::Internal, version);
    DataKeyMeta {
        state,
        ..DataKeyMeta::new_primary(
            key,
            at,
            &KeyPolicy::new(5, Duration::from_secs(3600)).unwrap(),
        )
    }
}

#[test]
fn only_a_primary_below_its_cap_encrypts() {
    let t = now();
    let mut m = meta(1, KeyState::Primary, t);
    assert_eq!(m.check_encrypt(), Ok(()));
    m.usage_count = 4;
    assert_eq!(m.check_encrypt(), Ok(()));
    m.usage_count = 5;
    assert_eq!(m.check_encrypt(), Err(KeyRuleError::UsageCapReached));
    // The authoritative check on the atomically incremented count.
    assert_eq!(m.check_reserved(5), Ok(()));
    assert_eq!(m.check_reserved(6), Err(KeyRuleError::UsageCapReached));
    for state in [KeyState::Active, KeyState::Retired] {
        let m = meta(1, state, t);
        assert_eq!(m.check_encrypt(), Err(KeyRuleError::NotPrimary));
        assert_eq!(m.check_reserved(1), Err(KeyRuleError::NotPrimary));
    }
}

#[test]
fn decrypt_needs_unretired_and_min_version() {
    let t = now();
    assert_eq!(meta(2, KeyState::Primary, t).check_decrypt(1), Ok(()));
    assert_eq!(meta(2, KeyState::Active, t).check_decrypt(2), Ok(()));
    assert_eq!(
        meta(2, KeyState::Active, t).check_decrypt(3),
        Err(KeyRuleError::BelowMinDecryptionVersion { version: 2, min: 3 })
    );
    assert_eq!(
        meta(2, KeyState::Retired, t).check_decrypt(1),
        Err(KeyRuleError::Retired)
    );
    // An exhausted key still decrypts.
    let mut m = meta(2, KeyState::Active, t);
    m.usage_count = m.max_usage;
    assert_eq!(m.check_decrypt(1), Ok(()));
}

#[test]
fn rotation_due_by_age_expiry_or_usage() {
    let t = now();
    let hour = Duration::from_secs(3600);
    let m = meta(1, KeyState::Primary, t);
    assert!(!rotation_due(&m, t, hour * 24));
    assert!(rotation_due(&m, t + chrono::Duration::hours(25), hour * 24));
    // expires_at (one hour, from the policy) applies even with a longer max_age.
    assert!(rotation_due(
        &m,
        t + chrono::Duration::minutes(61),
        hour * 24
    ));
    let mut used = m.clone();
    used.usage_count = used.max_usage;
    assert!(rotation_due(&used, t, hour * 24));
    // A clock that went backwards does not trigger rotation.
    assert!(!rotation_due(&m, t - chrono::Duration::hours(1), hour));
    let old = meta(1, KeyState::Active, t);
    assert!(!rotation_due(&old, t + chrono::Duration::days(400), hour));
}

#[test]
fn retire_only_from_active_and_never_back() {
    let t = now();
    assert_eq!(
        retire(&meta(1, KeyState::Primary, t), t),
        Err(KeyRuleError::RetirePrimary)
    );
    let retired = retire(&meta(1, KeyState::Active, t), t).unwrap();
    assert_eq!(retired.state, KeyState::Retired);
    assert_eq!(retired.retired_at, Some(t));
    assert_eq!(retire(&retired, t), Err(KeyRuleError::AlreadyRetired));
}

#[test]
fn ring_rotation_creates_versions_and_demotes() {
    let t = now();
    let tenant = TenantId::new();
    let policy = KeyPolicy::new(100, Duration::from_secs(3600)).unwrap();
    let mut ring = KeyRing::empty(tenant, C::Restricted);
    assert_eq!(ring.for_encrypt(), Err(KeyRuleError::NoPrimary));

    let first = ring.rotate(t, &policy).unwrap();
    assert_eq!(first.new_primary.key, KeyRef::new(tenant, C::Restricted, 1));
    assert_eq!(first.demoted, None);
    ring.apply(&first);

    let later = t + chrono::Duration::minutes(5);
    let second = ring.rotate(later, &policy).unwrap();
    assert_eq!(second.new_primary.key.version, 2);
    assert_eq!(second.new_primary.state, KeyState::Primary);
    assert_eq!(second.new_primary.usage_count, 0);
    assert_eq!(second.new_primary.max_usage, 100);
    let demoted = second.demoted.clone().unwrap();
    assert_eq!((demoted.key.version, demoted.state), (1, KeyState::Active));
    assert_eq!(demoted.rotated_at, Some(later));
    ring.apply(&second);

    assert_eq!(ring.for_encrypt().unwrap().key.version, 2);
    assert_eq!(ring.for_decrypt(1).unwrap().key.version, 1);
    assert_eq!(ring.for_decrypt(7), Err(KeyRuleError::UnknownVersion(7)));

    // Retire v1, then rotate: numbers are never reused.
    let retired = ring.retire(1, later).unwrap();
    let ring = KeyRing::new(
        tenant,
        C::Restricted,
        1,
        vec![retired, ring.get(2).unwrap().clone()],
    )
    .unwrap();
    assert_eq!(ring.for_decrypt(1), Err(KeyRuleError::Retired));
    assert_eq!(
        ring.rotate(later, &policy).unwrap().new_primary.key.version,
        3
    );
    assert_eq!(ring.retire(2, later), Err(KeyRuleError::RetirePrimary));
}

#[test]
fn min_decryption_version_rules() {
    let t = now();
    let tenant = TenantId::new();
    let v = |n, s| DataKeyMeta {
        state: s,
        ..DataKeyMeta::new_primary(
            KeyRef::new(tenant, C::Internal, n),
            t,
            &KeyPolicy::default(),
        )
    };
    let ring = KeyRing::new(
        tenant,
        C::Internal,
        2,
        vec![
            v(1, KeyState::Active),
            v(2, KeyState::Active),
            v(3, KeyState::Primary),
        ],
    )
    .unwrap();
    assert!(matches!(
        ring.for_decrypt(1),
        Err(KeyRuleError::BelowMinDecryptionVersion { .. })
    ));
    assert!(ring.for_decrypt(2).is_ok());
    assert_eq!(ring.check_min_decryption_version(3), Ok(3));
    assert_eq!(
        ring.check_min_decryption_version(4),
        Err(KeyRuleError::InvalidMinDecryptionVersion)
    );
    assert_eq!(
        ring.check_min_decryption_version(0),
        Err(KeyRuleError::InvalidMinDecryptionVersion)
    );
}

#[test]
fn inconsistent_rings_are_refused() {
    let t = now();
    let tenant = TenantId::new();
    let v = |tenant, c, n, s| DataKeyMeta {
        state: s,
        ..DataKeyMeta::new_primary(KeyRef::new(tenant, c, n), t, &KeyPolicy::default())
    };
    let two_primaries = vec![
        v(tenant, C::Internal, 1, KeyState::Primary),
        v(tenant, C::Internal, 2, KeyState::Primary),
    ];
    assert!(matches!(
        KeyRing::new(tenant, C::Internal, 1, two_primaries),
        Err(KeyRuleError::Inconsistent(_))
    ));
    let duplicate = vec![
        v(tenant, C::Internal, 1, KeyState::Active),
        v(tenant, C::Internal, 1, KeyState::Primary),
    ];
    assert!(KeyRing::new(tenant, C::Internal, 1, duplicate).is_err());
    let foreign = vec![v(TenantId::new(), C::Internal, 1, KeyState::Primary)];
    assert!(KeyRing::new(tenant, C::Internal, 1, foreign).is_err());
    let other_class = vec![v(tenant, C::Public, 1, KeyState::Primary)];
    assert!(KeyRing::new(tenant, C::Internal, 1, other_class).is_err());
    let zero = vec![v(tenant, C::Internal, 0, KeyState::Primary)];
    assert!(KeyRing::new(tenant, C::Internal, 1, zero).is_err());
    assert!(KeyRing::new(tenant, C::Internal, 0, vec![]).is_err());
    // Unsorted input is fine: the ring sorts it.
    let unsorted = vec![
        v(tenant, C::Internal, 2, KeyState::Primary),
        v(tenant, C::Internal, 1, KeyState::Active),
    ];
    let ring = KeyRing::new(tenant, C::Internal, 1, unsorted).unwrap();
    assert_eq!(ring.versions()[0].key.version, 1);
}

#[test]
fn version_numbers_cannot_overflow() {
    let t = now();
    let tenant = TenantId::new();
    let last = DataKeyMeta::new_primary(
        KeyRef::new(tenant, C::Internal, u32::MAX),
        t,
        &KeyPolicy::default(),
    );
    let ring = KeyRing::new(tenant, C::Internal, 1, vec![last]).unwrap();
    assert_eq!(
        ring.rotate(t, &KeyPolicy::default()),
        Err(KeyRuleError::VersionOverflow)
    );
}

#[test]
fn key_state_names() {
    for s in KeyState::ALL {
        assert_eq!(s.as_str().parse::<KeyState>().unwrap(), s);
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!("disabled".parse::<KeyState>().is_err());
}
