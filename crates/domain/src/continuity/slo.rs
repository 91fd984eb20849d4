//! SLO signals: latency quantiles from a bucketed histogram, the 5xx rate,
//! a 4xx spike (an abuse signal: scanners and credential stuffing answer
//! mostly 401/403/404/429) and an exhausted error budget.

use std::time::Duration;

use serde::Serialize;

use super::error_budget::{BudgetCounts, ErrorBudgetSnapshot};

/// Upper bounds (seconds) of the latency buckets, shared with the
/// Prometheus histogram `http_request_duration_seconds`: fine below 10 ms
/// where the API lives, coarse up to the request deadline. A last,
/// unbounded bucket follows.
pub const LATENCY_BOUNDS_SECS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counts per latency bucket (`LATENCY_BOUNDS_SECS` plus one overflow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: vec![0; LATENCY_BOUNDS_SECS.len() + 1],
        }
    }
}

/// The bucket a duration falls in (upper bounds are inclusive, as in
/// Prometheus).
pub fn latency_bucket(d: Duration) -> usize {
    let secs = d.as_secs_f64();
    LATENCY_BOUNDS_SECS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(LATENCY_BOUNDS_SECS.len())
}

impl LatencyHistogram {
    /// From per-bucket counts; missing buckets count 0, extra ones are
    /// folded into the overflow bucket.
    pub fn from_counts(counts: &[u64]) -> Self {
        let mut h = Self::default();
        for (i, c) in counts.iter().enumerate() {
            let slot = i.min(LATENCY_BOUNDS_SECS.len());
            h.counts[slot] = h.counts[slot].saturating_add(*c);
        }
        h
    }

    pub fn observe(&mut self, d: Duration) {
        let i = latency_bucket(d);
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, c| a.saturating_add(*c))
    }

    /// The `q`-quantile (0 < q ≤ 1), interpolated linearly inside its
    /// bucket the way Prometheus' `histogram_quantile` does; a quantile in
    /// the overflow bucket reads as the largest finite bound. `None`
    /// without observations.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.total();
        if total == 0 || !(q > 0.0 && q <= 1.0) {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            let upto = below.saturating_add(*count);
            if upto as f64 >= rank && *count > 0 {
                let Some(upper) = LATENCY_BOUNDS_SECS.get(i) else {
                    return LATENCY_BOUNDS_SECS
                        .last()
                        .map(|b| Duration::from_secs_f64(*b));
                };
                let lower = if i == 0 {
                    0.0
                } else {
                    LATENCY_BOUNDS_SECS[i - 1]
                };
                let within = (rank - below as f64) / *count as f64;
                return Some(Duration::from_secs_f64(lower + (upper - lower) * within));
            }
            below = upto;
        }
        LATENCY_BOUNDS_SECS
            .last()
            .map(|b| Duration::from_secs_f64(*b))
    }
}

/// What counts as a breach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SloThresholds {
    pub p95: Duration,
    pub p99: Duration,
    /// Largest acceptable share of 5xx answers in the signal window.
    pub max_error_rate: f64,
    /// Share of 4xx answers in the signal window that reads as a spike.
    pub max_client_error_rate: f64,
    /// Below this many requests in the window the rate and latency
    /// signals stay quiet (three slow requests are not a trend).
    pub min_requests: u64,
}

impl Default for SloThresholds {
    fn default() -> Self {
        Self {
            p95: Duration::from_millis(300),
            p99: Duration::from_millis(1000),
            max_error_rate: 0.01,
            max_client_error_rate: 0.25,
            min_requests: 20,
        }
    }
}

/// The signals, each alerted on at most once per alert interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    LatencyP95,
    LatencyP99,
    ErrorRate,
    ClientErrorSpike,
    ErrorBudgetExhausted,
}

impl Signal {
    pub const ALL: [Signal; 5] = [
        Signal::LatencyP95,
        Signal::LatencyP99,
        Signal::ErrorRate,
        Signal::ClientErrorSpike,
        Signal::ErrorBudgetExhausted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::LatencyP95 => "latency_p95",
            Signal::LatencyP99 => "latency_p99",
            Signal::ErrorRate => "error_rate",
            Signal::ClientErrorSpike => "client_error_spike",
            Signal::ErrorBudgetExhausted => "error_budget_exhausted",
        }
    }
}

/// One signal's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalStatus {
    pub signal: Signal,
    /// The measured value (`null` when there was nothing to measure).
    pub observed: Option<f64>,
    pub threshold: f64,
    /// `ms`, `ratio` or `percent`.
    pub unit: &'static str,
    pub breached: bool,
}

/// What the signal window saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowStats {
    pub counts: BudgetCounts,
    pub latency: LatencyHistogram,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Evaluates every signal over `window` and the error budget.
