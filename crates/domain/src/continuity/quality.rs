//! The quality score: five pillars, each 0..1, computed from measured
//! signals and combined with fixed weights.
//!
//! | pillar | weight | formula |
//! | --- | --- | --- |
//! | security | 0.40 | mean of: share of protected-route requests whose credentials were valid; share of privileged requests (roles that may administer users) made by MFA-enrolled users; share of keys younger than their rotation age |
//! | data integrity | 0.20 | verification factor (1 last audit verification passed, 0 failed, 0.5 none seen since start) × share of audit writes that succeeded |
//! | reliability | 0.15 | error budget remaining (0..1) |
//! | auditability | 0.15 | mean of: share of log lines carrying a request id; share of successful mutating requests that wrote at least one audit entry |
//! | performance | 0.05 | 1 when p95 ≤ its SLO, else SLO / p95 |
//!
//! The weights sum to 0.95, so the weighted sum is divided by 0.95 to
//! span 0..1. A ratio with nothing measured yet counts as 1: no request
//! has failed authentication if none was made.

use std::time::Duration;

use serde::Serialize;

pub const SECURITY_WEIGHT: f64 = 0.40;
pub const DATA_INTEGRITY_WEIGHT: f64 = 0.20;
pub const RELIABILITY_WEIGHT: f64 = 0.15;
pub const AUDITABILITY_WEIGHT: f64 = 0.15;
pub const PERFORMANCE_WEIGHT: f64 = 0.05;
/// The sum of the weights; the composite is normalised by it.
pub const WEIGHT_SUM: f64 = 0.95;
/// The score a deployment must reach to count as production-ready.
pub const PRODUCTION_GATE: f64 = 0.70;
/// Verification factor while no verification has been seen: neither
/// proven intact nor known broken.
pub const UNVERIFIED_FACTOR: f64 = 0.5;

/// `part` of `whole`; 1 when nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ratio {
    pub part: u64,
    pub whole: u64,
}

impl Ratio {
    pub fn new(part: u64, whole: u64) -> Self {
        Self { part, whole }
    }

    pub fn value(self) -> f64 {
        if self.whole == 0 {
            1.0
        } else {
            (self.part.min(self.whole) as f64 / self.whole as f64).clamp(0.0, 1.0)
        }
    }
}

/// The measured signals the pillars are computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityInputs {
    /// Protected-route requests with valid credentials / all of them.
    pub valid_auth: Ratio,
    /// Privileged requests by MFA-enrolled users / all privileged requests.
    pub privileged_mfa: Ratio,
    /// Keys within their rotation age / all keys.
    pub keys_in_rotation: Ratio,
    /// The last audit verification's result, if one was seen.
    pub last_verification_ok: Option<bool>,
    /// Audit writes that succeeded / all audit writes.
    pub audit_writes: Ratio,
    /// The error budget's remaining ratio.
    pub budget_remaining: f64,
    /// Log lines with a request id / all log lines.
    pub log_lines_with_request_id: Ratio,
    /// Successful mutating requests with an audit entry / all of them.
    pub mutations_audited: Ratio,
    /// Observed p95 latency (`None` without traffic).
    #[serde(with = "opt_ms")]
    pub p95: Option<Duration>,
    #[serde(with = "ms")]
    pub p95_target: Duration,
}

mod ms {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }
}

