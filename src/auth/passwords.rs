//! Passwords: argon2id hashing, and the bound on how many hashes run at once.
//!
//! argon2id with the default parameters takes 19 MiB and tens of milliseconds of CPU per hash,
//! by design. Unbounded, a burst of sign-ins exhausts memory; [`PasswordWork`] lets at most N
//! run at once and refuses (503) a request that cannot get a slot within a short wait, so a
//! flood sheds load instead of queueing without end.
//!
//! Each slot also owns its 19 MiB of argon2 memory, made once and reused. Allocating it per
//! hash is what the library does by default, and the system allocator then keeps every freed
//! buffer in the arena of whichever blocking thread ran the hash: memory grew by 19 MiB per
//! thread up to several hundred MiB. With the buffers owned by the slots, hashing memory is
//! N × 19 MiB at most, whatever the load.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::ParamsString;
use argon2::password_hash::{Output, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash as PhcString, Version};
use tokio::sync::Semaphore;

use crate::domain::{Password, PasswordHash};

/// Why password work was not done.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// Every hashing slot stayed taken for the whole wait.
    #[error("too many password checks at once; retry in {} s", retry_after.as_secs())]
    Busy {
        /// A fair time to come back.
        retry_after: Duration,
    },
    /// The hashing thread panicked.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// The working memory of one argon2 computation with the default parameters.
type Memory = Vec<Block>;

/// Runs argon2 on the blocking pool, at most `concurrency` at once, each in a reused buffer.
#[derive(Debug, Clone)]
pub struct PasswordWork {
    slots: Arc<Semaphore>,
    /// One buffer per slot in use so far; a caller holding a permit always finds one or makes
    /// the first.
    memory: Arc<std::sync::Mutex<Vec<Memory>>>,
    wait: Duration,
}

impl PasswordWork {
    /// At most `concurrency` (at least 1) hashes at once; a caller waits at most `wait` for a
    /// slot.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            memory: Arc::default(),
            wait,
        }
    }

    /// Hashes a new password.
    ///
    /// # Errors
    /// [`HashingError::Busy`] when no slot frees up in time.
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, HashingError> {
        self.run(move |memory| hash_in(&password, memory)).await
    }

    /// Checks `password` against `hash`.
    ///
    /// # Errors
    /// [`HashingError::Busy`] when no slot frees up in time.
    pub async fn verify(&self, password: String, hash: PasswordHash) -> Result<bool, HashingError> {
        self.run(move |memory| verify_in(&password, &hash, memory))
            .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let Ok(Ok(permit)) =
            tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        else {
            metrics::counter!("quickfix_password_hashing_refused_total").increment(1);
            return Err(HashingError::Busy {
                retry_after: Duration::from_secs(1),
            });
        };
        let pool = self.memory.clone();
        let mut memory = lock(&pool).pop().unwrap_or_default();
        let result = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            // Back before the permit goes, so the next holder finds it.
            lock(&pool).push(memory);
            drop(permit);
            result
        })
        .await;
        result.map_err(|e| HashingError::Failed(e.to_string()))
    }
}

/// The number of CPUs this process may use (1 when unknown).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

fn lock(pool: &std::sync::Mutex<Vec<Memory>>) -> std::sync::MutexGuard<'_, Vec<Memory>> {
    // A panic while holding the lock leaves a valid Vec: keep using it.
    pool.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Hashes a password with argon2id and a random salt. CPU-heavy: call from a blocking thread.
/// Allocates its own working memory; [`PasswordWork`] reuses one buffer per slot instead.
pub fn hash_password(password: &Password) -> PasswordHash {
    hash_in(password, &mut Vec::new())
}

/// argon2id with the default parameters, computed in `memory` (grown to size on first use), as
/// a PHC string the standard verifier accepts.
fn hash_in(password: &Password, memory: &mut Memory) -> PasswordHash {
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt
        .decode_b64(&mut salt_bytes)
        .expect("BUG: a generated salt decodes");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&params, password.expose(), raw_salt, &mut out, memory)
        .expect("BUG: argon2 with default parameters failed");
    let phc = PhcString {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("BUG: default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("BUG: a 32-byte output is valid")),
    };
    PasswordHash::from_phc(phc.to_string())
}

