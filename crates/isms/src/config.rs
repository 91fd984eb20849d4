//! Configuration: defaults, then an optional TOML file, then `ISMS_*`
//! environment variables (highest precedence). Every key is listed in
//! `KEYS` (and in the README's table). A bad value stops start-up with exit
//! code 2 and one line naming the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use isms_store::DatabaseUrl;

/// Every configuration key: environment name, TOML name, default, meaning.
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "ISMS_BIND",
        "bind",
        "127.0.0.1:8080",
        "address and port to listen on",
    ),
    (
        "ISMS_DATA_DIR",
        "data_dir",
        "./data",
        "directory for the embedded database (created 0700)",
    ),
    (
        "ISMS_DATABASE_URL",
        "database_url",
        "sqlite://<data_dir>/isms.db",
        "sqlite:// or postgres:// URL",
    ),
    (
        "ISMS_AUTO_MIGRATE",
        "auto_migrate",
        "true",
        "apply migrations at start-up (else run `isms migrate`)",
    ),
    (
        "ISMS_DB_MAX_CONNECTIONS",
        "db_max_connections",
        "10",
        "connection pool size (1-1000)",
    ),
    (
        "ISMS_DB_STATEMENT_TIMEOUT_MS",
        "db_statement_timeout_ms",
        "5000",
        "PostgreSQL statement timeout",
    ),
    (
        "ISMS_DB_BUSY_TIMEOUT_MS",
        "db_busy_timeout_ms",
        "5000",
        "SQLite wait for a locked database",
    ),
    (
        "ISMS_REQUEST_TIMEOUT_SECS",
        "request_timeout_secs",
        "30",
        "whole-request deadline (504 beyond)",
    ),
    (
        "ISMS_SHUTDOWN_TIMEOUT_SECS",
        "shutdown_timeout_secs",
        "30",
        "grace period for in-flight requests on SIGTERM/SIGINT",
    ),
    (
        "ISMS_CORS_ORIGINS",
        "cors_origins",
        "",
        "comma-separated allowed browser origins; empty disables CORS; `*` is refused",
    ),
    (
        "ISMS_PASSWORD_HASH_CONCURRENCY",
        "password_hash_concurrency",
        "<CPU count>",
        "Argon2id hashes running at once",
    ),
    (
        "ISMS_BOOTSTRAP_TENANT",
        "bootstrap_tenant",
        "default",
        "name of the tenant created on first start",
    ),
    (
        "ISMS_BOOTSTRAP_ADMIN_EMAIL",
        "bootstrap_admin_email",
        "admin@isms.local",
        "e-mail of the admin created on first start",
    ),
    (
        "ISMS_MASTER_KEY",
        "master_key",
        "–",
        "base64 of the 32-byte master key that wraps every other key (secret)",
    ),
    (
        "ISMS_MASTER_KEY_FILE",
        "master_key_file",
        "<data_dir>/master.key",
        "file holding the base64 master key; must be mode 0600. Without either, development generates one; production refuses to start",
    ),
    (
        "ISMS_JWT_ISSUER",
        "jwt_issuer",
        "isms",
        "`iss` of access tokens",
    ),
    (
        "ISMS_JWT_AUDIENCE",
        "jwt_audience",
        "isms-api",
        "`aud` of access tokens",
    ),
    (
        "ISMS_ACCESS_TOKEN_TTL_SECS",
        "access_token_ttl_secs",
        "1800",
        "access-token lifetime (60-86400)",
    ),
    (
        "ISMS_REFRESH_TOKEN_TTL_SECS",
        "refresh_token_ttl_secs",
        "604800",
        "refresh-token and session absolute lifetime (300-7776000)",
    ),
    (
        "ISMS_SESSION_IDLE_TIMEOUT_SECS",
        "session_idle_timeout_secs",
        "3600",
        "a session unused this long ends (60-604800)",
    ),
    (
        "ISMS_SESSION_CACHE_SECS",
        "session_cache_secs",
        "5",
        "how long another instance's session revocation may take to be seen here (0-60; this instance's own are immediate)",
    ),
    (
        "ISMS_LOG",
        "log",
        "info",
        "log filter (tracing EnvFilter syntax, e.g. `info,isms_store=debug`)",
    ),
    (
        "ISMS_LOG_FORMAT",
        "log_format",
        "json",
        "`json` (one object per line) or `pretty` for local development",
    ),
    (
        "ISMS_ENVIRONMENT",
        "environment",
        "development",
        "deployment name reported in logs",
    ),
    (
        "ISMS_REDIS_URL",
        "redis_url",
        "",
        "Redis for rate limits and lockout counters shared by every instance (`redis://host:6379`); empty: in process",
    ),
    (
        "ISMS_REDIS_KEY_PREFIX",
        "redis_key_prefix",
        "isms:",
        "prefix of every Redis key, so deployments sharing one Redis never share counters",
    ),
    (
        "ISMS_RATE_LIMIT_ENABLED",
        "rate_limit_enabled",
        "true",
        "tiered rate limiting per client IP and per user",
    ),
    (
        "ISMS_RATE_LIMIT_AUTH_PER_MIN",
        "rate_limit_auth_per_min",
        "10",
        "requests per minute to login, token, refresh and MFA verification",
    ),
    (
        "ISMS_RATE_LIMIT_WRITE_PER_MIN",
        "rate_limit_write_per_min",
        "30",
        "POST/PUT/PATCH/DELETE requests per minute",
    ),
    (
        "ISMS_RATE_LIMIT_READ_PER_MIN",
        "rate_limit_read_per_min",
        "100",
        "other requests per minute (health probes are exempt)",
    ),
    (
        "ISMS_RATE_LIMIT_REDIS_TIMEOUT_MS",
        "rate_limit_redis_timeout_ms",
        "50",
        "a Redis answer slower than this falls back to the in-process limiter",
    ),
    (
        "ISMS_TRUSTED_PROXIES",
        "trusted_proxies",
        "",
        "comma-separated CIDRs whose Forwarded / X-Forwarded-For headers are believed",
    ),
    (
        "ISMS_LOCKOUT_ENABLED",
        "lockout_enabled",
        "true",
        "lock accounts after repeated failed logins; block IPs that spray passwords",
    ),
    (
        "ISMS_LOCKOUT_MAX_FAILURES",
        "lockout_max_failures",
        "5",
        "consecutive failed logins (or MFA codes) that lock an account",
    ),
    (
        "ISMS_LOCKOUT_DURATION_SECS",
        "lockout_duration_secs",
        "900",
        "how long a locked account stays locked",
    ),
    (
        "ISMS_LOCKOUT_IP_MAX_FAILURES",
        "lockout_ip_max_failures",
        "20",
        "failed logins from one IP, across accounts, that block the IP",
    ),
    (
        "ISMS_LOCKOUT_IP_WINDOW_SECS",
        "lockout_ip_window_secs",
        "600",
        "window for counting an IP's failures, and length of its block",
    ),
    (
        "ISMS_MFA_STEP_UP_WINDOW_SECS",
        "mfa_step_up_window_secs",
        "900",
        "how recent a second-factor verification sensitive actions need",
    ),
    (
        "ISMS_MFA_ISSUER",
        "mfa_issuer",
        "isms",
        "issuer name authenticator apps show for TOTP entries",
    ),
    (
        "ISMS_KEY_ROTATION_DAYS",
        "key_rotation_days",
        "90",
        "a data key's primary version is rotated automatically after this many days",
    ),
    (
        "ISMS_KEY_MAX_USAGE",
        "key_max_usage",
        "2147483648",
        "encryptions one data-key version performs before it is rotated (at most 2^31, well below GCM's 2^32 random-nonce limit)",
    ),
    (
        "ISMS_AUDIT_ORIGIN",
        "audit_origin",
        "isms.local/audit",
        "signed-note key name of the audit log key and prefix of every checkpoint's origin line",
    ),
    (
        "ISMS_AUDIT_CHECKPOINT_INTERVAL_SECS",
        "audit_checkpoint_interval_secs",
        "10",
        "a log that grew is checkpointed at least this often",
    ),
    (
        "ISMS_AUDIT_CHECKPOINT_MAX_ENTRIES",
        "audit_checkpoint_max_entries",
        "1000",
        "a log is checkpointed as soon as this many entries arrived since its last checkpoint",
    ),
    (
        "ISMS_COMPLIANCE_SCHEDULER_INTERVAL_SECS",
        "compliance_scheduler_interval_secs",
        "60",
        "how often each instance looks for due compliance checks (a due check runs on one instance only)",
    ),
    (
        "ISMS_WEBHOOK_URLS",
        "webhook_urls",
        "",
        "comma-separated http(s) URLs that receive every alert",
    ),
    (
        "ISMS_WEBHOOK_SECRET",
        "webhook_secret",
        "",
        "HMAC-SHA256 key (at least 32 characters) that signs webhook bodies",
    ),
    (
        "ISMS_METRICS_ALLOWED_CIDRS",
        "metrics_allowed_cidrs",
        "127.0.0.0/8,::1/128",
        "networks that may scrape GET /metrics without a token",
    ),
    (
        "ISMS_METRICS_TOKEN",
        "metrics_token",
        "",
        "bearer token (at least 32 characters) that lets any client scrape GET /metrics",
    ),
    (
        "ISMS_SERVICE_NAME",
        "service_name",
        "isms",
        "`service` of every log line and EMF dimension (1-64 of [A-Za-z0-9._-])",
    ),
    (
        "ISMS_LOG_REDACT_FIELDS",
        "log_redact_fields",
        "",
        "comma-separated extra log field names to redact (added to the built-in deny-list, which cannot be shortened)",
    ),
    (
        "ISMS_CLOUDWATCH_EMF",
        "cloudwatch_emf",
        "false",
        "also write request metrics as CloudWatch Embedded Metric Format lines on stdout",
    ),
    (
        "ISMS_CLOUDWATCH_NAMESPACE",
        "cloudwatch_namespace",
        "isms",
        "CloudWatch namespace of the EMF metrics",
    ),
    (
        "ISMS_SLO_AVAILABILITY_TARGET",
        "slo_availability_target",
        "0.999",
        "availability SLO (ratio of non-5xx answers) the error budget is computed against",
    ),
    (
        "ISMS_SLO_WINDOW_DAYS",
        "slo_window_days",
        "30",
        "rolling window of the error budget, in days (1-90; counted per minute)",
    ),
    (
        "ISMS_SLO_P95_MS",
        "slo_p95_ms",
        "300",
        "p95 latency objective in milliseconds (signal `latency_p95`, performance pillar)",
    ),
    (
        "ISMS_SLO_P99_MS",
        "slo_p99_ms",
        "1000",
        "p99 latency objective in milliseconds (signal `latency_p99`)",
    ),
    (
        "ISMS_SLO_ERROR_RATE",
        "slo_error_rate",
        "0.01",
        "share of 5xx answers in the signal window that breaches `error_rate`",
    ),
    (
        "ISMS_SLO_CLIENT_ERROR_RATE",
        "slo_client_error_rate",
        "0.25",
        "share of 4xx answers in the signal window that counts as a spike (`client_error_spike`)",
    ),
    (
        "ISMS_SLO_MIN_REQUESTS",
        "slo_min_requests",
        "20",
        "requests the signal window needs before latency and rate signals can breach",
    ),
    (
        "ISMS_SLO_SIGNAL_WINDOW_SECS",
        "slo_signal_window_secs",
        "300",
        "how far back the SLO signals look (60-3600)",
    ),
    (
        "ISMS_SLO_CHECK_INTERVAL_SECS",
        "slo_check_interval_secs",
        "30",
        "how often the SLO signals are evaluated for breach alerts",
    ),
    (
        "ISMS_SLO_ALERT_INTERVAL_SECS",
        "slo_alert_interval_secs",
        "900",
        "a breached signal raises at most one alert per this interval (across instances with Redis)",
    ),
    (
        "ISMS_SIGNING_KEY_ROTATION_DAYS",
        "signing_key_rotation_days",
        "90",
        "age after which the token-signing key counts as due for rotation",
    ),
    (
        "ISMS_AUDIT_KEY_ROTATION_DAYS",
        "audit_key_rotation_days",
        "730",
        "age after which the audit log (checkpoint) key counts as due for rotation",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Where the master key comes from (the key itself stays secret).
#[derive(Debug, Clone)]
pub enum MasterKeyConfig {
    Inline(secrecy::SecretString),
    File(PathBuf),
    /// Development only: read or create `<data_dir>/master.key`.
    Generated(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub auto_migrate: bool,
    pub db_max_connections: u32,
    pub db_statement_timeout: Duration,
    pub db_busy_timeout: Duration,
    pub request_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub cors_origins: Vec<String>,
    pub password_hash_concurrency: usize,
    pub bootstrap_tenant: String,
    pub bootstrap_admin_email: String,
    pub master_key: MasterKeyConfig,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub session_cache_ttl: Duration,
    pub log: String,
    pub log_format: LogFormat,
    pub environment: String,
    /// May hold a password: kept secret.
    pub redis_url: Option<secrecy::SecretString>,
    pub redis_key_prefix: String,
    pub rate_limit_enabled: bool,
    pub rate_limit_auth_per_min: u32,
    pub rate_limit_write_per_min: u32,
    pub rate_limit_read_per_min: u32,
    pub rate_limit_redis_timeout: Duration,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub lockout_enabled: bool,
    pub lockout_max_failures: u32,
    pub lockout_duration: Duration,
    pub lockout_ip_max_failures: u32,
    pub lockout_ip_window: Duration,
    pub mfa_step_up_window: Duration,
    pub mfa_issuer: String,
    pub metrics_allowed_cidrs: Vec<ipnet::IpNet>,
    pub metrics_token: Option<secrecy::SecretString>,
    pub key_rotation: Duration,
    pub key_max_usage: u64,
    pub audit_origin: String,
    pub audit_checkpoint_interval: Duration,
    pub audit_checkpoint_max_entries: u32,
    pub compliance_scheduler_interval: Duration,
    pub webhook_urls: Vec<String>,
    pub webhook_secret: Option<secrecy::SecretString>,
    pub service_name: String,
    pub log_redact_fields: Vec<String>,
    pub cloudwatch_emf: bool,
    pub cloudwatch_namespace: String,
    pub slo: SloConfig,
    pub signing_key_rotation: Duration,
    pub audit_key_rotation: Duration,
}

/// The availability SLO and its signals.
#[derive(Debug, Clone)]
pub struct SloConfig {
    pub target: isms_domain::continuity::SloTarget,
    pub window_days: u32,
    pub p95: Duration,
    pub p99: Duration,
    pub error_rate: f64,
    pub client_error_rate: f64,
    pub min_requests: u64,
    pub signal_window: Duration,
    pub check_interval: Duration,
    pub alert_interval: Duration,
}

/// A configuration problem, naming the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Where a raw value came from, for error messages.
struct Raw {
    values: BTreeMap<&'static str, (String, String)>,
}

impl Raw {
    /// The value and the name to blame for it.
    fn get(&self, env: &'static str) -> Option<(&str, &str)> {
        self.values
            .get(env)
            .map(|(v, src)| (v.as_str(), src.as_str()))
    }
}

impl Config {
    /// Loads from the process environment and, if given, a TOML file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::from_sources(file, &env)
    }

    pub fn from_sources(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut values = BTreeMap::new();
        if let Some(path) = file {
            for (env_key, value, source) in read_file(path)? {
                values.insert(env_key, (value, source));
            }
        }
        for (env_key, _, _, _) in KEYS {
            if let Some(v) = env.get(*env_key) {
                values.insert(*env_key, (v.clone(), (*env_key).to_owned()));
            }
        }
        Self::from_raw(&Raw { values })
    }

    fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(string(raw, "ISMS_DATA_DIR", "./data")?);
        let default_url = format!("sqlite://{}", data_dir.join("isms.db").display());
        let database_url = {
            let (value, src) = raw
                .get("ISMS_DATABASE_URL")
                .unwrap_or((&default_url, "ISMS_DATABASE_URL"));
            DatabaseUrl::parse(value).map_err(|e| ConfigError::new(src, e.to_string()))?
        };
        Ok(Self {
            bind: parse(raw, "ISMS_BIND", "127.0.0.1:8080", |v| {
                v.parse::<SocketAddr>()
                    .map_err(|_| "expected an address and port such as 127.0.0.1:8080".to_owned())
            })?,
            data_dir,
            database_url,
            auto_migrate: parse(raw, "ISMS_AUTO_MIGRATE", "true", parse_bool)?,
            db_max_connections: parse(raw, "ISMS_DB_MAX_CONNECTIONS", "10", |v| {
                bounded(v, 1, 1000)
            })? as u32,
            db_statement_timeout: Duration::from_millis(parse(
                raw,
                "ISMS_DB_STATEMENT_TIMEOUT_MS",
                "5000",
                |v| bounded(v, 100, 600_000),
            )?),
            db_busy_timeout: Duration::from_millis(parse(
                raw,
                "ISMS_DB_BUSY_TIMEOUT_MS",
                "5000",
                |v| bounded(v, 0, 600_000),
            )?),
            request_timeout: Duration::from_secs(parse(
                raw,
                "ISMS_REQUEST_TIMEOUT_SECS",
                "30",
                |v| bounded(v, 1, 3600),
            )?),
            shutdown_timeout: Duration::from_secs(parse(
                raw,
                "ISMS_SHUTDOWN_TIMEOUT_SECS",
                "30",
                |v| bounded(v, 0, 3600),
            )?),
            cors_origins: parse(raw, "ISMS_CORS_ORIGINS", "", parse_origins)?,
            password_hash_concurrency: match raw.get("ISMS_PASSWORD_HASH_CONCURRENCY") {
                Some(_) => parse(raw, "ISMS_PASSWORD_HASH_CONCURRENCY", "", |v| {
                    bounded(v, 1, 256)
                })? as usize,
                None => std::thread::available_parallelism().map_or(2, usize::from),
            },
            bootstrap_tenant: parse(raw, "ISMS_BOOTSTRAP_TENANT", "default", |v| {
                isms_domain::tenant::TenantName::parse(v)
                    .map(|n| n.as_str().to_owned())
                    .map_err(|e| e.to_string())
            })?,
            bootstrap_admin_email: parse(
                raw,
                "ISMS_BOOTSTRAP_ADMIN_EMAIL",
                "admin@isms.local",
                |v| {
                    isms_domain::Email::parse(v)
                        .map(|e| e.as_str().to_owned())
                        .map_err(|e| e.to_string())
                },
            )?,
            log: parse(raw, "ISMS_LOG", "info", |v| {
                tracing_subscriber::EnvFilter::try_new(v)
                    .map(|_| v.to_owned())
                    .map_err(|e| format!("invalid log filter: {e}"))
            })?,
            log_format: parse(raw, "ISMS_LOG_FORMAT", "json", |v| match v {
                "json" => Ok(LogFormat::Json),
                "pretty" => Ok(LogFormat::Pretty),
                _ => Err("expected `json` or `pretty`".to_owned()),
            })?,
            master_key: master_key(raw, &data_dir_for_key(raw)?)?,
            jwt_issuer: string(raw, "ISMS_JWT_ISSUER", "isms")?,
            jwt_audience: string(raw, "ISMS_JWT_AUDIENCE", "isms-api")?,
            access_token_ttl: secs(raw, "ISMS_ACCESS_TOKEN_TTL_SECS", "1800", 60, 86_400)?,
            refresh_token_ttl: secs(raw, "ISMS_REFRESH_TOKEN_TTL_SECS", "604800", 300, 7_776_000)?,
            session_idle_timeout: secs(raw, "ISMS_SESSION_IDLE_TIMEOUT_SECS", "3600", 60, 604_800)?,
            session_cache_ttl: secs(raw, "ISMS_SESSION_CACHE_SECS", "5", 0, 60)?,
            environment: string(raw, "ISMS_ENVIRONMENT", "development")?,
            redis_url: parse(raw, "ISMS_REDIS_URL", "", parse_redis_url)?,
            redis_key_prefix: parse(raw, "ISMS_REDIS_KEY_PREFIX", "isms:", parse_key_prefix)?,
            rate_limit_enabled: parse(raw, "ISMS_RATE_LIMIT_ENABLED", "true", parse_bool)?,
            rate_limit_auth_per_min: per_min(raw, "ISMS_RATE_LIMIT_AUTH_PER_MIN", "10")?,
            rate_limit_write_per_min: per_min(raw, "ISMS_RATE_LIMIT_WRITE_PER_MIN", "30")?,
            rate_limit_read_per_min: per_min(raw, "ISMS_RATE_LIMIT_READ_PER_MIN", "100")?,
            rate_limit_redis_timeout: parse(raw, "ISMS_RATE_LIMIT_REDIS_TIMEOUT_MS", "50", |v| {
                bounded(v, 1, 10_000)
            })
            .map(Duration::from_millis)?,
            trusted_proxies: parse(raw, "ISMS_TRUSTED_PROXIES", "", parse_cidrs)?,
            lockout_enabled: parse(raw, "ISMS_LOCKOUT_ENABLED", "true", parse_bool)?,
            lockout_max_failures: count(raw, "ISMS_LOCKOUT_MAX_FAILURES", "5", 1000)?,
            lockout_duration: secs(raw, "ISMS_LOCKOUT_DURATION_SECS", "900", 1, 86_400)?,
            lockout_ip_max_failures: count(raw, "ISMS_LOCKOUT_IP_MAX_FAILURES", "20", 100_000)?,
            lockout_ip_window: secs(raw, "ISMS_LOCKOUT_IP_WINDOW_SECS", "600", 1, 86_400)?,
            mfa_step_up_window: secs(raw, "ISMS_MFA_STEP_UP_WINDOW_SECS", "900", 30, 86_400)?,
            mfa_issuer: string(raw, "ISMS_MFA_ISSUER", "isms")?,
            metrics_allowed_cidrs: parse(
                raw,
                "ISMS_METRICS_ALLOWED_CIDRS",
                "127.0.0.0/8,::1/128",
                parse_cidrs,
            )?,
            metrics_token: long_secret(raw, "ISMS_METRICS_TOKEN")?,
            key_rotation: parse(raw, "ISMS_KEY_ROTATION_DAYS", "90", |v| bounded(v, 1, 3650))
                .map(|d| Duration::from_secs(d * 86_400))?,
            key_max_usage: parse(raw, "ISMS_KEY_MAX_USAGE", "2147483648", |v| {
                bounded(v, 1, isms_domain::crypto::lifecycle::DEFAULT_MAX_USAGE)
            })?,
            audit_origin: parse(raw, "ISMS_AUDIT_ORIGIN", "isms.local/audit", parse_origin)?,
            audit_checkpoint_interval: secs(
                raw,
                "ISMS_AUDIT_CHECKPOINT_INTERVAL_SECS",
                "10",
                1,
                86_400,
            )?,
            compliance_scheduler_interval: secs(
                raw,
                "ISMS_COMPLIANCE_SCHEDULER_INTERVAL_SECS",
                "60",
                1,
                86_400,
            )?,
            audit_checkpoint_max_entries: count(
                raw,
                "ISMS_AUDIT_CHECKPOINT_MAX_ENTRIES",
                "1000",
                10_000_000,
            )?,
            webhook_urls: parse(raw, "ISMS_WEBHOOK_URLS", "", parse_webhook_urls)?,
            webhook_secret: long_secret(raw, "ISMS_WEBHOOK_SECRET")?,
            service_name: parse(raw, "ISMS_SERVICE_NAME", "isms", parse_service_name)?,
            log_redact_fields: parse(raw, "ISMS_LOG_REDACT_FIELDS", "", parse_field_names)?,
            cloudwatch_emf: parse(raw, "ISMS_CLOUDWATCH_EMF", "false", parse_bool)?,
            cloudwatch_namespace: parse(raw, "ISMS_CLOUDWATCH_NAMESPACE", "isms", parse_namespace)?,
            slo: slo_config(raw)?,
            signing_key_rotation: days(raw, "ISMS_SIGNING_KEY_ROTATION_DAYS", "90")?,
            audit_key_rotation: days(raw, "ISMS_AUDIT_KEY_ROTATION_DAYS", "730")?,
        })
    }
}

