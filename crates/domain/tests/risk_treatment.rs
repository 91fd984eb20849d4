//! Treatments: who may approve them, how they move through their life
//! cycle, and how their residual score reaches the risk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod risk_fixtures;

use chrono::Duration;
use isms_domain::risk::*;
use isms_domain::{Role, UserId};
use risk_fixtures::*;

fn mitigation_plan() -> TreatmentDraft {
    TreatmentDraft {
        option: TreatmentOption::Mitigate,
        owner: UserId::new(),
        description: "Patch and put behind the WAF".into(),
        planned_controls: vec!["8.8".into(), "8.20".into(), "8.8".into()],
        due_date: Some((now() + Duration::days(30)).date_naive()),
        residual: Some(ResidualEstimate {
            impact: 4,
            likelihood: 2,
        }),
    }
}

fn acceptance() -> TreatmentDraft {
    TreatmentDraft {
        option: TreatmentOption::Accept,
        owner: UserId::new(),
        description: "Within appetite".into(),
        planned_controls: vec![],
        due_date: None,
        residual: None,
    }
}

fn propose(risk: &Risk, draft: TreatmentDraft) -> (Treatment, UserId) {
    let proposer = UserId::new();
    let t = Treatment::propose(risk, draft, proposer, &RiskMatrixConfig::default(), now()).unwrap();
    (t, proposer)
}

fn approver(role: Role, step_up: bool) -> Approver {
    Approver {
        user_id: UserId::new(),
        role,
        step_up_verified: step_up,
    }
}

#[test]
fn approval_requirement_per_level() {
    let expect = [
        (RiskLevel::Low, Role::Analyst, false, false),
        (RiskLevel::Medium, Role::Manager, false, false),
        (RiskLevel::High, Role::Manager, false, true),
        (RiskLevel::Critical, Role::Admin, true, true),
    ];
    for (level, min_role, step_up, four_eyes) in expect {
        assert_eq!(
            approval_requirement(level),
            ApprovalRequirement {
                min_role,
                step_up,
                distinct_from_proposer: four_eyes
            },
            "{level}"
        );
    }
}

#[test]
fn who_may_approve_by_level() {
    let proposer = UserId::new();
    let may = |level, role, step_up| {
        approval_requirement(level)
            .check(&approver(role, step_up), proposer)
            .is_ok()
    };
    for role in [Role::Analyst, Role::Manager, Role::Admin] {
        assert!(may(RiskLevel::Low, role, false), "{role}");
    }
    for role in [Role::Viewer, Role::Auditor] {
        for level in RiskLevel::ALL {
            assert!(!may(*level, role, true), "{role} {level}");
        }
    }
    assert!(!may(RiskLevel::Medium, Role::Analyst, true));
    assert!(may(RiskLevel::Medium, Role::Manager, false));
    assert!(!may(RiskLevel::High, Role::Analyst, true));
    assert!(may(RiskLevel::High, Role::Manager, false));
    assert!(may(RiskLevel::High, Role::Admin, false));
    assert!(!may(RiskLevel::Critical, Role::Manager, true));
    assert!(!may(RiskLevel::Critical, Role::Admin, false));
    assert!(may(RiskLevel::Critical, Role::Admin, true));

    let req = approval_requirement(RiskLevel::Critical);
    assert_eq!(
        req.check(&approver(Role::Manager, true), proposer),
        Err(ApprovalDenied::RoleTooLow(Role::Admin))
    );
    assert_eq!(
        req.check(&approver(Role::Admin, false), proposer),
        Err(ApprovalDenied::StepUpRequired)
    );
    let own = Approver {
        user_id: proposer,
        role: Role::Admin,
        step_up_verified: true,
    };
    assert_eq!(req.check(&own, proposer), Err(ApprovalDenied::SelfApproval));
    assert!(
        approval_requirement(RiskLevel::Low)
            .check(
                &Approver {
                    role: Role::Analyst,
                    ..own
                },
                proposer
            )
            .is_ok()
    );
}

#[test]
fn mitigation_runs_proposed_approved_in_progress_done() {
    let risk = risk_at(4, 5);
    let (mut t, _) = propose(&risk, mitigation_plan());
    assert_eq!(t.status, TreatmentStatus::Proposed);
    assert_eq!(t.planned_controls.len(), 2, "duplicates dropped");
    assert_eq!(
        t.residual.map(|r| (r.score, r.level)),
        Some((8, RiskLevel::Medium))
    );
    assert_eq!(t.approval_requirement().min_role, Role::Admin);

    t.approve(&approver(Role::Admin, true), Some("go"), now())
        .unwrap();
    assert_eq!(t.status, TreatmentStatus::Approved);
    let a = t.current_approval().unwrap();
    assert_eq!((a.role, a.step_up, a.revision), (Role::Admin, true, 1));
    assert_eq!(a.comment.as_deref(), Some("go"));

    t.start(now()).unwrap();
    assert_eq!(t.status, TreatmentStatus::InProgress);
    t.complete(now()).unwrap();
    assert_eq!(t.status, TreatmentStatus::Done);
    assert_eq!(t.completed_at, Some(now()));
}

