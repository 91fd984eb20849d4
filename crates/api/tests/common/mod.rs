//! Shared by the black-box HTTP tests: a switchable fake store health and
//! the real router served on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use isms_api::testing::TestServer;
use isms_api::{AppServices, AppState, HttpConfig};
use isms_domain::ports::{RepoError, StoreHealth};

const HEALTHY: u8 = 0;
const FAILING: u8 = 1;
const HANGING: u8 = 2;

/// A store whose `ping` answers, fails or hangs, switchable at run time.
#[derive(Default)]
pub struct FakeStoreHealth {
    mode: AtomicU8,
}

impl FakeStoreHealth {
    pub fn healthy(&self) {
        self.mode.store(HEALTHY, Ordering::SeqCst);
    }
    pub fn failing(&self) {
        self.mode.store(FAILING, Ordering::SeqCst);
    }
    pub fn hanging(&self) {
        self.mode.store(HANGING, Ordering::SeqCst);
    }
}

#[async_trait]
impl StoreHealth for FakeStoreHealth {
    async fn ping(&self) -> Result<(), RepoError> {
        match self.mode.load(Ordering::SeqCst) {
            HEALTHY => Ok(()),
            FAILING => Err(RepoError::Unavailable("connection refused (fake)".into())),
            _ => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            }
        }
    }

    fn pool_stats(&self) -> isms_domain::ports::PoolStats {
        isms_domain::ports::PoolStats {
            size: 1,
            idle: 1,
            max: 1,
        }
    }
}

/// Readiness timeout used by the tests' `AppState`.
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(300);

pub struct RealServer {
    pub server: TestServer,
    pub health: Arc<FakeStoreHealth>,
    pub routes: Vec<isms_api::RouteEntry>,
    pub spec: utoipa::openapi::OpenApi,
    pub db: isms_store::testing::TestDatabase,
    pub continuity: isms_app::continuity::ContinuityService,
}

/// Real application services on a fresh SQLite database (kept alive by
/// the returned handle).
pub async fn services() -> (
    isms_app::services::Services,
    isms_store::testing::TestDatabase,
) {
    let db = isms_store::testing::TestDatabase::sqlite();
    let store = isms_store::Store::connect(&db.options()).await.unwrap();
    let master = Arc::new(isms_infra::MasterKey::from_bytes(&[3u8; 32]).unwrap());
    let key_service = Arc::new(isms_infra::crypto::KeyService::new(
        store.data_keys(),
        store.server_keys(),
        master.clone(),
        isms_domain::crypto::KeyPolicy::default(),
    ));
    store.set_field_crypto(key_service.clone());
    store.migrate().await.unwrap();
    let settings = isms_app::auth::AuthSettings {
        issuer: "isms".into(),
        audience: "isms-api".into(),
        access_ttl: Duration::from_secs(1800),
        session: isms_domain::session::SessionPolicy {
            idle_timeout: Duration::from_secs(3600),
            absolute_lifetime: Duration::from_secs(7 * 86400),
        },
        session_cache_ttl: Duration::from_secs(5),
        step_up_window: Duration::from_secs(900),
    };
    let keys = isms_infra::KeyRing::open(
        isms_infra::JwtSettings {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl: settings.access_ttl,
            leeway: Duration::from_secs(60),
        },
        store.signing_keys(),
        master.clone(),
    )
    .await
    .unwrap();
    let audit_key = isms_infra::audit_key::AuditKeyRing::open(
        store.audit_keys(),
        master.clone(),
        "isms.test/audit",
    )
    .await
    .unwrap();
    let ports = isms_app::services::Ports {
        tenants: store.tenants(),
        users: store.users(),
        sessions: store.sessions(),
        bootstrap: store.bootstrap(),
        mfa: store.mfa(),
        policies: store.tenant_policies(),
        hasher: Arc::new(isms_infra::Argon2Hasher::new(2).unwrap()),
        tokens: Arc::new(keys),
        key_wrapper: master,
        limiter: Arc::new(isms_infra::limiter::MemoryLimiter::new()),
        events: Arc::new(isms_app::events::LogSink),
        audit: store.audit(),
        audit_policies: store.audit_policies(),
        alerts: store.alerts(),
        checkpoint_signer: Arc::new(audit_key),
        keys: key_service,
        encrypted_fields: store.encrypted_fields(),
        gdpr: store.gdpr(),
        compliance: store.compliance(),
        job_leases: store.job_leases(),
        consents: store.consents(),
        risks: store.risks(),
    };
    let settings = isms_app::services::Settings {
        auth: settings,
        lockout: isms_app::lockout::LockoutSettings::default(),
        mfa_issuer: "isms".into(),
        audit_origin: "isms.test/audit".into(),
    };
    let services = isms_app::services::Services::build(ports, settings)
        .await
        .unwrap();
    (services, db)
}

/// The production router (`isms_api::build`) with a fake store health.
pub async fn real_server(cfg: &HttpConfig) -> RealServer {
    real_server_with(cfg, continuity).await
}

/// As `real_server`, with the continuity service `make` builds.
pub async fn real_server_with(
    cfg: &HttpConfig,
    make: impl FnOnce(&isms_app::audit::AuditTrail) -> isms_app::continuity::ContinuityService,
) -> RealServer {
    let health = Arc::new(FakeStoreHealth::default());
    let (services, db) = services().await;
    let metrics = isms_api::metrics::Metrics::new().unwrap();
    let continuity = make(&services.audit);
    services
        .audit
        .set_observer(Arc::new(isms_app::continuity::AuditObservers(vec![
            metrics.clone(),
            Arc::new(continuity.clone()),
        ])));
    let state = AppState::from(AppServices {
        store_health: health.clone(),
        readiness_timeout: READINESS_TIMEOUT,
        auth: services.auth,
        users: services.user_admin,
        mfa: services.mfa,
        policy: services.policy,
        audit: services.audit_log,
        crypto: services.crypto,
        compliance: services.compliance,
        gdpr: services.gdpr,
        risk: services.risk,
        limiter: isms_api::ratelimit::RateLimiter {
            store: Arc::new(isms_infra::limiter::MemoryLimiter::new()),
            quotas: Default::default(),
            enabled: false,
            metrics: metrics.clone(),
        },
        metrics,
        scrape_access: Default::default(),
        started_at: std::time::Instant::now(),
        continuity: continuity.clone(),
    });
    let api = isms_api::build(state, cfg);
    RealServer {
        server: TestServer::spawn(api.router).await,
        health,
        routes: api.routes,
        spec: api.spec,
        db,
        continuity,
    }
}

/// A continuity service counting in process, without keys or log stats.
pub fn continuity(audit: &isms_app::audit::AuditTrail) -> isms_app::continuity::ContinuityService {
    isms_app::continuity::ContinuityService::new(
        isms_app::continuity::ContinuitySettings::default(),
        isms_app::continuity::ContinuityDeps {
            budget: Arc::new(isms_infra::budget::MemoryBudget::new()),
            redis: None,
            audit: audit.clone(),
            dedupe: Arc::new(isms_infra::limiter::MemoryLimiter::new()),
            keys: Arc::new(isms_app::continuity::NoKeys),
            logs: Arc::new(isms_app::continuity::NoLogStats),
        },
    )
}

/// A client that does not follow redirects (so they can be asserted).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}
