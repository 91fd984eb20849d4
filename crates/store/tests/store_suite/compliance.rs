//! Compliance storage on both backends: results are history and the
//! latest per check is current, the score history pages, configuration
//! round-trips, access reviews stamp the user (tenant-scoped, all or
//! nothing), and a job lease has exactly one holder until it expires.

use chrono::Duration;
use isms_domain::compliance::{
    AccessReview, CheckConfig, CheckId, CheckResult, CheckStatus, JobLease, OverallStatus,
    ReviewOutcome, Score, ScoreSnapshot,
};
use isms_domain::page::PageRequest;
use isms_domain::ports::RepoError;
use isms_domain::time::now;
use isms_domain::{TenantId, UserId};
use serde_json::json;

use super::support::{Ctx, stored_tenant, tenant_with_user};
use crate::assert_err;

fn result(check: CheckId, status: CheckStatus, at: isms_domain::time::Timestamp) -> CheckResult {
    CheckResult::new(
        check,
        &CheckConfig::default(),
        status,
        format!("{} is {}", check.as_str(), status.as_str()),
        json!({ "count": 1, "ids": ["a"] }),
        (status != CheckStatus::Passed).then(|| "Fix it.".to_owned()),
        at,
    )
}

fn snapshot(tenths: u16, at: isms_domain::time::Timestamp) -> ScoreSnapshot {
    ScoreSnapshot {
        id: uuid::Uuid::now_v7(),
        overall_status: OverallStatus::Warning,
        score: Score::from_tenths(tenths).unwrap(),
        critical_issues: 0,
        warnings: 1,
        ran_at: at,
    }
}

