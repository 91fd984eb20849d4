//! Risk management on behalf of a caller: the inventory and catalogues
//! (`entities.rs`), exposures and assessments (`assess.rs`), the register
//! and treatments (`register.rs`). Permissions are checked here as well as
//! at the route; every change is written with its audit records in one
//! transaction. The engine and every rule live in `isms_domain::risk`.

mod assess;
mod entities;
mod register;
mod review_source;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use isms_domain::TenantId;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::{RepoError, TenantRepository, UserRepository};
use isms_domain::principal::Principal;
use isms_domain::rbac::Permission;
use isms_domain::risk::{RiskMatrixConfig, RiskMatrixSpec, RiskRepository, ValidationError};
use isms_domain::time::now;

use crate::AppError;
use crate::audit::AuditTrail;
use crate::auth::AuthService;

pub use assess::RunSummary;
pub use register::{RiskHeatmap, TreatmentRequest};
pub use review_source::RegisterReview;

/// How long another instance's matrix change can go unseen here.
const MATRIX_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Clone)]
pub struct RiskService {
    inner: Arc<Inner>,
}

struct Inner {
    repo: Arc<dyn RiskRepository>,
    tenants: Arc<dyn TenantRepository>,
    /// Owners named on assets and treatments must be the tenant's users.
    users: Arc<dyn UserRepository>,
    audit: AuditTrail,
    auth: AuthService,
    /// Each tenant's validated matrix (the 4 × 5 default when it set
    /// none; see `docs/risk-engine.md`), cached briefly: a change through
    /// this instance is seen at once, through another within the TTL.
    matrices: moka::sync::Cache<TenantId, Arc<RiskMatrixConfig>>,
    /// Tenants whose default threat catalogue is known to be seeded, so
    /// the check costs one database round trip per tenant and process.
    seeded: Mutex<HashSet<TenantId>>,
}

pub(crate) fn invalid(e: ValidationError) -> AppError {
    AppError::validation(e.field, "invalid", e.to_string())
}

impl RiskService {
    pub fn new(
        repo: Arc<dyn RiskRepository>,
        tenants: Arc<dyn TenantRepository>,
        users: Arc<dyn UserRepository>,
        audit: AuditTrail,
        auth: AuthService,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                repo,
                tenants,
                users,
                audit,
                auth,
                matrices: moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(MATRIX_CACHE_TTL)
                    .build(),
                seeded: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// 422 `unknown_user` on `field` unless `owner` is a (live) user of
    /// the tenant: another tenant's id must not become this one's owner.
    pub(crate) async fn require_owner(
        &self,
        tenant: TenantId,
        owner: isms_domain::UserId,
        field: &'static str,
    ) -> Result<(), AppError> {
        match self.inner.users.get(tenant, owner).await {
            Ok(_) => Ok(()),
            Err(RepoError::NotFound) => Err(AppError::validation(
                field,
                "unknown_user",
                "the owner must be a user of this tenant",
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The tenant's matrix: its own when it set one, else the default.
    pub async fn matrix(&self, tenant: TenantId) -> Result<Arc<RiskMatrixConfig>, AppError> {
        if let Some(m) = self.inner.matrices.get(&tenant) {
            return Ok(m);
        }
        let matrix = match self.inner.repo.matrix(tenant).await? {
            Some(spec) => RiskMatrixConfig::try_from(spec)
                .map_err(|e| AppError::Internal(format!("stored risk matrix: {e}")))?,
            None => RiskMatrixConfig::default(),
        };
        let matrix = Arc::new(matrix);
        self.inner.matrices.insert(tenant, matrix.clone());
        Ok(matrix)
    }

    /// The caller's tenant's matrix as it reads and writes it.
    pub async fn matrix_spec(&self, who: &Principal) -> Result<RiskMatrixSpec, AppError> {
        who.require(Permission::AssetsRead)?;
        Ok(self.matrix(who.tenant_id).await?.spec().clone())
    }

    /// Replaces the tenant's matrix (admin). It applies from the next
    /// assessment, exposure or treatment on; stored scores keep the matrix
    /// they were computed with until their asset is assessed again.
    pub async fn put_matrix(
        &self,
        who: &Principal,
        spec: RiskMatrixSpec,
        meta: &RequestMeta,
    ) -> Result<RiskMatrixSpec, AppError> {
        who.require(Permission::TenantAdmin)?;
        let matrix = RiskMatrixConfig::try_from(spec).map_err(invalid)?;
        let spec = matrix.spec().clone();
        let event = SecurityEvent::new(K::RiskMatrixChanged, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .details(serde_json::json!({
                "impact_levels": spec.impact_levels.len(),
                "likelihood_levels": spec.likelihood_levels.len(),
                "thresholds": [spec.thresholds.medium, spec.thresholds.high, spec.thresholds.critical],
            }));
        let repo = self.inner.repo.clone();
        let tenant = who.tenant_id;
        let stored = spec.clone();
        self.inner
            .audit
            .change(vec![event], async move |records| {
                repo.put_matrix(tenant, &stored, now(), records).await
            })
            .await?;
        self.inner.matrices.insert(tenant, Arc::new(matrix));
        Ok(spec)
    }

    fn repo(&self) -> &dyn RiskRepository {
        self.inner.repo.as_ref()
    }

    fn event(
        kind: K,
        who: &Principal,
        meta: &RequestMeta,
        resource_type: &str,
        resource_id: impl ToString,
        extra: serde_json::Value,
    ) -> SecurityEvent {
        let mut details = serde_json::json!({
            "resource_type": resource_type,
            "resource_id": resource_id.to_string(),
        });
        if let (Some(d), Some(e)) = (details.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        SecurityEvent::new(kind, Outcome::Success, meta)
            .tenant(who.tenant_id)
            .actor(who.user_id)
            .session(who.session_id)
            .details(details)
    }

    /// Seeds the tenant's default threat catalogue on first use. Lazy
    /// seeding covers new and existing tenants alike, without a hook in
    /// tenant creation or a data migration; the store makes it happen once
    /// even across instances.
    async fn ensure_seeded(&self, tenant: TenantId) -> Result<(), AppError> {
        if self.is_seeded(tenant) {
            return Ok(());
        }
        let now = isms_domain::time::now();
        let threats: Vec<_> = isms_domain::risk::default_threat_catalogue()
            .iter()
            .map(|t| t.instantiate(tenant, now))
            .collect();
        let event = SecurityEvent::new(K::ThreatCreated, Outcome::Success, &RequestMeta::default())
            .tenant(tenant)
            .details(serde_json::json!({
                "resource_type": "threat_catalogue",
                "resource_id": tenant.to_string(),
                "catalogue": "default",
                "threats": threats.len(),
            }));
        let records = self
            .inner
            .audit
            .prepare(std::slice::from_ref(&event))
            .await?;
        let seeded = self
            .repo()
            .seed_catalogue(tenant, &threats, &records)
            .await?;
        if seeded {
            self.inner.audit.committed(vec![event]);
            tracing::info!(tenant_id = %tenant, threats = threats.len(), "risk.catalogue_seeded");
        }
        if let Ok(mut s) = self.inner.seeded.lock() {
            s.insert(tenant);
        }
        Ok(())
    }

    fn is_seeded(&self, tenant: TenantId) -> bool {
        self.inner
            .seeded
            .lock()
            .map(|s| s.contains(&tenant))
            .unwrap_or(false)
    }
}
