//! Builds every application service from the ports, so the binary and the
//! test suites wire the application the same way.

use std::sync::Arc;

use isms_domain::ports::{
    AccessTokenCodec, BootstrapRepository, EventSink, KeyWrapper, LimiterStore, MfaRepository,
    PasswordHasher, SessionRepository, TenantPolicyRepository, TenantRepository, UserRepository,
};

use crate::AppError;
use crate::auth::{AuthDeps, AuthService, AuthSettings};
use crate::bootstrap::BootstrapService;
use crate::lockout::{Lockout, LockoutSettings};
use crate::mfa::{MfaDeps, MfaService, SecondFactor};
use crate::policy::PolicyService;
use crate::tenants::TenantService;
use crate::users::{UserAdmin, UserService};

/// The adapters the application needs.
pub struct Ports {
    pub tenants: Arc<dyn TenantRepository>,
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub bootstrap: Arc<dyn BootstrapRepository>,
    pub mfa: Arc<dyn MfaRepository>,
    pub policies: Arc<dyn TenantPolicyRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub tokens: Arc<dyn AccessTokenCodec>,
    pub key_wrapper: Arc<dyn KeyWrapper>,
    pub limiter: Arc<dyn LimiterStore>,
    pub events: Arc<dyn EventSink>,
}

/// Settings of the identity services.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auth: AuthSettings,
    pub lockout: LockoutSettings,
    /// The issuer name authenticator apps show next to the account.
    pub mfa_issuer: String,
}

#[derive(Clone)]
pub struct Services {
    pub tenants: TenantService,
    pub users: UserService,
    pub user_admin: UserAdmin,
    pub auth: AuthService,
    pub mfa: MfaService,
    pub policy: PolicyService,
    pub bootstrap: BootstrapService,
}

impl Services {
    pub async fn build(ports: Ports, settings: Settings) -> Result<Self, AppError> {
        let users = UserService::new(ports.users.clone(), ports.hasher.clone());
        let factor = SecondFactor::new(ports.mfa.clone(), ports.key_wrapper.clone());
        let lockout = Lockout::new(
            ports.limiter.clone(),
            ports.events.clone(),
            settings.lockout,
        );
        let auth = AuthService::new(
            AuthDeps {
                users: ports.users.clone(),
                sessions: ports.sessions.clone(),
                hasher: ports.hasher.clone(),
                tokens: ports.tokens,
                events: ports.events.clone(),
                factor: factor.clone(),
                lockout: lockout.clone(),
                policies: ports.policies.clone(),
            },
            settings.auth,
        )
        .await?;
        let mfa = MfaService::new(MfaDeps {
            factor,
            sessions: ports.sessions,
            users: ports.users.clone(),
            auth: auth.clone(),
            lockout,
            events: ports.events.clone(),
            issuer: settings.mfa_issuer,
        });
        Ok(Self {
            tenants: TenantService::new(ports.tenants),
            policy: PolicyService::new(ports.policies, auth.clone(), ports.events.clone()),
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
            mfa,
        })
    }
}
