//! The account checks against seeded users: `password_policy`,
//! `access_reviews`, `dormant_accounts`, `admin_count`, each passing,
//! warning and failing, with their day boundaries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance_fixtures;

use chrono::Duration;
use compliance_fixtures::*;
use isms_domain::Role;
use isms_domain::access_policy::AccessPolicy;
use isms_domain::compliance::rules::*;
use isms_domain::compliance::*;
use isms_domain::user::{NewUser, PasswordHash, User};
use isms_domain::{Email, TenantId};

fn seeded() -> Vec<UserSnapshot> {
    vec![
        user(Role::Admin),
        user(Role::Manager),
        user(Role::Analyst),
        user(Role::Viewer),
    ]
}

// ---- password_policy ------------------------------------------------------

#[test]
fn password_policy_passes_on_a_well_kept_tenant() {
    let r = password_policy(&seeded(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.check, CheckId::PasswordPolicy);
    assert_eq!(r.severity, Severity::High);
    assert_eq!(r.controls, vec!["5.17", "8.5"]);
    assert_eq!(r.details["users_checked"], 4);
    assert_eq!(r.recommendation, None);
    assert_eq!(r.ran_at, now());
}

#[test]
fn password_policy_warns_on_hashes_below_the_parameters() {
    let mut users = seeded();
    users[2].hash = HashScheme::from_phc("$argon2id$v=19$m=4096,t=3,p=1$c2FsdA$aGFzaA");
    users[3].hash = HashScheme::from_phc("$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA");
    let r = password_policy(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(listed_count(&r.details, "hash_below_policy"), 2);
    let mut want = vec![users[2].id.to_string(), users[3].id.to_string()];
    want.sort();
    assert_eq!(ids(&r.details, "hash_below_policy"), want);
    assert!(
        r.message.contains("2 password hashes below"),
        "{}",
        r.message
    );
    assert!(r.recommendation.is_some());
}

#[test]
fn parameters_exactly_at_the_policy_pass_and_one_below_warns() {
    let mut users = vec![user(Role::Viewer)];
    let c = cfg();
    assert_eq!(
        password_policy(&users, &c, now()).status,
        CheckStatus::Passed
    );
    users[0].hash = HashScheme::from_phc("$argon2id$v=19$m=19455,t=2,p=1$c2FsdA$aGFzaA");
    assert_eq!(
        password_policy(&users, &c, now()).status,
        CheckStatus::Warning
    );
    users[0].hash = HashScheme::from_phc("$argon2id$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    assert_eq!(
        password_policy(&users, &c, now()).status,
        CheckStatus::Warning,
        "version 1.0 (no v=) is below policy"
    );
}

#[test]
fn password_policy_fails_on_foreign_or_unreadable_hashes() {
    let mut users = seeded();
    users[1].hash =
        HashScheme::from_phc("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW");
    let r = password_policy(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "hash_not_argon2"),
        vec![users[1].id.to_string()]
    );

    let mut users = seeded();
    users[0].hash = HashScheme::from_phc("$argon2id$test");
    let r = password_policy(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(listed_count(&r.details, "hash_unreadable"), 1);
}

#[test]
fn generated_password_kept_beyond_n_days_fails_exactly_after_n() {
    let mut users = vec![user(Role::Viewer)];
    users[0].password_must_change = true;
    users[0].password_changed_at = None;
    users[0].created_at = days_ago(7);
    let c = cfg();
    assert_eq!(c.thresholds.initial_password_max_age_days, 7);
    assert_eq!(
        password_policy(&users, &c, now()).status,
        CheckStatus::Passed,
        "exactly 7 days"
    );
    users[0].created_at = days_ago(7) - Duration::seconds(1);
    let r = password_policy(&users, &c, now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "initial_password_not_changed"),
        vec![users[0].id.to_string()]
    );
    // A reset password counts from when it was issued.
    users[0].password_changed_at = Some(days_ago(2));
    assert_eq!(
        password_policy(&users, &c, now()).status,
        CheckStatus::Passed
    );
}

#[test]
fn privileged_users_without_required_mfa_fail() {
    let mut users = seeded();
    users[1].mfa_enrolled = false; // manager, policy requires MFA
    let r = password_policy(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "privileged_without_mfa"),
        vec![users[1].id.to_string()]
    );

    // Not required by the tenant's policy: not flagged.
    users[1].mfa_required = false;
    assert_eq!(
        password_policy(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
    // Not a privileged role: not flagged.
    let mut viewer = vec![user(Role::Viewer)];
    viewer[0].mfa_enrolled = false;
    assert_eq!(
        password_policy(&viewer, &cfg(), now()).status,
        CheckStatus::Passed
    );
}

#[test]
fn inactive_users_are_ignored() {
    let mut users = seeded();
    users[0].active = false;
    users[0].hash = HashScheme::Unreadable;
    users[0].mfa_enrolled = false;
    let r = password_policy(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed);
    assert_eq!(r.details["users_checked"], 3);
}

#[test]
fn snapshot_from_a_user_record_carries_no_personal_data() {
    let u = User::create(
        NewUser {
            tenant_id: TenantId::new(),
            email: Email::parse("dora@example.com").unwrap(),
            display_name: Some("Dora Explorer".into()),
            role: Role::Admin,
            password_hash: PasswordHash::new(GOOD_HASH.into()),
            password_must_change: true,
        },
        days_ago(30),
    );
    let policy = AccessPolicy {
        mfa_required_roles: [Role::Admin].into(),
        ..AccessPolicy::default()
    };
    let snap = UserSnapshot::from_user(&u, &policy, false);
    assert!(snap.active && snap.mfa_required && !snap.mfa_enrolled);
    assert!(matches!(snap.hash, HashScheme::Argon2(p) if p.memory_kib == 19_456));
    let r = password_policy(&[snap], &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    let text = format!("{} {}", r.message, r.details);
    assert!(!text.contains("dora") && !text.contains("Dora") && !text.contains("argon2id$"));
    assert_eq!(listed_count(&r.details, "initial_password_not_changed"), 1);
    assert_eq!(listed_count(&r.details, "privileged_without_mfa"), 1);
}

// ---- access_reviews -------------------------------------------------------

#[test]
fn access_reviews_pass_when_all_recent() {
    let r = access_reviews(&seeded(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(r.severity, Severity::Medium);
}

#[test]
fn missing_or_stale_reviews_warn_with_count_and_ids() {
    let mut users = seeded();
    users[0].last_access_review_at = None;
    users[0].created_at = days_ago(10);
    users[1].last_access_review_at = Some(days_ago(120));
    let r = access_reviews(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(listed_count(&r.details, "review_overdue"), 2);
    let mut want = vec![users[0].id.to_string(), users[1].id.to_string()];
    want.sort();
    assert_eq!(ids(&r.details, "review_overdue"), want);
    assert_eq!(r.details["never_reviewed"], 1);
    assert!(
        r.message.starts_with("2 users without an access review"),
        "{}",
        r.message
    );
}

#[test]
fn review_exactly_90_days_old_passes_one_second_more_warns() {
    let mut users = vec![user(Role::Viewer)];
    users[0].last_access_review_at = Some(days_ago(90));
    assert_eq!(
        access_reviews(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
    users[0].last_access_review_at = Some(days_ago(90) - Duration::seconds(1));
    assert_eq!(
        access_reviews(&users, &cfg(), now()).status,
        CheckStatus::Warning
    );
}

#[test]
fn reviews_twice_overdue_fail() {
    let mut users = seeded();
    users[2].last_access_review_at = Some(days_ago(181));
    let r = access_reviews(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "review_long_overdue"),
        vec![users[2].id.to_string()]
    );
    // Never reviewed on an old account is just as bad.
    let mut users = seeded();
    users[3].last_access_review_at = None;
    users[3].created_at = days_ago(200);
    assert_eq!(
        access_reviews(&users, &cfg(), now()).status,
        CheckStatus::Failed
    );
    users[3].last_access_review_at = Some(days_ago(180));
    assert_eq!(
        access_reviews(&users, &cfg(), now()).status,
        CheckStatus::Warning
    );
}

// ---- dormant_accounts -----------------------------------------------------

#[test]
fn dormant_accounts_pass_when_everyone_logs_in() {
    let r = dormant_accounts(&seeded(), &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
}

#[test]
fn dormant_ordinary_accounts_warn_at_the_boundary() {
    let mut users = seeded();
    users[3].last_login_at = Some(days_ago(90));
    assert_eq!(
        dormant_accounts(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
    users[3].last_login_at = Some(days_ago(91));
    let r = dormant_accounts(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(ids(&r.details, "dormant"), vec![users[3].id.to_string()]);
    assert_eq!(listed_count(&r.details, "dormant_privileged"), 0);
}

#[test]
fn never_logged_in_counts_from_creation() {
    let mut users = vec![user(Role::Analyst)];
    users[0].last_login_at = None;
    users[0].created_at = days_ago(5);
    assert_eq!(
        dormant_accounts(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
    users[0].created_at = days_ago(100);
    let r = dormant_accounts(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert_eq!(r.details["never_logged_in"], 1);
}

#[test]
fn dormant_privileged_accounts_fail() {
    let mut users = seeded();
    users[0].last_login_at = Some(days_ago(200));
    let r = dormant_accounts(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "dormant_privileged"),
        vec![users[0].id.to_string()]
    );
    // Deactivated: no longer a finding.
    users[0].active = false;
    assert_eq!(
        dormant_accounts(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
}

// ---- admin_count ----------------------------------------------------------

#[test]
fn admin_count_passes_with_few_admins_all_with_mfa() {
    let users = vec![
        user(Role::Admin),
        user(Role::Admin),
        user(Role::Admin),
        user(Role::Viewer),
    ];
    let r = admin_count(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Passed, "{}", r.message);
    assert_eq!(listed_count(&r.details, "admins"), 3);
}

#[test]
fn more_admins_than_allowed_warns() {
    let mut users: Vec<_> = (0..4).map(|_| user(Role::Admin)).collect();
    let r = admin_count(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Warning);
    assert!(
        r.message.contains("4 active administrators"),
        "{}",
        r.message
    );
    // An inactive admin does not count.
    users[3].active = false;
    assert_eq!(
        admin_count(&users, &cfg(), now()).status,
        CheckStatus::Passed
    );
    // The limit is the tenant's.
    users[3].active = true;
    let mut c = cfg();
    c.thresholds.max_admins = 4;
    assert_eq!(admin_count(&users, &c, now()).status, CheckStatus::Passed);
}

#[test]
fn an_admin_without_mfa_fails_even_if_policy_does_not_require_it() {
    let mut users = seeded();
    users[0].mfa_enrolled = false;
    users[0].mfa_required = false;
    let r = admin_count(&users, &cfg(), now());
    assert_eq!(r.status, CheckStatus::Failed);
    assert_eq!(
        ids(&r.details, "admins_without_mfa"),
        vec![users[0].id.to_string()]
    );
}

#[test]
fn dispatcher_runs_the_matching_rule() {
    let input = CheckInput::AdminCount(seeded());
    assert_eq!(input.check(), CheckId::AdminCount);
    let r = evaluate(&input, &cfg(), now());
    assert_eq!(r, admin_count(&seeded_same(&input), &cfg(), now()));
}

fn seeded_same(input: &CheckInput) -> Vec<UserSnapshot> {
    match input {
        CheckInput::AdminCount(u) => u.clone(),
        _ => unreachable!(),
    }
}
