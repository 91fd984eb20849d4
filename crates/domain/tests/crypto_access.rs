//! The decrypt authorisation matrix, every role × classification.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use isms_domain::crypto::{
    Classification, DecryptDenied, DecryptRule, authorize_decrypt, can_decrypt,
};
use isms_domain::mfa::StepUpDenied;
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::{Role, SessionId, TenantId, UserId};

use Classification as C;
use DecryptRule::{Allow, AllowWithStepUp, Deny};

/// The whole matrix written out by hand, independent of the RBAC table.
fn expected(role: Role, class: Classification) -> DecryptRule {
    match (class, role) {
        (C::Public | C::Internal, _) => Allow,
        (C::Confidential, Role::Admin | Role::Manager | Role::Auditor) => Allow,
        (C::Confidential, Role::Analyst | Role::Viewer) => Deny,
        (C::Restricted, Role::Admin) => AllowWithStepUp,
        (C::Restricted, _) => Deny,
    }
}

#[test]
fn matrix_is_exactly_as_specified() {
    let mut cells = 0;
    for role in Role::ALL {
        for class in Classification::ALL {
            assert_eq!(
                can_decrypt(role, class),
                expected(role, class),
                "{role} × {class}"
            );
            cells += 1;
        }
    }
    assert_eq!(cells, 20);
}

#[test]
fn spot_checks_of_the_extremes() {
    assert_eq!(can_decrypt(Role::Viewer, C::Internal), Allow);
    assert_eq!(can_decrypt(Role::Viewer, C::Confidential), Deny);
    assert_eq!(can_decrypt(Role::Auditor, C::Restricted), Deny);
    assert_eq!(can_decrypt(Role::Manager, C::Restricted), Deny);
    assert_eq!(can_decrypt(Role::Admin, C::Restricted), AllowWithStepUp);
}

fn principal(role: Role, enrolled: bool, verified_ago: Option<i64>) -> Principal {
    let now = isms_domain::time::now();
    Principal {
        user_id: UserId::new(),
        tenant_id: TenantId::new(),
        role,
        session_id: SessionId::new(),
        password_must_change: false,
        mfa_enrolled: enrolled,
        mfa_verified_at: verified_ago.map(|s| now - chrono::Duration::seconds(s)),
        mfa_required: false,
    }
}

#[test]
fn restricted_needs_a_recent_step_up() {
    let now = isms_domain::time::now();
    let window = Duration::from_secs(300);
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Admin, true, Some(10)),
            C::Restricted,
            now,
            window
        ),
        Ok(())
    );
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Admin, true, Some(3600)),
            C::Restricted,
            now,
            window
        ),
        Err(DecryptDenied::StepUp(StepUpDenied::StepUpRequired))
    );
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Admin, false, None),
            C::Restricted,
            now,
            window
        ),
        Err(DecryptDenied::StepUp(StepUpDenied::EnrolmentRequired))
    );
    // No step-up makes up for a missing permission.
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Manager, true, Some(1)),
            C::Restricted,
            now,
            window
        ),
        Err(DecryptDenied::Permission(Permission::DataReadRestricted))
    );
    // Below restricted, the second factor is not asked for.
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Auditor, false, None),
            C::Confidential,
            now,
            window
        ),
        Ok(())
    );
    assert_eq!(
        authorize_decrypt(
            &principal(Role::Analyst, true, Some(1)),
            C::Confidential,
            now,
            window
        ),
        Err(DecryptDenied::Permission(Permission::DataReadConfidential))
    );
}
