//! Builds every application service from the ports, so the binary and the
//! test suites wire the application the same way.

use std::sync::Arc;

use isms_domain::ports::{
    AccessTokenCodec, BootstrapRepository, EventSink, PasswordHasher, SessionRepository,
    TenantRepository, UserRepository,
};

use crate::AppError;
use crate::auth::{AuthService, AuthSettings};
use crate::bootstrap::BootstrapService;
use crate::tenants::TenantService;
use crate::users::{UserAdmin, UserService};

/// The adapters the application needs.
pub struct Ports {
    pub tenants: Arc<dyn TenantRepository>,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub bootstrap: Arc<dyn BootstrapRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn AccessTokenCodec>,
    pub events: Arc<dyn EventSink>,
}

#[derive(Clone)]
pub struct Services {
    pub tenants: TenantService,
    pub users: UserService,
    pub user_admin: UserAdmin,
    pub auth: AuthService,
    pub bootstrap: BootstrapService,
}

impl Services {
    pub async fn build(ports: Ports, auth: AuthSettings) -> Result<Self, AppError> {
        let users = UserService::new(ports.users.clone(), ports.hasher.clone());
        let auth = AuthService::new(
            ports.users.clone(),
            ports.sessions,
            ports.hasher.clone(),
            ports.tokens,
            ports.events.clone(),
            auth,
        )
        .await?;
        Ok(Self {
            tenants: TenantService::new(ports.tenants),
            user_admin: UserAdmin::new(
                ports.users,
                users.clone(),
                ports.hasher,
                auth.clone(),
                ports.events,
            ),
            bootstrap: BootstrapService::new(ports.bootstrap, users.clone()),
            users,
            auth,
        })
    }
}
