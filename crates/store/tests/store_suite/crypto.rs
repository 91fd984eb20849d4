//! Key storage and personal data at rest, on both backends: data-key rings
//! (one primary, conflicts, usage counts, states), subject-key tombstones,
//! users stored as envelopes behind a blind index, the conversion of the
//! foundation's plaintext columns, inventory and rewrapping.

use isms_domain::TenantId;
use isms_domain::crypto::{
    Classification, DataKeyMeta, DataKeyRecord, KeyPolicy, KeyRef, KeyState, SubjectId,
    SubjectKeyLookup, SubjectKeyRecord,
};
use isms_domain::ports::RepoError;
use isms_domain::time::now;

use super::support::{Ctx, stored_tenant, tenant_with_user, user, with_field_crypto};
use crate::assert_err;

fn version(tenant: TenantId, v: u32, state: KeyState) -> DataKeyRecord {
    let mut meta = DataKeyMeta::new_primary(
        KeyRef::new(tenant, Classification::Internal, v),
        now(),
        &KeyPolicy::default(),
    );
    meta.state = state;
    DataKeyRecord {
        meta,
        wrapped_key: vec![v as u8; 60],
    }
}

pub async fn data_key_rings_keep_one_primary(cx: &Ctx) {
    let t = stored_tenant(cx, "keys-a").await;
    let keys = cx.data_keys();
    assert!(
        keys.list_versions(t.id, Classification::Internal)
            .await
            .unwrap()
            .is_empty()
    );
    keys.insert_version(&version(t.id, 1, KeyState::Primary), &[])
        .await
        .unwrap();
    keys.insert_version(&version(t.id, 2, KeyState::Primary), &[])
        .await
        .unwrap();
    let ring = keys
        .list_versions(t.id, Classification::Internal)
        .await
        .unwrap();
    assert_eq!(
        ring.iter()
            .map(|r| (r.meta.key.version, r.meta.state))
            .collect::<Vec<_>>(),
        vec![(1, KeyState::Active), (2, KeyState::Primary)]
    );
    assert!(
        ring[0].meta.rotated_at.is_some(),
        "the demoted primary records when"
    );
    assert_eq!(ring[1].wrapped_key, vec![2u8; 60]);
    assert_err!(
        keys.insert_version(&version(t.id, 2, KeyState::Primary), &[])
            .await,
        RepoError::Conflict("data_key_version")
    );
    // Counting is atomic and returns the new count.
    let k2 = KeyRef::new(t.id, Classification::Internal, 2);
    assert_eq!(keys.increment_usage(&k2, 256).await.unwrap(), 256);
    assert_eq!(keys.increment_usage(&k2, 1).await.unwrap(), 257);
    keys.set_state(
        &KeyRef::new(t.id, Classification::Internal, 1),
        KeyState::Retired,
        now(),
        &[],
    )
    .await
    .unwrap();
    let ring = keys
        .list_versions(t.id, Classification::Internal)
        .await
        .unwrap();
    assert_eq!(ring[0].meta.state, KeyState::Retired);
    assert!(ring[0].meta.retired_at.is_some());
    assert_eq!(ring[1].meta.usage_count, 257);
    assert_eq!(
        keys.min_decryption_version(t.id, Classification::Internal)
            .await
            .unwrap(),
        1
    );
    keys.set_min_decryption_version(t.id, Classification::Internal, 2)
        .await
        .unwrap();
    assert_eq!(
        keys.min_decryption_version(t.id, Classification::Internal)
            .await
            .unwrap(),
        2
    );
    // Another tenant sees none of it; deleting the tenant's keys removes them.
    let other = stored_tenant(cx, "keys-b").await;
    assert!(
        keys.list_versions(other.id, Classification::Internal)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(keys.delete_tenant(t.id, &[]).await.unwrap(), 2);
    assert!(
        keys.list_versions(t.id, Classification::Internal)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn subject_keys_leave_a_tombstone(cx: &Ctx) {
    let t = stored_tenant(cx, "subjects").await;
    let repo = cx.subject_keys();
    let subject = SubjectId::new("external:42").unwrap();
    assert!(repo.get(t.id, &subject).await.unwrap().is_none());
    let candidate = SubjectKeyRecord {
        tenant: t.id,
        subject: subject.clone(),
        version: 1,
        wrapped_key: vec![1; 60],
        created_at: now(),
    };
    let first = repo.get_or_create(&candidate).await.unwrap();
    let second = repo
        .get_or_create(&SubjectKeyRecord {
            wrapped_key: vec![2; 60],
            ..candidate.clone()
        })
        .await
        .unwrap();
    assert_eq!(first, second, "the first key stays");
    assert!(repo.destroy(t.id, &subject, now(), &[]).await.unwrap());
    assert!(!repo.destroy(t.id, &subject, now(), &[]).await.unwrap());
    assert!(matches!(
        repo.get_or_create(&candidate).await.unwrap(),
        SubjectKeyLookup::Destroyed { .. }
    ));
    // A subject that never had a key can be forgotten too.
    let never = SubjectId::new("external:43").unwrap();
    assert!(!repo.destroy(t.id, &never, now(), &[]).await.unwrap());
    assert!(matches!(
        repo.get(t.id, &never).await.unwrap(),
        Some(SubjectKeyLookup::Destroyed { .. })
    ));
}

pub async fn users_are_stored_as_envelopes(cx: &Ctx) {
    let (t, u) = tenant_with_user(cx, "pii-a", "Grace.Hopper@Example.COM").await;
    let found = cx.users().find_by_email(&u.email).await.unwrap().unwrap();
    assert_eq!(found, u);
    let again = cx
        .users()
        .find_by_email(&isms_domain::Email::parse(" grace.hopper@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(again.map(|x| x.id), Some(u.id));
    // Uniqueness holds on the blind index, across tenants.
    let other = stored_tenant(cx, "pii-b").await;
    assert_err!(
        cx.users()
            .create(&user(other.id, "grace.hopper@example.com"), &[])
            .await,
        RepoError::Conflict("email")
    );
    // What is stored: envelopes, an index, key versions; never the text.
    let rows = cx
        .exec_rows(&format!(
            "SELECT email_enc || ' ' || display_name_enc FROM users WHERE tenant_id = {}",
            cx.uuid_literal(t.id.as_uuid())
        ))
        .await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("isms:v1:"), "{}", rows[0]);
    assert!(!rows[0].to_lowercase().contains("grace"));
    let inventory = cx.encrypted_fields().inventory(t.id).await.unwrap();
    assert_eq!(inventory.len(), 2);
    for f in &inventory {
        assert_eq!(f.plaintext, 0);
        assert_eq!(f.by_version, vec![(1, 1)]);
        assert_eq!(f.classification, Classification::Confidential);
    }
}

pub async fn rewrap_moves_fields_to_the_primary(cx: &Ctx) {
    let t = stored_tenant(cx, "rewrap").await;
    for i in 0..3 {
        cx.users()
            .create(&user(t.id, &format!("u{i}@rewrap.example")), &[])
            .await
            .unwrap();
    }
    let keys = isms_infra::crypto::KeyService::new(
        cx.data_keys(),
        cx.server_keys(),
        std::sync::Arc::new(
            isms_infra::MasterKey::from_bytes(&super::support::MASTER_KEY).unwrap(),
        ),
        KeyPolicy::default(),
    );
    keys.rotate(t.id, Classification::Confidential, &[])
        .await
        .unwrap();
    // The store's own key service caches the ring briefly; a fresh store
    // sees the new primary at once.
    let fresh = cx.connect_again().await;
    let fields = fresh.encrypted_fields();
    assert_eq!(
        fields
            .rewrap(t.id, Classification::Confidential, 2)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        fields
            .rewrap(t.id, Classification::Confidential, 2)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        fields
            .rewrap(t.id, Classification::Confidential, 2)
            .await
            .unwrap(),
        0
    );
    for f in fields.inventory(t.id).await.unwrap() {
        assert_eq!(f.by_version, vec![(2, 3)], "{}", f.column);
    }
    let u = fresh
        .users()
        .find_by_email(&isms_domain::Email::parse("u1@rewrap.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.tenant_id, t.id);
    fresh.close().await;
}

pub async fn plaintext_users_are_converted_then_dropped(_cx: &Ctx) {
    // A database as the foundation left it (migrations 1-7), with a
    // plaintext user, on a store of its own.
    let db = _cx.fresh_database().await;
    let store = isms_store::Store::connect(&db.options()).await.unwrap();
    store.migrate_through(6).await.unwrap();
    let tenant = isms_domain::tenant::Tenant::new(
        isms_domain::tenant::TenantName::parse("legacy").unwrap(),
        now(),
    );
    store.tenants().create(&tenant, &[]).await.unwrap();
    let id = uuid::Uuid::now_v7();
    db.exec(&format!(
        "INSERT INTO users (id, tenant_id, email, display_name, role, is_active, password_hash, \
         password_must_change, created_at, updated_at) VALUES ({}, {}, 'ada@legacy.example', 'Ada Lovelace', \
         'analyst', TRUE, 'x', FALSE, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        db.uuid_literal(id),
        db.uuid_literal(tenant.id.as_uuid())
    ))
    .await
    .unwrap();
    with_field_crypto(&store);
    store.migrate().await.unwrap();
    let u = store
        .users()
        .find_by_email(&isms_domain::Email::parse("ada@legacy.example").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.id.as_uuid(), id);
    assert_eq!(u.display_name, "Ada Lovelace");
    assert!(
        db.exec("SELECT email FROM users").await.is_err(),
        "the plaintext column is gone"
    );
    store.close().await;
}
