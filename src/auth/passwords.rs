//! Passwords: argon2id hashing, and the bound on how many hashes run at once.
//!
//! argon2id with the default parameters takes 19 MiB and tens of milliseconds of CPU per hash,
//! by design. Unbounded, a burst of sign-ins exhausts memory; [`PasswordWork`] lets at most N
//! run at once and refuses (503) a request that cannot get a slot within a short wait, so a
//! flood sheds load instead of queueing without end.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash as PhcString};
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

/// Runs argon2 on the blocking pool, at most `concurrency` at once.
#[derive(Debug, Clone)]
pub struct PasswordWork {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordWork {
    /// At most `concurrency` (at least 1) hashes at once; a caller waits at most `wait` for a
    /// slot.
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
        }
    }

    /// Hashes a new password.
    ///
    /// # Errors
    /// [`HashingError::Busy`] when no slot frees up in time.
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, HashingError> {
        self.run(move || hash_password(&password)).await
    }

    /// Checks `password` against `hash`.
    ///
    /// # Errors
    /// [`HashingError::Busy`] when no slot frees up in time.
    pub async fn verify(&self, password: String, hash: PasswordHash) -> Result<bool, HashingError> {
        self.run(move || verify_password(&password, &hash)).await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let Ok(Ok(permit)) =
            tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await
        else {
            metrics::counter!("quickfix_password_hashing_refused_total").increment(1);
            return Err(HashingError::Busy {
                retry_after: Duration::from_secs(1),
            });
        };
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await;
        result.map_err(|e| HashingError::Failed(e.to_string()))
    }
}

/// The number of CPUs this process may use (1 when unknown).
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Hashes a password with argon2id and a random salt. CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &Password) -> PasswordHash {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .expect("BUG: argon2 with default parameters failed")
        .to_string();
    PasswordHash::from_phc(phc)
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
