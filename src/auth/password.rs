//! Password hashing: Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), off the
//! async runtime, with at most one hash per core at a time so a burst of sign-ins cannot
//! starve every other request.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::auth::password_policy::normalize;

/// Memory in KiB, passes, lanes: OWASP's recommended minimum for Argon2id.
pub const MEMORY_KIB: u32 = 19_456;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid"),
    )
}

/// Hashes on the calling thread (after NFKC normalization). Use [`PasswordHasher`] from
/// async code.
pub fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(normalize(password).as_bytes(), &salt)
        .expect("hashing with valid parameters succeeds")
        .to_string()
}

/// Whether `password` matches the PHC string `hash` (whatever Argon2 parameters it was
/// made with; they are read from the string).
pub fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default().verify_password(normalize(password).as_bytes(), &parsed).is_ok()
    })
}

/// Whether `hash` was made with weaker parameters (or another algorithm) than today's,
/// so it should be replaced after the next successful sign-in.
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return true };
    let Ok(params) = Params::try_from(&parsed) else { return true };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES
        || params.p_cost() < LANES
}

/// A hash of nothing anyone knows, verified against when the e-mail is unknown, so that
/// a sign-in for a non-existent account takes as long as one for a real account.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking(&crate::auth::session::new_csrf_token()))
}

/// Hashes and verifies on the blocking pool, at most `permits` at a time, with a bounded
/// queue: beyond it a request is turned away at once ([`Busy`], a 503 with Retry-After)
/// rather than held for seconds while every other sign-in waits behind it.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    /// How many hashes ran at once, at most, since start (observability and tests).
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// Too many hashes are already queued: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct Busy;

/// Hashes allowed to wait per permit. One hash takes a few tens of milliseconds on one
/// core, so a full queue drains in well under a second.
const WAITING_PER_PERMIT: usize = 32;

impl PasswordHasher {
    /// One permit per core: hashing is CPU-bound.
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            max_waiting: permits * WAITING_PER_PERMIT,
            waiting: Arc::default(),
            in_flight: Arc::default(),
            peak: Arc::default(),
        }
    }

    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        self.run(move || hash_blocking(&password)).await
    }

    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        self.run(move || verify_blocking(&password, &hash)).await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let queued = Counted::enter(&self.waiting);
        if queued.count > self.max_waiting {
            return Err(Busy);
        }
        let _permit = self.permits.acquire().await.expect("the semaphore is never closed");
        drop(queued);
        let running = Counted::enter(&self.in_flight);
        self.peak.fetch_max(running.count, Relaxed);
        // A panic inside argon2 would be a bug; it surfaces as a failed verification
        // (or an error page for a new hash) rather than taking the worker down.
        let result = tokio::task::spawn_blocking(work).await;
        drop(running);
        result.map_err(|_| Busy)
    }

    /// The most hashes that ever ran at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Relaxed)
    }
}

/// Holds one place in a counter, given back when dropped (also when the request that
/// holds it is cancelled).
struct Counted<'a> {
    counter: &'a AtomicUsize,
    count: usize,
}

impl<'a> Counted<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        let count = counter.fetch_add(1, Relaxed) + 1;
        Self { counter, count }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_unique_salts() {
        let a = hash_blocking("correct horse battery staple");
        let b = hash_blocking("correct horse battery staple");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(verify_blocking("correct horse battery staple", &a));
        assert!(!verify_blocking("correct horse battery stapler", &a));
        assert!(!verify_blocking("anything", "not a hash"));
        assert!(!needs_rehash(&a));
    }

    #[test]
    fn weaker_hashes_are_flagged_for_an_upgrade_and_still_verify() {
        let weak =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8_192, 1, 1, None).expect("params"))
                .hash_password(b"old but fine", &SaltString::generate(&mut OsRng))
                .expect("hash")
                .to_string();
        assert!(verify_blocking("old but fine", &weak));
        assert!(needs_rehash(&weak));
        assert!(needs_rehash("$2b$12$abcdefghijklmnopqrstuv"), "anything not argon2id");
    }

    #[tokio::test]
    async fn a_burst_beyond_the_queue_is_turned_away_and_hashing_stays_bounded() {
        let hasher = PasswordHasher::new(1);
        let hash = hash_blocking("the right one");
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..(1 + WAITING_PER_PERMIT + 7) {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            burst.spawn(async move { hasher.verify("the right one".into(), hash).await });
        }
        let (mut verified, mut busy) = (0, 0);
        while let Some(result) = burst.join_next().await {
            match result.expect("task") {
                Ok(matched) => {
                    assert!(matched, "a correct password failed");
                    verified += 1;
                }
                Err(Busy) => busy += 1,
            }
        }
        assert_eq!(
            (verified, busy),
            (1 + WAITING_PER_PERMIT, 7),
            "one running, a full queue, the rest refused"
        );
        assert_eq!(hasher.peak_concurrency(), 1);
        assert_eq!(hasher.verify("the right one".into(), hash).await, Ok(true), "the queue drained");
    }
}
