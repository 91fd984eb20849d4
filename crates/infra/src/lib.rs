//! Infrastructure adapters that are neither storage nor HTTP: password
//! hashing, the master key, token and audit signing keys, envelope
//! encryption, rate-limit and error-budget counters, and webhooks.

pub mod audit_key;
pub mod budget;
pub mod crypto;
pub mod jwt;
pub mod limiter;
pub mod master_key;
pub mod password;
pub mod webhook;

pub use jwt::{JwtSettings, KeyRing};
pub use master_key::{MasterKey, MasterKeySource};
pub use password::Argon2Hasher;
