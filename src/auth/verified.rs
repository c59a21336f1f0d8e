//! A bounded cache of tokens whose signature and claims were verified.
//!
//! Verifying an EdDSA signature costs ~50 µs and an RS256 one ~160 µs, and even the whole HS256
//! check ~3 µs (docs/benchmarks.md), while a client sends the same access token with every
//! request for its lifetime. So a verified token is remembered, keyed by its SHA-256 (a forged
//! token cannot collide with a verified one), until its `exp`; finding it costs the hash and a
//! map lookup. What a cached token speaks for is
//! still checked against the store on every request (live session, client not revoked), exactly
//! as for a fresh verification: the cache only skips the cryptography.
//!
//! An entry also records the external provider's key generation: when the provider's keys are
//! replaced (a rotation, or a key withdrawn), entries verified with the old set are not used.

use std::collections::HashMap;

use parking_lot::RwLock;
use sha2::{Digest as _, Sha256};

use super::jwt::Subject;

/// Tokens remembered at most (about 200 bytes each).
pub(crate) const CAPACITY: usize = 16 * 1024;

struct Entry {
    subject: Subject,
    /// The token's `exp` (Unix seconds): unused from then on.
    expires: i64,
    /// The provider's key generation when it was verified.
    generation: u64,
}

pub(crate) struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    /// What the token with `digest` was verified to speak for, if it was, has not expired, and
    /// was verified with the provider's current keys.
    pub fn get(&self, digest: &[u8; 32], now: i64, generation: u64) -> Option<Subject> {
        let entries = self.entries.read();
        let entry = entries.get(digest)?;
        (now < entry.expires && entry.generation == generation).then(|| entry.subject.clone())
    }

    /// Remembers a verified token. When full, expired entries go; if that frees too little,
    /// everything goes (each costs one more verification, and a flood of valid tokens cannot make
    /// this bigger than `capacity`).
    pub fn insert(
        &self,
        digest: [u8; 32],
        subject: Subject,
        expires: i64,
        generation: u64,
        now: i64,
    ) {
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity {
            entries.retain(|_, entry| now < entry.expires);
            if entries.len() >= self.capacity * 3 / 4 {
                entries.clear();
            }
        }
        entries.insert(
            digest,
            Entry {
                subject,
                expires,
                generation,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClientId, Scopes};

    fn subject() -> Subject {
        Subject::Client {
            id: ClientId::new(),
            scopes: Scopes::parse_list("posts:write").unwrap(),
        }
    }

    #[test]
    fn an_entry_is_used_until_its_token_expires_and_only_with_the_same_keys() {
        let cache = VerifiedTokens::new(8);
        let (token, subject) = (digest("a.b.c"), subject());
        cache.insert(token, subject.clone(), 1_000, 3, 900);
        assert_eq!(cache.get(&token, 999, 3), Some(subject));
        assert_eq!(cache.get(&token, 1_000, 3), None, "expired");
        assert_eq!(
            cache.get(&token, 999, 4),
            None,
            "the provider's keys changed"
        );
        assert_eq!(cache.get(&digest("a.b.d"), 999, 3), None, "another token");
    }

    #[test]
    fn it_never_grows_past_its_capacity() {
        let cache = VerifiedTokens::new(8);
        for i in 0..100 {
            cache.insert(digest(&i.to_string()), subject(), 10_000, 0, 0);
            assert!(cache.len() <= 8);
        }
        // Expired entries make room first.
        let cache = VerifiedTokens::new(8);
        for i in 0..7 {
            cache.insert(digest(&i.to_string()), subject(), 50, 0, 0);
        }
        cache.insert(digest("live"), subject(), 10_000, 0, 0);
        cache.insert(digest("new"), subject(), 10_000, 0, 100);
        assert!(cache.get(&digest("live"), 100, 0).is_some());
        assert_eq!(cache.len(), 2);
    }
}
