//! Opaque refresh tokens: 256 random bits, handed out once, stored only as a SHA-256 hash.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A new opaque secret (256 random bits, base64url) and the SHA-256 hash to store for it. Used
/// for API client secrets; refresh tokens are [`RefreshToken`].
pub fn opaque_secret() -> (SecretString, [u8; 32]) {
    let token = RefreshToken::generate();
    let hash = token.hash();
    (token.0, hash)
}

/// SHA-256 of a presented secret, to compare with a stored hash (in constant time).
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A refresh token as given to the client.
pub struct RefreshToken(SecretString);

impl RefreshToken {
    /// A new random token (32 bytes from the OS, base64url: 43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the OS random source works");
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn from_client(token: SecretString) -> Self {
        Self(token)
    }

    /// What the store keeps. A fast hash is enough: the token has 256 bits of entropy, so there
    /// is nothing to brute-force, and lookup by hash needs no comparison of secrets.
    pub fn hash(&self) -> [u8; 32] {
        secret_hash(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let a = RefreshToken::generate();
        let b = RefreshToken::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(
            a.hash(),
            RefreshToken::from_client(a.expose().into()).hash()
        );
    }
}
