//! GDPR records: consents and withdrawal, retention policies and the
//! sweep, data-subject requests with their transitions and deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance_fixtures;

use chrono::Duration;
use compliance_fixtures::*;
use isms_domain::compliance::rules::gdpr_compliance;
use isms_domain::compliance::rules::{GdprInput, PendingRequest};
use isms_domain::compliance::*;
use isms_domain::risk::Problem;
use isms_domain::{TenantId, UserId};

fn draft(basis: LawfulBasis, evidence: &str) -> ConsentDraft {
    ConsentDraft {
        subject: DataSubject::User(UserId::new()),
        purpose: " Newsletter ".into(),
        lawful_basis: basis,
        given_at: days_ago(1),
        evidence: evidence.into(),
    }
}

#[test]
fn consent_is_recorded_and_withdrawn_once() {
    let mut c = Consent::record(
        TenantId::new(),
        draft(LawfulBasis::Consent, "signup form v3"),
        now(),
    )
    .unwrap();
    assert_eq!(c.purpose, "Newsletter");
    assert!(c.is_active(now()));
    assert!(!c.is_active(days_ago(2)), "not before it was given");
    c.withdraw(now()).unwrap();
    assert_eq!(c.withdrawn_at, Some(now()));
    assert!(!c.is_active(now()));
    assert!(c.is_active(now() - Duration::seconds(1)));
    assert_eq!(c.withdraw(now()), Err(GdprError::AlreadyWithdrawn));
}

#[test]
fn consent_validation() {
    let t = TenantId::new();
    let err = Consent::record(t, draft(LawfulBasis::Consent, " "), now()).unwrap_err();
    assert_eq!((err.field, err.problem), ("evidence", Problem::Empty));
    assert!(
        Consent::record(t, draft(LawfulBasis::Contract, ""), now()).is_ok(),
        "evidence optional"
    );
    let mut future = draft(LawfulBasis::Contract, "");
    future.given_at = now() + Duration::minutes(1);
    assert_eq!(
        Consent::record(t, future, now()).unwrap_err().field,
        "given_at"
    );
    let mut no_purpose = draft(LawfulBasis::Contract, "");
    no_purpose.purpose = "".into();
    assert_eq!(
        Consent::record(t, no_purpose, now()).unwrap_err().field,
        "purpose"
    );
    let mut email = draft(LawfulBasis::Contract, "");
    email.subject = DataSubject::External("ann@example.com".into());
    assert_eq!(
        Consent::record(t, email, now()).unwrap_err().field,
        "subject.id"
    );
}

#[test]
fn lawful_bases_are_article_6_1_a_to_f() {
    let arts: Vec<&str> = LawfulBasis::ALL.iter().map(|b| b.article()).collect();
    assert_eq!(
        arts,
        [
            "6(1)(a)", "6(1)(b)", "6(1)(c)", "6(1)(d)", "6(1)(e)", "6(1)(f)"
        ]
    );
    assert_eq!(
        LawfulBasis::parse("legitimate_interests"),
        Ok(LawfulBasis::LegitimateInterests)
    );
}

#[test]
fn data_subjects_serialise_tagged() {
    let u = UserId::new();
    let v = serde_json::to_value(DataSubject::User(u)).unwrap();
    assert_eq!(v, serde_json::json!({"type": "user", "id": u}));
    let e: DataSubject =
        serde_json::from_value(serde_json::json!({"type": "external", "id": "crm-1"})).unwrap();
    assert_eq!(e, DataSubject::external("crm-1").unwrap());
    assert!(DataSubject::External(" crm-1".into()).validate().is_err());
}

#[test]
fn retention_policy_bounds_and_expiry() {
    let p = RetentionPolicy::new(RetentionCategory::Sessions, 30, false).unwrap();
    let started = days_ago(30);
    assert_eq!(p.expires_at(started), now());
    assert_eq!(p.cutoff(now()), started);
    assert!(!p.is_expired(started, now()), "exactly at the end");
    assert!(p.is_expired(started, now() + Duration::seconds(1)));
    let c = RetentionCategory::WithdrawnConsents;
    assert_eq!(RetentionPolicy::new(c, 0, true).unwrap_err().field, "days");
    assert!(RetentionPolicy::new(c, MAX_RETENTION_DAYS, false).is_ok());
    assert!(RetentionPolicy::new(c, MAX_RETENTION_DAYS + 1, false).is_err());
    let bad: Result<RetentionPolicy, _> =
        serde_json::from_value(serde_json::json!({"category": "support_tickets", "days": 30}));
    assert!(bad.is_err(), "only categories the server holds");
    assert_eq!(
        RetentionCategory::parse("deleted_accounts").unwrap(),
        RetentionCategory::DeletedAccounts
    );
}

