//! How many Argon2id hashes per second the configured parameters allow on
//! this machine, using every core: the ceiling for the login-storm
//! benchmark in `bench/run.sh`. Run with `cargo bench -p isms-infra`.
//!
//! `ARGON2_BENCH_ONLY=reused` measures only the server's case and
//! `ARGON2_BENCH_SECS` sets the window (default 5): `bench/run.sh` takes a
//! short ceiling right before and right after its storm.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use isms_infra::password::{ITERATIONS, MEMORY_KIB, PARALLELISM};

fn main() {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let window = Duration::from_secs_f64(
        std::env::var("ARGON2_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5.0),
    );
    if std::env::var("ARGON2_BENCH_ONLY").as_deref() != Ok("reused") {
        fresh_memory(threads, window);
    }
    reused_memory(threads, window);
}

/// Per thread, one block buffer for every hash: what the server's
/// hashing threads do for each login (`Argon2Hasher::verify`).
fn reused_memory(threads: usize, window: Duration) {
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap();
                    let mut blocks = vec![argon2::Block::default(); params.block_count()];
                    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
                    let mut out = [0u8; 32];
                    let mut n = 0u64;
                    while started.elapsed() < window {
                        argon2
                            .hash_password_into_with_memory(
                                b"benchmark password",
                                b"saltsaltsaltsalt",
                                &mut out,
                                &mut blocks,
                            )
                            .unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "argon2id m={MEMORY_KIB} t={ITERATIONS} p={PARALLELISM}, reused memory (the server's verification): {:.1} hashes/s on {threads} threads ({:.1} ms per hash per thread)",
        total as f64 / secs,
        secs * 1000.0 * threads as f64 / total as f64
    );
}

/// Per hash, a fresh 19 MiB (`PasswordHasher::hash_password`).
fn fresh_memory(threads: usize, window: Duration) {
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let argon2 = Argon2::new(
                        Algorithm::Argon2id,
                        Version::V0x13,
                        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap(),
                    );
                    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
                    let mut n = 0u64;
                    while started.elapsed() < window {
                        argon2.hash_password(b"benchmark password", &salt).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let total: u64 = counts.iter().sum();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "argon2id m={MEMORY_KIB} t={ITERATIONS} p={PARALLELISM}: {:.1} hashes/s on {threads} threads ({:.1} ms per hash per thread)",
        total as f64 / secs,
        secs * 1000.0 * threads as f64 / total as f64
    );
}
