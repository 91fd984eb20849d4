//! Connects the store chosen by configuration and builds the services on
//! top of it.

use std::sync::Arc;

use anyhow::Context as _;
use isms_app::bootstrap::BootstrapService;
use isms_app::tenants::TenantService;
use isms_app::users::UserService;
use isms_infra::Argon2Hasher;
use isms_store::{Store, StoreOptions};

use crate::config::Config;

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub tenants: TenantService,
    pub users: UserService,
    pub bootstrap: BootstrapService,
}

pub fn store_options(config: &Config) -> StoreOptions {
    let mut opts = StoreOptions::new(config.database_url.clone());
    opts.max_connections = config.db_max_connections;
    opts.statement_timeout = config.db_statement_timeout;
    opts.busy_timeout = config.db_busy_timeout;
    opts
}

/// Connects to the database (applying migrations when `migrate`) and
/// builds the services.
pub async fn connect(config: &Config, migrate: bool) -> anyhow::Result<Services> {
    let store = Store::connect(&store_options(config))
        .await
        .with_context(|| format!("database {}", config.database_url))?;
    if migrate {
        store.migrate().await.context("applying migrations")?;
    }
    let hasher = Arc::new(Argon2Hasher::new(config.password_hash_concurrency).context("password hasher")?);
    let users = UserService::new(store.users(), hasher);
    Ok(Services {
        tenants: TenantService::new(store.tenants()),
        bootstrap: BootstrapService::new(store.bootstrap(), users.clone()),
        users,
        store,
    })
}
