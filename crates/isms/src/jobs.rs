//! Periodic work of a running server: signing audit checkpoints,
//! rotating data keys that reached their age, running due compliance
//! checks (once across instances, by database lease), producing GDPR
//! exports and running retention, delivering alert webhooks,
//! flushing error-budget counts and checking the SLO signals. All are safe
//! to run on every instance at once (the database decides: a checkpoint of
//! a given size is stored once, a ring rotates once, an alert is scheduled
//! by exactly one instance; budget counts add up atomically; a breach
//! alerts once per interval on the shared counters).

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::Config;
use crate::wiring::Services;

/// How often each job looks for work.
const TICK: Duration = Duration::from_secs(1);
/// How often rings are checked for their rotation age.
const KEY_ROTATION_CHECK: Duration = Duration::from_secs(3600);
/// How often due risk assessments are run (daily; the first run is at start).
const RISK_ASSESSMENT_RUN: Duration = Duration::from_secs(86_400);
/// How often the retention run is attempted (each tenant runs once a day,
/// by lease, whichever instance gets there first).
const RETENTION_RUN: Duration = Duration::from_secs(3600);
/// Data-subject exports produced per round.
const EXPORTS_PER_ROUND: u32 = 16;

pub struct Jobs {
    tasks: Vec<JoinHandle<()>>,
}

impl Jobs {
    /// Stops the jobs; a round in progress is abandoned (each round's
    /// writes are transactions, so nothing is left half done).
    pub async fn stop(self) {
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Runs `round` every `period` in a `job` span. With `skip_first` the
/// immediate first tick is skipped (for jobs with nothing to judge on a
/// fresh start). Missed ticks are delayed, never bunched.
fn every<F, Fut>(job: &'static str, period: Duration, skip_first: bool, round: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            if skip_first {
                tick.tick().await;
            }
            loop {
                tick.tick().await;
                round().await;
            }
        }
        .instrument(tracing::info_span!("job", job)),
    )
}

pub fn start(config: &Config, services: &Services) -> Jobs {
    let mut tasks = Vec::new();
    let audit = services.app.audit_log.clone();
    let max_entries = u64::from(config.audit_checkpoint_max_entries);
    let max_age = config.audit_checkpoint_interval;
    tasks.push(every("audit_checkpoint", TICK, false, move || {
        let audit = audit.clone();
        async move {
            if let Err(e) = audit.checkpoint_due(max_entries, max_age).await {
                tracing::warn!(error = %e, "audit.checkpoint_failed");
            }
        }
    }));
    let crypto = services.app.crypto.clone();
    tasks.push(every(
        "key_rotation",
        KEY_ROTATION_CHECK,
        false,
        move || {
            let crypto = crypto.clone();
            async move {
                match crypto.rotate_due().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rings = n, "crypto.keys_rotated"),
                    Err(e) => tracing::warn!(error = %e, "crypto.rotation_failed"),
                }
            }
        },
    ));
    let compliance = services.app.compliance.clone();
    tasks.push(every(
        "compliance_checks",
        config.compliance_scheduler_interval,
        true,
        move || {
            let compliance = compliance.clone();
            async move {
                match compliance.run_due().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(checks = n, "compliance.checks_ran"),
                    Err(e) => tracing::warn!(error = %e, "compliance.schedule_failed"),
                }
            }
        },
    ));
    let alerts = services.alerts.clone();
    if alerts.enabled() {
        tasks.push(every("alert_delivery", TICK, false, move || {
            let alerts = alerts.clone();
            async move {
                if let Err(e) = alerts.run_once().await {
                    tracing::warn!(error = %e, "alert.dispatch_failed");
                }
            }
        }));
    }
    let continuity = services.continuity.clone();
    tasks.push(every("slo_budget_flush", TICK, false, move || {
        let continuity = continuity.clone();
        async move { continuity.flush().await }
    }));
    let continuity = services.continuity.clone();
    tasks.push(every(
        "slo_check",
        config.slo.check_interval,
        true,
        move || {
            let continuity = continuity.clone();
            async move {
                if let Err(e) = continuity.check_breaches().await {
                    tracing::warn!(error = %e, "slo.check_failed");
                }
            }
        },
    ));
    let risk = services.app.risk.clone();
    tasks.push(every(
        "risk_assessment",
        RISK_ASSESSMENT_RUN,
        false,
        move || {
            let risk = risk.clone();
            async move {
                match risk.run_due_all().await {
                    Ok(s) if s.assessed == 0 => {}
                    Ok(s) => tracing::info!(
                        assessed = s.assessed,
                        critical = s.critical,
                        "risk.assessments_run"
                    ),
                    Err(e) => tracing::warn!(error = %e, "risk.assessment_run_failed"),
                }
            }
        },
    ));
    let gdpr = services.app.gdpr.clone();
    tasks.push(every("gdpr_exports", TICK, false, move || {
        let gdpr = gdpr.clone();
        async move {
            match gdpr.process_queued_exports(EXPORTS_PER_ROUND).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(exports = n, "gdpr.exports_produced"),
                Err(e) => tracing::warn!(error = %e, "gdpr.export_failed"),
            }
        }
    }));
    let gdpr = services.app.gdpr.clone();
    tasks.push(every("gdpr_retention", RETENTION_RUN, false, move || {
        let gdpr = gdpr.clone();
        async move {
            match gdpr.run_retention_all().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(erased = n, "gdpr.retention_enforced"),
                Err(e) => tracing::warn!(error = %e, "gdpr.retention_failed"),
            }
        }
    }));
    Jobs { tasks }
}
