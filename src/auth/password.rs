//! Argon2id password hashing, always on the blocking pool.
//!
//! Hashing costs ~19 MiB and tens of milliseconds of CPU by design; on an actix worker thread it
//! would stall every request multiplexed on that thread, so it runs in `spawn_blocking`.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
use secrecy::{ExposeSecret, SecretString};

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

/// Hashes a new password with a fresh random salt; returns the PHC string.
#[tracing::instrument(name = "hash password", skip_all)]
pub async fn hash(password: Password) -> Result<String, ApiError> {
    actix_web::rt::task::spawn_blocking(move || {
        hasher()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| ApiError::internal(format!("argon2: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks `candidate` against `stored`, or against the dummy hash when there is no account,
/// taking the same time either way. `true` only for a stored hash that matches.
#[tracing::instrument(name = "verify password", skip_all)]
pub async fn verify(candidate: SecretString, stored: Option<String>) -> Result<bool, ApiError> {
    actix_web::rt::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed =
            PasswordHash::new(&phc).map_err(|e| ApiError::internal(format!("stored hash: {e}")))?;
        // Params come from the PHC string, so hashes made with older parameters still verify.
        let matches = hasher()
            .verify_password(candidate.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(p: &str) -> Password {
        Password::parse(SecretString::from(p), &[]).unwrap()
    }

    #[actix_web::test]
    async fn hashes_are_argon2id_owasp_salted_and_verify() {
        let a = hash(password("correct horse battery")).await.unwrap();
        let b = hash(password("correct horse battery")).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "a fresh salt every time");
        assert!(verify("correct horse battery".into(), Some(a.clone()))
            .await
            .unwrap());
        assert!(!verify("correct horse batterY".into(), Some(a))
            .await
            .unwrap());
    }

    #[actix_web::test]
    async fn no_account_never_verifies() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}
