//! `Packed`: a persistent sorted set packed in blocks, for the embedded engine's large indexes
//! (the search postings, the post timelines). Cloning costs a reference count; a change copies
//! one block (at most [`BLOCK`] entries) and the persistent B-tree path to it. Ascending inserts
//! (new posts are the newest) fill blocks completely, and a set built from sorted items is cut
//! into full blocks in one go: an entry costs its own size plus about 1/40 of it, where a
//! persistent B-tree of the entries leaves its nodes half to two-thirds full.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use imbl::OrdMap;

/// Most entries in one block.
pub(super) const BLOCK: usize = 64;

/// A persistent sorted set of `T`, ordered by the key `K` each `T` borrows, packed in blocks:
/// small sets inline or in one block, larger ones as blocks in a persistent B-tree. Cloning
/// costs a reference count; a change copies one block (at most [`BLOCK`] entries) and the
/// B-tree path to it.
#[derive(Clone, Default)]
pub(super) enum Packed<K, T> {
    #[default]
    Empty,
    One(T),
    /// 2..=BLOCK entries, sorted.
    Block(Arc<[T]>),
    /// At least two blocks.
    Tree(Arc<Blocks<K, T>>),
}

/// Blocks by their first key; every block is non-empty and sorted, and blocks do not overlap.
#[derive(Clone)]
pub(super) struct Blocks<K, T> {
    blocks: OrdMap<K, Arc<[T]>>,
    len: usize,
}

fn key_of<K, T: Borrow<K>>(item: &T) -> &K {
    item.borrow()
}

/// The keys up to and including `key`. Bounds are owned: a pair of `Bound<&K>` would match two
/// `RangeBounds` impls (of `K` and of `&K`), which `OrdMap::range` cannot choose between.
fn at_or_before<K: Clone>(key: &K) -> (Bound<K>, Bound<K>) {
    (Bound::Unbounded, Bound::Included(key.clone()))
}

/// `binary_search` of `key` in a sorted block.
fn find<K: Ord, T: Borrow<K>>(block: &[T], key: &K) -> Result<usize, usize> {
    block.binary_search_by(|item| key_of::<K, T>(item).cmp(key))
}

/// How many entries of a sorted block are below `bound`.
fn below_in<K: Ord, T: Borrow<K>>(block: &[T], bound: Option<&K>) -> usize {
    match bound {
        Some(bound) => block.partition_point(|item| key_of::<K, T>(item) < bound),
        None => block.len(),
    }
}

impl<K: Ord + Clone + 'static, T: Clone + Borrow<K> + 'static> Packed<K, T> {
    /// The set of `items`, which are sorted, distinct and at most [`BLOCK`].
    pub(super) fn from_items(mut items: Vec<T>) -> Self {
        match items.len() {
            0 => Self::Empty,
            1 => Self::One(items.pop().expect("one item")),
            _ => Self::Block(items.into()),
        }
    }

