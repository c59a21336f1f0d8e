//! Argon2id password hashing, always on the blocking pool.
//!
//! Hashing costs ~19 MiB and tens of milliseconds of CPU by design; on an actix worker thread it
//! would stall every request multiplexed on that thread, so it runs in `spawn_blocking`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::domain::Password;
use crate::error::ApiError;

/// OWASP's argon2id minimum: m=19456 KiB, t=2, p=1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("OWASP parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A real hash of a random password, verified against when the account does not exist, so an
/// unknown email costs the same time as a wrong password. Built once, at startup (see
/// [`warm_up`]), never during a request that could be timed.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).expect("the OS random source works");
    hasher()
        .hash_password(&random)
        .expect("hashing a fixed-size input works")
        .to_string()
});

/// Computes the dummy hash now.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// Runs argon2id on the blocking pool, at most `concurrency` at a time.
///
/// Each hash takes 19 MiB and a core for tens of milliseconds: without a cap, a login storm would
/// take every core and a lot of memory from the requests that only read. Callers beyond the cap
/// wait in a bounded queue; beyond that they get 503 at once, before any work is done.
pub struct PasswordHasher {
    slots: Arc<Semaphore>,
    queue_limit: usize,
    waiting: AtomicUsize,
}

/// Counts a caller as waiting until it is dropped (also when its request is cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    pub fn new(concurrency: usize, queue_limit: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            queue_limit,
            waiting: AtomicUsize::new(0),
        }
    }

    async fn slot(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let _waiting = Waiting(&self.waiting);
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue_limit {
            return Err(ApiError::Overloaded);
        }
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(ApiError::internal)
    }

    /// Runs `job` on the blocking pool holding a slot; the slot is released when the job ends,
    /// even if the request that asked for it has gone.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self.slot().await?;
        actix_web::rt::task::spawn_blocking(move || {
            let result = job();
            drop(permit);
            result
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Hashes a new password with a fresh random salt; returns the PHC string.
    #[tracing::instrument(name = "hash password", skip_all)]
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move || {
            hasher()
                .hash_password(password.expose().as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| ApiError::internal(format!("argon2: {e}")))
        })
        .await
    }

    /// Checks `candidate` against `stored`, or against the dummy hash when there is no account,
    /// taking the same time either way. `true` only for a stored hash that matches.
    #[tracing::instrument(name = "verify password", skip_all)]
    pub async fn verify(
        &self,
        candidate: SecretString,
        stored: Option<String>,
    ) -> Result<bool, ApiError> {
        self.run(move || {
            let known = stored.is_some();
            let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| ApiError::internal(format!("stored hash: {e}")))?;
            // Params come from the PHC string, so hashes made with older parameters still verify.
            let matches = hasher()
                .verify_password(candidate.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(known && matches)
        })
        .await
    }

    /// Hashes at startup (the admin account), outside any request.
    pub fn hash_now(password: &Password) -> Result<String, String> {
        hasher()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(p: &str) -> Password {
        Password::parse(SecretString::from(p), &[]).unwrap()
    }

    #[actix_web::test]
    async fn hashes_are_argon2id_owasp_salted_and_verify() {
        let hasher = PasswordHasher::new(2, 8);
        let a = hasher
            .hash(password("correct horse battery"))
            .await
            .unwrap();
        let b = hasher
            .hash(password("correct horse battery"))
            .await
            .unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt every time");
        assert!(hasher
            .verify("correct horse battery".into(), Some(a.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify("correct horse batterY".into(), Some(a))
            .await
            .unwrap());
    }

    #[actix_web::test]
    async fn no_account_never_verifies() {
        assert!(!PasswordHasher::new(1, 1)
            .verify("anything at all".into(), None)
            .await
            .unwrap());
    }

    #[actix_web::test]
    async fn callers_beyond_the_queue_are_turned_away_at_once() {
        let hasher = Arc::new(PasswordHasher::new(1, 1));
        let held = hasher.slot().await.unwrap(); // the only slot
        let queued = {
            let hasher = Arc::clone(&hasher);
            actix_web::rt::spawn(async move { hasher.verify("queued one".into(), None).await })
        };
        while hasher.waiting.load(Ordering::SeqCst) == 0 {
            actix_web::rt::task::yield_now().await;
        }
        let refused = hasher.verify("one too many".into(), None).await;
        assert!(matches!(refused, Err(ApiError::Overloaded)), "{refused:?}");
        drop(held);
        assert!(
            !queued.await.unwrap().unwrap(),
            "the queued caller still gets its answer"
        );
        assert_eq!(hasher.waiting.load(Ordering::SeqCst), 0);
    }
}