#[test]
fn acceptance_is_done_on_approval_and_keeps_the_inherent_score() {
    let risk = risk_at(2, 4);
    let (mut t, _) = propose(&risk, acceptance());
    assert_eq!(t.residual, Some(risk.inherent));
    t.approve(&approver(Role::Manager, false), None, now())
        .unwrap();
    assert_eq!(t.status, TreatmentStatus::Done);
    assert!(t.current_approval().unwrap().comment.is_none());

    let mut claims_less = acceptance();
    claims_less.residual = Some(ResidualEstimate {
        impact: 1,
        likelihood: 1,
    });
    let err = Treatment::propose(
        &risk,
        claims_less,
        UserId::new(),
        &RiskMatrixConfig::default(),
        now(),
    )
    .unwrap_err();
    assert!(matches!(err, TreatmentError::Invalid(e) if e.field == "residual"));
}

#[test]
fn steps_out_of_order_are_refused() {
    let risk = risk_at(3, 3);
    let (mut t, _) = propose(&risk, mitigation_plan_within(&risk));
    let refused = |r: Result<(), TreatmentError>, from, action| {
        assert_eq!(r.unwrap_err(), TreatmentError::Transition { from, action });
    };
    refused(
        t.start(now()),
        TreatmentStatus::Proposed,
        TreatmentAction::Start,
    );
    refused(
        t.complete(now()),
        TreatmentStatus::Proposed,
        TreatmentAction::Complete,
    );
    let manager = approver(Role::Manager, false);
    t.approve(&manager, None, now()).unwrap();
    refused(
        t.approve(&manager, None, now()),
        TreatmentStatus::Approved,
        TreatmentAction::Approve,
    );
    refused(
        t.complete(now()),
        TreatmentStatus::Approved,
        TreatmentAction::Complete,
    );
    t.start(now()).unwrap();
    refused(
        t.start(now()),
        TreatmentStatus::InProgress,
        TreatmentAction::Start,
    );
    t.complete(now()).unwrap();
    refused(
        t.revise(
            mitigation_plan_within(&risk),
            UserId::new(),
            &RiskMatrixConfig::default(),
            now(),
        ),
        TreatmentStatus::Done,
        TreatmentAction::Revise,
    );
}

/// A mitigation whose residual fits under a risk of any size.
fn mitigation_plan_within(risk: &Risk) -> TreatmentDraft {
    TreatmentDraft {
        residual: Some(ResidualEstimate {
            impact: 1,
            likelihood: risk.inherent.likelihood,
        }),
        ..mitigation_plan()
    }
}

#[test]
fn a_change_after_approval_needs_a_new_approval() {
    let risk = risk_at(4, 5);
    let (mut t, _) = propose(&risk, mitigation_plan());
    t.approve(&approver(Role::Admin, true), None, now())
        .unwrap();
    t.start(now()).unwrap();
    let editor = UserId::new();
    t.revise(
        mitigation_plan(),
        editor,
        &RiskMatrixConfig::default(),
        now(),
    )
    .unwrap();
    assert_eq!(t.status, TreatmentStatus::Proposed);
    assert_eq!(t.revision, 2);
    assert_eq!(t.proposed_by, editor);
    assert!(t.current_approval().is_none());
    assert_eq!(t.approvals.len(), 1, "the earlier approval stays on record");

    // The editor is now the proposer, so four eyes exclude them.
    let editor_admin = Approver {
        user_id: editor,
        role: Role::Admin,
        step_up_verified: true,
    };
    assert_eq!(
        t.approve(&editor_admin, None, now()).unwrap_err(),
        TreatmentError::Denied(ApprovalDenied::SelfApproval)
    );
    t.approve(&approver(Role::Admin, true), None, now())
        .unwrap();
    assert_eq!(t.current_approval().unwrap().revision, 2);
}

