//! Argon2id password hashing on a dedicated pool of `max_concurrent`
//! threads.
//!
//! Each hash costs ~19 MiB and tens of milliseconds of CPU. Running it on
//! the async workers would stall every other request; running it unbounded
//! would let 500 concurrent logins allocate ~10 GiB. The pool caps both: at
//! most `max_concurrent` hashes run at once and the rest wait in a FIFO
//! queue without holding memory.
//!
//! The threads stay hot: a worker that finishes a hash takes the next job
//! from the queue itself. The previous design (a semaphore permit, then
//! `spawn_blocking`) left a core idle after every hash for the round trip
//! through the runtime — wake the request's task on an async worker, drop
//! the permit, wake the next request's task, spawn, wake a blocking thread
//! — each a scheduler wake-up competing with the other hash for the cores.
//!
//! Verification (every login) reuses the Argon2 memory: each worker keeps
//! one 19 MiB block buffer for its life, so a hash neither copies fresh
//! memory into place nor faults in new pages.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use async_trait::async_trait;
use isms_domain::ports::{HashError, PasswordHasher};
use isms_domain::user::PasswordHash;
use secrecy::{ExposeSecret, SecretString};

/// OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Clone)]
pub struct Argon2Hasher {
    params: Params,
    pool: Arc<Pool>,
}

/// Salts longer than this are refused (ours are 16 bytes).
const MAX_SALT_BYTES: usize = 64;

/// A job gets its worker's block buffer.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

