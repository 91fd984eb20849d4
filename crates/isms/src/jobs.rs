//! Periodic work of a running server: signing audit checkpoints and
//! delivering alert webhooks. Both are safe to run on every instance at
//! once (the database decides: a checkpoint of a given size is stored once,
//! an alert is scheduled by exactly one instance).

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::config::Config;
use crate::wiring::Services;

/// How often each job looks for work.
const TICK: Duration = Duration::from_secs(1);
/// How often rings are checked for their rotation age.
const KEY_ROTATION_CHECK: Duration = Duration::from_secs(3600);

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
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = audit.checkpoint_due(max_entries, max_age).await {
                tracing::warn!(error = %e, "audit.checkpoint_failed");
            }
        }
    }));
    let crypto = services.app.crypto.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEY_ROTATION_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match crypto.rotate_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rings = n, "crypto.keys_rotated"),
                Err(e) => tracing::warn!(error = %e, "crypto.rotation_failed"),
            }
        }
    }));
    let alerts = services.alerts.clone();
    if alerts.enabled() {
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = alerts.run_once().await {
                    tracing::warn!(error = %e, "alert.dispatch_failed");
                }
            }
        }));
    }
    Jobs { tasks }
}
