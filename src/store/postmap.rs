//! The embedded engine's two per-post maps, post id -> record and slug -> post, as packed
//! persistent sets (see `packed.rs`) instead of persistent hash maps.
//!
//! A persistent hash map (`imbl::HashMap`, a HAMT) allocates its leaf nodes whole however few
//! entries they hold: measured at 1M entries, 137 bytes an entry for `PostId -> Arc<PostRecord>`
//! (24 bytes of data) and as much for a slug hash -> `PostId`. Packed in sorted blocks, an entry
//! costs its size plus about 1/40: 9 bytes for a post (a pointer; its id is read through it) and
//! 25 for a slug, so the two maps hold a million posts in about 35 MB instead of 270 MB. Lookups
//! are a B-tree descent to the block (O(log n)) and a binary search in it; a change copies one
//! block of at most 64 entries. Post ids are UUIDv7, so new posts are appended at the end of the
//! id order and fill blocks completely.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::domain::PostId;

use super::packed::Packed;
use super::records::PostRecord;

/// A stored post, ordered by its id. The id is read through the pointer: keeping a copy beside
/// it would spare a lookup's binary search (6 steps in a block of 64) a few cache misses, for
/// 16 bytes a post more.
#[derive(Debug, Clone)]
struct Stored(Arc<PostRecord>);

impl Borrow<PostId> for Stored {
    fn borrow(&self) -> &PostId {
        &self.0.id
    }
}

/// Post id -> record.
#[derive(Debug, Clone, Default)]
pub(super) struct PostMap(Packed<PostId, Stored>);

impl PostMap {
    /// The map of `records` in full blocks (sorted first if need be: a snapshot lists them in
    /// id order already); the id of one listed twice is an error.
    pub fn from_records(mut records: Vec<Arc<PostRecord>>) -> Result<Self, PostId> {
        if !records.is_sorted_by_key(|record| record.id) {
            records.sort_unstable_by_key(|record| record.id);
        }
        if let Some(pair) = records.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(pair[0].id);
        }
        Ok(Self(Packed::from_sorted(
            records.into_iter().map(Stored).collect(),
        )))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, id: &PostId) -> Option<&Arc<PostRecord>> {
        self.0.get(id).map(|stored| &stored.0)
    }

    pub fn contains_key(&self, id: &PostId) -> bool {
        self.0.get(id).is_some()
    }

    /// Adds the record, or replaces the one with its id.
    pub fn insert(&mut self, record: Arc<PostRecord>) {
        self.0.put(Stored(record));
    }

    /// Removes and returns the record with this id.
    pub fn remove(&mut self, id: &PostId) -> Option<Arc<PostRecord>> {
        self.0.remove(id).map(|stored| stored.0)
    }

    /// Every record, in id order (creation order, for UUIDv7 ids).
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Arc<PostRecord>> + '_ {
        self.0.iter().map(|stored| &stored.0)
    }
}

/// A slug's hash with the post it names.
#[derive(Debug, Clone, Copy)]
struct Named {
    hash: u64,
    id: PostId,
}

impl Borrow<u64> for Named {
    fn borrow(&self) -> &u64 {
        &self.hash
    }
}

/// Slug hash -> post (the slugs themselves stay in the records: see `State::posts_by_slug`).
#[derive(Debug, Clone, Default)]
pub(super) struct SlugIndex(Packed<u64, Named>);

impl SlugIndex {
    /// The index of `entries` (hash, post), built in one go. Where several posts share a hash,
    /// the first of them (in post id order) is indexed and the others are returned: the caller
    /// keeps those by their whole slug.
    pub fn build(mut entries: Vec<(u64, PostId)>) -> (Self, Vec<PostId>) {
        entries.sort_unstable();
        let mut colliding = Vec::new();
        let mut named: Vec<Named> = Vec::with_capacity(entries.len());
        for (hash, id) in entries {
            match named.last() {
                Some(last) if last.hash == hash => colliding.push(id),
                _ => named.push(Named { hash, id }),
            }
        }
        (Self(Packed::from_sorted(named)), colliding)
    }

    pub fn get(&self, hash: u64) -> Option<PostId> {
        self.0.get(&hash).map(|named| named.id)
    }

    /// Indexes `id` under `hash`, replacing whatever was there.
    pub fn insert(&mut self, hash: u64, id: PostId) {
        self.0.put(Named { hash, id });
    }

    pub fn remove(&mut self, hash: u64) {
        self.0.remove(&hash);
    }
}