mod opt_ms {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs_f64() * 1000.0)),
            None => s.serialize_none(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pillars {
    pub security: f64,
    pub data_integrity: f64,
    pub reliability: f64,
    pub auditability: f64,
    pub performance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityScore {
    /// The composite, 0..1.
    pub score: f64,
    pub gate: f64,
    pub passes_gate: bool,
    pub pillars: Pillars,
    pub inputs: QualityInputs,
}

/// A value forced into 0..1 (NaN counts as 0: an unmeasurable pillar
/// must not look perfect).
fn unit(v: f64) -> f64 {
    if v.is_nan() { 0.0 } else { v.clamp(0.0, 1.0) }
}

pub fn pillars(i: &QualityInputs) -> Pillars {
    let verification = match i.last_verification_ok {
        Some(true) => 1.0,
        Some(false) => 0.0,
        None => UNVERIFIED_FACTOR,
    };
    let performance = match i.p95 {
        None => 1.0,
        Some(p95) if p95 <= i.p95_target => 1.0,
        Some(p95) => i.p95_target.as_secs_f64() / p95.as_secs_f64(),
    };
    Pillars {
        security: unit(
            (i.valid_auth.value() + i.privileged_mfa.value() + i.keys_in_rotation.value()) / 3.0,
        ),
        data_integrity: unit(verification * i.audit_writes.value()),
        reliability: unit(i.budget_remaining),
        auditability: unit(
            (i.log_lines_with_request_id.value() + i.mutations_audited.value()) / 2.0,
        ),
        performance: unit(performance),
    }
}

/// The weighted sum of the pillars divided by `WEIGHT_SUM`.
pub fn composite(p: &Pillars) -> f64 {
    let sum = SECURITY_WEIGHT * unit(p.security)
        + DATA_INTEGRITY_WEIGHT * unit(p.data_integrity)
        + RELIABILITY_WEIGHT * unit(p.reliability)
        + AUDITABILITY_WEIGHT * unit(p.auditability)
        + PERFORMANCE_WEIGHT * unit(p.performance);
    unit(sum / WEIGHT_SUM)
}

pub fn passes_gate(score: f64) -> bool {
    score >= PRODUCTION_GATE
}

pub fn score(inputs: QualityInputs) -> QualityScore {
    let pillars = pillars(&inputs);
    let score = composite(&pillars);
    QualityScore {
        score,
        gate: PRODUCTION_GATE,
        passes_gate: passes_gate(score),
        pillars,
        inputs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn perfect() -> QualityInputs {
        QualityInputs {
            valid_auth: Ratio::new(10, 10),
            privileged_mfa: Ratio::new(4, 4),
            keys_in_rotation: Ratio::new(2, 2),
            last_verification_ok: Some(true),
            audit_writes: Ratio::new(5, 5),
            budget_remaining: 1.0,
            log_lines_with_request_id: Ratio::new(100, 100),
            mutations_audited: Ratio::new(3, 3),
            p95: Some(Duration::from_millis(10)),
            p95_target: Duration::from_millis(300),
        }
    }

    fn all(v: f64) -> Pillars {
        Pillars {
            security: v,
            data_integrity: v,
            reliability: v,
            auditability: v,
            performance: v,
        }
    }

    #[test]
    fn weights_sum_to_point_nine_five() {
        let sum = SECURITY_WEIGHT
            + DATA_INTEGRITY_WEIGHT
            + RELIABILITY_WEIGHT
            + AUDITABILITY_WEIGHT
            + PERFORMANCE_WEIGHT;
        assert!(close(sum, WEIGHT_SUM));
    }

    #[test]
    fn composite_is_normalised_by_the_weight_sum() {
        assert!(close(composite(&all(1.0)), 1.0));
        assert!(close(composite(&all(0.0)), 0.0));
        assert!(close(composite(&all(0.5)), 0.5));
        // Only security perfect: 0.40 / 0.95.
        let p = Pillars {
            security: 1.0,
            ..all(0.0)
        };
        assert!(close(composite(&p), 0.40 / 0.95));
        // Only performance: 0.05 / 0.95.
        let p = Pillars {
            performance: 1.0,
            ..all(0.0)
        };
        assert!(close(composite(&p), 0.05 / 0.95));
        // Out-of-range and NaN pillars are clamped, NaN to 0.
        let p = Pillars {
            security: 7.0,
            data_integrity: f64::NAN,
            reliability: -1.0,
            ..all(1.0)
        };
        assert!(close(composite(&p), (0.40 + 0.15 + 0.05) / 0.95));
    }

    #[test]
    fn the_gate_is_at_seventy_percent() {
        assert!(passes_gate(0.70));
        assert!(!passes_gate(0.699_999));
        // Security at 0.25 with everything else perfect: (0.1 + 0.55) / 0.95
        // ≈ 0.684, below the gate.
        let p = Pillars {
            security: 0.25,
            ..all(1.0)
        };
        assert!(!passes_gate(composite(&p)));
        let p = Pillars {
            security: 0.3,
            ..all(1.0)
        };
        assert!(passes_gate(composite(&p)));
    }

    #[test]
    fn perfect_signals_score_one() {
        let s = score(perfect());
        assert!(close(s.score, 1.0));
        assert!(s.passes_gate);
        assert!(close(s.gate, 0.70));
    }

    #[test]
    fn pillar_formulas() {
        let mut i = perfect();
        i.valid_auth = Ratio::new(1, 2);
        i.privileged_mfa = Ratio::new(0, 4);
        assert!(close(pillars(&i).security, (0.5 + 0.0 + 1.0) / 3.0));

        let mut i = perfect();
        i.last_verification_ok = None;
        i.audit_writes = Ratio::new(9, 10);
        assert!(close(pillars(&i).data_integrity, 0.5 * 0.9));
        i.last_verification_ok = Some(false);
        assert!(close(pillars(&i).data_integrity, 0.0));

        let mut i = perfect();
        i.budget_remaining = 0.25;
        assert!(close(pillars(&i).reliability, 0.25));

        let mut i = perfect();
        i.log_lines_with_request_id = Ratio::new(90, 100);
        i.mutations_audited = Ratio::new(1, 2);
        assert!(close(pillars(&i).auditability, (0.9 + 0.5) / 2.0));

        let mut i = perfect();
        i.p95 = Some(Duration::from_millis(600));
        assert!(close(pillars(&i).performance, 0.5));
        i.p95 = None;
        assert!(close(pillars(&i).performance, 1.0));
    }

    #[test]
    fn empty_ratios_count_as_one_and_overshoot_is_capped() {
        assert!(close(Ratio::default().value(), 1.0));
        assert!(close(Ratio::new(3, 4).value(), 0.75));
        assert!(close(Ratio::new(5, 4).value(), 1.0));
    }

    #[test]
    fn a_failed_verification_alone_keeps_the_gate() {
        // Integrity 0 costs 0.20 / 0.95 ≈ 0.21: still 0.79.
        let mut i = perfect();
        i.last_verification_ok = Some(false);
        let s = score(i);
        assert!(close(s.score, 0.75 / 0.95));
        assert!(s.passes_gate);
    }
}