pub fn evaluate(
    window: &WindowStats,
    t: &SloThresholds,
    budget: &ErrorBudgetSnapshot,
) -> Vec<SignalStatus> {
    let enough = window.counts.total >= t.min_requests.max(1);
    let latency = |signal, q: f64, limit: Duration| {
        let observed = window.latency.quantile(q).map(ms);
        SignalStatus {
            signal,
            observed,
            threshold: ms(limit),
            unit: "ms",
            breached: enough && observed.is_some_and(|v| v > ms(limit)),
        }
    };
    let has_traffic = window.counts.total > 0;
    let error_rate = window.counts.error_rate();
    let client_rate = window.counts.client_error_rate();
    vec![
        latency(Signal::LatencyP95, 0.95, t.p95),
        latency(Signal::LatencyP99, 0.99, t.p99),
        SignalStatus {
            signal: Signal::ErrorRate,
            observed: has_traffic.then_some(error_rate),
            threshold: t.max_error_rate,
            unit: "ratio",
            breached: enough && error_rate > t.max_error_rate,
        },
        SignalStatus {
            signal: Signal::ClientErrorSpike,
            observed: has_traffic.then_some(client_rate),
            threshold: t.max_client_error_rate,
            unit: "ratio",
            breached: enough && client_rate > t.max_client_error_rate,
        },
        SignalStatus {
            signal: Signal::ErrorBudgetExhausted,
            observed: Some(budget.budget_consumed_pct),
            threshold: 100.0,
            unit: "percent",
            breached: budget.exhausted,
        },
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::continuity::error_budget::{BudgetWindow, SloTarget, snapshot};

    fn ms_(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn hist(samples: &[(u64, usize)]) -> LatencyHistogram {
        let mut h = LatencyHistogram::default();
        for (millis, n) in samples {
            for _ in 0..*n {
                h.observe(ms_(*millis));
            }
        }
        h
    }

    #[test]
    fn buckets_use_inclusive_upper_bounds() {
        assert_eq!(latency_bucket(Duration::ZERO), 0);
        assert_eq!(latency_bucket(Duration::from_micros(500)), 0);
        assert_eq!(latency_bucket(Duration::from_micros(501)), 1);
        assert_eq!(latency_bucket(ms_(30_000)), LATENCY_BOUNDS_SECS.len() - 1);
        assert_eq!(latency_bucket(ms_(60_000)), LATENCY_BOUNDS_SECS.len());
    }

    #[test]
    fn quantiles_interpolate_inside_the_bucket() {
        // 100 requests in (50 ms, 100 ms]: p50 half way, p95 near the top.
        let h = hist(&[(80, 100)]);
        let p50 = h.quantile(0.5).unwrap().as_secs_f64();
        assert!((p50 - 0.075).abs() < 1e-9, "{p50}");
        let p95 = h.quantile(0.95).unwrap().as_secs_f64();
        assert!((p95 - 0.0975).abs() < 1e-9, "{p95}");
        assert_eq!(LatencyHistogram::default().quantile(0.95), None);
        assert_eq!(h.quantile(0.0), None);
    }

    #[test]
    fn a_slow_tail_moves_p99_not_p95() {
        // 97 fast (≤ 1 ms), 3 slow (≤ 2.5 s).
        let h = hist(&[(1, 97), (2_000, 3)]);
        assert!(h.quantile(0.95).unwrap() <= ms_(1));
        assert!(h.quantile(0.99).unwrap() > ms_(1_000));
        // The overflow bucket reads as the largest bound.
        let h = hist(&[(60_000, 1)]);
        assert_eq!(h.quantile(0.5).unwrap(), Duration::from_secs(30));
    }

    #[test]
    fn histograms_merge_and_round_trip() {
        let mut a = hist(&[(1, 2)]);
        a.merge(&hist(&[(1, 1), (200, 1)]));
        assert_eq!(a.total(), 4);
        let copy = LatencyHistogram::from_counts(&a.counts);
        assert_eq!(copy, a);
    }

    fn budget(total: u64, failed: u64) -> ErrorBudgetSnapshot {
        snapshot(
            SloTarget::default(),
            BudgetWindow::default(),
            BudgetCounts {
                total,
                failed,
                client_errors: 0,
            },
            "in-process",
        )
    }

    fn breached(s: &[SignalStatus]) -> Vec<Signal> {
        s.iter().filter(|s| s.breached).map(|s| s.signal).collect()
    }

    #[test]
    fn a_quiet_window_breaches_nothing() {
        let s = evaluate(
            &WindowStats::default(),
            &SloThresholds::default(),
            &budget(0, 0),
        );
        assert!(breached(&s).is_empty());
        assert_eq!(s.len(), Signal::ALL.len());
        assert_eq!(s[0].observed, None);
    }

    #[test]
    fn each_signal_breaches_on_its_own() {
        let t = SloThresholds::default();
        let slow = WindowStats {
            counts: BudgetCounts {
                total: 100,
                ..BudgetCounts::default()
            },
            latency: hist(&[(400, 100)]),
        };
        assert_eq!(
            breached(&evaluate(&slow, &t, &budget(100, 0))),
            vec![Signal::LatencyP95]
        );
        let errors = WindowStats {
            counts: BudgetCounts {
                total: 100,
                failed: 2,
                client_errors: 0,
            },
            latency: hist(&[(1, 100)]),
        };
        assert_eq!(
            breached(&evaluate(&errors, &t, &budget(1_000_000, 0))),
            vec![Signal::ErrorRate]
        );
        let spike = WindowStats {
            counts: BudgetCounts {
                total: 100,
                failed: 0,
                client_errors: 30,
            },
            latency: hist(&[(1, 100)]),
        };
        assert_eq!(
            breached(&evaluate(&spike, &t, &budget(100, 0))),
            vec![Signal::ClientErrorSpike]
        );
        assert_eq!(
            breached(&evaluate(&WindowStats::default(), &t, &budget(1000, 5))),
            vec![Signal::ErrorBudgetExhausted]
        );
    }

    #[test]
    fn small_samples_stay_quiet() {
        let t = SloThresholds::default();
        let few = WindowStats {
            counts: BudgetCounts {
                total: 5,
                failed: 5,
                client_errors: 0,
            },
            latency: hist(&[(5_000, 5)]),
        };
        let s = evaluate(&few, &t, &budget(1_000_000, 5));
        assert!(breached(&s).is_empty(), "{s:?}");
        // ...but the values are still reported.
        assert_eq!(s[2].observed, Some(1.0));
    }
}
