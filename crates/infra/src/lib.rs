//! Infrastructure adapters that are neither storage nor HTTP.

pub mod password;

pub use password::Argon2Hasher;