#[derive(Default)]
struct QueueState {
    jobs: VecDeque<Job>,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Jobs run outside the lock, so a poisoned lock only means a
        // panic between two plain field updates: the state is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, job: Job) -> Result<(), HashError> {
        let mut state = self.lock();
        if state.closed {
            return Err(HashError::Failed("hasher is shut down".into()));
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, waiting for one; `None` once closed and drained.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state = self
                .ready
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

/// The worker threads; they finish the queue and exit when the last
/// clone of the hasher is dropped.
struct Pool {
    queue: Arc<Queue>,
    threads: usize,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queue.close();
    }
}

fn work(queue: &Queue) {
    let mut blocks = Vec::new();
    while let Some(job) = queue.next() {
        // A panicking job loses its own result (its caller sees an
        // error), not the worker.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut blocks)));
    }
}

impl Argon2Hasher {
    /// OWASP parameters with at most `max_concurrent` hashes in flight.
    pub fn new(max_concurrent: usize) -> Result<Self, HashError> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| HashError::Failed(e.to_string()))?;
        Self::with_params(params, max_concurrent)
    }

    /// `max_concurrent` (at least one) hashing threads for `params`.
    pub fn with_params(params: Params, max_concurrent: usize) -> Result<Self, HashError> {
        let queue = Arc::new(Queue::default());
        let threads = max_concurrent.max(1);
        let pool = Arc::new(Pool {
            queue: queue.clone(),
            threads,
        });
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || work(&queue))
                // Dropping `pool` on this error stops the threads started.
                .map_err(|e| HashError::Failed(format!("starting hashing thread: {e}")))?;
        }
        Ok(Self { params, pool })
    }

    /// How many hashes run at once.
    pub fn concurrency(&self) -> usize {
        self.pool.threads
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Queues `job` for a worker and waits for its result. A caller that
    /// stops waiting (a cancelled request) before a worker reaches its job
    /// costs no hash: the job is skipped.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Vec<Block>) -> Result<T, HashError> + Send + 'static,
    ) -> Result<T, HashError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pool.queue.push(Box::new(move |blocks| {
            if !tx.is_closed() {
                let _ = tx.send(job(blocks));
            }
        }))?;
        rx.await
            .map_err(|_| HashError::Failed("hashing job failed".into()))?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: SecretString) -> Result<PasswordHash, HashError> {
        let argon2 = self.argon2();
        self.run(move |_| {
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
        let own_blocks = self.params.block_count();
        self.run(move |blocks| {
            verify_phc(
                password.expose_secret().as_bytes(),
                &phc,
                blocks,
                own_blocks,
            )
        })
        .await
    }
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
        let old = Argon2Hasher::with_params(small, 1).unwrap();
        let current = Argon2Hasher::with_params(big, 1).unwrap();
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
        // The worker's one buffer has the current parameters' size.
        assert_eq!(current.run(|b| Ok(b.len())).await.unwrap(), 4096);
        // A stored hash needing more memory than ours verifies in a
        // temporary buffer, which is not kept.
        let bigger = Argon2Hasher::with_params(Params::new(8192, 1, 1, None).unwrap(), 1).unwrap();
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
        assert_eq!(current.run(|b| Ok(b.len())).await.unwrap(), 4096);
    }

    #[tokio::test]
    async fn hashes_from_the_reference_encoder_verify() {
        // Made by `argon2::PasswordHasher::hash_password`, as stored by
        // earlier releases; a variant other than argon2id too.
        let params = Params::new(1024, 1, 1, None).unwrap();
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
        let h = Argon2Hasher::with_params(params.clone(), 1).unwrap();
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

    /// A job that holds its worker until `release` is sent.
    async fn occupy(
        h: &Argon2Hasher,
    ) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let h = h.clone();
        let task = tokio::spawn(async move {
            h.run(move |_| {
                let _ = started_tx.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
            .unwrap();
        });
        started.await.unwrap();
        (release, task)
    }

    #[tokio::test]
    async fn concurrency_is_bounded_by_the_threads() {
        let h = Argon2Hasher::with_params(Params::new(1024, 1, 1, None).unwrap(), 2).unwrap();
        assert_eq!(h.concurrency(), 2);
        let (release_a, a) = occupy(&h).await;
        let (release_b, b) = occupy(&h).await;
        let pending = tokio::spawn({
            let h = h.clone();
            async move { h.hash(SecretString::from("waits for a worker")).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!pending.is_finished(), "hash ran without a free worker");
        release_a.send(()).unwrap();
        assert!(pending.await.unwrap().is_ok());
        release_b.send(()).unwrap();
        a.await.unwrap();
        b.await.unwrap();
    }

    #[tokio::test]
    async fn queued_jobs_run_in_order_and_cancelled_ones_are_skipped() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let h = Argon2Hasher::with_params(Params::new(1024, 1, 1, None).unwrap(), 1).unwrap();
        let (release, busy) = occupy(&h).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let ran = Arc::new(AtomicUsize::new(0));
        let job = |n: usize| {
            let (h, order, ran) = (h.clone(), order.clone(), ran.clone());
            async move {
                h.run(move |_| {
                    ran.fetch_add(1, Ordering::SeqCst);
                    order.lock().unwrap().push(n);
                    Ok(n)
                })
                .await
            }
        };
        let first = tokio::spawn(job(1));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Queued behind the busy worker, then given up by its caller.
        let cancelled = tokio::spawn(job(2));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        cancelled.abort();
        let third = tokio::spawn(job(3));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        release.send(()).unwrap();
        busy.await.unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(third.await.unwrap().unwrap(), 3);
        assert_eq!(*order.lock().unwrap(), [1, 3]);
        assert_eq!(ran.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        let h = Argon2Hasher::with_params(Params::new(1024, 1, 1, None).unwrap(), 1).unwrap();
        let failed = h.run(|_| -> Result<(), HashError> { panic!("boom") }).await;
        assert!(matches!(failed, Err(HashError::Failed(_))));
        // The one worker survived.
        let hash = h.hash(SecretString::from("still works")).await.unwrap();
        assert!(
            h.verify(SecretString::from("still works"), &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn dropping_the_hasher_stops_its_threads() {
        let h = Argon2Hasher::with_params(Params::new(1024, 1, 1, None).unwrap(), 2).unwrap();
        let queue = Arc::downgrade(&h.pool.queue);
        let hash = h.hash(SecretString::from("x")).await.unwrap();
        assert!(h.verify(SecretString::from("x"), &hash).await.unwrap());
        drop(h);
        // The workers hold the queue until they exit.
        for _ in 0..100 {
            if queue.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("hashing threads still running");
    }
}
