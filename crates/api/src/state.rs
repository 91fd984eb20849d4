//! What handlers share.

use std::sync::Arc;
use std::time::Duration;

use isms_app::auth::AuthService;
use isms_app::users::UserAdmin;
use isms_domain::ports::StoreHealth;

#[derive(Clone)]
pub struct AppState {
    pub store_health: Arc<dyn StoreHealth>,
    pub readiness_timeout: Duration,
    pub auth: AuthService,
    pub users: UserAdmin,
}
