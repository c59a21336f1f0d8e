//! Opaque page cursors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::DateTime;

use uuid::Uuid;

use crate::domain::{PostId, Timestamp};

/// Where a post sits in a list: newest first is reverse order of this key (its `published_at`,
/// or for a draft its creation time, then its id).
pub type PostKey = (Timestamp, PostId);

/// Where a page ends: the last item's (created_at, id). Clients see it as an opaque string; its
/// format may change without notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    created_at: Timestamp,
    id: Uuid,
}

impl Cursor {
    pub fn new(created_at: Timestamp, id: impl Into<Uuid>) -> Self {
        Self {
            created_at,
            id: id.into(),
        }
    }

    /// The index key this cursor stands for, for an index keyed by `(created_at, I)`.
    pub(super) fn key<I: From<Uuid>>(&self) -> (Timestamp, I) {
        (self.created_at, I::from(self.id))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}.{}",
            self.created_at.timestamp_millis(),
            self.id
        ))
    }

    /// `None` for anything [`Cursor::encode`] did not produce.
    pub fn decode(cursor: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (millis, id) = text.split_once('.')?;
        Some(Self {
            created_at: DateTime::from_timestamp_millis(in_range(millis.parse().ok()?)?)?,
            id: id.parse().ok()?,
        })
    }
}

/// Milliseconds from 1970 to the end of 9999, what both engines can store; a cursor beyond that
/// was not made here.
pub(super) fn in_range(millis: i64) -> Option<i64> {
    (0..=253_402_300_799_999)
        .contains(&millis)
        .then_some(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let cursor = Cursor::new(crate::domain::now(), Uuid::now_v7());
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for garbage in [
            "",
            "!!",
            "bm90IGEgY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("1.not-a-uuid"),
        ] {
            assert_eq!(Cursor::decode(garbage), None, "{garbage}");
        }
    }
}
