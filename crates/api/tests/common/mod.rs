//! Shared by the black-box HTTP tests: a switchable fake store health and
//! the real router served on 127.0.0.1:0.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use isms_api::testing::TestServer;
use isms_api::{AppState, HttpConfig};
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
}

/// Readiness timeout used by the tests' `AppState`.
pub const READINESS_TIMEOUT: Duration = Duration::from_millis(300);

pub struct RealServer {
    pub server: TestServer,
    pub health: Arc<FakeStoreHealth>,
    pub routes: Vec<isms_api::RouteEntry>,
    pub spec: utoipa::openapi::OpenApi,
}

/// The production router (`isms_api::build`) with a fake store health.
pub async fn real_server(cfg: &HttpConfig) -> RealServer {
    let health = Arc::new(FakeStoreHealth::default());
    let state = AppState {
        store_health: health.clone(),
        readiness_timeout: READINESS_TIMEOUT,
    };
    let api = isms_api::build(state, cfg);
    RealServer {
        server: TestServer::spawn(api.router).await,
        health,
        routes: api.routes,
        spec: api.spec,
    }
}

/// A client that does not follow redirects (so they can be asserted).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}