    /// The set of `items`, which are sorted and distinct, in full blocks.
    pub(super) fn from_sorted(items: Vec<T>) -> Self {
        if items.len() <= BLOCK {
            return Self::from_items(items);
        }
        let blocks = items
            .chunks(BLOCK)
            .map(|block| (key_of::<K, T>(&block[0]).clone(), Arc::from(block)))
            .collect();
        Self::Tree(Arc::new(Blocks {
            blocks,
            len: items.len(),
        }))
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::One(_) => 1,
            Self::Block(block) => block.len(),
            Self::Tree(tree) => tree.len,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(super) fn get(&self, key: &K) -> Option<&T> {
        match self {
            Self::Empty => None,
            Self::One(item) => (key_of::<K, T>(item) == key).then_some(item),
            Self::Block(block) => find(&block[..], key).ok().map(|at| &block[at]),
            Self::Tree(tree) => tree.get(key),
        }
    }

    /// Adds `item`; `false` if an entry with its key is already there.
    pub(super) fn insert(&mut self, item: T) -> bool {
        match self {
            Self::Empty => {
                *self = Self::One(item);
                true
            }
            Self::One(existing) => {
                let pair = match key_of::<K, T>(existing).cmp(key_of::<K, T>(&item)) {
                    Ordering::Equal => return false,
                    Ordering::Less => vec![existing.clone(), item],
                    Ordering::Greater => vec![item, existing.clone()],
                };
                *self = Self::Block(pair.into());
                true
            }
            Self::Block(block) => {
                let at = match find(&block[..], key_of::<K, T>(&item)) {
                    Ok(_) => return false,
                    Err(at) => at,
                };
                let items = with_inserted(&block[..], at, item);
                if items.len() <= BLOCK {
                    *block = items.into();
                } else {
                    let mut tree = Blocks {
                        blocks: OrdMap::new(),
                        len: items.len(),
                    };
                    tree.put(items, at);
                    *self = Self::Tree(Arc::new(tree));
                }
                true
            }
            Self::Tree(tree) => Arc::make_mut(tree).insert(item),
        }
    }

    /// Adds `item`, or replaces the entry with its key (changed in place: one block copied).
    pub(super) fn put(&mut self, item: T) {
        match self.get_mut(key_of::<K, T>(&item)) {
            Some(entry) => *entry = item,
            None => {
                self.insert(item);
            }
        }
    }

    /// Removes the entry with `key` and returns it; `None` if there is none.
    pub(super) fn remove(&mut self, key: &K) -> Option<T> {
        match self {
            Self::Empty => None,
            Self::One(item) => {
                if key_of::<K, T>(item) != key {
                    return None;
                }
                match std::mem::take(self) {
                    Self::One(item) => Some(item),
                    _ => unreachable!("this is a set of one"),
                }
            }
            Self::Block(block) => {
                let at = find(&block[..], key).ok()?;
                let mut items = block.to_vec();
                let item = items.remove(at);
                *self = Self::from_items(items);
                Some(item)
            }
            Self::Tree(tree) => {
                let tree = Arc::make_mut(tree);
                let item = tree.remove(key)?;
                if tree.blocks.len() == 1 {
                    let last = tree.blocks.iter().next().map(|(_, block)| block.to_vec());
                    *self = Self::from_items(last.unwrap_or_default());
                }
                Some(item)
            }
        }
    }

    /// The entry with `key`, to be changed in place (its block is copied first if another
    /// version shares it). The change must keep the entry's key.
    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut T> {
        match self {
            Self::Empty => None,
            Self::One(item) => (key_of::<K, T>(item) == key).then_some(item),
            Self::Block(block) => {
                let at = find(&block[..], key).ok()?;
                Some(&mut Arc::make_mut(block)[at])
            }
            Self::Tree(tree) => {
                // Found before anything is copied: a miss changes nothing.
                let (first, at) = tree.find(key)?;
                let block = Arc::make_mut(tree)
                    .blocks
                    .get_mut(&first)
                    .expect("the block was just found");
                Some(&mut Arc::make_mut(block)[at])
            }
        }
    }

    /// The entries whose key is below `bound` (all of them for `None`), greatest first.
    pub(super) fn below(&self, bound: Option<K>) -> Box<dyn Iterator<Item = &T> + '_> {
        match self {
            Self::Empty => Box::new(std::iter::empty()),
            Self::One(item) => Box::new(
                std::iter::once(item)
                    .filter(move |item| bound.as_ref().is_none_or(|b| key_of::<K, T>(*item) < b)),
            ),
            Self::Block(block) => {
                let end = below_in(&block[..], bound.as_ref());
                Box::new(block[..end].iter().rev())
            }
            Self::Tree(tree) => {
                let end = match &bound {
                    Some(bound) => Bound::Excluded(bound.clone()),
                    None => Bound::Unbounded,
                };
                Box::new(tree.blocks.range((Bound::Unbounded, end)).rev().flat_map(
                    move |(_, block)| {
                        let end = below_in(&block[..], bound.as_ref());
                        block[..end].iter().rev()
                    },
                ))
            }
        }
    }
}

