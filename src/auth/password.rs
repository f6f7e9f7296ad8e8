//! Password hashing: Argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane), off the
//! async runtime, with at most one hash per core at a time so a burst of sign-ins cannot
//! starve every other request.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use std::cell::RefCell;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq as _;
use tokio::sync::Semaphore;

use crate::auth::password_policy::normalize;

/// Memory in KiB, passes, lanes: OWASP's recommended minimum for Argon2id.
pub(crate) const MEMORY_KIB: u32 = 19_456;
pub(crate) const PASSES: u32 = 2;
pub(crate) const LANES: u32 = 1;

fn current_params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid")
}

/// Runs `f` with this thread's Argon2 working memory, `blocks` KiB blocks long. The
/// memory stays with the thread between hashes: faulting in 19 MiB of fresh pages for
/// every hash would cost more than a third of the hash itself, and by an amount that
/// depends on the allocator's mood, which would show up in sign-in timings.
fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    thread_local! {
        static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        f(&mut memory[..blocks])
    })
}

/// The raw Argon2 output for `password` and `salt` into `out`.
fn compute(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    with_memory(blocks, |memory| argon2.hash_password_into_with_memory(password, salt, out, memory))
}

/// Hashes on the calling thread (after NFKC normalization) into a PHC string. Use
/// [`PasswordHasher`] from async code.
pub fn hash_blocking(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buffer).expect("a generated salt decodes");
    let params = current_params();
    let mut out = [0u8; 32];
    compute(
        Algorithm::Argon2id,
        Version::V0x13,
        params.clone(),
        normalize(password).as_bytes(),
        salt_bytes,
        &mut out,
    )
    .expect("hashing with valid parameters succeeds");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("constant parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
    }
    .to_string()
}

/// Whether `password` matches the PHC string `hash` (whatever Argon2 variant and
/// parameters it was made with; they are read from the string). Compared in constant
/// time.
pub(crate) fn verify_blocking(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else { return false };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buffer) else { return false };
    let mut out = vec![0u8; expected.len()];
    compute(algorithm, version, params, normalize(password).as_bytes(), salt_bytes, &mut out).is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// Whether `hash` was made with weaker parameters (or another algorithm) than today's,
/// so it should be replaced after the next successful sign-in.
pub(crate) fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return true };
    let Ok(params) = Params::try_from(&parsed) else { return true };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES
        || params.p_cost() < LANES
}

/// A hash of nothing anyone knows, verified against when the e-mail is unknown, so that
/// a sign-in for a non-existent account takes as long as one for a real account.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_blocking(&crate::auth::session::new_csrf_token()))
}

/// Hashes and verifies on threads of its own, one per permit, with a bounded queue:
/// beyond it a request is turned away at once ([`Busy`], a 503 with Retry-After) rather
/// than held for seconds while every other sign-in waits behind it.
///
/// The hashing threads run at the lowest scheduling priority (nice 19), below the threads that
/// serve pages: during a storm of sign-ins the CPU goes to pages first and hashing takes
/// what is left, so the clinic keeps working while the sign-ins queue. Their own threads
/// (not tokio's blocking pool) also bound the memory Argon2 keeps: one 19 MiB arena per
/// hashing thread, not per blocking thread that ever hashed.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    max_waiting: usize,
    waiting: Arc<AtomicUsize>,
    /// How many hashes ran at once, at most, since start (observability and tests).
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Too many hashes are already queued: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct Busy;

impl From<Busy> for crate::error::AppError {
    fn from(_: Busy) -> Self {
        Self::Busy
    }
}

/// Hashes allowed to wait per permit. One hash takes a few tens of milliseconds on one
/// core, so a full queue drains in well under a second.
const WAITING_PER_PERMIT: usize = 32;

/// How much less CPU priority hashing gets than serving (the nice value added).
const HASHING_NICENESS: i32 = 19;

/// Starts `threads` hashing threads that take jobs until every sender is gone.
fn start_pool(threads: usize) -> std::sync::mpsc::Sender<Job> {
    let (sender, receiver) = std::sync::mpsc::channel::<Job>();
    let receiver = Arc::new(std::sync::Mutex::new(receiver));
    for n in 0..threads {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new().name(format!("password-hash-{n}")).spawn(move || {
            // Linux keeps the nice value per thread. Failing to lower it only costs fairness.
            if rustix::process::nice(HASHING_NICENESS).is_err() {
                tracing::warn!(error.kind = "scheduling", "hashing thread keeps normal priority");
            }
            loop {
                let job = match receiver.lock() {
                    Ok(receiver) => receiver.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        });
        if spawned.is_err() {
            tracing::error!(error.kind = "threads", "a password hashing thread could not start");
        }
    }
    sender
}

impl PasswordHasher {
    /// One permit (and one hashing thread) per core: hashing is CPU-bound.
    pub fn new(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            max_waiting: permits * WAITING_PER_PERMIT,
            waiting: Arc::default(),
            in_flight: Arc::default(),
            peak: Arc::default(),
            jobs: start_pool(permits),
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
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic inside argon2 would be a bug; it surfaces as a failed request
            // rather than taking the hashing thread down.
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = reply.send(result);
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        let result = answer.await;
        drop(running);
        match result {
            Ok(Ok(value)) => Ok(value),
            _ => Err(Busy),
        }
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
    use argon2::password_hash::PasswordHasher as _;

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

    #[test]
    fn hashes_made_by_the_reference_implementation_verify_here_and_the_other_way_round() {
        use argon2::password_hash::PasswordVerifier as _;
        let reference = Argon2::default()
            .hash_password(normalize("same words").as_bytes(), &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        assert!(verify_blocking("same words", &reference));
        assert!(!verify_blocking("other words", &reference));
        let ours = hash_blocking("same words");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(Argon2::default().verify_password(normalize("same words").as_bytes(), &parsed).is_ok());
        let argon2i =
            Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(8_192, 2, 1, None).expect("params"))
                .hash_password(b"legacy", &SaltString::generate(&mut OsRng))
                .expect("hash")
                .to_string();
        assert!(verify_blocking("legacy", &argon2i), "older variants and versions still verify");
        assert!(needs_rehash(&argon2i));
    }
}
