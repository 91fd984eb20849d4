//! Argon2id password hashing on the blocking pool, bounded by a semaphore.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on
//! the async workers would stall every other request; running unbounded on
//! the blocking pool would let 500 concurrent logins allocate ~10 GiB. The
//! semaphore caps both: at most `max_concurrent` hashes run at once and the
//! rest wait their turn without holding memory.

use std::sync::Arc;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use isms_domain::ports::{HashError, PasswordHasher};
use isms_domain::user::PasswordHash;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

/// OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    permits: Arc<Semaphore>,
}

impl Argon2Hasher {
    /// OWASP parameters with at most `max_concurrent` hashes in flight.
    pub fn new(max_concurrent: usize) -> Result<Self, HashError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        Ok(Self::with_params(params, max_concurrent))
    }

    pub fn with_params(params: Params, max_concurrent: usize) -> Self {
        Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(Argon2<'static>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Failed("hasher is shut down".into()))?;
        let argon2 = self.argon2();
        tokio::task::spawn_blocking(move || job(argon2))
            .await
            .map_err(|e| HashError::Failed(format!("hashing task failed: {e}")))?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, HashError> {
        self.run(move |argon2| {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| PasswordHash::new(h.to_string()))
                .map_err(|e| HashError::Failed(e.to_string()))
        })
        .await
    }

    async fn verify(&self, password: SecretString, hash: &PasswordHash) -> Result<bool, HashError> {
        let phc = hash.as_str().to_owned();
        self.run(move |argon2| {
            let parsed = argon2::PasswordHash::new(&phc).map_err(|_| HashError::MalformedHash)?;
            // The stored hash's own parameters are used, so hashes made
            // under older parameters still verify.
            match argon2.verify_password(password.expose_secret().as_bytes(), &parsed) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::Password) => Ok(false),
                Err(e) => Err(HashError::Failed(e.to_string())),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verifies_and_uses_phc_argon2id_owasp_params() {
        let h = Argon2Hasher::new(2).unwrap();
        let hash = h
            .hash(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            h.verify(SecretString::from("correct horse battery"), &hash)
                .await
                .unwrap()
        );
        assert!(
            !h.verify(SecretString::from("wrong horse battery"), &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_panic() {
        let h = Argon2Hasher::new(1).unwrap();
        let bad = PasswordHash::new("not-a-phc-string".into());
        assert!(matches!(
            h.verify(SecretString::from("x"), &bad).await,
            Err(HashError::MalformedHash)
        ));
    }

    #[tokio::test]
    async fn concurrency_is_bounded_by_the_semaphore() {
        let h = Argon2Hasher::new(2).unwrap();
        assert_eq!(h.permits.available_permits(), 2);
        let held = h.permits.clone().acquire_many_owned(2).await.unwrap();
        let pending = tokio::spawn({
            let h = h.clone();
            async move { h.hash(SecretString::from("waits for a permit")).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!pending.is_finished(), "hash ran without a permit");
        drop(held);
        assert!(pending.await.unwrap().is_ok());
    }
}