pub async fn results_are_history_and_the_latest_is_current(cx: &Ctx) {
    let t = stored_tenant(cx, "comp-a").await;
    let other = stored_tenant(cx, "comp-b").await;
    let repo = cx.compliance();
    assert!(repo.latest_results(t.id).await.unwrap().is_empty());
    let t0 = now() - Duration::hours(2);
    let first = [
        result(CheckId::AdminCount, CheckStatus::Failed, t0),
        result(CheckId::KeyRotation, CheckStatus::Passed, t0),
    ];
    repo.record_run(t.id, &first, &snapshot(500, t0), &[])
        .await
        .unwrap();
    let t1 = now();
    let second = [result(CheckId::AdminCount, CheckStatus::Passed, t1)];
    repo.record_run(t.id, &second, &snapshot(1000, t1), &[])
        .await
        .unwrap();

    let latest = repo.latest_results(t.id).await.unwrap();
    assert_eq!(latest.len(), 2);
    let admin = latest
        .iter()
        .find(|r| r.check == CheckId::AdminCount)
        .unwrap();
    assert_eq!(admin, &second[0], "round-trips exactly");
    let keys = latest
        .iter()
        .find(|r| r.check == CheckId::KeyRotation)
        .unwrap();
    assert_eq!(keys, &first[1]);
    assert!(repo.latest_results(other.id).await.unwrap().is_empty());

    let page = repo.history(t.id, PageRequest::first(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].score.tenths(), 500);
    let next = repo
        .history(t.id, PageRequest::new(Some(1), page.next_after).unwrap())
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
    assert_eq!(next.items[0].score.tenths(), 1000);
    assert_eq!(next.items[0].ran_at, t1);
    assert_eq!(next.next_after, None);
    assert!(
        repo.history(other.id, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

pub async fn config_round_trips_per_tenant(cx: &Ctx) {
    let t = stored_tenant(cx, "comp-cfg").await;
    let other = stored_tenant(cx, "comp-cfg2").await;
    let repo = cx.compliance();
    assert_eq!(repo.config(t.id).await.unwrap(), None);
    let mut cfg = CheckConfig::default();
    cfg.thresholds.max_admins = 7;
    cfg.checks.get_mut(CheckId::DormantAccounts).enabled = false;
    repo.put_config(t.id, &cfg, now(), &[]).await.unwrap();
    assert_eq!(repo.config(t.id).await.unwrap(), Some(cfg.clone()));
    cfg.thresholds.max_admins = 2;
    repo.put_config(t.id, &cfg, now(), &[]).await.unwrap();
    assert_eq!(repo.config(t.id).await.unwrap(), Some(cfg));
    assert_eq!(repo.config(other.id).await.unwrap(), None);
}

fn review(user: UserId, reviewer: UserId, at: isms_domain::time::Timestamp) -> AccessReview {
    AccessReview {
        id: uuid::Uuid::now_v7(),
        user_id: user,
        reviewer_id: reviewer,
        outcome: ReviewOutcome::Keep,
        comment: Some("still needed".into()),
        reviewed_at: at,
    }
}

pub async fn access_reviews_stamp_the_user_and_are_tenant_scoped(cx: &Ctx) {
    let (t, u) = tenant_with_user(cx, "rev-a", "rev-a@x.example").await;
    let (other, stranger) = tenant_with_user(cx, "rev-b", "rev-b@x.example").await;
    let repo = cx.compliance();
    let at = now();
    repo.record_reviews(t.id, &[review(u.id, u.id, at)], &[])
        .await
        .unwrap();
    assert_eq!(
        cx.users()
            .get(t.id, u.id)
            .await
            .unwrap()
            .last_access_review_at,
        Some(at)
    );
    // A user of another tenant is not found, and the whole batch is
    // refused: the first review of it is not kept either.
    let later = at + Duration::seconds(5);
    assert_err!(
        repo.record_reviews(
            t.id,
            &[review(u.id, u.id, later), review(stranger.id, u.id, later)],
            &[]
        )
        .await,
        RepoError::NotFound
    );
    assert_eq!(
        cx.users()
            .get(t.id, u.id)
            .await
            .unwrap()
            .last_access_review_at,
        Some(at)
    );
    assert_eq!(
        cx.users()
            .get(other.id, stranger.id)
            .await
            .unwrap()
            .last_access_review_at,
        None
    );
}

fn lease(tenant: TenantId, holder: &str, expires_at: isms_domain::time::Timestamp) -> JobLease {
    JobLease {
        name: "compliance_check".into(),
        tenant,
        check: CheckId::AuditLogIntegrity,
        holder: holder.into(),
        expires_at,
    }
}

pub async fn a_job_lease_has_one_holder_until_it_expires(cx: &Ctx) {
    let t = stored_tenant(cx, "lease-a").await;
    let leases = cx.job_leases();
    let t0 = now();
    let ttl = Duration::minutes(5);
    assert!(
        leases
            .try_acquire(&lease(t.id, "a", t0 + ttl), t0)
            .await
            .unwrap()
    );
    assert!(
        !leases
            .try_acquire(&lease(t.id, "b", t0 + ttl), t0)
            .await
            .unwrap()
    );
    // The holder may renew it.
    assert!(
        leases
            .try_acquire(&lease(t.id, "a", t0 + ttl), t0)
            .await
            .unwrap()
    );
    // Another check is another lease.
    let mut other_check = lease(t.id, "b", t0 + ttl);
    other_check.check = CheckId::AdminCount;
    assert!(leases.try_acquire(&other_check, t0).await.unwrap());
    // Once expired, someone else takes it over.
    let late = t0 + ttl;
    assert!(
        leases
            .try_acquire(&lease(t.id, "b", late + ttl), late)
            .await
            .unwrap()
    );
    assert!(
        !leases
            .try_acquire(&lease(t.id, "a", late + ttl), late)
            .await
            .unwrap()
    );

    // Racing stores (two instances on one database): one winner.
    let second = cx.connect_again().await;
    let t2 = stored_tenant(cx, "lease-b").await;
    let second_leases = second.job_leases();
    let (lx, ly) = (lease(t2.id, "x", t0 + ttl), lease(t2.id, "y", t0 + ttl));
    let (x, y) = tokio::join!(
        leases.try_acquire(&lx, t0),
        second_leases.try_acquire(&ly, t0),
    );
    assert_eq!(
        [x.unwrap(), y.unwrap()].iter().filter(|w| **w).count(),
        1,
        "exactly one instance holds the lease"
    );
    second.close().await;
}

pub async fn consents_round_trip_and_withdraw_once(cx: &Ctx) {
    use isms_domain::compliance::{Consent, ConsentDraft, DataSubject, LawfulBasis};
    let (t, u) = tenant_with_user(cx, "consent-a", "consent-a@x.example").await;
    let other = stored_tenant(cx, "consent-b").await;
    let repo = cx.consents();
    let draft = |subject: DataSubject| ConsentDraft {
        subject,
        purpose: "newsletter".into(),
        lawful_basis: LawfulBasis::Consent,
        given_at: now() - Duration::days(1),
        evidence: "form v3".into(),
    };
    let a = Consent::record(t.id, draft(DataSubject::User(u.id)), now()).unwrap();
    let b = Consent::record(t.id, draft(DataSubject::external("cust-1").unwrap()), now()).unwrap();
    repo.insert_consent(&a, &[]).await.unwrap();
    repo.insert_consent(&b, &[]).await.unwrap();
    assert_eq!(repo.consent(t.id, a.id).await.unwrap(), a);
    assert_err!(repo.consent(other.id, a.id).await, RepoError::NotFound);
    let page = repo.consents(t.id, PageRequest::first(10)).await.unwrap();
    assert_eq!(page.items, vec![a.clone(), b.clone()]);
    assert!(
        repo.consents(other.id, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let at = now();
    assert_err!(
        repo.withdraw_consent(other.id, a.id, at, &[]).await,
        RepoError::Conflict(_)
    );
    repo.withdraw_consent(t.id, a.id, at, &[]).await.unwrap();
    assert_eq!(
        repo.consent(t.id, a.id).await.unwrap().withdrawn_at,
        Some(at)
    );
    assert_err!(
        repo.withdraw_consent(t.id, a.id, at, &[]).await,
        RepoError::Conflict("consent_withdrawn")
    );
}
