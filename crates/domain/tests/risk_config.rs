//! Validation of tenant risk methods: every rule names the field it broke.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use isms_domain::risk::*;

fn field_of(edit: impl FnOnce(&mut RiskMatrixSpec)) -> &'static str {
    let mut spec = RiskMatrixSpec::default();
    edit(&mut spec);
    RiskMatrixConfig::try_from(spec)
        .expect_err("the edit should make the spec invalid")
        .field
}

#[test]
fn the_default_is_valid() {
    assert!(RiskMatrixSpec::default().validate().is_ok());
}

#[test]
fn thresholds_must_increase_strictly_within_the_score_range() {
    assert_eq!(field_of(|s| s.thresholds.high = 6), "thresholds.high");
    assert_eq!(field_of(|s| s.thresholds.high = 5), "thresholds.high");
    assert_eq!(
        field_of(|s| s.thresholds.critical = 10),
        "thresholds.critical"
    );
    assert_eq!(
        field_of(|s| s.thresholds.critical = 21),
        "thresholds.critical"
    );
    assert_eq!(field_of(|s| s.thresholds.medium = 1), "thresholds.medium");
    assert_eq!(field_of(|s| s.thresholds.medium = 0), "thresholds.medium");
    // The top of the range is allowed: CRITICAL is then only the corner.
    let mut spec = RiskMatrixSpec::default();
    spec.thresholds.critical = 20;
    assert!(spec.validate().is_ok());
}

#[test]
fn axes_need_two_to_ten_distinct_names() {
    assert_eq!(field_of(|s| s.impact_levels.truncate(1)), "impact_levels");
    assert_eq!(
        field_of(|s| s.likelihood_levels = (0..11).map(|i| format!("l{i}")).collect()),
        "likelihood_levels"
    );
    assert_eq!(
        field_of(|s| s.impact_levels[1] = "low".into()),
        "impact_levels"
    );
    assert_eq!(
        field_of(|s| s.impact_levels[0] = " ".into()),
        "impact_levels"
    );
}

#[test]
fn shrinking_an_axis_invalidates_what_pointed_past_it() {
    // Two impact levels leave scores up to 10: CRITICAL at 15 is out of
    // reach. Three leave 15, but ratings mapped to impact 4 fall off.
    assert_eq!(
        field_of(|s| s.impact_levels.truncate(2)),
        "thresholds.critical"
    );
    assert_eq!(
        field_of(|s| {
            s.impact_levels.truncate(3);
            s.thresholds = LevelThresholds {
                medium: 4,
                high: 8,
                critical: 12,
            };
        }),
        "impact_of_rating"
    );
}

#[test]
fn mappings_stay_on_the_axis_and_never_decrease() {
    assert_eq!(field_of(|s| s.impact_of_rating[3] = 5), "impact_of_rating");
    assert_eq!(field_of(|s| s.impact_of_rating[0] = 0), "impact_of_rating");
    let err = {
        let spec = RiskMatrixSpec {
            impact_of_rating: [1, 3, 2, 4],
            ..RiskMatrixSpec::default()
        };
        spec.validate().unwrap_err()
    };
    assert_eq!(err.problem, Problem::NotMonotone);
    assert_eq!(
        field_of(|s| s.likelihood_of_base = [1, 2, 3, 5, 4]),
        "likelihood_of_base"
    );
    assert_eq!(
        field_of(|s| s.classification_impact_floor.restricted = 1),
        "classification_impact_floor"
    );
    assert_eq!(
        field_of(|s| s.classification_impact_floor.restricted = 5),
        "classification_impact_floor"
    );
}

#[test]
fn review_intervals_are_bounded_and_shorter_for_higher_levels() {
    assert_eq!(
        field_of(|s| s.review_interval_days.critical = 0),
        "review_interval_days"
    );
    assert_eq!(
        field_of(|s| s.review_interval_days.low = MAX_REVIEW_INTERVAL_DAYS + 1),
        "review_interval_days"
    );
    assert_eq!(
        field_of(|s| s.review_interval_days.critical = 120),
        "review_interval_days"
    );
}

#[test]
fn mitigations_and_adjustments_are_checked() {
    assert_eq!(
        field_of(|s| s.required_mitigations.high.push("  ".into())),
        "required_mitigations"
    );
    assert_eq!(
        field_of(|s| s.required_mitigations.low = (0..21).map(|i| format!("m{i}")).collect()),
        "required_mitigations"
    );
    assert_eq!(
        field_of(|s| s.likelihood_adjustments.mitigated = -5),
        "likelihood_adjustments"
    );
    let mut spec = RiskMatrixSpec::default();
    spec.likelihood_adjustments.mitigated = -4;
    assert!(spec.validate().is_ok(), "one axis length down is the limit");
}

#[test]
fn residual_cells_off_the_matrix_are_refused() {
    let c = RiskMatrixConfig::default();
    assert_eq!(c.score(5, 1).unwrap_err().field, "impact");
    assert_eq!(c.score(1, 0).unwrap_err().field, "likelihood");
    let s = c.score(3, 4).unwrap();
    assert_eq!((s.score, s.level), (12, RiskLevel::High));
}
