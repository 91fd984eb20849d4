//! Argon2id password hashing on the blocking pool, bounded by a semaphore.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on
//! the async workers would stall every other request; running unbounded on
//! the blocking pool would let 500 concurrent logins allocate ~10 GiB. The
//! semaphore caps both: at most `max_concurrent` hashes run at once and the
//! rest wait their turn without holding memory.
//!
//! Verification (every login) reuses the Argon2 memory: one 19 MiB block
//! buffer per permit, kept for the life of the hasher. Allocating it per
//! hash cost a 19 MiB copy to initialise and, worse, fresh pages from the
//! kernel whenever a different blocking thread ran the next hash.

use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// Block buffers of permit holders that finished: never more than
    /// there are permits, since only a permit holder takes one.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

/// Salts longer than this are refused (ours are 16 bytes).
const MAX_SALT_BYTES: usize = 64;

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
            memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Failed("hasher is shut down".into()))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| HashError::Failed(format!("hashing task failed: {e}")))?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, HashError> {
        let argon2 = self.argon2();
        self.run(move || {
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
        let memory = self.memory.clone();
        let own_blocks = self.params.block_count();
        self.run(move || {
            let mut blocks = take_buffer(&memory);
            let verified = verify_phc(
                password.expose_secret().as_bytes(),
                &phc,
                &mut blocks,
                own_blocks,
            );
            give_back(&memory, blocks);
            verified
        })
        .await
    }
}

fn take_buffer(memory: &Mutex<Vec<Vec<Block>>>) -> Vec<Block> {
    memory
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .pop()
        .unwrap_or_default()
}

fn give_back(memory: &Mutex<Vec<Vec<Block>>>, blocks: Vec<Block>) {
    memory
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(blocks);
}

/// Verifies `password` against a PHC string under the hash's own
/// algorithm, version and parameters (so hashes made under older
/// parameters still verify), in `blocks`. The buffer grows to at most
/// `keep_blocks`; a stored hash needing more memory gets a temporary one.
fn verify_phc(
    password: &[u8],
    phc: &str,
    blocks: &mut Vec<Block>,
    keep_blocks: usize,
) -> Result<bool, HashError> {
    let parsed = argon2::PasswordHash::new(phc).map_err(|_| HashError::MalformedHash)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(HashError::MalformedHash);
    };
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|_| HashError::MalformedHash)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| HashError::MalformedHash)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|_| HashError::MalformedHash)?;
    let mut salt_buf = [0u8; MAX_SALT_BYTES];
    let salt = salt
        .decode_b64(&mut salt_buf)
        .map_err(|_| HashError::MalformedHash)?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    let needed = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let hashed = if needed <= keep_blocks {
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..])
    } else {
        argon2.hash_password_into(password, salt, &mut out)
    };
    hashed.map_err(|e| HashError::Failed(e.to_string()))?;
    let computed = Output::new(&out).map_err(|e| HashError::Failed(e.to_string()))?;
    // `Output` compares in constant time.
    Ok(computed == expected)
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
    async fn reused_memory_verifies_hashes_of_other_parameters() {
        let small = Params::new(1024, 1, 1, None).unwrap();
        let big = Params::new(4096, 2, 1, None).unwrap();
        let old = Argon2Hasher::with_params(small, 1);
        let current = Argon2Hasher::with_params(big, 1);
        let old_hash = old
            .hash(SecretString::from("older parameters"))
            .await
            .unwrap();
        let new_hash = current
            .hash(SecretString::from("newer parameters"))
            .await
            .unwrap();
        // One buffer serves both, in either order, and repeatedly.
        for _ in 0..2 {
            assert!(
                current
                    .verify(SecretString::from("older parameters"), &old_hash)
                    .await
                    .unwrap()
            );
            assert!(
                current
                    .verify(SecretString::from("newer parameters"), &new_hash)
                    .await
                    .unwrap()
            );
            assert!(
                !current
                    .verify(SecretString::from("newer parameters"), &old_hash)
                    .await
                    .unwrap()
            );
        }
        assert_eq!(current.memory.lock().unwrap().len(), 1);
        // A stored hash needing more memory than ours verifies in a
        // temporary buffer, which is not kept.
        let bigger = Argon2Hasher::with_params(Params::new(8192, 1, 1, None).unwrap(), 1);
        let bigger_hash = bigger
            .hash(SecretString::from("bigger memory"))
            .await
            .unwrap();
        assert!(
            current
                .verify(SecretString::from("bigger memory"), &bigger_hash)
                .await
                .unwrap()
        );
        assert_eq!(current.memory.lock().unwrap()[0].len(), 4096);
    }

    #[tokio::test]
    async fn hashes_from_the_reference_encoder_verify() {
        // Made by `argon2::PasswordHasher::hash_password`, as stored by
        // earlier releases; a variant other than argon2id too.
        let params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
        let h = Argon2Hasher::with_params(params.clone(), 1);
        for alg in [Algorithm::Argon2id, Algorithm::Argon2i] {
            let phc = Argon2::new(alg, Version::V0x13, params.clone())
                .hash_password(b"reference", &salt)
                .unwrap()
                .to_string();
            let stored = PasswordHash::new(phc);
            assert!(
                h.verify(SecretString::from("reference"), &stored)
                    .await
                    .unwrap()
            );
            assert!(
                !h.verify(SecretString::from("Reference"), &stored)
                    .await
                    .unwrap()
            );
        }
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_panic() {
        let h = Argon2Hasher::new(1).unwrap();
        for bad in [
            "not-a-phc-string",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
            "$scrypt$ln=16,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAA",
            "$argon2id$v=19$m=19456,t=2,p=1,x=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let bad = PasswordHash::new(bad.into());
            assert!(
                matches!(
                    h.verify(SecretString::from("x"), &bad).await,
                    Err(HashError::MalformedHash)
                ),
                "{}",
                bad.as_str()
            );
        }
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
