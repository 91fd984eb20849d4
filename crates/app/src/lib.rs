//! Application services: one per use-case family. They validate input with
//! domain rules, call ports and translate failures into `AppError`.

pub mod alerts;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod bootstrap;
pub mod compliance;
pub mod continuity;
pub mod crypto;
pub mod error;
pub mod events;
pub mod gdpr;
pub mod lockout;
pub mod mfa;
pub mod policy;
pub mod risk;
pub mod secrets;
pub mod services;
pub mod tenants;
pub mod users;

pub use error::AppError;
