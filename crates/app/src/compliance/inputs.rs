//! Reads each check's snapshot from the ports. A read that fails is
//! reported as `Unreadable` (logged with its cause, shown without it), so
//! the runner can turn it into an `ERROR` result.

use std::sync::Arc;

use chrono::Duration;
use isms_domain::TenantId;
use isms_domain::audit::LogId;
use isms_domain::compliance::rules::{
    AuditIntegrityInput, CheckInput, ColumnCounts, EncryptionInput, KeyRotationInput,
    KeyVersionInfo, LogVerification, UserSnapshot,
};
use isms_domain::compliance::{CheckConfig, CheckId, GdprSource, RiskReviewSource};
use isms_domain::crypto::{DataKeyMeta, EncryptedFields, FieldInventory, KeyManagement, KeyState};
use isms_domain::page::PageRequest;
use isms_domain::ports::{MfaRepository, TenantPolicyRepository, UserRepository};
use isms_domain::time::Timestamp;

use crate::audit_log::AuditLogService;

/// Why a check's input could not be read: a sentence for the result's
/// message (the cause goes to the log only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub &'static str);

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn unreadable<E: std::fmt::Display>(
    check: CheckId,
    what: &'static str,
) -> impl FnOnce(E) -> Unreadable {
    move |e| {
        tracing::warn!(check = check.as_str(), error = %e, "compliance.input_unreadable");
        Unreadable(what)
    }
}

/// The ports the snapshots come from.
#[derive(Clone)]
pub struct Sources {
    pub users: Arc<dyn UserRepository>,
    pub mfa: Arc<dyn MfaRepository>,
    pub policies: Arc<dyn TenantPolicyRepository>,
    pub keys: Arc<dyn KeyManagement>,
    pub fields: Arc<dyn EncryptedFields>,
    pub audit_log: AuditLogService,
    pub alerts: Arc<dyn isms_domain::ports::AlertRepository>,
    /// The risk register (absent until the risk feature provides it).
    pub risk: Option<Arc<dyn RiskReviewSource>>,
    /// The GDPR records (absent until the GDPR feature provides them).
    pub gdpr: Option<Arc<dyn GdprSource>>,
}

/// Page size when reading every user of a tenant.
const USER_BATCH: u32 = 100;

impl Sources {
    pub async fn input(
        &self,
        check: CheckId,
        tenant: TenantId,
        config: &CheckConfig,
        now: Timestamp,
    ) -> Result<CheckInput, Unreadable> {
        Ok(match check {
            CheckId::PasswordPolicy => {
                CheckInput::PasswordPolicy(self.accounts(check, tenant).await?)
            }
            CheckId::AccessReviews => {
                CheckInput::AccessReviews(self.accounts(check, tenant).await?)
            }
            CheckId::DormantAccounts => {
                CheckInput::DormantAccounts(self.accounts(check, tenant).await?)
            }
            CheckId::AdminCount => CheckInput::AdminCount(self.accounts(check, tenant).await?),
            CheckId::EncryptionCompliance => {
                CheckInput::EncryptionCompliance(self.encryption(tenant, config, now).await?)
            }
            CheckId::KeyRotation => CheckInput::KeyRotation(KeyRotationInput {
                keys: self
                    .key_versions(check, tenant)
                    .await?
                    .iter()
                    .map(KeyVersionInfo::from)
                    .collect(),
            }),
            CheckId::AuditLogIntegrity => {
                let report = self
                    .audit_log
                    .verify_log(&LogId::tenant(tenant))
                    .await
                    .map_err(unreadable(check, "the audit log could not be read"))?;
                CheckInput::AuditLogIntegrity(AuditIntegrityInput {
                    logs: vec![LogVerification::from(&report)],
                })
            }
            CheckId::RiskReview => {
                let source = self
                    .risk
                    .as_ref()
                    .ok_or(Unreadable("risk register not available"))?;
                CheckInput::RiskReview(
                    source
                        .risk_review_input(tenant, now)
                        .await
                        .map_err(unreadable(check, "the risk register could not be read"))?,
                )
            }
            CheckId::GdprCompliance => {
                let source = self
                    .gdpr
                    .as_ref()
                    .ok_or(Unreadable("GDPR records not available"))?;
                CheckInput::GdprCompliance(
                    source
                        .gdpr_input(tenant, now)
                        .await
                        .map_err(unreadable(check, "the GDPR records could not be read"))?,
                )
            }
        })
    }

    /// Every live user of the tenant, as the account checks see them.
    async fn accounts(
        &self,
        check: CheckId,
        tenant: TenantId,
    ) -> Result<Vec<UserSnapshot>, Unreadable> {
        let fail = || unreadable(check, "the user directory could not be read");
        let policy = self
            .policies
            .access_policy(tenant)
            .await
            .map_err(fail())?
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut page = PageRequest::first(USER_BATCH);
        loop {
            let batch = self.users.list(tenant, page).await.map_err(fail())?;
            for user in &batch.items {
                let enrolled = self
                    .mfa
                    .totp(tenant, user.id)
                    .await
                    .map_err(fail())?
                    .is_some_and(|e| e.is_active());
                out.push(UserSnapshot::from_user(user, &policy, enrolled));
            }
            match batch.next_after {
                Some(after) => {
                    page = PageRequest::new(Some(USER_BATCH), Some(after))
                        .map_err(|_| Unreadable("the user directory could not be read"))?;
                }
                None => break,
            }
        }
        Ok(out)
    }

    async fn key_versions(
        &self,
        check: CheckId,
        tenant: TenantId,
    ) -> Result<Vec<DataKeyMeta>, Unreadable> {
        self.keys
            .list(tenant)
            .await
            .map_err(unreadable(check, "the key rings could not be read"))
    }

    async fn encryption(
        &self,
        tenant: TenantId,
        config: &CheckConfig,
        now: Timestamp,
    ) -> Result<EncryptionInput, Unreadable> {
        let check = CheckId::EncryptionCompliance;
        let keys = self.key_versions(check, tenant).await?;
        let inventory = self.fields.inventory(tenant).await.map_err(unreadable(
            check,
            "the encrypted-field inventory could not be read",
        ))?;
        Ok(EncryptionInput {
            columns: inventory
                .iter()
                .map(|c| column_counts(c, &keys, config, now))
                .collect(),
        })
    }
}

/// Sorts a column's values by the state of the key version each is
/// sealed under. A version missing from the ring was destroyed: its data
/// is as unreadable as under a retired key, and counted so.
pub fn column_counts(
    column: &FieldInventory,
    keys: &[DataKeyMeta],
    config: &CheckConfig,
    now: Timestamp,
) -> ColumnCounts {
    let max_age = Duration::days(i64::from(config.thresholds.key_max_age_days));
    let mut out = ColumnCounts {
        table: column.table.clone(),
        column: column.column.clone(),
        plaintext: column.plaintext,
        retired_key: 0,
        over_age: 0,
        superseded: 0,
        ok: 0,
    };
    for &(version, n) in &column.by_version {
        let key = keys
            .iter()
            .find(|k| k.key.classification == column.classification && k.key.version == version);
        let slot = match key {
            None => &mut out.retired_key,
            Some(k) if k.state == KeyState::Retired => &mut out.retired_key,
            Some(k) if now - k.created_at > max_age => &mut out.over_age,
            Some(k) if k.state != KeyState::Primary => &mut out.superseded,
            Some(_) => &mut out.ok,
        };
        *slot = slot.saturating_add(n);
    }
    out
}
