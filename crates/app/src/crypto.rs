//! The encryption service for tenant applications (Vault-transit style)
//! and key management on behalf of an authenticated caller: who may
//! decrypt which classification, step-up for restricted data and key
//! rotation, and the audit records of all of it.

use std::sync::Arc;
use std::time::Duration;

use isms_domain::crypto::{
    Aad, Classification, DataKeyMeta, DecryptDenied, EncryptedFields, Envelope, FieldInventory,
    KeyManagement, KeyOpError, authorize_decrypt,
};
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::time::now;
use zeroize::Zeroizing;

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;

/// Largest plaintext the encryption API takes (the request body limit is
/// 64 KiB, and base64 grows data by a third).
pub const MAX_PLAINTEXT: usize = 32 * 1024;
/// Rows rewrapped per transaction, and the time one request may spend.
const REWRAP_BATCH: u32 = 500;
const REWRAP_BUDGET: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct CryptoService {
    keys: Arc<dyn KeyManagement>,
    fields: Arc<dyn EncryptedFields>,
    audit: AuditTrail,
    auth: AuthService,
}

/// A sealed value and the key that sealed it.
pub struct Sealed {
    pub envelope: Envelope,
    pub key: DataKeyMeta,
    pub encrypted_at: isms_domain::time::Timestamp,
}

/// How far a rewrap got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewrapProgress {
    pub rewrapped: u64,
    /// Whether fields remain under older versions (call again).
    pub remaining: bool,
    pub primary_version: u32,
}

fn key_error(e: KeyOpError) -> AppError {
    match e {
        KeyOpError::KeyRetired => AppError::KeyRetired,
        KeyOpError::Unauthentic | KeyOpError::UnknownKey => AppError::DecryptionFailed,
        KeyOpError::Rule(m) => AppError::validation("version", "key_rule", m),
        KeyOpError::Storage(r) => r.into(),
    }
}

impl CryptoService {
    pub fn new(
        keys: Arc<dyn KeyManagement>,
        fields: Arc<dyn EncryptedFields>,
        audit: AuditTrail,
        auth: AuthService,
    ) -> Self {
        Self {
            keys,
            fields,
            audit,
            auth,
        }
    }

    pub fn keys(&self) -> &Arc<dyn KeyManagement> {
        &self.keys
    }

