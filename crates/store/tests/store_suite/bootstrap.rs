//! Migrations, health and first-start provisioning.

use isms_domain::page::PageRequest;
use isms_domain::ports::RepoError;
use isms_domain::role::Role;

use super::support::{Ctx, stored_tenant, tenant, user};

pub async fn migrate_is_idempotent_and_health_pings(cx: &Ctx) {
    // `Ctx::new` migrated once already.
    cx.migrate().await.unwrap();
    cx.migrate().await.unwrap();
    // A second process migrating the same database finds nothing to do.
    let other = cx.connect_again().await;
    other.migrate().await.unwrap();
    other.close().await;

    cx.health().ping().await.unwrap();
    // The schema is intact and usable after the repeated runs.
    let t = stored_tenant(cx, "Migrated").await;
    assert_eq!(cx.tenants().get(t.id).await.unwrap(), t);
}

pub async fn bootstrap_happens_once(cx: &Ctx) {
    let boot = cx.bootstrap();
    assert!(!boot.is_bootstrapped().await.unwrap());

    let t = tenant("Default");
    let mut admin = user(t.id, "admin@example.com");
    admin.role = Role::Admin;
    admin.password_must_change = true;
    admin.password_changed_at = None;
    assert!(boot.bootstrap(&t, &admin, &[]).await.unwrap());

    assert_eq!(cx.tenants().get(t.id).await.unwrap(), t);
    assert_eq!(cx.users().get(t.id, admin.id).await.unwrap(), admin);
    assert_eq!(
        cx.users().find_by_email(&admin.email).await.unwrap(),
        Some(admin.clone())
    );
    assert!(boot.is_bootstrapped().await.unwrap());

    // A second start provisions nothing, even with other names.
    let t2 = tenant("Other");
    let admin2 = user(t2.id, "root@example.com");
    assert!(!boot.bootstrap(&t2, &admin2, &[]).await.unwrap());
    assert!(boot.is_bootstrapped().await.unwrap());
    crate::assert_err!(cx.tenants().get(t2.id).await, RepoError::NotFound);
    assert_eq!(cx.users().find_by_email(&admin2.email).await.unwrap(), None);
    let all = cx.tenants().list(PageRequest::first(100)).await.unwrap();
    assert_eq!(all.items, vec![t.clone()]);

    // Even a retry with the very same values is a no-op, not a conflict.
    assert!(!boot.bootstrap(&t, &admin, &[]).await.unwrap());
}

pub async fn concurrent_bootstrap_has_one_winner(cx: &Ctx) {
    // Two server processes starting on one fresh database.
    let other = cx.connect_again().await;
    let (ta, tb) = (tenant("Alpha"), tenant("Beta"));
    let (ua, ub) = (
        user(ta.id, "alpha@example.com"),
        user(tb.id, "beta@example.com"),
    );
    let (boot_a, boot_b) = (cx.bootstrap(), other.bootstrap());
    let (a, b) = tokio::join!(
        boot_a.bootstrap(&ta, &ua, &[]),
        boot_b.bootstrap(&tb, &ub, &[])
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a ^ b, "exactly one bootstrap must win: a={a} b={b}");

    let (winner, admin, loser, loser_admin) = if a {
        (&ta, &ua, &tb, &ub)
    } else {
        (&tb, &ub, &ta, &ua)
    };
    let all = cx.tenants().list(PageRequest::first(100)).await.unwrap();
    assert_eq!(all.items, vec![winner.clone()]);
    assert_eq!(cx.users().get(winner.id, admin.id).await.unwrap(), *admin);
    crate::assert_err!(cx.tenants().get(loser.id).await, RepoError::NotFound);
    assert_eq!(
        cx.users().find_by_email(&loser_admin.email).await.unwrap(),
        None
    );
    assert!(other.bootstrap().is_bootstrapped().await.unwrap());
    other.close().await;
}