#[test]
fn retention_backlog_feeds_the_gdpr_check() {
    let sessions = RetentionPolicy::new(RetentionCategory::Sessions, 30, false).unwrap();
    assert_eq!(sessions.backlog(0, None), None);
    assert_eq!(sessions.backlog(0, Some(days_ago(45))), None);
    // Two sessions ended 45 and 31 days ago: the oldest left retention
    // 15 days ago.
    let backlog = sessions.backlog(2, Some(days_ago(45))).unwrap();
    assert_eq!(backlog.records, 2);
    assert_eq!(backlog.category, "sessions");
    assert_eq!(backlog.oldest_expired_at, days_ago(15));

    let run = RetentionRun::new(false, now(), &[sessions]);
    assert_eq!(
        run.categories_without_policy.len(),
        RetentionCategory::ALL.len() - 1
    );
    assert!(
        !run.categories_without_policy
            .contains(&RetentionCategory::Sessions)
    );

    let input = GdprInput {
        past_retention: vec![backlog.clone()],
        ..GdprInput::default()
    };
    let r = gdpr_compliance(&input, &cfg(), now());
    assert_eq!(
        r.status,
        CheckStatus::Failed,
        "15 days past, beyond the 7-day grace"
    );
    let recent = sessions.backlog(1, Some(days_ago(32))).unwrap();
    let input = GdprInput {
        past_retention: vec![recent],
        ..GdprInput::default()
    };
    assert_eq!(
        gdpr_compliance(&input, &cfg(), now()).status,
        CheckStatus::Warning
    );
}

#[test]
fn requests_are_due_in_30_days() {
    let r = DataSubjectRequest::receive(
        TenantId::new(),
        DataSubject::User(UserId::new()),
        DsrKind::Erasure,
        UserId::new(),
        days_ago(30),
        cfg().thresholds.dsr_deadline_days,
    )
    .unwrap();
    assert_eq!(r.status, DsrStatus::Received);
    assert_eq!(r.due_at, now());
    assert!(!r.is_overdue(now()));
    assert!(r.is_overdue(now() + Duration::seconds(1)));
    let pending = PendingRequest::from(&r);
    assert_eq!((pending.id, pending.kind), (r.id, DsrKind::Erasure));
}

#[test]
fn request_transitions() {
    let mk = || {
        DataSubjectRequest::receive(
            TenantId::new(),
            DataSubject::external("crm-9").unwrap(),
            DsrKind::Export,
            UserId::new(),
            days_ago(40),
            30,
        )
        .unwrap()
    };
    let mut r = mk();
    r.start(days_ago(39)).unwrap();
    assert_eq!(r.status, DsrStatus::InProgress);
    assert!(r.completed_at.is_none());
    assert!(r.is_overdue(now()), "still open after its deadline");
    r.complete(now()).unwrap();
    assert_eq!(r.completed_at, Some(now()));
    assert!(!r.is_overdue(now()), "closed requests are never overdue");
    assert_eq!(
        r.start(now()),
        Err(GdprError::Transition {
            from: DsrStatus::Completed,
            to: DsrStatus::InProgress
        })
    );

    let mut quick = mk();
    quick.complete(days_ago(39)).unwrap();
    assert_eq!(quick.status, DsrStatus::Completed);

    let mut rej = mk();
    assert!(matches!(rej.reject(now(), " "), Err(GdprError::Invalid(_))));
    assert_eq!(
        rej.status,
        DsrStatus::Received,
        "a refused move changes nothing"
    );
    rej.reject(now(), "Identity could not be verified.")
        .unwrap();
    assert_eq!(rej.status, DsrStatus::Rejected);
    assert_eq!(
        rej.rejection_reason.as_deref(),
        Some("Identity could not be verified.")
    );
    assert!(rej.complete(now()).is_err());

    let mut odd = mk();
    assert!(
        odd.transition(DsrStatus::InProgress, now(), Some("why"))
            .is_err()
    );
    assert!(odd.transition(DsrStatus::Received, now(), None).is_err());
}

#[test]
fn open_states() {
    assert!(DsrStatus::Received.is_open() && DsrStatus::InProgress.is_open());
    assert!(!DsrStatus::Completed.is_open() && !DsrStatus::Rejected.is_open());
    for from in DsrStatus::ALL {
        for to in DsrStatus::ALL {
            if !from.is_open() {
                assert!(!from.can_become(*to), "{from} → {to}");
            }
        }
        assert!(!from.can_become(DsrStatus::Received));
    }
}
