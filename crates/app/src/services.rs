//! Builds every application service from the ports, so the binary and the
//! test suites wire the application the same way.

use std::sync::Arc;

use isms_domain::ports::{
    AccessTokenCodec, AlertRepository, AuditPolicyRepository, AuditRepository, BootstrapRepository,
    CheckpointSigner, EventSink, KeyWrapper, LimiterStore, MfaRepository, PasswordHasher,
    SessionRepository, TenantPolicyRepository, TenantRepository, UserRepository,
};

use crate::AppError;
use crate::audit::AuditTrail;
use crate::audit_log::AuditLogService;
use crate::auth::{AuthDeps, AuthService, AuthSettings};
use crate::bootstrap::BootstrapService;
use crate::compliance::{ComplianceService, Sources};
use crate::crypto::CryptoService;
use crate::lockout::{Lockout, LockoutSettings};
use crate::mfa::{MfaDeps, MfaService, SecondFactor};
use crate::policy::PolicyService;
use crate::risk::RiskService;
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
    pub audit: Arc<dyn AuditRepository>,
    pub audit_policies: Arc<dyn AuditPolicyRepository>,
    pub alerts: Arc<dyn AlertRepository>,
    pub checkpoint_signer: Arc<dyn CheckpointSigner>,
    pub keys: Arc<dyn isms_domain::crypto::KeyManagement>,
    pub encrypted_fields: Arc<dyn isms_domain::crypto::EncryptedFields>,
    pub compliance: Arc<dyn isms_domain::compliance::ComplianceRepository>,
    pub job_leases: Arc<dyn isms_domain::compliance::JobLeases>,
    pub consents: Arc<dyn isms_domain::compliance::ConsentRepository>,
    pub gdpr: Arc<dyn isms_domain::compliance::GdprRepository>,
    pub risks: Arc<dyn isms_domain::risk::RiskRepository>,
}

/// Settings of the identity services.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auth: AuthSettings,
    pub lockout: LockoutSettings,
    /// The issuer name authenticator apps show next to the account.
    pub mfa_issuer: String,
    /// Prefix of every audit checkpoint's origin line.
    pub audit_origin: String,
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
    pub audit: AuditTrail,
    pub audit_log: AuditLogService,
    pub crypto: CryptoService,
    pub compliance: ComplianceService,
    pub gdpr: crate::gdpr::GdprService,
    pub risk: RiskService,
}

impl Services {
    pub async fn build(ports: Ports, settings: Settings) -> Result<Self, AppError> {
        let trail = AuditTrail::new(
            ports.audit.clone(),
            ports.audit_policies.clone(),
            ports.events.clone(),
        );
        let users = UserService::new(ports.users.clone(), ports.hasher.clone());
        let factor = SecondFactor::new(ports.mfa.clone(), ports.key_wrapper.clone());
        let lockout = Lockout::new(ports.limiter.clone(), trail.clone(), settings.lockout);
        let auth = AuthService::new(
            AuthDeps {
                users: ports.users.clone(),
                sessions: ports.sessions.clone(),
                hasher: ports.hasher.clone(),
                tokens: ports.tokens,
                audit: trail.clone(),
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
            audit: trail.clone(),
            issuer: settings.mfa_issuer,
        });
        let audit_log = AuditLogService::new(
            trail.clone(),
            ports.audit_policies,
            ports.alerts.clone(),
            ports.checkpoint_signer,
            auth.clone(),
            settings.audit_origin,
        );
        let risk = RiskService::new(
            ports.risks.clone(),
            ports.tenants.clone(),
            ports.users.clone(),
            trail.clone(),
            auth.clone(),
        );
        let compliance = ComplianceService::new(
            ports.compliance.clone(),
            ports.job_leases.clone(),
            ports.tenants.clone(),
            Sources {
                users: ports.users.clone(),
                mfa: ports.mfa.clone(),
                policies: ports.policies.clone(),
                keys: ports.keys.clone(),
                fields: ports.encrypted_fields.clone(),
                audit_log: audit_log.clone(),
                alerts: ports.alerts.clone(),
                risk: Some(Arc::new(crate::risk::RegisterReview::new(ports.risks))),
                gdpr: Some(Arc::new(crate::gdpr::GdprRecords::new(ports.gdpr.clone()))),
            },
            trail.clone(),
        );
        let gdpr = crate::gdpr::GdprService::new(crate::gdpr::GdprDeps {
            consents: ports.consents,
            gdpr: ports.gdpr.clone(),
            users: ports.users.clone(),
            compliance: ports.compliance,
            tenants: ports.tenants.clone(),
            leases: ports.job_leases,
            auth: auth.clone(),
            audit: trail.clone(),
        });
        Ok(Self {
            compliance,
            gdpr,
            risk,
            tenants: TenantService::new(ports.tenants, trail.clone()),
            policy: PolicyService::new(ports.policies, auth.clone(), trail.clone()),
            crypto: CryptoService::new(
                ports.keys,
                ports.encrypted_fields,
                trail.clone(),
                auth.clone(),
            ),
            user_admin: UserAdmin::new(
                ports.users,
                users.clone(),
                ports.hasher,
                auth.clone(),
                trail.clone(),
            )
            .with_erasure(ports.gdpr),
            bootstrap: BootstrapService::new(ports.bootstrap, users.clone(), trail.clone()),
            audit: trail,
            audit_log,
            users,
            auth,
            mfa,
        })
    }
}
