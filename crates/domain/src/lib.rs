//! The isms domain: entities, value objects, pure rules and the ports the
//! outer layers implement. This crate does no IO; the layering test in
//! `tests/layering.rs` keeps it that way.

pub mod access_policy;
pub mod audit;
pub mod auth;
pub mod canonical_json;
pub mod compliance;
pub mod continuity;
pub mod crypto;
pub mod email;
pub mod events;
pub mod ids;
pub mod mfa;
pub mod net;
pub mod page;
pub mod password_policy;
pub mod ports;
pub mod principal;
pub mod ratelimit;
pub mod rbac;
pub mod risk;
pub mod role;
pub mod session;
pub mod tenant;
pub mod time;
pub mod totp;
pub mod user;

pub use email::Email;
pub use ids::{SessionId, TenantId, UserId};
pub use role::Role;
