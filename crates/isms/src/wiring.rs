//! Connects the store chosen by configuration, loads the master key and
//! the token-signing keys, and builds the services on top of them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use isms_app::alerts::AlertDispatcher;
use isms_app::auth::AuthSettings;
use isms_app::events::{EventBus, LogSink};
use isms_app::lockout::LockoutSettings;
use isms_app::services::{Ports, Services as AppServices, Settings};
use isms_domain::session::SessionPolicy;
use isms_infra::audit_key::AuditKeyRing;
use isms_infra::crypto::KeyService;
use isms_infra::limiter::ResilientLimiter;
use isms_infra::{Argon2Hasher, JwtSettings, KeyRing, MasterKey, MasterKeySource};
use isms_store::{Store, StoreOptions};
use secrecy::ExposeSecret;

use crate::config::{Config, MasterKeyConfig};

/// Clock skew tolerated on token time claims.
const TOKEN_LEEWAY: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub keys: Arc<KeyRing>,
    pub limiter: Arc<ResilientLimiter>,
    /// Prometheus metrics; also a subscriber of the event bus.
    pub metrics: Arc<isms_api::metrics::Metrics>,
    pub app: AppServices,
    pub alerts: AlertDispatcher,
    pub key_service: Arc<KeyService>,
    /// Error budget, SLO signals, quality score.
    pub continuity: isms_app::continuity::ContinuityService,
}

/// How often a limiter that fell back to in-process counting asks Redis
/// whether it is back.
const REDIS_PROBE_INTERVAL: Duration = Duration::from_secs(1);

pub fn store_options(config: &Config) -> StoreOptions {
    let mut opts = StoreOptions::new(config.database_url.clone());
    opts.max_connections = config.db_max_connections;
    opts.statement_timeout = config.db_statement_timeout;
    opts.busy_timeout = config.db_busy_timeout;
    opts
}

pub fn load_master_key(config: &Config) -> anyhow::Result<MasterKey> {
    let source = match &config.master_key {
        MasterKeyConfig::Inline(k) => MasterKeySource::Inline(k.clone()),
        MasterKeyConfig::File(p) => MasterKeySource::File(p.clone()),
        MasterKeyConfig::Generated(p) => MasterKeySource::GenerateIfMissing(p.clone()),
    };
    let (key, created) = MasterKey::load(&source).context("master key")?;
    if let (true, MasterKeyConfig::Generated(path)) = (created, &config.master_key) {
        eprintln!(
            "WARNING: generated a new master key in {} (development only). Production must supply its own \
             with ISMS_MASTER_KEY or ISMS_MASTER_KEY_FILE and keep it out of the data directory's backups.",
            path.display()
        );
        tracing::warn!(path = %path.display(), "crypto.master_key_generated");
    }
    Ok(key)
}

pub fn jwt_settings(config: &Config) -> JwtSettings {
    JwtSettings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        access_ttl: config.access_token_ttl,
        leeway: TOKEN_LEEWAY,
    }
}

/// Connects to the database (applying migrations when `migrate`) and
/// builds the services.
pub async fn connect(config: &Config, migrate: bool) -> anyhow::Result<Services> {
    let store = Store::connect(&store_options(config))
        .await
        .with_context(|| format!("database {}", config.database_url))?;
    let master = Arc::new(load_master_key(config)?);
    let key_policy = isms_domain::crypto::KeyPolicy::new(config.key_max_usage, config.key_rotation)
        .map_err(|e| anyhow::anyhow!("key policy: {e}"))?;
    let keys_service = Arc::new(KeyService::new(
        store.data_keys(),
        store.server_keys(),
        master.clone(),
        key_policy,
    ));
    // Before migrating: the migration that drops plaintext personal data
    // first converts it with these keys.
    store.set_field_crypto(keys_service.clone());
    if migrate {
        store.migrate().await.context("applying migrations")?;
    }
    let keys = Arc::new(
        KeyRing::open(jwt_settings(config), store.signing_keys(), master.clone())
            .await
            .context("token-signing keys (is this the right master key?)")?,
    );
    let hasher =
        Arc::new(Argon2Hasher::new(config.password_hash_concurrency).context("password hasher")?);
    let limiter = ResilientLimiter::start(
        config
            .redis_url
            .as_ref()
            .map(|u| u.expose_secret().to_owned()),
        &config.redis_key_prefix,
        config.rate_limit_redis_timeout,
        REDIS_PROBE_INTERVAL,
    );
    let metrics = isms_api::metrics::Metrics::new().context("registering metrics")?;
    keys_service.observe(metrics.clone());
    let audit_key = Arc::new(
        AuditKeyRing::open(store.audit_keys(), master.clone(), &config.audit_origin)
            .await
            .context("audit log key (is this the right master key?)")?,
    );
    let ports = Ports {
        tenants: store.tenants(),
        users: store.users(),
        sessions: store.sessions(),
        bootstrap: store.bootstrap(),
        mfa: store.mfa(),
        policies: store.tenant_policies(),
        hasher,
        tokens: keys.clone(),
        key_wrapper: master,
        limiter: limiter.clone(),
        audit: store.audit(),
        audit_policies: store.audit_policies(),
        alerts: store.alerts(),
        checkpoint_signer: audit_key.clone(),
        keys: keys_service.clone(),
        encrypted_fields: store.encrypted_fields(),
        gdpr: store.gdpr(),
        compliance: store.compliance(),
        job_leases: store.job_leases(),
        consents: store.consents(),
        risks: store.risks(),
        events: Arc::new(
            EventBus::new()
                .subscribe(Arc::new(LogSink))
                .subscribe(metrics.clone()),
        ),
    };
    let auth = AuthSettings {
        issuer: config.jwt_issuer.clone(),
        audience: config.jwt_audience.clone(),
        access_ttl: config.access_token_ttl,
        session: SessionPolicy {
            idle_timeout: config.session_idle_timeout,
            absolute_lifetime: config.refresh_token_ttl,
        },
        session_cache_ttl: config.session_cache_ttl,
        step_up_window: config.mfa_step_up_window,
    };
    let settings = Settings {
        auth,
        lockout: LockoutSettings {
            enabled: config.lockout_enabled,
            max_failures: config.lockout_max_failures,
            lock_duration: config.lockout_duration,
            ip_max_failures: config.lockout_ip_max_failures,
            ip_window: config.lockout_ip_window,
        },
        mfa_issuer: config.mfa_issuer.clone(),
        audit_origin: config.audit_origin.clone(),
    };
    let app = AppServices::build(ports, settings)
        .await
        .map_err(|e| anyhow::anyhow!("building services: {e}"))?;
    let alerts = AlertDispatcher::new(
        store.alerts(),
        store.audit(),
        Arc::new(isms_infra::webhook::HttpWebhook::new().map_err(anyhow::Error::msg)?),
        config.webhook_urls.clone(),
        config.webhook_secret.clone(),
    );
    let continuity = crate::observability::continuity(
        config,
        crate::observability::Parts {
            app: app.clone(),
            limiter: limiter.clone(),
            metrics: metrics.clone(),
            keys: crate::observability::ServerKeys {
                signing: keys.clone(),
                audit: audit_key,
                signing_rotation: config.signing_key_rotation,
                audit_rotation: config.audit_key_rotation,
            },
        },
    );
    Ok(Services {
        store,
        keys,
        limiter,
        metrics,
        app,
        alerts,
        key_service: keys_service,
        continuity,
    })
}