impl<K: Ord + Clone + 'static, T: Clone + Borrow<K> + 'static> Packed<K, T> {
    /// The entries whose keys are in `range`, ascending (`.rev()` for descending).
    pub(super) fn range(
        &self,
        range: impl RangeBounds<K>,
    ) -> Box<dyn DoubleEndedIterator<Item = &T> + '_> {
        let (start, end) = (range.start_bound().cloned(), range.end_bound().cloned());
        if inverted(&start, &end) {
            return Box::new(std::iter::empty());
        }
        match self {
            Self::Empty => Box::new(std::iter::empty()),
            Self::One(item) => Box::new(clip(std::slice::from_ref(item), &start, &end).iter()),
            Self::Block(block) => Box::new(clip(&block[..], &start, &end).iter()),
            Self::Tree(tree) => {
                // From the block holding the start (the last one beginning at or before it) to
                // the last block beginning within the end.
                let first = match &start {
                    Bound::Included(key) | Bound::Excluded(key) => tree
                        .blocks
                        .range(at_or_before(key))
                        .next_back()
                        .map_or(Bound::Unbounded, |(first, _)| {
                            Bound::Included(first.clone())
                        }),
                    Bound::Unbounded => Bound::Unbounded,
                };
                if inverted(&first, &end) {
                    return Box::new(std::iter::empty());
                }
                Box::new(
                    tree.blocks
                        .range((first, end.clone()))
                        .flat_map(move |(_, block)| clip(&block[..], &start, &end).iter()),
                )
            }
        }
    }

    /// Every entry, ascending.
    pub(super) fn iter(&self) -> Box<dyn DoubleEndedIterator<Item = &T> + '_> {
        self.range((Bound::<K>::Unbounded, Bound::<K>::Unbounded))
    }
}

impl<K, T: std::fmt::Debug> std::fmt::Debug for Packed<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = match self {
            Self::Empty => 0,
            Self::One(_) => 1,
            Self::Block(block) => block.len(),
            Self::Tree(tree) => tree.len,
        };
        f.debug_struct("Packed").field("len", &len).finish()
    }
}

/// Whether no key can lie between `start` and `end` (a range `OrdMap::range` would refuse).
fn inverted<K: Ord>(start: &Bound<K>, end: &Bound<K>) -> bool {
    match (start, end) {
        (Bound::Included(start), Bound::Included(end)) => start > end,
        (Bound::Included(start) | Bound::Excluded(start), Bound::Excluded(end))
        | (Bound::Excluded(start), Bound::Included(end)) => start >= end,
        _ => false,
    }
}

/// The part of the sorted `block` within the bounds.
fn clip<'a, K: Ord, T: Borrow<K>>(block: &'a [T], start: &Bound<K>, end: &Bound<K>) -> &'a [T] {
    let from = match start {
        Bound::Included(key) => block.partition_point(|item| key_of::<K, T>(item) < key),
        Bound::Excluded(key) => block.partition_point(|item| key_of::<K, T>(item) <= key),
        Bound::Unbounded => 0,
    };
    let to = match end {
        Bound::Included(key) => block.partition_point(|item| key_of::<K, T>(item) <= key),
        Bound::Excluded(key) => block.partition_point(|item| key_of::<K, T>(item) < key),
        Bound::Unbounded => block.len(),
    };
    &block[from..to.max(from)]
}

/// `block` with `item` inserted at `at`.
fn with_inserted<T: Clone>(block: &[T], at: usize, item: T) -> Vec<T> {
    let mut items = Vec::with_capacity(block.len() + 1);
    items.extend_from_slice(&block[..at]);
    items.push(item);
    items.extend_from_slice(&block[at..]);
    items
}

impl<K: Ord + Clone, T: Clone + Borrow<K>> Blocks<K, T> {
    /// The block holding, or due to hold, `key`: the last one starting at or before it, else
    /// the first.
    fn block_for(&self, key: &K) -> (K, Arc<[T]>) {
        let (first, block) = self
            .blocks
            .range(at_or_before(key))
            .next_back()
            .or_else(|| self.blocks.iter().next())
            .expect("a tree holds blocks");
        (first.clone(), Arc::clone(block))
    }

    fn get(&self, key: &K) -> Option<&T> {
        let (_, block) = self.blocks.range(at_or_before(key)).next_back()?;
        find(&block[..], key).ok().map(|at| &block[at])
    }

    /// The first key of the block holding `key`, and its place there.
    fn find(&self, key: &K) -> Option<(K, usize)> {
        let (first, block) = self.blocks.range(at_or_before(key)).next_back()?;
        find(&block[..], key).ok().map(|at| (first.clone(), at))
    }

    fn insert(&mut self, item: T) -> bool {
        let (first, block) = self.block_for(key_of::<K, T>(&item));
        let at = match find(&block[..], key_of::<K, T>(&item)) {
            Ok(_) => return false,
            Err(at) => at,
        };
        if at == 0 {
            // Only before the first block: it gets a new first key.
            self.blocks.remove(&first);
        }
        self.put(with_inserted(&block[..], at, item), at);
        self.len += 1;
        true
    }