fn slo_config(raw: &Raw) -> Result<SloConfig, ConfigError> {
    let ms = |key, default| {
        parse(raw, key, default, |v| bounded(v, 1, 600_000)).map(Duration::from_millis)
    };
    Ok(SloConfig {
        target: parse(raw, "ISMS_SLO_AVAILABILITY_TARGET", "0.999", |v| {
            v.parse::<f64>()
                .map_err(|_| "expected a ratio such as 0.999".to_owned())
                .and_then(isms_domain::continuity::SloTarget::new)
        })?,
        window_days: parse(raw, "ISMS_SLO_WINDOW_DAYS", "30", |v| bounded(v, 1, 90))? as u32,
        p95: ms("ISMS_SLO_P95_MS", "300")?,
        p99: ms("ISMS_SLO_P99_MS", "1000")?,
        error_rate: parse(raw, "ISMS_SLO_ERROR_RATE", "0.01", parse_ratio)?,
        client_error_rate: parse(raw, "ISMS_SLO_CLIENT_ERROR_RATE", "0.25", parse_ratio)?,
        min_requests: parse(raw, "ISMS_SLO_MIN_REQUESTS", "20", |v| {
            bounded(v, 1, 1_000_000)
        })?,
        signal_window: secs(raw, "ISMS_SLO_SIGNAL_WINDOW_SECS", "300", 60, 3600)?,
        check_interval: secs(raw, "ISMS_SLO_CHECK_INTERVAL_SECS", "30", 1, 3600)?,
        alert_interval: secs(raw, "ISMS_SLO_ALERT_INTERVAL_SECS", "900", 1, 86_400)?,
    })
}

