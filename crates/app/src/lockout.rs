//! Brute-force lockout: consecutive failed logins lock the account (keyed
//! by the normalised e-mail, so an unknown address locks exactly like a
//! real one), and failures per client IP across accounts stop password
//! spraying. Counters live in the limiter store: Redis when configured
//! (shared by every instance), in process otherwise.

use std::sync::Arc;
use std::time::Duration;

use isms_domain::email::Email;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::LimiterStore;
use isms_domain::{TenantId, UserId};
use sha2::{Digest, Sha256};

use crate::AppError;
use crate::audit::AuditTrail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutSettings {
    pub enabled: bool,
    /// Consecutive failures that lock an account.
    pub max_failures: u32,
    /// How long the account stays locked; also how long failures count.
    pub lock_duration: Duration,
    /// Failures from one IP, across accounts, that block the IP.
    pub ip_max_failures: u32,
    /// The window those failures are counted in, and the block's length.
    pub ip_window: Duration,
}

impl Default for LockoutSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            max_failures: 5,
            lock_duration: Duration::from_secs(15 * 60),
            ip_max_failures: 20,
            ip_window: Duration::from_secs(10 * 60),
        }
    }
}

/// Who a failure is about, when the account exists.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub tenant: TenantId,
    pub user: UserId,
}

#[derive(Clone)]
pub struct Lockout {
    store: Arc<dyn LimiterStore>,
    audit: AuditTrail,
    settings: LockoutSettings,
}

/// The account part of every key: a hash, so no e-mail address is ever
/// stored in Redis.
fn account_id(email: &str) -> String {
    let normalized = Email::parse(email)
        .map(|e| e.as_str().to_owned())
        .unwrap_or_else(|_| email.trim().to_lowercase());
    let digest = Sha256::digest(normalized.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn keys_for_account(email: &str) -> (String, String) {
    let id = account_id(email);
    (format!("lockout:acct:{id}"), format!("failures:acct:{id}"))
}

fn keys_for_ip(ip: &str) -> (String, String) {
    (format!("lockout:ip:{ip}"), format!("failures:ip:{ip}"))
}

impl Lockout {
    pub fn new(store: Arc<dyn LimiterStore>, audit: AuditTrail, settings: LockoutSettings) -> Self {
        Self {
            store,
            audit,
            settings,
        }
    }

    pub fn settings(&self) -> &LockoutSettings {
        &self.settings
    }

    /// Refuses an attempt while the client IP or the account is blocked.
    /// Costs no password hash, and answers the same for any address.
    pub async fn check(&self, email: &str, ip: Option<&str>) -> Result<(), AppError> {
        if !self.settings.enabled {
            return Ok(());
        }
        if let Some(ip) = ip
            && let Some(left) = self.store.locked_for(&keys_for_ip(ip).0).await?
        {
            return Err(AppError::RateLimited { retry_after: left });
        }
        if let Some(left) = self.store.locked_for(&keys_for_account(email).0).await? {
            return Err(AppError::AccountLocked { retry_after: left });
        }
        Ok(())
    }

    /// Counts a failed password or second factor; locks the account on the
    /// `max_failures`-th in a row and blocks the IP on its
    /// `ip_max_failures`-th in the window.
    pub async fn record_failure(
        &self,
        email: &str,
        subject: Option<Subject>,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let s = &self.settings;
        let (lock_key, fail_key) = keys_for_account(email);
        let n = self.store.add_failure(&fail_key, s.lock_duration).await?;
        if n >= s.max_failures {
            self.store.lock(&lock_key, s.lock_duration).await?;
            self.store.clear(&fail_key).await?;
            let mut e = SecurityEvent::new(K::AccountLocked, Outcome::Denied, meta).details(
                serde_json::json!({ "failures": n, "locked_for_secs": s.lock_duration.as_secs() }),
            );
            if let Some(sub) = subject {
                e = e.tenant(sub.tenant).target(sub.user);
            }
            self.audit.record(vec![e]).await?;
        }
        if let Some(ip) = meta.ip.as_deref() {
            let (ip_lock, ip_fail) = keys_for_ip(ip);
            let n = self.store.add_failure(&ip_fail, s.ip_window).await?;
            if n >= s.ip_max_failures {
                self.store.lock(&ip_lock, s.ip_window).await?;
                self.store.clear(&ip_fail).await?;
                self.audit
                    .record(vec![
                        SecurityEvent::new(K::PasswordSprayDetected, Outcome::Denied, meta)
                            .details(serde_json::json!({
                                "failures": n,
                                "window_secs": s.ip_window.as_secs()
                            })),
                    ])
                    .await?;
            }
        }
        Ok(())
    }

    /// A successful login ends the account's run of failures.
    pub async fn record_success(&self, email: &str) -> Result<(), AppError> {
        if !self.settings.enabled {
            return Ok(());
        }
        self.store.clear(&keys_for_account(email).1).await?;
        Ok(())
    }

    /// Lifts an account's lock and forgets its failures.
    pub async fn unlock(&self, email: &str) -> Result<bool, AppError> {
        let (lock_key, fail_key) = keys_for_account(email);
        let was_locked = self.store.locked_for(&lock_key).await?.is_some();
        self.store.clear(&lock_key).await?;
        self.store.clear(&fail_key).await?;
        Ok(was_locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_hash_the_normalised_address() {
        assert_eq!(
            account_id("Alice@Example.com"),
            account_id(" alice@example.com ")
        );
        let (lock, fail) = keys_for_account("alice@example.com");
        assert!(!lock.contains("alice") && !fail.contains("example"));
        assert_ne!(
            account_id("alice@example.com"),
            account_id("bob@example.com")
        );
    }
}
