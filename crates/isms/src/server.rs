//! The server lifecycle: connect, migrate, first-start provisioning, serve,
//! and graceful shutdown (stop accepting, let in-flight requests finish
//! within the grace period, close the pool).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use isms_api::metrics::ScrapeAccess;
use isms_api::ratelimit::RateLimiter;
use isms_api::{AppServices, AppState, HttpConfig};
use isms_domain::ratelimit::{Quota, TierQuotas};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::config::Config;
use crate::wiring::{self, Services};

/// How long the readiness probe waits for the database.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);
/// How often signing keys are re-read from the database.
const KEY_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

pub fn app_router(config: &Config, services: &Services) -> axum::Router {
    let state = AppState::from(AppServices {
        store_health: services.store.health(),
        // Below the request deadline, so a hung database yields 503 from
        // the probe rather than the generic timeout.
        readiness_timeout: READINESS_TIMEOUT.min(config.request_timeout / 2),
        auth: services.app.auth.clone(),
        users: services.app.user_admin.clone(),
        mfa: services.app.mfa.clone(),
        policy: services.app.policy.clone(),
        audit: services.app.audit_log.clone(),
        crypto: services.app.crypto.clone(),
        compliance: services.app.compliance.clone(),
        gdpr: services.app.gdpr.clone(),
        risk: services.app.risk.clone(),
        limiter: RateLimiter {
            store: services.limiter.clone(),
            quotas: TierQuotas {
                auth: Quota::per_minute(config.rate_limit_auth_per_min),
                write: Quota::per_minute(config.rate_limit_write_per_min),
                read: Quota::per_minute(config.rate_limit_read_per_min),
            },
            enabled: config.rate_limit_enabled,
            metrics: services.metrics.clone(),
        },
        metrics: services.metrics.clone(),
        scrape_access: ScrapeAccess {
            allowed_cidrs: config.metrics_allowed_cidrs.clone(),
            token: config.metrics_token.clone(),
        },
        started_at: std::time::Instant::now(),
        continuity: services.continuity.clone(),
    });
    let http = HttpConfig {
        cors_origins: config.cors_origins.clone(),
        request_timeout: config.request_timeout,
        trusted_proxies: config.trusted_proxies.clone(),
    };
    isms_api::build(state, &http).router
}

/// Prints first-start credentials to `out` (stdout in production), never
/// to the log.
pub async fn bootstrap(
    config: &Config,
    services: &Services,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let done = services
        .app
        .bootstrap
        .run(&config.bootstrap_tenant, &config.bootstrap_admin_email)
        .await
        .context("first-start provisioning")?;
    if let Some(b) = done {
        writeln!(
            out,
            "\nFirst start: created tenant \"{}\" ({}) and its administrator.\n  e-mail:   {}\n  password: {}\nThis one-time password is shown only now; you will be asked to change it at first login.\n",
            b.tenant.name,
            b.tenant.id,
            b.admin_email.as_str(),
            b.admin_password.expose_secret()
        )?;
        out.flush()?;
    }
    Ok(())
}

/// A server started in the background (used by tests and by `run`).
pub struct RunningServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl RunningServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Triggers graceful shutdown and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.await.context("server task")?
    }
}

/// Connects, migrates (if configured), provisions and starts serving on
/// `config.bind` (port 0 picks a free port). `out` receives first-start
/// credentials.
pub async fn spawn(config: Config, out: &mut (dyn Write + Send)) -> anyhow::Result<RunningServer> {
    // Start-up serves no request: its lines are marked as such.
    let startup = tracing::info_span!("job", job = "startup");
    let services = wiring::connect(&config, config.auto_migrate)
        .instrument(startup.clone())
        .await?;
    bootstrap(&config, &services, out)
        .instrument(startup)
        .await?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let router = app_router(&config, &services);
    let grace = config.shutdown_timeout;
    let keys = services.keys.clone();
    let reload = tokio::spawn(
        async move {
            // Picks up signing keys rotated by another instance or the CLI.
            let mut tick = tokio::time::interval(KEY_RELOAD_INTERVAL);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = keys.reload().await {
                    tracing::warn!(error = %e, "auth.signing_keys_reload_failed");
                }
            }
        }
        .instrument(tracing::info_span!("job", job = "signing_key_reload")),
    );
    let jobs = crate::jobs::start(&config, &services);
    let task = tokio::spawn(async move {
        let result = serve(listener, router, async { drop(rx.await) }, grace).await;
        reload.abort();
        jobs.stop().await;
        services.store.close().await;
        result
    });
    Ok(RunningServer {
        addr,
        shutdown: Some(tx),
        task,
    })
}

async fn serve(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let (signalled_tx, signalled_rx) = oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("server.shutting_down");
        let _ = signalled_tx.send(());
    });
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result.context("server failed"),
        Ok(()) = signalled_rx => {
            // Accepting has stopped; in-flight requests get the grace period.
            match tokio::time::timeout(grace, server).await {
                Ok(result) => result.context("server failed"),
                Err(_) => {
                    tracing::warn!(grace_secs = grace.as_secs(), "server.shutdown_grace_expired");
                    Ok(())
                }
            }
        }
    }
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    let server = spawn(config.clone(), &mut stdout).await?;
    println!(
        "isms listening on http://{} (database: {})",
        server.addr,
        config.database_url.backend().as_str()
    );
    tracing::info!(addr = %server.addr, backend = config.database_url.backend().as_str(), "server.listening");
    shutdown_signal().await;
    server.stop().await?;
    tracing::info!("server.stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