fn days(raw: &Raw, key: &'static str, default: &str) -> Result<Duration, ConfigError> {
    parse(raw, key, default, |v| bounded(v, 1, 3650)).map(|d| Duration::from_secs(d * 86_400))
}

fn parse_ratio(v: &str) -> Result<f64, String> {
    v.parse::<f64>()
        .ok()
        .filter(|r| r.is_finite() && (0.0..=1.0).contains(r))
        .ok_or_else(|| "expected a ratio from 0 to 1, e.g. 0.05".to_owned())
}

fn parse_service_name(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("expected 1-64 characters of [A-Za-z0-9._-]".to_owned())
    }
}

fn parse_field_names(v: &str) -> Result<Vec<String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| {
            let ok = f.len() <= 64
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if ok {
                Ok(f.to_owned())
            } else {
                Err(format!(
                    "`{f}` is not a field name (1-64 of [A-Za-z0-9._-])"
                ))
            }
        })
        .collect()
}

/// CloudWatch namespaces: 1-255 of letters, digits and `.-_/#: `, not in
/// the reserved `AWS/` space.
fn parse_namespace(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 255
        && !v.starts_with("AWS/")
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#: ".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("expected 1-255 of [A-Za-z0-9.-_/#: ], not starting with AWS/".to_owned())
    }
}