    /// Stores the sorted `items` (one block's worth plus at most one, the new one at `at`),
    /// split in two when over [`BLOCK`]. The split puts the new item last in the left block:
    /// for the usual run of ascending inserts the left block stays full and the run continues
    /// in the right one, so blocks fill completely instead of being left half empty. It never
    /// leaves fewer than a quarter of a block on the left.
    fn put(&mut self, mut items: Vec<T>, at: usize) {
        if items.len() > BLOCK {
            let right = items.split_off((at + 1).clamp(BLOCK / 4, BLOCK));
            self.blocks
                .insert(key_of::<K, T>(&right[0]).clone(), right.into());
        }
        self.blocks
            .insert(key_of::<K, T>(&items[0]).clone(), items.into());
    }

    fn remove(&mut self, key: &K) -> Option<T> {
        let (first, block) = self
            .blocks
            .range(at_or_before(key))
            .next_back()
            .map(|(first, block)| (first.clone(), Arc::clone(block)))?;
        let at = find(&block[..], key).ok()?;
        self.blocks.remove(&first);
        self.len -= 1;
        let mut items = block.to_vec();
        let removed = items.remove(at);
        // A block down to a quarter joins a neighbour with room, so that removals do not leave
        // a trail of nearly empty blocks.
        if items.len() < BLOCK / 4 {
            let next = self
                .blocks
                .range((Bound::Excluded(first.clone()), Bound::Unbounded))
                .next()
                .map(|(first, block)| (first.clone(), Arc::clone(block)))
                .filter(|(_, block)| block.len() + items.len() <= BLOCK);
            let previous = self
                .blocks
                .range((Bound::Unbounded, Bound::Excluded(first.clone())))
                .next_back()
                .map(|(first, block)| (first.clone(), Arc::clone(block)))
                .filter(|(_, block)| block.len() + items.len() <= BLOCK);
            if let Some((next_first, next)) = next {
                self.blocks.remove(&next_first);
                items.extend_from_slice(&next);
            } else if let Some((previous_first, previous)) = previous {
                self.blocks.remove(&previous_first);
                let mut merged = previous.to_vec();
                merged.append(&mut items);
                items = merged;
            }
        }
        if !items.is_empty() {
            self.blocks
                .insert(key_of::<K, T>(&items[0]).clone(), items.into());
        }
        Some(removed)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A small deterministic generator (xorshift), for tests without a `rand` dependency (the
    /// search index's tests use it too).
    pub(in crate::store) struct Random(pub u64);

    impl Random {
        pub fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// An entry with a value beside its key.
    #[derive(Debug, Clone, PartialEq)]
    struct Counted {
        key: u64,
        count: u64,
    }

    impl Borrow<u64> for Counted {
        fn borrow(&self) -> &u64 {
            &self.key
        }
    }

    /// `get_mut` changes one version in place, at every size, and leaves earlier versions (which
    /// share its blocks) as they were.
    #[test]
    fn entries_change_in_place_without_touching_other_versions() {
        for size in [1u64, 2, 64, 65, 1_000] {
            let mut packed: Packed<u64, Counted> = Packed::default();
            for key in 0..size {
                packed.insert(Counted {
                    key: key * 2,
                    count: 0,
                });
            }
            let before = packed.clone();
            for key in (0..size).step_by(3) {
                packed.get_mut(&(key * 2)).expect("present").count += key + 1;
            }
            assert!(packed.get_mut(&1).is_none(), "odd keys are absent");
            assert!(packed.get_mut(&(size * 2)).is_none());
            for key in 0..size {
                let expected = if key % 3 == 0 { key + 1 } else { 0 };
                assert_eq!(packed.get(&(key * 2)).map(|c| c.count), Some(expected));
                assert_eq!(before.get(&(key * 2)).map(|c| c.count), Some(0));
            }
            assert_eq!(packed.len(), size as usize);
            assert_eq!(
                packed.remove(&0),
                Some(Counted { key: 0, count: 1 }),
                "remove returns the entry"
            );
            assert_eq!(packed.remove(&0), None);
            // `put` replaces the entry with its key, or adds one.
            packed.put(Counted { key: 2, count: 9 });
            packed.put(Counted { key: 1, count: 7 });
            assert_eq!(packed.get(&2).map(|c| c.count), Some(9));
            assert_eq!(packed.get(&1).map(|c| c.count), Some(7));
            // Key 0 was removed; key 2 was there unless size is 1; key 1 never was.
            assert_eq!(packed.len(), if size == 1 { 2 } else { size as usize });
            assert_eq!(before.get(&2).map(|c| c.count), (size > 1).then_some(0));
        }
    }

    /// The packed set against a `BTreeSet`: random inserts and removals, then every range.
    #[test]
    fn packed_sets_behave_like_sorted_sets() {
        let mut random = Random(42);
        let mut packed: Packed<u64, u64> = Packed::default();
        let mut model = BTreeSet::new();
        let mut versions = Vec::new();
        for round in 0..6_000u64 {
            // Mostly ascending runs (new posts), some random inserts, some removals.
            let value = match random.next_u64() % 4 {
                0 => random.next_u64() % 5_000,
                _ => round * 3 + (random.next_u64() % 3),
            };
            if random.next_u64().is_multiple_of(5) {
                assert_eq!(packed.remove(&value), model.take(&value), "remove {value}");
            } else {
                assert_eq!(packed.insert(value), model.insert(value), "insert {value}");
            }
            assert_eq!(packed.len(), model.len());
            if round % 1_000 == 0 {
                versions.push((packed.clone(), model.clone()));
            }
        }
        let check = |packed: &Packed<u64, u64>, model: &BTreeSet<u64>| {
            let all: Vec<u64> = packed.below(None).copied().collect();
            let expected: Vec<u64> = model.iter().rev().copied().collect();
            assert_eq!(all, expected);
            for bound in [0, 1, 17, 2_500, 9_000, 17_999, 18_000, u64::MAX] {
                let below: Vec<u64> = packed.below(Some(bound)).copied().collect();
                let expected: Vec<u64> = model.range(..bound).rev().copied().collect();
                assert_eq!(below, expected, "below {bound}");
            }
            for value in 0..20_000 {
                assert_eq!(packed.get(&value).is_some(), model.contains(&value));
            }
            let bounds = [0, 1, 17, 2_500, 9_000, 17_999, 18_000, u64::MAX];
            for low in bounds {
                for high in bounds {
                    for range in [
                        (Bound::Included(low), Bound::Included(high)),
                        (Bound::Included(low), Bound::Excluded(high)),
                        (Bound::Excluded(low), Bound::Included(high)),
                        (Bound::Excluded(low), Bound::Excluded(high)),
                        (Bound::Unbounded, Bound::Excluded(high)),
                        (Bound::Excluded(low), Bound::Unbounded),
                        (Bound::Included(low), Bound::Unbounded),
                        (Bound::Unbounded, Bound::Included(high)),
                        (Bound::Unbounded, Bound::Unbounded),
                    ] {
                        let got: Vec<u64> = packed.range(range).copied().collect();
                        let expected: Vec<u64> = if super::inverted(&range.0, &range.1) {
                            Vec::new()
                        } else {
                            model.range(range).copied().collect()
                        };
                        assert_eq!(got, expected, "{range:?}");
                        let back: Vec<u64> = packed.range(range).rev().copied().collect();
                        assert_eq!(back, expected.iter().rev().copied().collect::<Vec<_>>());
                    }
                }
            }
            assert_eq!(
                packed.iter().copied().collect::<Vec<_>>(),
                model.iter().copied().collect::<Vec<_>>()
            );
        };
        check(&packed, &model);
        // Earlier versions are untouched by later changes.
        for (packed, model) in &versions {
            check(packed, model);
        }
        // Ascending inserts fill blocks: close to BLOCK entries per block.
        let mut appended: Packed<u64, u64> = Packed::default();
        for value in 0..10_000 {
            appended.insert(value);
        }
        let Packed::Tree(tree) = &appended else {
            panic!("10,000 entries make a tree");
        };
        assert!(
            tree.blocks.len() <= 10_000 / BLOCK + 1,
            "{} blocks",
            tree.blocks.len()
        );
        // Removing everything, in any order, leaves an empty set.
        let mut values: Vec<u64> = (0..10_000).collect();
        values.sort_by_key(|v| v.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for value in values {
            assert_eq!(appended.remove(&value), Some(value));
        }
        assert!(appended.is_empty());
        assert!(matches!(appended, Packed::Empty));
    }
}
