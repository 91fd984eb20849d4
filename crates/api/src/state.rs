//! What handlers share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use isms_app::audit_log::AuditLogService;
use isms_app::auth::AuthService;
use isms_app::compliance::ComplianceService;
use isms_app::continuity::ContinuityService;
use isms_app::crypto::CryptoService;
use isms_app::mfa::MfaService;
use isms_app::policy::PolicyService;
use isms_app::risk::RiskService;
use isms_app::users::UserAdmin;
use isms_domain::ports::StoreHealth;

use crate::metrics::{Metrics, ScrapeAccess};
use crate::ratelimit::RateLimiter;

/// What every handler and route layer holds. The router clones a route's
/// whole layer stack for each request, so this is a single `Arc`: a clone
/// is one reference-count increment instead of one per service inside.
#[derive(Clone)]
pub struct AppState(Arc<AppServices>);

impl From<AppServices> for AppState {
    fn from(services: AppServices) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppServices;

    fn deref(&self) -> &AppServices {
        &self.0
    }
}

pub struct AppServices {
    pub store_health: Arc<dyn StoreHealth>,
    pub readiness_timeout: Duration,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub mfa: MfaService,
    pub policy: PolicyService,
    pub audit: AuditLogService,
    pub crypto: CryptoService,
    pub compliance: ComplianceService,
    pub gdpr: isms_app::gdpr::GdprService,
    pub risk: RiskService,
    pub limiter: RateLimiter,
    pub metrics: Arc<Metrics>,
    pub scrape_access: ScrapeAccess,
    pub started_at: Instant,
    /// Error budget, SLO signals, quality score (fed by the request
    /// tracker and the audit trail).
    pub continuity: ContinuityService,
}