fn secs(
    raw: &Raw,
    key: &'static str,
    default: &str,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    parse(raw, key, default, |v| bounded(v, min, max)).map(Duration::from_secs)
}

fn count(raw: &Raw, key: &'static str, default: &str, max: u64) -> Result<u32, ConfigError> {
    parse(raw, key, default, |v| bounded(v, 1, max)).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn per_min(raw: &Raw, key: &'static str, default: &str) -> Result<u32, ConfigError> {
    count(raw, key, default, 10_000_000)
}

fn parse_redis_url(v: &str) -> Result<Option<secrecy::SecretString>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    let url = url::Url::parse(v).map_err(|_| "expected redis://host:port".to_owned())?;
    if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none() {
        return Err("expected redis://host:port or rediss://host:port".to_owned());
    }
    Ok(Some(secrecy::SecretString::from(v.to_owned())))
}

fn parse_key_prefix(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b));
    if ok {
        Ok(v.to_owned())
    } else {
        Err("expected 1-64 characters of [A-Za-z0-9:_.-]".to_owned())
    }
}

/// A signed-note key name: printable, no spaces or `+` (the verifier key
/// format separates fields with `+`).
fn parse_origin(v: &str) -> Result<String, String> {
    let ok = !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic() && c != '+');
    if ok {
        Ok(v.to_owned())
    } else {
        Err("expected 1-128 printable characters without spaces or `+`, e.g. `isms.example.com/audit`".to_owned())
    }
}

