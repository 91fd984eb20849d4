//! What handlers share.

use std::sync::Arc;
use std::time::{Duration, Instant};

use isms_app::audit_log::AuditLogService;
use isms_app::auth::AuthService;
use isms_app::continuity::ContinuityService;
use isms_app::crypto::CryptoService;
use isms_app::mfa::MfaService;
use isms_app::policy::PolicyService;
use isms_app::risk::RiskService;
use isms_app::users::UserAdmin;
use isms_domain::ports::StoreHealth;

use crate::metrics::{Metrics, ScrapeAccess};
use crate::ratelimit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub store_health: Arc<dyn StoreHealth>,
    pub readiness_timeout: Duration,
    pub auth: AuthService,
    pub users: UserAdmin,
    pub mfa: MfaService,
    pub policy: PolicyService,
    pub audit: AuditLogService,
    pub crypto: CryptoService,
    pub risk: RiskService,
    pub limiter: RateLimiter,
    pub metrics: Arc<Metrics>,
    pub scrape_access: ScrapeAccess,
    pub started_at: Instant,
    /// Error budget, SLO signals, quality score (fed by the request
    /// tracker and the audit trail).
    pub continuity: ContinuityService,
}