    fn event(kind: K, outcome: Outcome, who: &Principal, meta: &RequestMeta) -> SecurityEvent {
        SecurityEvent::new(kind, outcome, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
    }

    /// Seals `plaintext` under the tenant's primary key of `classification`,
    /// bound to `context` when given. Any authenticated member of the
    /// tenant may encrypt (sealing reveals nothing); decrypting is what the
    /// role matrix guards.
    pub async fn encrypt(
        &self,
        who: &Principal,
        classification: Classification,
        context: Option<&[u8]>,
        plaintext: &[u8],
    ) -> Result<Sealed, AppError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(AppError::validation(
                "plaintext",
                "too_large",
                format!("at most {MAX_PLAINTEXT} bytes"),
            ));
        }
        let aad = Aad::service(who.tenant_id, context);
        let (envelope, key) = self
            .keys
            .encrypt(who.tenant_id, classification, &aad, plaintext)
            .await
            .map_err(key_error)?;
        Ok(Sealed {
            envelope,
            key,
            encrypted_at: now(),
        })
    }

    /// Opens a package sealed by `encrypt`, subject to the role ×
    /// classification matrix: public and internal for every role,
    /// confidential for admin, manager and auditor, restricted for admin
    /// with a recent step-up. A denial (as `access_denied`, recorded by the
    /// access layer for every `forbidden`, or `decrypt_denied` for a missing
    /// step-up) and a failed decryption are audit events; so is every
    /// successful decryption of confidential or restricted data.
    pub async fn decrypt(
        &self,
        who: &Principal,
        envelope: &Envelope,
        context: Option<&[u8]>,
        meta: &RequestMeta,
    ) -> Result<(Zeroizing<Vec<u8>>, DataKeyMeta), AppError> {
        let class = envelope.header().classification;
        let details = |extra: serde_json::Value| {
            let mut d = serde_json::json!({
                "classification": class.as_str(),
                "key_version": envelope.header().key_version,
            });
            if let (Some(d), Some(e)) = (d.as_object_mut(), extra.as_object()) {
                d.extend(e.clone());
            }
            d
        };
        let window = self.auth.settings().step_up_window;
        if let Err(denied) = authorize_decrypt(who, class, now(), window) {
            return Err(match denied {
                // The access layer records every `forbidden` answer as an
                // `access_denied` event (an unauthorised access).
                DecryptDenied::Permission(p) => AppError::Forbidden(p.as_str()),
                DecryptDenied::StepUp(s) => {
                    self.audit
                        .record(vec![
                            Self::event(K::DecryptDenied, Outcome::Denied, who, meta)
                                .details(details(serde_json::json!({ "reason": "mfa_step_up" }))),
                        ])
                        .await?;
                    AppError::StepUp(s)
                }
            });
        }
        let aad = Aad::service(who.tenant_id, context);
        match self.keys.decrypt(who.tenant_id, envelope, &aad).await {
            Ok((plain, key)) => {
                if class >= Classification::Confidential {
                    self.audit
                        .record(vec![
                            Self::event(K::DataDecrypted, Outcome::Success, who, meta)
                                .details(details(serde_json::json!({}))),
                        ])
                        .await?;
                }
                Ok((plain, key))
            }
            Err(KeyOpError::Storage(e)) => Err(e.into()),
            Err(e) => {
                let reason = match e {
                    KeyOpError::KeyRetired => "key_retired",
                    KeyOpError::UnknownKey => "unknown_key",
                    _ => "unauthentic",
                };
                self.audit
                    .record(vec![
                        Self::event(K::DecryptFailed, Outcome::Failure, who, meta)
                            .details(details(serde_json::json!({ "reason": reason }))),
                    ])
                    .await?;
                Err(key_error(e))
            }
        }
    }

    /// A package refused before any key was tried (another tenant's key,
    /// parts that disagree, malformed bytes): recorded as a failed
    /// decryption; returns the error to answer with.
    pub async fn reject_package(
        &self,
        who: &Principal,
        reason: &'static str,
        meta: &RequestMeta,
    ) -> AppError {
        let recorded = self
            .audit
            .record(vec![
                Self::event(K::DecryptFailed, Outcome::Failure, who, meta)
                    .details(serde_json::json!({ "reason": reason })),
            ])
            .await;
        match recorded {
            Ok(()) => AppError::DecryptionFailed,
            Err(e) => e,
        }
    }

    /// Key metadata of the tenant (never key material).
    pub async fn list(&self, who: &Principal) -> Result<Vec<DataKeyMeta>, AppError> {
        who.require(Permission::KeysRead)?;
        self.keys.list(who.tenant_id).await.map_err(key_error)
    }

    /// A new primary version (a sensitive action: needs step-up).
    pub async fn rotate(
        &self,
        who: &Principal,
        classification: Classification,
        meta: &RequestMeta,
    ) -> Result<DataKeyMeta, AppError> {
        who.require(Permission::KeysRotate)?;
        self.auth.require_step_up(who)?;
        let event = Self::event(K::KeyRotated, Outcome::Success, who, meta).details(
            serde_json::json!({ "classification": classification.as_str(), "trigger": "manual" }),
        );
        let records = self.audit.prepare(std::slice::from_ref(&event)).await?;
        let key = self
            .keys
            .rotate(who.tenant_id, classification, &records)
            .await
            .map_err(key_error)?;
        self.audit.committed(vec![event]);
        Ok(key)
    }

    /// Re-encrypts the tenant's stored fields of `classification` under
    /// the primary version, batch by batch, for up to ten seconds;
    /// resumable (call again while `remaining`).
    pub async fn rewrap(
        &self,
        who: &Principal,
        classification: Classification,
        meta: &RequestMeta,
    ) -> Result<RewrapProgress, AppError> {
        who.require(Permission::KeysRotate)?;
        let started = std::time::Instant::now();
        let mut rewrapped = 0u64;
        let mut remaining = true;
        while started.elapsed() < REWRAP_BUDGET {
            let n = self
                .fields
                .rewrap(who.tenant_id, classification, REWRAP_BATCH)
                .await?;
            rewrapped += u64::from(n);
            if n < REWRAP_BATCH {
                remaining = false;
                break;
            }
        }
        let primary = self
            .keys
            .list(who.tenant_id)
            .await
            .map_err(key_error)?
            .into_iter()
            .filter(|k| {
                k.key.classification == classification
                    && k.state == isms_domain::crypto::KeyState::Primary
            })
            .map(|k| k.key.version)
            .next()
            .unwrap_or(0);
        self.audit
            .record(vec![
                Self::event(K::KeysRewrapped, Outcome::Success, who, meta).details(
                    serde_json::json!({
                        "classification": classification.as_str(),
                        "rewrapped": rewrapped,
                        "remaining": remaining,
                        "primary_version": primary,
                    }),
                ),
            ])
            .await?;
        Ok(RewrapProgress {
            rewrapped,
            remaining,
            primary_version: primary,
        })
    }

    /// Retires a version so it no longer decrypts; refused while stored
    /// fields still depend on it (rewrap first).
    pub async fn retire(
        &self,
        who: &Principal,
        classification: Classification,
        version: u32,
        meta: &RequestMeta,
    ) -> Result<DataKeyMeta, AppError> {
        who.require(Permission::KeysRotate)?;
        self.auth.require_step_up(who)?;
        let in_use: u64 = self
            .fields
            .inventory(who.tenant_id)
            .await?
            .iter()
            .filter(|f| f.classification == classification)
            .flat_map(|f| f.by_version.iter())
            .filter(|(v, _)| *v == version)
            .map(|(_, n)| *n)
            .sum();
        if in_use > 0 {
            return Err(AppError::Conflict("key_in_use"));
        }
        let event = Self::event(K::KeyRetired, Outcome::Success, who, meta).details(
            serde_json::json!({ "classification": classification.as_str(), "version": version }),
        );
        let records = self.audit.prepare(std::slice::from_ref(&event)).await?;
        let key = self
            .keys
            .retire(who.tenant_id, classification, version, &records)
            .await
            .map_err(|e| match e {
                KeyOpError::UnknownKey => AppError::NotFound,
                other => key_error(other),
            })?;
        self.audit.committed(vec![event]);
        Ok(key)
    }

    /// How the tenant's sensitive columns are stored (for the compliance
    /// monitor and `GET /keys`).
    pub async fn inventory(&self, who: &Principal) -> Result<Vec<FieldInventory>, AppError> {
        who.require(Permission::KeysRead)?;
        Ok(self.fields.inventory(who.tenant_id).await?)
    }

    /// The scheduled rotation: every ring whose primary is past the
    /// rotation period gets a new version. Several instances may run it:
    /// a version is created once, the others' attempts conflict and are
    /// skipped.
    pub async fn rotate_due(&self) -> Result<u32, AppError> {
        let mut rotated = 0;
        for (tenant, class) in self.keys.due_for_rotation(now()).await.map_err(key_error)? {
            let event = SecurityEvent::new(
                K::KeyRotated,
                Outcome::Success,
                &RequestMeta::default(),
            )
            .tenant(tenant)
            .details(
                serde_json::json!({ "classification": class.as_str(), "trigger": "schedule" }),
            );
            let records = self.audit.prepare(std::slice::from_ref(&event)).await?;
            match self.keys.rotate(tenant, class, &records).await {
                Ok(_) => {
                    rotated += 1;
                    self.audit.committed(vec![event]);
                }
                Err(KeyOpError::Storage(isms_domain::ports::RepoError::Conflict(_))) => {}
                Err(e) => return Err(key_error(e)),
            }
        }
        Ok(rotated)
    }
}
