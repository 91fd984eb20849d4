//! User repository: round trips, uniqueness, soft delete, tenant scoping.

use isms_domain::email::Email;
use isms_domain::page::PageRequest;
use isms_domain::ports::RepoError;
use isms_domain::role::Role;
use isms_domain::time::now;
use isms_domain::user::PasswordHash;
use isms_domain::{TenantId, UserId};

use super::support::{Ctx, secs, stored_tenant, stored_user, tenant_with_user, user};

fn email(s: &str) -> Email {
    Email::parse(s).unwrap()
}

pub async fn user_round_trip(cx: &Ctx) {
    let repo = cx.users();
    let t = stored_tenant(cx, "Acme").await;
    let alice = stored_user(cx, t.id, "alice@example.com").await;
    // Every optional column set, so each one is read back.
    let mut bob = user(t.id, "bob@example.com");
    bob.role = Role::Auditor;
    bob.is_active = false;
    bob.password_must_change = true;
    bob.password_changed_at = None;
    bob.last_login_at = Some(now() - secs(60));
    bob.last_access_review_at = Some(now() - secs(86_400));
    repo.create(&bob, &[]).await.unwrap();

    assert_eq!(repo.get(t.id, alice.id).await.unwrap(), alice);
    assert_eq!(repo.get(t.id, bob.id).await.unwrap(), bob);
    assert_eq!(
        repo.find_by_email(&bob.email).await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        repo.find_by_email(&email("carol@example.com"))
            .await
            .unwrap(),
        None
    );
    let mut expected = vec![alice, bob];
    expected.sort_by_key(|u| u.id);
    let page = repo.list(t.id, PageRequest::first(100)).await.unwrap();
    assert_eq!(page.items, expected);
    assert_eq!(page.next_after, None);
}

pub async fn user_update_writes_every_mutable_field(cx: &Ctx) {
    let repo = cx.users();
    let (t, mut u) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let other = stored_user(cx, t.id, "bob@example.com").await;
    let later = now() + secs(5);
    u.email = email("alice.smith@example.com");
    u.display_name = "Alice Smith".into();
    u.role = Role::Manager;
    u.is_active = false;
    u.password_hash = PasswordHash::new("$argon2id$v=19$new".into());
    u.password_changed_at = Some(later);
    u.password_must_change = true;
    u.last_login_at = Some(later);
    u.last_access_review_at = Some(later);
    u.updated_at = later;
    repo.update(&u, &[]).await.unwrap();
    assert_eq!(repo.get(t.id, u.id).await.unwrap(), u);
    assert_eq!(repo.find_by_email(&u.email).await.unwrap(), Some(u.clone()));
    assert_eq!(
        repo.find_by_email(&email("alice@example.com"))
            .await
            .unwrap(),
        None
    );

    // Clearing optional fields writes NULLs.
    u.password_changed_at = None;
    u.last_login_at = None;
    u.last_access_review_at = None;
    repo.update(&u, &[]).await.unwrap();
    assert_eq!(repo.get(t.id, u.id).await.unwrap(), u);

    // Taking another live user's address is a conflict and changes nothing.
    let mut clash = u.clone();
    clash.email = other.email.clone();
    crate::assert_err!(repo.update(&clash, &[]).await, RepoError::Conflict("email"));
    assert_eq!(repo.get(t.id, u.id).await.unwrap(), u);
    assert_eq!(repo.get(t.id, other.id).await.unwrap(), other);
}

pub async fn email_is_unique_across_tenants(cx: &Ctx) {
    let repo = cx.users();
    let (t1, alice) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let t2 = stored_tenant(cx, "Globex").await;
    crate::assert_err!(
        repo.create(&user(t2.id, "alice@example.com"), &[]).await,
        RepoError::Conflict("email")
    );
    // Case and width variants normalise to the same address.
    crate::assert_err!(
        repo.create(&user(t1.id, "  ALICE@Example.com "), &[]).await,
        RepoError::Conflict("email")
    );
    assert_eq!(
        repo.list(t2.id, PageRequest::first(100))
            .await
            .unwrap()
            .items,
        vec![]
    );
    assert_eq!(
        repo.list(t1.id, PageRequest::first(100))
            .await
            .unwrap()
            .items,
        vec![alice]
    );
}

pub async fn soft_deleted_user_disappears_and_frees_email(cx: &Ctx) {
    let repo = cx.users();
    let (t, alice) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let bob = stored_user(cx, t.id, "bob@example.com").await;

    repo.soft_delete(t.id, alice.id, &[]).await.unwrap();
    crate::assert_err!(repo.get(t.id, alice.id).await, RepoError::NotFound);
    assert_eq!(repo.find_by_email(&alice.email).await.unwrap(), None);
    let page = repo.list(t.id, PageRequest::first(100)).await.unwrap();
    assert_eq!(page.items, vec![bob.clone()]);
    // Deleting or updating it again finds nothing.
    crate::assert_err!(
        repo.soft_delete(t.id, alice.id, &[]).await,
        RepoError::NotFound
    );
    crate::assert_err!(repo.update(&alice, &[]).await, RepoError::NotFound);

    // The address is free again, in any tenant.
    let t2 = stored_tenant(cx, "Globex").await;
    let alice2 = stored_user(cx, t2.id, "alice@example.com").await;
    assert_eq!(
        repo.find_by_email(&alice.email).await.unwrap(),
        Some(alice2.clone())
    );
    // ... and again after the new holder is deleted too.
    repo.soft_delete(t2.id, alice2.id, &[]).await.unwrap();
    let alice3 = stored_user(cx, t.id, "alice@example.com").await;
    assert_eq!(repo.get(t.id, alice3.id).await.unwrap(), alice3);
    let mut expected = vec![bob, alice3];
    expected.sort_by_key(|u| u.id);
    let page = repo.list(t.id, PageRequest::first(100)).await.unwrap();
    assert_eq!(page.items, expected);
}

