//! Overall status and score: the exact formula
//! `max(0, passed/total × 100 − 10 × critical − 2 × warnings)`, one
//! decimal, with how each status and severity counts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compliance_fixtures;

use chrono::Duration;
use compliance_fixtures::*;
use isms_domain::compliance::*;
use proptest::prelude::*;

use CheckId as C;
use CheckStatus as S;

fn all_passed() -> Vec<CheckResult> {
    CheckId::ALL.iter().map(|c| result(*c, S::Passed)).collect()
}

#[test]
fn everything_passed_is_compliant_100() {
    let rs = all_passed();
    assert_eq!(overall_status(&rs), OverallStatus::Compliant);
    assert_eq!(score(&rs), 100.0);
    let st = compliance_status(&rs, now());
    assert!(st.critical_issues.is_empty() && st.warnings.is_empty());
    assert_eq!(st.ran_at, now());
}

#[test]
fn a_failed_critical_check_is_non_compliant_and_a_critical_issue() {
    let mut rs = all_passed();
    rs[3] = result(C::AuditLogIntegrity, S::Failed);
    assert_eq!(rs[3].severity, Severity::Critical);
    let st = compliance_status(&rs, now());
    assert_eq!(st.overall_status, OverallStatus::NonCompliant);
    assert_eq!(st.critical_issues.len(), 1);
    assert_eq!(st.critical_issues[0].check, C::AuditLogIntegrity);
    assert!(st.warnings.is_empty());
    // 8/9 × 100 = 88.888… − 10 = 78.888… → 78.9
    assert_eq!(st.score.as_f64(), 78.9);
}

#[test]
fn a_failed_non_critical_check_is_a_warning() {
    let mut rs = all_passed();
    rs[0] = result(C::PasswordPolicy, S::Failed);
    let st = compliance_status(&rs, now());
    assert_eq!(st.overall_status, OverallStatus::Warning);
    assert!(st.critical_issues.is_empty());
    assert_eq!(st.warnings.len(), 1);
    assert_eq!(st.warnings[0].status, S::Failed);
    // 8/9 × 100 − 2 = 86.888… → 86.9
    assert_eq!(st.score.as_f64(), 86.9);
}

#[test]
fn a_warning_result_is_a_warning_even_on_a_critical_check() {
    let mut rs = all_passed();
    rs[3] = result(C::AuditLogIntegrity, S::Warning);
    let st = compliance_status(&rs, now());
    assert_eq!(st.overall_status, OverallStatus::Warning);
    assert_eq!(st.warnings.len(), 1);
    assert!(st.critical_issues.is_empty());
}

#[test]
fn an_error_is_not_passed_and_counts_as_a_warning() {
    let mut rs = all_passed();
    rs[3] = CheckResult::error(C::AuditLogIntegrity, &cfg(), "store unavailable", now());
    let st = compliance_status(&rs, now());
    assert_eq!(standing(&rs[3]), Standing::Warning);
    assert_eq!(st.overall_status, OverallStatus::Warning);
    assert_eq!(st.warnings[0].status, S::Error);
    assert_eq!(st.score.as_f64(), 86.9);
}

#[test]
fn exact_formula_examples() {
    // passed, total, critical, warnings → score
    let cases = [
        (9, 9, 0, 0, 100.0),
        (0, 9, 0, 0, 0.0),
        (7, 9, 1, 1, 65.8), // 77.777… − 10 − 2 = 65.777…
        (5, 9, 2, 2, 31.6), // 55.555… − 20 − 4 = 31.555…
        (6, 9, 0, 3, 60.7), // 66.666… − 6 = 60.666…
        (3, 9, 0, 6, 21.3), // 33.333… − 12 = 21.333…
        (1, 3, 0, 0, 33.3),
        (2, 3, 0, 0, 66.7),
        (1, 16, 0, 0, 6.3), // 6.25 rounds half up
        (1, 8, 0, 0, 12.5),
        (1, 1, 0, 0, 100.0),
    ];
    for (p, t, c, w, want) in cases {
        assert_eq!(
            score_of_counts(p, t, c, w).as_f64(),
            want,
            "{p}/{t} c={c} w={w}"
        );
    }
}

