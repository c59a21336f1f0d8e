//! Refresh tokens (256 random bits with their session, generation and a MAC; stored only as a
//! SHA-256 hash), how long they keep a session alive ([`SessionPolicy`]), and the opaque secrets
//! of API clients.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::domain::{SessionId, Timestamp};

/// A new opaque secret (256 random bits, base64url) and the SHA-256 hash to store for it. Used
/// for API client secrets; refresh tokens are [`RefreshToken`].
pub fn opaque_secret() -> (SecretString, [u8; 32]) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_hash(&secret);
    (SecretString::from(secret), hash)
}

/// SHA-256 of a presented secret, to compare with a stored hash (in constant time).
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A refresh token as given to the client: `base64url(session id || generation || 32 random
/// bytes || MAC)`, 96 characters.
///
/// The session id and generation let the store recognise any earlier token of the session in
/// constant space: it keeps only the current generation and the hash of the current token. The
/// MAC (HMAC-SHA-256 under the session's family key, truncated to 128 bits) proves a token of an
/// earlier generation was really issued for the session, so knowing a session id is not enough
/// to get it revoked. The random part is what makes the current token unguessable; only its
/// hash is stored, so even a copy of the store cannot make a current token.
pub struct RefreshToken(SecretString);

const SESSION: usize = 16;
const GENERATION: usize = 8;
const RANDOM: usize = 32;
const MAC: usize = 16;
const BODY: usize = SESSION + GENERATION + RANDOM;
const TOKEN: usize = BODY + MAC;

/// A new random family key for a session's refresh tokens.
pub fn family_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the OS random source works");
    key
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length")
}

/// What a presented refresh token claims: its session and generation, and the hash to compare
/// with the stored one. Nothing here is trusted until [`Presented::issued_with`] says so.
pub struct Presented {
    pub session: SessionId,
    pub generation: u64,
    pub hash: [u8; 32],
    body: [u8; BODY],
    tag: [u8; MAC],
}

impl Presented {
    /// Whether the token carries a valid MAC under the session's family key (constant time).
    pub fn issued_with(&self, family_key: &[u8; 32]) -> bool {
        let mut mac = mac(family_key);
        mac.update(&self.body);
        mac.verify_truncated_left(&self.tag).is_ok()
    }
}

impl RefreshToken {
    /// The token of `generation` for `session`, with fresh randomness.
    pub fn issue(session: SessionId, generation: u64, family_key: &[u8; 32]) -> Self {
        let mut bytes = [0u8; TOKEN];
        bytes[..SESSION].copy_from_slice(session.as_uuid().as_bytes());
        bytes[SESSION..SESSION + GENERATION].copy_from_slice(&generation.to_be_bytes());
        getrandom::fill(&mut bytes[SESSION + GENERATION..BODY])
            .expect("the OS random source works");
        let mut mac = mac(family_key);
        mac.update(&bytes[..BODY]);
        bytes[BODY..].copy_from_slice(&mac.finalize().into_bytes()[..MAC]);
        Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn from_client(token: SecretString) -> Self {
        Self(token)
    }

    /// Its parts, if it has the shape of one of ours.
    pub fn parse(&self) -> Option<Presented> {
        let text = self.0.expose_secret();
        // 72 bytes are 96 base64 characters; anything else is not ours (checked before decoding).
        if text.len() != TOKEN.div_ceil(3) * 4 {
            return None;
        }
        let bytes: [u8; TOKEN] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        let session = uuid::Uuid::from_bytes(bytes[..SESSION].try_into().ok()?);
        let generation = u64::from_be_bytes(bytes[SESSION..SESSION + GENERATION].try_into().ok()?);
        Some(Presented {
            session: SessionId::from(session),
            generation,
            hash: self.hash(),
            body: bytes[..BODY].try_into().ok()?,
            tag: bytes[BODY..].try_into().ok()?,
        })
    }

    /// What the store keeps. A fast hash is enough: the token has 256 random bits, so there is
    /// nothing to brute-force.
    pub fn hash(&self) -> [u8; 32] {
        secret_hash(self.0.expose_secret())
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// How long a session lasts without a refresh: its refresh token's lifetime
/// (`BLOG_REFRESH_TOKEN_TTL`), counted again from each refresh. All that signup, login and
/// refresh need to know of the settings; app data, built once at startup.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    refresh_ttl: chrono::Duration,
}

impl SessionPolicy {
    pub fn new(refresh_ttl: std::time::Duration) -> Self {
        Self {
            refresh_ttl: chrono::Duration::from_std(refresh_ttl)
                .unwrap_or(chrono::Duration::days(30)),
        }
    }

    /// When a refresh token issued now expires.
    pub fn refresh_expires_at(&self) -> Timestamp {
        crate::domain::now() + self.refresh_ttl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_session_and_generation_and_hash_stably() {
        let key = family_key();
        let session = SessionId::new();
        let a = RefreshToken::issue(session, 7, &key);
        let b = RefreshToken::issue(session, 7, &key);
        assert_eq!(a.expose().len(), 96);
        assert_ne!(a.expose(), b.expose(), "fresh randomness each time");
        let presented = RefreshToken::from_client(a.expose().into())
            .parse()
            .unwrap();
        assert_eq!(presented.session, session);
        assert_eq!(presented.generation, 7);
        assert_eq!(presented.hash, a.hash());
        assert!(presented.issued_with(&key));
        assert!(!presented.issued_with(&family_key()));
    }

    #[test]
    fn a_forged_generation_fails_the_mac() {
        let key = family_key();
        let token = RefreshToken::issue(SessionId::new(), 9, &key);
        let mut bytes = URL_SAFE_NO_PAD.decode(token.expose()).unwrap();
        bytes[SESSION + GENERATION - 1] = 3;
        let forged = RefreshToken::from_client(URL_SAFE_NO_PAD.encode(bytes).into());
        let presented = forged.parse().unwrap();
        assert_eq!(presented.generation, 3);
        assert!(!presented.issued_with(&key));
    }

    #[test]
    fn other_shapes_are_not_ours() {
        for text in ["", "short", &"A".repeat(43), &"!".repeat(96)] {
            assert!(
                RefreshToken::from_client(text.into()).parse().is_none(),
                "{text}"
            );
        }
    }
}