pub async fn user_operations_are_tenant_scoped(cx: &Ctx) {
    let repo = cx.users();
    let (t1, alice) = tenant_with_user(cx, "Acme", "alice@example.com").await;
    let (t2, mallory) = tenant_with_user(cx, "Globex", "mallory@example.com").await;

    crate::assert_err!(repo.get(t2.id, alice.id).await, RepoError::NotFound);
    crate::assert_err!(repo.get(t1.id, mallory.id).await, RepoError::NotFound);

    let mut moved = alice.clone();
    moved.tenant_id = t2.id;
    moved.display_name = "Hijacked".into();
    moved.role = Role::Admin;
    crate::assert_err!(repo.update(&moved, &[]).await, RepoError::NotFound);
    crate::assert_err!(
        repo.soft_delete(t2.id, alice.id, &[]).await,
        RepoError::NotFound
    );

    // Nothing changed in either tenant.
    assert_eq!(repo.get(t1.id, alice.id).await.unwrap(), alice);
    assert_eq!(repo.get(t2.id, mallory.id).await.unwrap(), mallory);
    assert_eq!(
        repo.list(t1.id, PageRequest::first(100))
            .await
            .unwrap()
            .items,
        vec![alice]
    );
    assert_eq!(
        repo.list(t2.id, PageRequest::first(100))
            .await
            .unwrap()
            .items,
        vec![mallory]
    );
}

pub async fn missing_user_is_not_found(cx: &Ctx) {
    let repo = cx.users();
    let t = stored_tenant(cx, "Acme").await;
    let ghost = user(t.id, "ghost@example.com");
    crate::assert_err!(repo.get(t.id, ghost.id).await, RepoError::NotFound);
    crate::assert_err!(repo.update(&ghost, &[]).await, RepoError::NotFound);
    crate::assert_err!(
        repo.soft_delete(t.id, ghost.id, &[]).await,
        RepoError::NotFound
    );
    crate::assert_err!(
        repo.get(TenantId::new(), UserId::new()).await,
        RepoError::NotFound
    );
    // The failed update did not create it.
    assert_eq!(repo.find_by_email(&ghost.email).await.unwrap(), None);
}

pub async fn user_list_pages_in_id_order(cx: &Ctx) {
    let repo = cx.users();
    let t = stored_tenant(cx, "Acme").await;
    let other = stored_tenant(cx, "Globex").await;
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(stored_user(cx, t.id, &format!("user{i}@example.com")).await);
        stored_user(cx, other.id, &format!("other{i}@example.com")).await;
    }
    expected.sort_by_key(|u| u.id);

    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..3 {
        let page = repo
            .list(t.id, PageRequest::new(Some(2), after).unwrap())
            .await
            .unwrap();
        seen.extend(page.items.iter().cloned());
        after = page.next_after;
        if after.is_none() {
            break;
        }
        assert_eq!(after, page.items.last().map(|u| u.id.as_uuid()));
    }
    assert_eq!(after, None);
    assert_eq!(seen, expected);
}

/// A login's lookup says whether a confirmed second factor guards the
/// account: not before enrolment, not while it is pending, and only for
/// this account.
pub async fn the_login_lookup_reports_a_confirmed_second_factor(cx: &Ctx) {
    let repo = cx.users();
    let t = stored_tenant(cx, "mfa-lookup").await;
    let alice = stored_user(cx, t.id, "alice@mfa.example").await;
    let bob = stored_user(cx, t.id, "bob@mfa.example").await;
    let enrolled = |e: &Email| {
        let repo = repo.clone();
        let e = e.clone();
        async move {
            repo.find_for_login(&e)
                .await
                .unwrap()
                .map(|a| a.mfa_enrolled)
        }
    };
    assert_eq!(enrolled(&alice.email).await, Some(false));
    let pending = isms_domain::mfa::TotpEnrolment {
        tenant_id: t.id,
        user_id: alice.id,
        secret_wrapped: vec![7; 48],
        created_at: now(),
        confirmed_at: None,
        last_step: None,
    };
    cx.mfa().put_pending_totp(&pending, &[]).await.unwrap();
    assert_eq!(enrolled(&alice.email).await, Some(false));
    assert!(
        cx.mfa()
            .confirm_totp(t.id, alice.id, 1, &[[1; 32]], now(), &[])
            .await
            .unwrap()
    );
    let found = repo.find_for_login(&alice.email).await.unwrap().unwrap();
    assert!(found.mfa_enrolled);
    assert_eq!(found.user, alice);
    assert_eq!(enrolled(&bob.email).await, Some(false));
    assert_eq!(enrolled(&email("nobody@mfa.example")).await, None);
}
