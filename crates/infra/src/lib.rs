//! Infrastructure adapters that are neither storage nor HTTP: password
//! hashing, the master key and token signing.

pub mod crypto;
pub mod jwt;
pub mod limiter;
pub mod master_key;
pub mod password;

pub use jwt::{JwtSettings, KeyRing};
pub use master_key::{MasterKey, MasterKeySource};
pub use password::Argon2Hasher;