fn parse_webhook_urls(v: &str) -> Result<Vec<String>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let url = url::Url::parse(s).map_err(|_| format!("not a URL: {s}"))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(format!("expected an http(s) URL: {s}"));
            }
            Ok(url.to_string())
        })
        .collect()
}

/// An optional secret of at least 32 characters (tokens, HMAC keys).
fn long_secret(raw: &Raw, key: &'static str) -> Result<Option<secrecy::SecretString>, ConfigError> {
    match raw.get(key) {
        None | Some(("", _)) => Ok(None),
        // Never echo the value: it is a secret.
        Some((value, src)) if value.trim().len() < 32 => Err(ConfigError::new(
            src,
            "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
        )),
        Some((value, _)) => Ok(Some(secrecy::SecretString::from(value.trim()))),
    }
}

fn parse_cidrs(v: &str) -> Result<Vec<ipnet::IpNet>, String> {
    v.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse::<ipnet::IpNet>()
                .or_else(|_| c.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("`{c}` is not a CIDR such as 10.0.0.0/8"))
        })
        .collect()
}

fn data_dir_for_key(raw: &Raw) -> Result<PathBuf, ConfigError> {
    string(raw, "ISMS_DATA_DIR", "./data").map(PathBuf::from)
}

fn master_key(raw: &Raw, data_dir: &Path) -> Result<MasterKeyConfig, ConfigError> {
    if let Some((value, src)) = raw.get("ISMS_MASTER_KEY") {
        use base64::Engine as _;
        let ok = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .is_ok_and(|b| b.len() == 32);
        if !ok {
            // Never echo the value: it is a secret.
            return Err(ConfigError::new(src, "must be 32 bytes, base64-encoded"));
        }
        return Ok(MasterKeyConfig::Inline(secrecy::SecretString::from(
            value.trim(),
        )));
    }
    if let Some((value, src)) = raw.get("ISMS_MASTER_KEY_FILE") {
        if value.trim().is_empty() {
            return Err(ConfigError::new(src, "must not be empty"));
        }
        return Ok(MasterKeyConfig::File(PathBuf::from(value.trim())));
    }
    let production = raw
        .get("ISMS_ENVIRONMENT")
        .is_some_and(|(v, _)| v.trim().eq_ignore_ascii_case("production"));
    if production {
        return Err(ConfigError::new(
            "ISMS_MASTER_KEY",
            "required in production (or ISMS_MASTER_KEY_FILE); a generated key on local disk is for development only",
        ));
    }
    Ok(MasterKeyConfig::Generated(data_dir.join("master.key")))
}

