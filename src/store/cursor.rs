//! Opaque page cursors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::DateTime;

use crate::domain::{PostId, Timestamp};

use super::state::PostKey;

/// Where a page of posts ends: the last post's (created_at, id). Clients see it as an opaque
/// string; its format may change without notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostCursor {
    created_at: Timestamp,
    id: PostId,
}

impl PostCursor {
    pub fn new(created_at: Timestamp, id: PostId) -> Self {
        Self { created_at, id }
    }

    pub(super) fn key(&self) -> PostKey {
        (self.created_at, self.id)
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}.{}",
            self.created_at.timestamp_millis(),
            self.id
        ))
    }

    /// `None` for anything [`PostCursor::encode`] did not produce.
    pub fn decode(cursor: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (millis, id) = text.split_once('.')?;
        Some(Self {
            created_at: DateTime::from_timestamp_millis(millis.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = PostCursor::new(crate::domain::now(), PostId::new());
        assert_eq!(PostCursor::decode(&cursor.encode()), Some(cursor));
        for garbage in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("1.not-a-uuid"),
        ] {
            assert_eq!(PostCursor::decode(garbage), None, "{garbage}");
        }
    }
}
