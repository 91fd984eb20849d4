//! The HTTP API (axum): routes, extractors, the error model and the
//! middleware every response passes through.

pub mod access;
pub mod client_ip;
pub mod context;
pub mod cors;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod pdf;
pub mod ratelimit;
pub mod request_id;
pub mod router;
pub mod routes;
pub mod security_headers;
pub mod state;
pub mod trace;

pub use router::{Api, BODY_LIMIT_BYTES, HttpConfig, RouteEntry, build, with_middleware};
pub use state::{AppServices, AppState};
#[cfg(feature = "testing")]
pub mod testing;