fn parse<T>(
    raw: &Raw,
    key: &'static str,
    default: &str,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    let (value, src) = raw.get(key).unwrap_or((default, key));
    f(value.trim()).map_err(|m| ConfigError::new(src, m))
}

fn string(raw: &Raw, key: &'static str, default: &str) -> Result<String, ConfigError> {
    parse(raw, key, default, |v| {
        if v.is_empty() {
            Err("must not be empty".to_owned())
        } else {
            Ok(v.to_owned())
        }
    })
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn bounded(v: &str, min: u64, max: u64) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expected a whole number from {min} to {max}"))
}

fn parse_origins(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for origin in v.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        if origin == "*" {
            return Err("`*` is not allowed; list each origin".to_owned());
        }
        let url = url::Url::parse(origin)
            .map_err(|_| format!("`{origin}` is not an origin such as https://app.example.com"))?;
        let is_origin = matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && !origin.ends_with('/');
        if !is_origin {
            return Err(format!(
                "`{origin}` is not an origin such as https://app.example.com"
            ));
        }
        out.push(origin.to_owned());
    }
    Ok(out)
}

/// Reads a TOML file into (env key, value, source name) triples.
fn read_file(path: &Path) -> Result<Vec<(&'static str, String, String)>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new("--config", format!("cannot read {}: {e}", path.display()))
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigError::new(
            "--config",
            format!("{} is not valid TOML: {}", path.display(), e.message()),
        )
    })?;
    let mut out = Vec::new();
    for (name, value) in table {
        let Some((env_key, ..)) = KEYS.iter().find(|(_, toml_key, ..)| *toml_key == name) else {
            return Err(ConfigError::new(
                name,
                format!("unknown key in {}", path.display()),
            ));
        };
        let source = format!("{name} (in {})", path.display());
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s),
                    _ => Err(ConfigError::new(
                        source.clone(),
                        "expected a list of strings",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            _ => {
                return Err(ConfigError::new(
                    source,
                    "expected a string, number, boolean or list of strings",
                ));
            }
        };
        out.push((*env_key, text, source));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults() {
        let c = Config::from_sources(None, &env(&[])).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url.expose(), "sqlite://./data/isms.db");
        assert!(c.auto_migrate);
        assert!(c.cors_origins.is_empty());
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.redis_key_prefix, "isms:");
        assert_eq!(c.service_name, "isms");
        assert!(!c.cloudwatch_emf);
        assert!((c.slo.target.value() - 0.999).abs() < 1e-12);
        assert_eq!(c.slo.window_days, 30);
        assert_eq!(c.slo.p95, Duration::from_millis(300));
        assert_eq!(c.slo.signal_window, Duration::from_secs(300));
        assert_eq!(c.signing_key_rotation, Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn every_key_is_in_the_readme() {
        let readme = include_str!("../../../README.md");
        for (env, ..) in KEYS {
            assert!(
                readme.contains(&format!("`{env}`")),
                "{env} is not documented"
            );
        }
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("ISMS_BIND", "nonsense"),
            ("ISMS_DATABASE_URL", "mysql://x"),
            ("ISMS_AUTO_MIGRATE", "maybe"),
            ("ISMS_DB_MAX_CONNECTIONS", "0"),
            ("ISMS_CORS_ORIGINS", "*"),
            ("ISMS_CORS_ORIGINS", "https://ok.example,not an origin"),
            ("ISMS_BOOTSTRAP_ADMIN_EMAIL", "nope"),
            ("ISMS_LOG_FORMAT", "xml"),
            ("ISMS_REDIS_KEY_PREFIX", ""),
            ("ISMS_REDIS_KEY_PREFIX", "has space:"),
            ("ISMS_SERVICE_NAME", "has space"),
            ("ISMS_LOG_REDACT_FIELDS", "ok,not ok"),
            ("ISMS_CLOUDWATCH_EMF", "perhaps"),
            ("ISMS_CLOUDWATCH_NAMESPACE", "AWS/EC2"),
            ("ISMS_SLO_AVAILABILITY_TARGET", "1"),
            ("ISMS_SLO_AVAILABILITY_TARGET", "99.9"),
            ("ISMS_SLO_WINDOW_DAYS", "0"),
            ("ISMS_SLO_WINDOW_DAYS", "91"),
            ("ISMS_SLO_P95_MS", "0"),
            ("ISMS_SLO_ERROR_RATE", "1.5"),
            ("ISMS_SLO_CLIENT_ERROR_RATE", "-0.1"),
            ("ISMS_SLO_SIGNAL_WINDOW_SECS", "30"),
            ("ISMS_SIGNING_KEY_ROTATION_DAYS", "0"),
        ];
        for (key, value) in cases {
            let err = Config::from_sources(None, &env(&[(key, value)])).unwrap_err();
            assert_eq!(err.key, key, "{value}");
        }
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isms.toml");
        std::fs::write(&path, "bind = \"0.0.0.0:9000\"\ncors_origins = [\"https://a.example\"]\ndb_max_connections = 3\n").unwrap();
        let c = Config::from_sources(Some(&path), &env(&[])).unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.cors_origins, vec!["https://a.example"]);
        assert_eq!(c.db_max_connections, 3);
        let c =
            Config::from_sources(Some(&path), &env(&[("ISMS_BIND", "127.0.0.1:9001")])).unwrap();
        assert_eq!(c.bind.port(), 9001);
    }

    #[test]
    fn file_errors_name_the_file_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isms.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        assert_eq!(
            Config::from_sources(Some(&path), &env(&[]))
                .unwrap_err()
                .key,
            "bnid"
        );
        std::fs::write(&path, "bind = \"x\"\n").unwrap();
        assert!(
            Config::from_sources(Some(&path), &env(&[]))
                .unwrap_err()
                .key
                .starts_with("bind (in ")
        );
    }
}