#[test]
fn score_is_floored_at_zero() {
    assert_eq!(score_of_counts(1, 9, 3, 5).as_f64(), 0.0); // 11.1 − 30 − 10 < 0
    assert_eq!(score_of_counts(0, 9, 9, 0), Score::ZERO);
    assert_eq!(score_of_counts(2, 9, 2, 0).as_f64(), 2.2); // 22.222… − 20
    assert_eq!(score_of_counts(2, 9, 2, 1).as_f64(), 0.2);
    assert_eq!(score_of_counts(2, 9, 2, 2).as_f64(), 0.0); // −1.777… floored
    // Through the results: one passed, eight critical failures.
    let mut rs: Vec<CheckResult> = CheckId::ALL
        .iter()
        .map(|c| result_at(*c, S::Failed, Severity::Critical))
        .collect();
    rs[0] = result(C::PasswordPolicy, S::Passed);
    assert_eq!(score(&rs), 0.0);
    assert_eq!(overall_status(&rs), OverallStatus::NonCompliant);
}

#[test]
fn no_results_score_zero() {
    assert_eq!(score(&[]), 0.0);
    assert_eq!(score_of_counts(0, 0, 0, 0), Score::ZERO);
}

#[test]
fn issues_are_listed_most_severe_first() {
    let rs = vec![
        result_at(C::AdminCount, S::Warning, Severity::Low),
        result_at(C::PasswordPolicy, S::Failed, Severity::High),
        result_at(C::AccessReviews, S::Warning, Severity::Medium),
    ];
    let st = compliance_status(&rs, now());
    let order: Vec<CheckId> = st.warnings.iter().map(|i| i.check).collect();
    assert_eq!(
        order,
        vec![C::PasswordPolicy, C::AccessReviews, C::AdminCount]
    );
}

#[test]
fn latest_result_per_check_wins() {
    let mut old = result(C::KeyRotation, S::Failed);
    old.ran_at = now() - Duration::days(1);
    let new = result(C::KeyRotation, S::Passed);
    let other = result(C::AdminCount, S::Warning);
    let latest = latest_results([&new, &other, &old]);
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].check, C::KeyRotation);
    assert_eq!(latest[0].status, S::Passed);
    assert_eq!(latest[1].check, C::AdminCount);
}

#[test]
fn status_json_shape() {
    let mut rs = all_passed();
    rs[0] = result(C::PasswordPolicy, S::Warning);
    let v = serde_json::to_value(compliance_status(&rs, now())).unwrap();
    assert_eq!(v["overall_status"], "WARNING");
    assert_eq!(v["score"], 86.9);
    assert_eq!(v["warnings"][0]["check"], "password_policy");
    assert_eq!(v["warnings"][0]["severity"], "HIGH");
    assert!(v["critical_issues"].as_array().unwrap().is_empty());
    assert!(v["ran_at"].is_string());
}

#[test]
fn scores_deserialise_only_with_one_decimal() {
    let ok: Score = serde_json::from_str("87.5").unwrap();
    assert_eq!(ok.tenths(), 875);
    assert_eq!(ok.to_string(), "87.5");
    assert_eq!(serde_json::from_str::<Score>("33.3").unwrap().tenths(), 333);
    assert_eq!(
        serde_json::from_str::<Score>("100").unwrap().to_string(),
        "100.0"
    );
    for bad in ["87.55", "-0.1", "100.1", "\"87.5\""] {
        assert!(serde_json::from_str::<Score>(bad).is_err(), "{bad}");
    }
}

proptest! {
    /// The integer computation equals the formula evaluated in exact
    /// rational arithmetic, rounded half up and floored at 0.
    #[test]
    fn matches_the_formula(total in 1usize..50, p in 0usize..50, c in 0usize..10, w in 0usize..20) {
        let p = p.min(total);
        let tenths = score_of_counts(p, total, c, w).tenths() as i128;
        // 10 × (100 p / t − 10 c − 2 w) = (1000 p − 100 c t − 20 w t) / t
        let num = 1000 * p as i128 - (100 * c as i128 + 20 * w as i128) * total as i128;
        let t = total as i128;
        let rounded = (2 * num + t).div_euclid(2 * t);
        prop_assert_eq!(tenths, rounded.max(0));
    }

    /// Turning a passed check into anything else never raises the score,
    /// and the score stays in 0..=100.
    #[test]
    fn not_passing_never_helps(statuses in proptest::collection::vec(0u8..4, 9)) {
        let mk = |i: usize, s: u8| {
            let st = [S::Passed, S::Warning, S::Failed, S::Error][s as usize];
            result(CheckId::ALL[i], st)
        };
        let rs: Vec<CheckResult> = statuses.iter().enumerate().map(|(i, s)| mk(i, *s)).collect();
        let base = score_of(&rs);
        prop_assert!(base <= Score::MAX);
        for i in 0..rs.len() {
            if rs[i].status == S::Passed {
                let mut worse = rs.clone();
                worse[i] = mk(i, 1);
                prop_assert!(score_of(&worse) <= base);
            }
        }
    }
}
