//! First start: a fresh server gets one tenant and one admin whose
//! generated password is handed to the operator exactly once.

use std::sync::Arc;

use isms_domain::events::{Outcome, RequestMeta, SecurityEvent, SecurityEventKind as K};
use isms_domain::ports::BootstrapRepository;
use isms_domain::tenant::{Tenant, TenantName};
use isms_domain::{Email, Role};
use secrecy::SecretString;

use crate::AppError;
use crate::audit::AuditTrail;
use crate::users::{CreateUser, UserService};

pub struct Bootstrapped {
    pub tenant: Tenant,
    pub admin_email: Email,
    pub admin_password: SecretString,
}

#[derive(Clone)]
pub struct BootstrapService {
    repo: Arc<dyn BootstrapRepository>,
    users: UserService,
    audit: AuditTrail,
}

impl BootstrapService {
    pub fn new(repo: Arc<dyn BootstrapRepository>, users: UserService, audit: AuditTrail) -> Self {
        Self { repo, users, audit }
    }

    /// Provisions the first tenant and admin unless already done; `None`
    /// when this server was bootstrapped before (by this or another
    /// process).
    pub async fn run(
        &self,
        tenant_name: &str,
        admin_email: &str,
    ) -> Result<Option<Bootstrapped>, AppError> {
        // Cheap check first so ordinary restarts skip the Argon2 hash.
        if self.repo.is_bootstrapped().await? {
            return Ok(None);
        }
        let name = TenantName::parse(tenant_name)
            .map_err(|e| AppError::validation("tenant_name", "invalid_tenant_name", e))?;
        let tenant = Tenant::new(name, isms_domain::time::now());
        let created = self
            .users
            .prepare(CreateUser {
                tenant_id: tenant.id,
                email: admin_email.to_owned(),
                display_name: Some("Administrator".into()),
                role: Role::Admin,
                password: None,
            })
            .await?;
        let Some(password) = created.generated_password else {
            return Err(AppError::Internal(
                "bootstrap admin has no generated password".into(),
            ));
        };
        let meta = RequestMeta::default();
        let via = serde_json::json!({ "via": "bootstrap" });
        let events = vec![
            SecurityEvent::new(K::TenantCreated, Outcome::Success, &meta)
                .tenant(tenant.id)
                .details(via.clone()),
            SecurityEvent::new(K::UserCreated, Outcome::Success, &meta)
                .tenant(tenant.id)
                .target(created.user.id)
                .details(serde_json::json!({ "via": "bootstrap", "role": "admin" })),
        ];
        let repo = &self.repo;
        let user = &created.user;
        let done = self
            .audit
            .change(events, async |audit| {
                repo.bootstrap(&tenant, user, audit).await
            })
            .await?;
        if !done {
            return Ok(None);
        }
        tracing::info!(tenant_id = %tenant.id, user_id = %created.user.id, "server.bootstrapped");
        Ok(Some(Bootstrapped {
            tenant,
            admin_email: created.user.email,
            admin_password: password,
        }))
    }
}
