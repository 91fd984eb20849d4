//! Periodic work of a running server: signing audit checkpoints,
//! delivering alert webhooks, flushing error-budget counts and checking
//! the SLO signals. All are safe to run on every instance at once (the
//! database decides: a checkpoint of a given size is stored once, an alert
//! is scheduled by exactly one instance; budget counts add up atomically;
//! a breach alerts once per interval on the shared counters).

use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::config::Config;
use crate::wiring::Services;

/// How often each job looks for work.
const TICK: Duration = Duration::from_secs(1);

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

pub fn start(config: &Config, services: &Services) -> Jobs {
    let mut tasks = Vec::new();
    let audit = services.app.audit_log.clone();
    let max_entries = u64::from(config.audit_checkpoint_max_entries);
    let max_age = config.audit_checkpoint_interval;
    tasks.push(tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = audit.checkpoint_due(max_entries, max_age).await {
                    tracing::warn!(error = %e, "audit.checkpoint_failed");
                }
            }
        }
        .instrument(tracing::info_span!("job", job = "audit_checkpoint")),
    ));
    let alerts = services.alerts.clone();
    if alerts.enabled() {
        tasks.push(tokio::spawn(
            async move {
                let mut tick = tokio::time::interval(TICK);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = alerts.run_once().await {
                        tracing::warn!(error = %e, "alert.dispatch_failed");
                    }
                }
            }
            .instrument(tracing::info_span!("job", job = "alert_delivery")),
        ));
    }
    let continuity = services.continuity.clone();
    tasks.push(tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                continuity.flush().await;
            }
        }
        .instrument(tracing::info_span!("job", job = "slo_budget_flush")),
    ));
    let continuity = services.continuity.clone();
    let every = config.slo.check_interval;
    tasks.push(tokio::spawn(
        async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is immediate; a fresh server has nothing to judge.
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = continuity.check_breaches().await {
                    tracing::warn!(error = %e, "slo.check_failed");
                }
            }
        }
        .instrument(tracing::info_span!("job", job = "slo_check")),
    ));
    Jobs { tasks }
}