#[test]
fn the_plan_is_validated() {
    let risk = risk_at(3, 3);
    let config = RiskMatrixConfig::default();
    let field = |draft: TreatmentDraft| match Treatment::propose(
        &risk,
        draft,
        UserId::new(),
        &config,
        now(),
    ) {
        Err(TreatmentError::Invalid(e)) => e.field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    let base = mitigation_plan_within(&risk);
    assert_eq!(
        field(TreatmentDraft {
            planned_controls: vec![],
            ..base.clone()
        }),
        "planned_controls"
    );
    assert_eq!(
        field(TreatmentDraft {
            planned_controls: vec!["A.8.24".into()],
            ..base.clone()
        }),
        "planned_controls"
    );
    assert_eq!(
        field(TreatmentDraft {
            planned_controls: vec!["8.35".into()],
            ..base.clone()
        }),
        "planned_controls"
    );
    assert_eq!(
        field(TreatmentDraft {
            due_date: Some((now() - Duration::days(1)).date_naive()),
            ..base.clone()
        }),
        "due_date"
    );
    assert_eq!(
        field(TreatmentDraft {
            residual: Some(ResidualEstimate {
                impact: 4,
                likelihood: 4
            }),
            ..base.clone()
        }),
        "residual"
    );
    assert_eq!(
        field(TreatmentDraft {
            residual: Some(ResidualEstimate {
                impact: 0,
                likelihood: 1
            }),
            ..base.clone()
        }),
        "residual.impact"
    );
    assert_eq!(
        field(TreatmentDraft {
            residual: Some(ResidualEstimate {
                impact: 1,
                likelihood: 6
            }),
            ..base.clone()
        }),
        "residual.likelihood"
    );
    // Transfer and avoid need no Annex A control of ours.
    for option in [TreatmentOption::Transfer, TreatmentOption::Avoid] {
        let d = TreatmentDraft {
            option,
            planned_controls: vec![],
            ..base.clone()
        };
        assert!(Treatment::propose(&risk, d, UserId::new(), &config, now()).is_ok());
    }
}

#[test]
fn approval_needs_a_residual_estimate_and_a_due_date() {
    let risk = risk_at(2, 2);
    let analyst = approver(Role::Analyst, false);
    let (mut t, _) = propose(
        &risk,
        TreatmentDraft {
            residual: None,
            ..mitigation_plan_within(&risk)
        },
    );
    assert!(
        matches!(t.approve(&analyst, None, now()), Err(TreatmentError::Invalid(e)) if e.field == "residual")
    );
    let (mut t2, _) = propose(
        &risk,
        TreatmentDraft {
            due_date: None,
            ..mitigation_plan_within(&risk)
        },
    );
    assert!(
        matches!(t2.approve(&analyst, None, now()), Err(TreatmentError::Invalid(e)) if e.field == "due_date")
    );
    assert_eq!(t.status, TreatmentStatus::Proposed);
    assert!(t.approvals.is_empty() && t2.approvals.is_empty());
}

#[test]
fn a_completed_treatment_sets_the_risks_residual_score() {
    let mut risk = risk_at(4, 5);
    let (mut t, _) = propose(&risk, mitigation_plan());
    assert_eq!(
        risk.record_treatment(&t, now()).unwrap_err().field,
        "status"
    );
    t.approve(&approver(Role::Admin, true), None, now())
        .unwrap();
    t.start(now()).unwrap();
    t.complete(now()).unwrap();

    let mut other = risk_at(4, 5);
    assert_eq!(
        other.record_treatment(&t, now()).unwrap_err().field,
        "risk_id"
    );

    risk.record_treatment(&t, now()).unwrap();
    assert_eq!(risk.residual.map(|r| r.score), Some(8));
    assert_eq!(risk.current().level, RiskLevel::Medium);

    // The same score on re-assessment keeps it; a different one drops it.
    let config = RiskMatrixConfig::default();
    risk.rescore(config.score(4, 5).unwrap(), now());
    assert!(risk.residual.is_some());
    risk.rescore(config.score(4, 4).unwrap(), now());
    assert!(risk.residual.is_none());
    assert_eq!(risk.current(), risk.inherent);
    assert_eq!(
        risk.record_treatment(&t, now()).unwrap_err().field,
        "inherent"
    );
}

#[test]
fn rebase_withdraws_approval_when_the_risk_grows() {
    let config = RiskMatrixConfig::default();
    let risk = risk_at(3, 3); // 9, MEDIUM
    let (mut t, _) = propose(&risk, mitigation_plan_within(&risk));
    t.approve(&approver(Role::Manager, false), None, now())
        .unwrap();

    // Same level: approval stands.
    assert!(!t.rebase(config.score(2, 4).unwrap(), now()));
    assert_eq!(t.status, TreatmentStatus::Approved);

    // Now CRITICAL: a manager's approval no longer suffices.
    assert!(t.rebase(config.score(4, 4).unwrap(), now()));
    assert_eq!(t.status, TreatmentStatus::Proposed);
    assert_eq!(t.approval_requirement().min_role, Role::Admin);
    assert!(t.current_approval().is_none());

    // Shrinking below the residual estimate drops the estimate.
    let (mut t, _) = propose(&risk_at(4, 5), mitigation_plan());
    assert!(!t.rebase(config.score(1, 4).unwrap(), now()));
    assert_eq!(t.residual, None);
}
