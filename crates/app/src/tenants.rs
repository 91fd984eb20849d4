//! Tenant administration (CLI today; an admin API later).

use std::sync::Arc;

use isms_domain::TenantId;
use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::page::{Page, PageRequest};
use isms_domain::ports::TenantRepository;
use isms_domain::tenant::{Tenant, TenantName};

use crate::AppError;
use crate::audit::AuditTrail;

#[derive(Clone)]
pub struct TenantService {
    tenants: Arc<dyn TenantRepository>,
    audit: AuditTrail,
}

impl TenantService {
    pub fn new(tenants: Arc<dyn TenantRepository>, audit: AuditTrail) -> Self {
        Self { tenants, audit }
    }

    pub async fn create(&self, name: &str) -> Result<Tenant, AppError> {
        let name = TenantName::parse(name)
            .map_err(|e| AppError::validation("name", "invalid_tenant_name", e))?;
        let tenant = Tenant::new(name, isms_domain::time::now());
        let event = SecurityEvent::new(K::TenantCreated, Outcome::Success, &RequestMeta::default())
            .tenant(tenant.id)
            .details(serde_json::json!({ "via": "cli" }));
        let tenants = &self.tenants;
        self.audit
            .change(vec![event], async |audit| {
                tenants.create(&tenant, audit).await
            })
            .await?;
        tracing::info!(tenant_id = %tenant.id, "tenant.created");
        Ok(tenant)
    }

    /// Offboards a tenant: soft-deletes it with its users and sessions,
    /// then destroys its data keys, so everything it encrypted becomes
    /// unrecoverable (its audit log stays and still verifies).
    pub async fn delete(
        &self,
        tenant: &Tenant,
        keys: &dyn isms_domain::crypto::KeyManagement,
    ) -> Result<u64, AppError> {
        let meta = RequestMeta::default();
        let deleted = SecurityEvent::new(K::TenantDeleted, Outcome::Success, &meta)
            .tenant(tenant.id)
            .details(serde_json::json!({ "via": "cli" }));
        let tenants = &self.tenants;
        self.audit
            .change(vec![deleted], async |audit| {
                tenants
                    .soft_delete(tenant.id, isms_domain::time::now(), audit)
                    .await
            })
            .await?;
        let destroyed = SecurityEvent::new(K::TenantKeysDestroyed, Outcome::Success, &meta)
            .tenant(tenant.id)
            .details(serde_json::json!({ "via": "cli" }));
        let records = self.audit.prepare(std::slice::from_ref(&destroyed)).await?;
        let n = keys
            .destroy_tenant(tenant.id, &records)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        self.audit.committed(vec![destroyed]);
        tracing::info!(tenant_id = %tenant.id, keys = n, "tenant.deleted");
        Ok(n)
    }

    pub async fn list(&self, page: PageRequest) -> Result<Page<Tenant>, AppError> {
        Ok(self.tenants.list(page).await?)
    }

    /// Finds a tenant by id or, failing that, by name (case-insensitive).
    pub async fn resolve(&self, id_or_name: &str) -> Result<Tenant, AppError> {
        if let Ok(id) = id_or_name.trim().parse::<TenantId>() {
            match self.tenants.get(id).await {
                Ok(t) => return Ok(t),
                Err(isms_domain::ports::RepoError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.tenants
            .find_by_name(id_or_name)
            .await?
            .ok_or(AppError::NotFound)
    }
}
