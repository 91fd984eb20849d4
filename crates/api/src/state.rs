//! What handlers share.

use std::sync::Arc;
use std::time::Duration;

use isms_domain::ports::StoreHealth;

#[derive(Clone)]
pub struct AppState {
    pub store_health: Arc<dyn StoreHealth>,
    pub readiness_timeout: Duration,
}