/// Checks `password` against `hash` in `memory`. A hash with parameters other than the
/// defaults (made elsewhere) is checked the standard way.
fn verify_in(password: &str, hash: &PasswordHash, memory: &mut Memory) -> bool {
    let Ok(phc) = PhcString::new(hash.as_str()) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (phc.salt, phc.hash) else {
        return false;
    };
    let defaults = Params::default();
    let ours = phc.algorithm == argon2::ARGON2ID_IDENT
        && phc.version == Some(Version::V0x13.into())
        && Params::try_from(&phc).is_ok_and(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                == (defaults.m_cost(), defaults.t_cost(), defaults.p_cost())
        });
    if !ours {
        return verify_password(password, hash);
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(raw_salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    compute(&defaults, password, raw_salt, &mut out, memory).is_ok()
        && Output::new(&out).is_ok_and(|actual| actual == expected)
}

fn compute(
    params: &Params,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Memory,
) -> argon2::Result<()> {
    let blocks = params.block_count();
    if memory.len() != blocks {
        memory.resize(blocks, Block::default());
    }
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, memory.as_mut_slice())
}

/// Checks `password` against a stored hash. CPU-heavy: call from a blocking thread.
pub fn verify_password(password: &str, hash: &PasswordHash) -> bool {
    PhcString::new(hash.as_str()).is_ok_and(|phc| {
        Argon2::default()
            .verify_password(password.as_bytes(), &phc)
            .is_ok()
    })
}

/// A hash of a password nobody has, checked when an email is unknown so that a failed login
/// takes as long whether or not the account exists.
pub fn decoy_hash() -> &'static PasswordHash {
    static DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        hash_password(&Password::parse("decoy-password-never-used").expect("BUG: decoy is valid"))
    })
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::PasswordHasher;

    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password(&Password::parse("correct horse").unwrap());
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password(
            "correct horse",
            &PasswordHash::from_phc("garbage".into())
        ));
    }

    #[test]
    fn slot_hashes_and_standard_hashes_verify_each_other() {
        let mut memory = Vec::new();
        let ours = hash_in(&Password::parse("correct horse").unwrap(), &mut memory);
        assert!(
            verify_password("correct horse", &ours),
            "the standard verifier accepts ours"
        );
        assert!(!verify_password("wrong horse", &ours));
        let standard = {
            let salt = SaltString::generate(&mut OsRng);
            let phc = Argon2::default()
                .hash_password(b"correct horse", &salt)
                .unwrap()
                .to_string();
            PasswordHash::from_phc(phc)
        };
        assert!(verify_in("correct horse", &standard, &mut memory));
        assert!(!verify_in("wrong horse", &standard, &mut memory));
        assert!(verify_in("correct horse", &ours, &mut memory));
        // Other parameters are still checked, the standard way.
        let cheap = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let other =
            PasswordHash::from_phc(cheap.hash_password(b"pw123456", &salt).unwrap().to_string());
        assert!(verify_in("pw123456", &other, &mut memory));
        assert!(!verify_in("pw1234567", &other, &mut memory));
        assert!(!verify_in(
            "x",
            &PasswordHash::from_phc("garbage".into()),
            &mut memory
        ));
    }

    #[tokio::test]
    async fn a_caller_that_cannot_get_a_slot_in_time_is_refused() {
        let work = PasswordWork::new(1, Duration::from_millis(20));
        let held = work.slots.clone().acquire_owned().await.unwrap();
        let refused = work.verify("whatever1".into(), decoy_hash().clone()).await;
        assert!(
            matches!(refused, Err(HashingError::Busy { .. })),
            "{refused:?}"
        );
        drop(held);
        assert!(
            !work
                .verify("whatever1".into(), decoy_hash().clone())
                .await
                .unwrap()
        );
    }
}
