//! Full-text search for the embedded engine: an inverted index that lives in `State` beside the
//! other indexes and is persistent like them (cloning it costs a few reference counts; a change
//! copies only what it touches).
//!
//! # Words
//! Title, content and tags are split into words by the Unicode word-boundary rules (UAX #29,
//! `unicode_words`: runs that hold at least one letter or digit, so `don't` and `3.14` are one
//! word each and punctuation is never one) and each word is lower-cased with the full Unicode
//! mapping (`Ça` -> `ça`). A query is split the same way, so matching is by whole words,
//! case-insensitive: `rust` finds "Rust!" but not "trust" or "rusty". Words longer than
//! [`MAX_WORD_CHARS`] are not indexed (base64 blobs, long URLs), so a query word that long finds
//! nothing. No stemming and no Unicode normalisation: `café` written with a combining accent is
//! another word than `café` with a precomposed one.
//!
//! # What is kept
//! - `terms`: word -> its postings, one `u64` per post containing the word, sorted. A posting is
//!   `fields << 61 | doc`: `fields` says where the word occurs (title 4, tags 2, content 1: a
//!   bit each), `doc` is the post's place in time (`millisecond << 17 | slot`, see below).
//!   Sorting by that number sorts by (fields, recency): the order single-word results are
//!   shown in, so a one-word page is read straight off the list.
//! - `docs`: doc -> the post's `PostKey`, to turn postings back into posts.
//! - `moved`: the rare post whose doc is not the one its key asks for (see below).
//!
//! Postings are packed into sorted blocks of up to 64 (`Packed`): a block is a shared slice,
//! blocks are held in a persistent B-tree keyed by their first posting; a word found in one post
//! holds its posting inline, one found in a few holds one block. Appends (new posts are the
//! newest) fill blocks completely, so a posting costs about 8.5 bytes, where a persistent B-tree
//! of postings would cost about 20 (its nodes split in half and stay half full). The words are
//! packed the same way: `terms` is a `Packed` set of (word, postings) entries in word order,
//! the word inline up to 24 bytes (`compact_str`), so a word seen in a single post costs about
//! 50 bytes and no allocation of its own. A persistent B-tree of boxed words cost 129 bytes a
//! word (measured at 1M posts), a persistent hash map (HAMT) about 250. No list
//! of its words is kept per post: [`SearchIndex::remove`] takes the same title, content and tags
//! as [`SearchIndex::add`] and recomputes them (the store has the old record in hand when it
//! replaces or deletes a post).
//!
//! Measured on the bench corpus (posts of 150 words from a 20-word vocabulary, a title holding a
//! number of its own, two tags: 21 distinct words a post, one of them unique), the index took
//! 312 bytes a post at 100k and at 1M posts with the words in a B-tree (about 75 fewer since);
//! adding a post costs about 16 µs (most of it finding and lower-casing 150 words),
//! [`SearchIndex::from_posts`] builds the same index at about 9 µs a post.
//!
//! # Doc numbers
//! A post's doc is `millisecond << 17 | slot`, where the millisecond is its key's timestamp
//! (clamped to 1970..2527) and the slot is the low 17 bits of its id (random in a UUIDv7). Doc
//! order is therefore time order; posts of the same millisecond are ordered by slot. It needs no
//! lookup to compute, so a cursor survives restarts. When two posts of the same millisecond
//! share a slot (about 1 in 131,072 per pair), the second takes the next free slot, or one of
//! an earlier millisecond when that one is full, and is listed in `moved`.
//!
//! # Ranking and paging
//! A post's score for a query is the sum, over the query's words, of the fields the word occurs
//! in (title 4 + tags 2 + content 1: a title match outranks anything without one, and a word in
//! title and content outranks one in the title alone). Results are ordered by score, then by
//! doc, both descending: relevance, then recency. A page ends at a [`SearchCursor`] (the last
//! hit's score and key); the next page holds what ranks strictly below it. Ranks are unique
//! (docs are), so pages never repeat or skip a post that stays put; a post edited between two
//! pages may move, as in any cursor listing.
//!
//! # Cost
//! - one word: the walk starts at the cursor in the word's list and stops after `limit + 1`
//!   kept hits: O(log n + hits examined), however many posts hold the word.
//! - several words: the rarest word's postings are taken in its fields order (title matches
//!   first); each is looked up in the other words' lists (one lookup per fields value the word
//!   occurs with, at most 7) and the survivors are heaped by rank. At each change of fields the
//!   candidates that no later one can outscore (the later ones score at most that fields value
//!   plus the best the other words can add) are final, and they fill the page as soon as they
//!   can. Worst case O(r (w - 1) log n) for r postings of the rarest word: the cost grows with
//!   the rarest word's posts, never with all posts, and title matches often end it early.
//!
//! On the bench corpus at 100k posts (every word is in every post, the worst case for several
//! words): one word, 2-3 µs a page whatever the page; two words about 1 ms; three words about
//! 35 ms, as all 100k posts are candidates and few can be settled early.
//!
//! Visibility (drafts, scheduled posts) and the `author` / `tag` filters are the caller's:
//! [`SearchIndex::search_where`] takes a predicate on each candidate, applied in rank order, so
//! a scheduled post appears the moment its time comes without touching the index.

use std::borrow::{Borrow, Cow};
use std::collections::{BTreeMap, BinaryHeap};
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::DateTime;
use compact_str::CompactString;
use imbl::HashMap;
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::{PostId, Tags};

use super::cursor::PostKey;
use super::packed::Packed;

/// The most distinct words a query may hold: each one more multiplies the lookups a search of
/// common words costs, and an anonymous request must stay cheap.
pub const MAX_QUERY_WORDS: usize = 8;

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// Longer words are not indexed.
pub const MAX_WORD_CHARS: usize = 64;

/// Field bits of a posting: where the word occurs.
const TITLE: u8 = 4;
const TAGS: u8 = 2;
const CONTENT: u8 = 1;
const ALL_FIELDS: u64 = 7;
const CONTENT_ONLY: u64 = CONTENT as u64;

/// Layout of a posting: `fields` (3 bits) | millisecond (44 bits) | slot (17 bits).
const SLOT_BITS: u32 = 17;
const MILLIS_BITS: u32 = 44;
const FIELDS_SHIFT: u32 = SLOT_BITS + MILLIS_BITS;
const DOC_MASK: u64 = (1 << FIELDS_SHIFT) - 1;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const MAX_MILLIS: i64 = (1 << MILLIS_BITS) - 1;

/// Free slots tried in one millisecond before moving to an earlier one.
const PROBES: u64 = 64;

/// The words of a query: what [`SearchIndex::search`] takes. At most [`MAX_QUERY_CHARS`]
/// characters and at least one word (a run holding a letter or a digit); duplicates dropped.
/// The error names the field (`q`) and says what is wrong, for a 422.
pub fn query_words(q: &str) -> Result<Vec<String>, String> {
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(format!(
            "q must be at most {MAX_QUERY_CHARS} characters long"
        ));
    }
    let mut words: Vec<String> = Vec::new();
    for word in words_of(q) {
        if !words.iter().any(|known| *known == word) {
            words.push(word.into_owned());
        }
    }
    if words.is_empty() {
        return Err("q must contain at least one word (a letter or a digit)".into());
    }
    if words.len() > MAX_QUERY_WORDS {
        return Err(format!("q may hold at most {MAX_QUERY_WORDS} words"));
    }
    Ok(words)
}

/// The words of `text`, lower-cased, in order, duplicates included.
fn words_of(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.unicode_words().map(lowercase)
}

/// `word` lower-cased (the full Unicode mapping); borrowed when it already is (most words, and
/// the cost of indexing is mostly this).
fn lowercase(word: &str) -> Cow<'_, str> {
    if !word.is_ascii() {
        Cow::Owned(word.to_lowercase())
    } else if word.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(word.to_ascii_lowercase())
    } else {
        Cow::Borrowed(word)
    }
}

/// Each distinct word of a post with the fields it occurs in.
pub(super) fn post_words<'t>(
    title: &'t str,
    content: &'t str,
    tags: &'t Tags,
) -> BTreeMap<Cow<'t, str>, u8> {
    let mut words = BTreeMap::new();
    let mut note = |text: &'t str, field: u8| {
        // Longer words are not indexed: a query for one finds nothing.
        for word in words_of(text).filter(|word| word.chars().count() <= MAX_WORD_CHARS) {
            *words.entry(word).or_insert(0) |= field;
        }
    };
    note(title, TITLE);
    note(content, CONTENT);
    for tag in tags.iter() {
        note(tag.as_str(), TAGS);
    }
    words
}

/// Where a page of search results ends: the last hit's score and key. The next page holds what
/// ranks strictly below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub score: u32,
    pub key: PostKey,
}

impl SearchCursor {
    /// An opaque string for clients; its format may change without notice.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "s{}.{}.{}",
            self.score,
            self.key.0.timestamp_millis(),
            self.key.1
        ))
    }

    /// `None` for anything [`SearchCursor::encode`] did not produce.
    pub fn decode(cursor: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let mut parts = text.strip_prefix('s')?.splitn(3, '.');
        let score = parts.next()?.parse().ok()?;
        let at =
            DateTime::from_timestamp_millis(super::cursor::in_range(parts.next()?.parse().ok()?)?)?;
        let id: PostId = parts.next()?.parse().ok()?;
        Some(Self {
            score,
            key: (at, id),
        })
    }
}

/// One page of search results, best first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchPage {
    pub keys: Vec<PostKey>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<SearchCursor>,
}

/// The inverted index: see the module documentation.
#[derive(Clone, Default)]
pub struct SearchIndex {
    terms: Packed<Word, Term>,
    docs: Packed<u64, Doc>,
    moved: HashMap<PostId, u64>,
}

impl fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SearchIndex")
            .field("posts", &self.docs.len())
            .field("words", &self.terms.len())
            .finish()
    }
}

/// A word as the index keeps it: inline up to 24 bytes (nearly every word), so that a word
/// found in a single post costs no allocation of its own.
type Word = CompactString;

/// A word with its postings.
#[derive(Clone)]
struct Term {
    word: Word,
    postings: Packed<u64, u64>,
}

impl Borrow<Word> for Term {
    fn borrow(&self) -> &Word {
        &self.word
    }
}

/// The terms of `words` (distinct, in any order), in full blocks.
fn terms_of(words: impl IntoIterator<Item = (Word, Packed<u64, u64>)>) -> Packed<Word, Term> {
    let mut terms: Vec<Term> = words
        .into_iter()
        .map(|(word, postings)| Term { word, postings })
        .collect();
    if !terms.is_sorted_by(|a, b| a.word < b.word) {
        terms.sort_unstable_by(|a, b| a.word.cmp(&b.word));
    }
    Packed::from_sorted(terms)
}

/// A post's doc number with its key.
#[derive(Debug, Clone)]
struct Doc {
    doc: u64,
    key: PostKey,
}

impl Borrow<u64> for Doc {
    fn borrow(&self) -> &u64 {
        &self.doc
    }
}

/// The doc a key asks for: its millisecond and the low bits of its id.
fn preferred_doc(key: &PostKey) -> u64 {
    let millis = key.0.timestamp_millis().clamp(0, MAX_MILLIS) as u64;
    let slot = (key.1.as_uuid().as_u128() as u64) & SLOT_MASK;
    (millis << SLOT_BITS) | slot
}

fn posting(fields: u8, doc: u64) -> u64 {
    (u64::from(fields) << FIELDS_SHIFT) | doc
}

impl SearchIndex {
    /// Number of posts indexed.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Number of distinct words indexed.
    pub fn words(&self) -> usize {
        self.terms.len()
    }

    /// Indexes a post. Adding a key already indexed adds its words to what it had: replace a post
    /// by removing it (with its old text) first.
    pub fn add(&mut self, key: PostKey, title: &str, content: &str, tags: &Tags) {
        let doc = match self.doc_of(&key) {
            Some(doc) => doc,
            None => {
                let doc = free_doc(&key, |doc| self.docs.get(&doc).is_some());
                if doc != preferred_doc(&key) {
                    self.moved.insert(key.1, doc);
                }
                self.docs.insert(Doc { doc, key });
                doc
            }
        };
        for (word, fields) in post_words(title, content, tags) {
            let entry = posting(fields, doc);
            let word = Word::from(word);
            match self.terms.get_mut(&word) {
                Some(term) => {
                    term.postings.insert(entry);
                }
                None => {
                    self.terms.insert(Term {
                        word,
                        postings: Packed::One(entry),
                    });
                }
            }
        }
    }

    /// The index of `posts` (distinct keys), built in one go: the same index a run of
    /// [`SearchIndex::add`] builds, in about half the time, and on any thread (loading a
    /// snapshot, it can be built beside the other indexes and installed when both are done).
    /// Holds every posting in a plain vector until the end: about 8 bytes per word per post.
    pub fn from_posts<'p>(
        posts: impl IntoIterator<Item = (PostKey, &'p str, &'p str, &'p Tags)>,
    ) -> Self {
        let mut moved = HashMap::new();
        let mut docs = Vec::new();
        let mut taken = std::collections::HashSet::new();
        let mut postings: std::collections::HashMap<Word, Vec<u64>> =
            std::collections::HashMap::new();
        for (key, title, content, tags) in posts {
            let doc = free_doc(&key, |doc| taken.contains(&doc));
            taken.insert(doc);
            if doc != preferred_doc(&key) {
                moved.insert(key.1, doc);
            }
            docs.push(Doc { doc, key });
            for (word, fields) in post_words(title, content, tags) {
                let entry = posting(fields, doc);
                match postings.get_mut(word.as_ref()) {
                    Some(list) => list.push(entry),
                    None => {
                        postings.insert(word.into(), vec![entry]);
                    }
                }
            }
        }
        docs.sort_unstable_by_key(|entry| entry.doc);
        let terms = terms_of(postings.into_iter().map(|(word, mut list)| {
            list.sort_unstable();
            (word, Packed::from_sorted(list))
        }));
        Self {
            terms,
            docs: Packed::from_sorted(docs),
            moved,
        }
    }

    /// The snapshot records of the posts whose doc is not the one their key asks for (written
    /// before the posts, so that a loader knows every post's doc as it meets the post): `M`,
    /// then 24 bytes each, the post id and the doc (little-endian); at least one record, at
    /// most [`POSTINGS_PER_RECORD`] posts each.
    pub(super) fn moved_records(&self) -> Vec<Vec<u8>> {
        let moved: Vec<(PostId, u64)> = self.moved.iter().map(|(id, doc)| (*id, *doc)).collect();
        let mut records: Vec<Vec<u8>> = moved
            .chunks(POSTINGS_PER_RECORD)
            .map(|chunk| {
                let mut record = Vec::with_capacity(1 + chunk.len() * 24);
                record.push(MOVED_RECORD);
                for (id, doc) in chunk {
                    record.extend_from_slice(id.as_uuid().as_bytes());
                    record.extend_from_slice(&doc.to_le_bytes());
                }
                record
            })
            .collect();
        if records.is_empty() {
            records.push(vec![MOVED_RECORD]);
        }
        records
    }

    /// The snapshot records of every word's postings, one word at a time in word order (a word
    /// of more than [`POSTINGS_PER_RECORD`] postings in several records): `T`, the word's
    /// length (2 bytes) and bytes, then its postings ascending, 8 bytes each (little-endian).
    pub(super) fn term_records(
        &self,
        mut emit: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut record = Vec::new();
        let mut postings = Vec::new();
        for Term {
            word,
            postings: list,
        } in self.terms.iter()
        {
            postings.clear();
            postings.extend(list.iter().copied());
            for chunk in postings.chunks(POSTINGS_PER_RECORD) {
                record.clear();
                record.push(TERM_RECORD);
                record.extend_from_slice(&(word.len() as u16).to_le_bytes());
                record.extend_from_slice(word.as_bytes());
                for posting in chunk {
                    record.extend_from_slice(&posting.to_le_bytes());
                }
                emit(&record)?;
            }
        }
        Ok(())
    }

    /// Removes a post. `title`, `content` and `tags` must be what it was added with (the index
    /// keeps no list of each post's words; it recomputes them). Unknown keys are ignored.
    pub fn remove(&mut self, key: PostKey, title: &str, content: &str, tags: &Tags) {
        let Some(doc) = self.doc_of(&key) else {
            return;
        };
        for (word, fields) in post_words(title, content, tags) {
            let word = Word::from(word);
            if let Some(term) = self.terms.get_mut(&word) {
                term.postings.remove(&posting(fields, doc));
                if term.postings.is_empty() {
                    self.terms.remove(&word);
                }
            }
        }
        self.docs.remove(&doc);
        self.moved.remove(&key.1);
    }

    /// Posts containing every one of `words` (from [`query_words`]), best first, after the
    /// cursor: see [`SearchIndex::search_where`].
    pub fn search(
        &self,
        words: &[String],
        after: Option<&SearchCursor>,
        limit: usize,
    ) -> SearchPage {
        self.search_where(words, after, limit, |_| true)
    }

    /// Like [`SearchIndex::search`], keeping only the posts `keep` accepts (visibility, author,
    /// tag). `keep` is asked in rank order, and only until the page is full.
    pub fn search_where(
        &self,
        words: &[String],
        after: Option<&SearchCursor>,
        limit: usize,
        keep: impl FnMut(&PostKey) -> bool,
    ) -> SearchPage {
        let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
        words.sort_unstable();
        words.dedup();
        let lists: Option<Vec<&Packed<u64, u64>>> = words
            .iter()
            .map(|word| {
                self.terms
                    .get(&Word::from(*word))
                    .map(|term| &term.postings)
            })
            .collect();
        let Some(mut lists) = lists else {
            return SearchPage::default();
        };
        if lists.is_empty() || limit == 0 {
            return SearchPage::default();
        }
        lists.sort_by_key(|list| list.len());
        // The cursor's rank: (score, doc). A cursor whose post is gone still has a place.
        let bound = after.map(|cursor| {
            let doc = self
                .doc_of(&cursor.key)
                .unwrap_or_else(|| preferred_doc(&cursor.key));
            (cursor.score, doc)
        });
        let mut page = Hits {
            index: self,
            keep,
            limit,
            hits: Vec::with_capacity(limit.min(100) + 1),
        };
        match lists[..] {
            [list] => {
                let start = match bound {
                    // Every single-word score is at most 7: all of the list ranks below it.
                    Some((score, _)) if u64::from(score) > ALL_FIELDS => None,
                    Some((score, doc)) => Some((u64::from(score) << FIELDS_SHIFT) | doc),
                    None => None,
                };
                for &posting in list.below(start) {
                    if page.offer((posting >> FIELDS_SHIFT) as u32, posting & DOC_MASK) {
                        break;
                    }
                }
            }
            [rarest, ref others @ ..] => {
                // The fields each other word occurs in somewhere, and the most they add to a score.
                let present: Vec<Vec<u64>> =
                    others.iter().map(|list| fields_present(list)).collect();
                let most_from_others: u32 = present
                    .iter()
                    .map(|fields| fields.iter().max().map_or(0, |best| *best as u32))
                    .sum();
                let mut heap = BinaryHeap::new();
                let mut tier = u32::MAX;
                'candidates: for &posting in rarest.below(None) {
                    let fields = (posting >> FIELDS_SHIFT) as u32;
                    if fields != tier {
                        // The rarest word's postings come by fields, best first: nothing from
                        // here on scores above `fields + most_from_others`, so what already
                        // does is final, and may fill the page.
                        tier = fields;
                        if page.settle(&mut heap, Some(tier + most_from_others)) {
                            break;
                        }
                    }
                    let doc = posting & DOC_MASK;
                    let mut score = fields;
                    for (other, fields) in others.iter().zip(&present) {
                        match fields_in(other, fields, doc) {
                            Some(fields) => score += fields,
                            None => continue 'candidates,
                        }
                    }
                    if bound.is_none_or(|bound| (score, doc) < bound) {
                        heap.push((score, doc));
                    }
                }
                page.settle(&mut heap, None);
            }
            [] => unreachable!("checked above"),
        }
        page.finish()
    }

    /// The doc `key` is indexed under, if it is.
    fn doc_of(&self, key: &PostKey) -> Option<u64> {
        if let Some(doc) = self.moved.get(&key.1) {
            return Some(*doc);
        }
        let doc = preferred_doc(key);
        self.docs
            .get(&doc)
            .filter(|entry| entry.key == *key)
            .map(|_| doc)
    }
}

/// A doc for a key not yet indexed: the one it asks for, or else the next one not `taken` in its
/// millisecond, or in an earlier one (a later one below 1970).
fn free_doc(key: &PostKey, taken: impl Fn(u64) -> bool) -> u64 {
    let preferred = preferred_doc(key);
    let slot = preferred & SLOT_MASK;
    let millis = preferred >> SLOT_BITS;
    (0..=millis)
        .rev()
        .chain(millis + 1..=MAX_MILLIS as u64)
        .flat_map(|ms| (0..PROBES).map(move |i| (ms << SLOT_BITS) | ((slot + i) & SLOT_MASK)))
        .find(|doc| !taken(*doc))
        .expect("2^61 docs are never all taken")
}

/// The fields `doc` holds a word in, from the word's postings and the fields it occurs in.
fn fields_in(list: &Packed<u64, u64>, present: &[u64], doc: u64) -> Option<u32> {
    present
        .iter()
        .find(|fields| list.get(&((*fields << FIELDS_SHIFT) | doc)).is_some())
        .map(|fields| *fields as u32)
}

/// The fields values a word's postings hold (one lookup each), in the order to probe them: the
/// likeliest first, as a word is far more often in the content alone than in a title or a tag.
fn fields_present(list: &Packed<u64, u64>) -> Vec<u64> {
    const LIKELIEST_FIRST: [u64; 7] = [CONTENT_ONLY, 5, 3, 7, 4, 2, 6];
    LIKELIEST_FIRST
        .into_iter()
        .filter(|fields| {
            let end = (*fields < ALL_FIELDS).then(|| (fields + 1) << FIELDS_SHIFT);
            list.below(end)
                .next()
                .is_some_and(|posting| posting >> FIELDS_SHIFT == *fields)
        })
        .collect()
}

/// A page being filled, in rank order.
struct Hits<'a, F> {
    index: &'a SearchIndex,
    keep: F,
    limit: usize,
    hits: Vec<(u32, PostKey)>,
}

impl<F: FnMut(&PostKey) -> bool> Hits<'_, F> {
    /// Offers the next post in rank order; `true` once the page and one more are found.
    fn offer(&mut self, score: u32, doc: u64) -> bool {
        if let Some(entry) = self.index.docs.get(&doc) {
            if (self.keep)(&entry.key) {
                self.hits.push((score, entry.key));
            }
        }
        self.hits.len() > self.limit
    }

    /// Offers the ranked candidates scoring above `above` (all of them for `None`), best first.
    fn settle(&mut self, heap: &mut BinaryHeap<(u32, u64)>, above: Option<u32>) -> bool {
        while let Some(&(score, doc)) = heap.peek() {
            if above.is_some_and(|above| score <= above) {
                break;
            }
            heap.pop();
            if self.offer(score, doc) {
                return true;
            }
        }
        self.hits.len() > self.limit
    }

    fn finish(mut self) -> SearchPage {
        let next = if self.hits.len() > self.limit {
            self.hits.truncate(self.limit);
            self.hits
                .last()
                .map(|&(score, key)| SearchCursor { score, key })
        } else {
            None
        };
        SearchPage {
            keys: self.hits.into_iter().map(|(_, key)| key).collect(),
            next,
        }
    }
}

/// How this build finds the words it indexes: the Unicode tables of the word splitting and of
/// lower-casing, the word limit and the posting layout. Saved with the index in a snapshot: an
/// index saved by a build that found words otherwise is rebuilt from the text, since removing an
/// edited post's old words recomputes them.
pub(super) fn index_version() -> String {
    let (a, b, c) = char::UNICODE_VERSION;
    let (d, e, f) = unicode_segmentation::UNICODE_VERSION;
    format!("words {d}.{e}.{f}, lower {a}.{b}.{c}, max {MAX_WORD_CHARS}, postings 3+44+17")
}

/// First byte of a snapshot record holding one of [`SearchIndex::moved_records`].
pub(super) const MOVED_RECORD: u8 = b'M';
/// First byte of a snapshot record holding one of [`SearchIndex::term_records`].
pub(super) const TERM_RECORD: u8 = b'T';
/// Most postings in one snapshot record (8 MiB; 16 in tests, so that words span records).
const POSTINGS_PER_RECORD: usize = if cfg!(test) { 16 } else { 1 << 20 };

/// Rebuilds a [`SearchIndex`] from a snapshot's records: the moved docs first, the words'
/// postings, then each published post's key as the post is met. It costs copies and sorts,
/// where [`SearchIndex::from_posts`] splits and lower-cases every word of every post (most of a
/// large snapshot's load time). Snapshot format 3 puts the words before the posts: when the
/// first post comes, the word map is built on a thread of its own while the posts load
/// (format 2 put them after the posts: then it is built at the end). What it is given is
/// checked: the words in order, the postings of a word ascending, every word's first and last
/// posting's doc one of a post's.
#[derive(Default)]
pub(super) struct IndexLoader {
    /// Whether a post was given: moved docs after one would come too late.
    posts_begun: bool,
    moved: HashMap<PostId, u64>,
    docs: Vec<Doc>,
    words: Words,
}

type WordMap = Packed<Word, Term>;

/// A word's postings as read: most words of a large index are in one post, and are kept
/// without an allocation of their own.
enum Read {
    One(u64),
    Many(Vec<u64>),
}

/// The words of an [`IndexLoader`].
enum Words {
    /// As read so far, in order.
    Reading(Vec<(Word, Read)>),
    /// Being made into the word map, on the thread this joins.
    Building(std::thread::JoinHandle<Result<WordMap, String>>),
}

impl Default for Words {
    fn default() -> Self {
        Self::Reading(Vec::new())
    }
}

/// The word map of `words` (in order), each word's postings checked to be ascending.
fn word_map(words: Vec<(Word, Read)>) -> Result<WordMap, String> {
    let mut terms = Vec::with_capacity(words.len());
    for (word, list) in words {
        let postings = match list {
            Read::One(posting) => Packed::One(posting),
            Read::Many(list) => {
                if list.windows(2).any(|pair| pair[0] >= pair[1]) {
                    return Err(format!("the postings of {word:?} are out of order"));
                }
                Packed::from_sorted(list)
            }
        };
        terms.push((word, postings));
    }
    Ok(terms_of(terms))
}

impl IndexLoader {
    /// The record of [`SearchIndex::moved_record`].
    pub fn moved(&mut self, record: &[u8]) -> Result<(), String> {
        if self.posts_begun {
            return Err("moved docs after the posts".into());
        }
        let body = record.get(1..).unwrap_or_default();
        if !body.len().is_multiple_of(24) {
            return Err(format!("moved-docs record of {} bytes", record.len()));
        }
        for entry in body.chunks_exact(24) {
            let id = uuid::Uuid::from_bytes(entry[..16].try_into().expect("16 bytes"));
            let doc = u64::from_le_bytes(entry[16..].try_into().expect("8 bytes"));
            if doc > DOC_MASK {
                return Err(format!("moved doc {doc} is out of range"));
            }
            self.moved.insert(PostId::from(id), doc);
        }
        Ok(())
    }

    /// A published post, under `key`.
    pub fn post(&mut self, key: PostKey) {
        self.posts_begun = true;
        if let Words::Reading(words) = &mut self.words {
            if !words.is_empty() {
                let words = std::mem::take(words);
                // Like the scoped threads of the load, a thread that cannot be started stops it.
                let thread = std::thread::Builder::new()
                    .name("blog-api-words".into())
                    .spawn(move || word_map(words))
                    .expect("a thread can be started to build the search words");
                self.words = Words::Building(thread);
            }
        }
        let doc = self
            .moved
            .get(&key.1)
            .copied()
            .unwrap_or_else(|| preferred_doc(&key));
        self.docs.push(Doc { doc, key });
    }

    /// A record of [`SearchIndex::term_records`].
    pub fn term(&mut self, record: &[u8]) -> Result<(), String> {
        let Words::Reading(words) = &mut self.words else {
            return Err("words after the posts".into());
        };
        let bad = || format!("word record of {} bytes", record.len());
        let len = u16::from_le_bytes(record.get(1..3).ok_or_else(bad)?.try_into().expect("2"));
        let end = 3 + usize::from(len);
        let word = std::str::from_utf8(record.get(3..end).ok_or_else(bad)?)
            .map_err(|_| "a word is not UTF-8".to_owned())?;
        let body = &record[end..];
        if body.is_empty() || !body.len().is_multiple_of(8) {
            return Err(bad());
        }
        let mut postings = body
            .chunks_exact(8)
            .map(|posting| u64::from_le_bytes(posting.try_into().expect("8 bytes")));
        match words.last_mut() {
            Some((last, list)) if **last == *word => {
                if let Read::One(first) = *list {
                    *list = Read::Many(vec![first]);
                }
                if let Read::Many(list) = list {
                    list.extend(postings);
                }
            }
            Some((last, _)) if **last > *word => {
                return Err(format!("words out of order at {word:?}"))
            }
            _ => {
                let list = match (postings.next(), postings.len()) {
                    (Some(posting), 0) => Read::One(posting),
                    (first, _) => Read::Many(first.into_iter().chain(postings).collect()),
                };
                words.push((word.into(), list));
            }
        }
        Ok(())
    }

    /// The index, once every record was given.
    pub fn finish(mut self) -> Result<SearchIndex, String> {
        self.docs.sort_unstable_by_key(|entry| entry.doc);
        if self.docs.windows(2).any(|pair| pair[0].doc == pair[1].doc) {
            return Err("two posts share a doc".into());
        }
        let terms = match std::mem::take(&mut self.words) {
            Words::Reading(words) => word_map(words)?,
            Words::Building(thread) => thread
                .join()
                .map_err(|_| "building the search words failed".to_owned())??,
        };
        let known = |doc: u64| {
            self.docs
                .binary_search_by_key(&doc, |entry| entry.doc)
                .is_ok()
        };
        // Each word's first and last postings are checked against the posts: a cheap guard,
        // next to the records' checksums, that the index is this snapshot's.
        for Term { word, postings } in terms.iter() {
            let ends = [postings.iter().next(), postings.iter().next_back()];
            if ends
                .into_iter()
                .flatten()
                .any(|posting| !known(posting & DOC_MASK))
            {
                return Err(format!("a posting of {word:?} names no post"));
            }
        }
        Ok(SearchIndex {
            terms,
            docs: Packed::from_sorted(std::mem::take(&mut self.docs)),
            moved: std::mem::take(&mut self.moved),
        })
    }
}

impl Drop for IndexLoader {
    /// A load that fails before [`IndexLoader::finish`] still waits for the words thread, so
    /// that no work of a failed load goes on after it (the thread is a single pass over the
    /// words, well under a second at 1M posts).
    fn drop(&mut self) {
        if let Words::Building(thread) = std::mem::take(&mut self.words) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::Timestamp;

    fn at(millis: i64) -> Timestamp {
        DateTime::from_timestamp_millis(millis).unwrap()
    }

    fn key(millis: i64) -> PostKey {
        (at(millis), PostId::new())
    }

    fn tags(names: &[&str]) -> Tags {
        Tags::parse(names).unwrap()
    }

    fn q(query: &str) -> Vec<String> {
        query_words(query).unwrap()
    }

    /// Every hit of `query`, in order, in one page.
    fn all(index: &SearchIndex, query: &str) -> Vec<PostKey> {
        let page = index.search(&q(query), None, usize::MAX - 1);
        assert_eq!(page.next, None);
        page.keys
    }

    /// Every hit of `query`, page by page.
    fn paged(
        index: &SearchIndex,
        query: &str,
        limit: usize,
        keep: impl Fn(&PostKey) -> bool,
    ) -> Vec<PostKey> {
        let mut keys = Vec::new();
        let mut after = None;
        loop {
            let page = index.search_where(&q(query), after.as_ref(), limit, &keep);
            assert!(page.keys.len() <= limit);
            keys.extend(page.keys.iter().copied());
            match page.next {
                Some(next) => {
                    assert_eq!(page.keys.len(), limit, "only a full page has a next");
                    assert_eq!(Some(&next.key), page.keys.last());
                    // Through the client's hands.
                    after = Some(SearchCursor::decode(&next.encode()).unwrap());
                }
                None => return keys,
            }
        }
    }

    use super::super::packed::tests::Random;

    #[test]
    fn whole_words_only() {
        let mut index = SearchIndex::default();
        let rust = key(1_000);
        let others = key(2_000);
        index.add(rust, "Notes", "I like Rust.", &tags(&[]));
        index.add(
            others,
            "Trust me",
            "rusty nails, trustworthy, rust-belt-free? no: crust",
            &tags(&[]),
        );
        // "rust-belt-free" is three words, so it holds "rust": only the two posts that say rust.
        assert_eq!(all(&index, "rust"), vec![others, rust]);
        assert!(all(&index, "rus").is_empty());
        assert!(all(&index, "rustacean").is_empty());
        assert_eq!(all(&index, "trust"), vec![others]);
        assert!(all(&index, "trustworth").is_empty());

        let mut index = SearchIndex::default();
        index.add(rust, "Notes", "I like Rust.", &tags(&[]));
        index.add(
            others,
            "Trust me",
            "rusty nails and trustworthy crust",
            &tags(&[]),
        );
        assert_eq!(all(&index, "rust"), vec![rust]);
    }

    #[test]
    fn case_insensitive_and_unicode_aware() {
        let mut index = SearchIndex::default();
        let french = key(1_000);
        let german = key(2_000);
        index.add(french, "Ça va", "Un café, s'il vous plaît.", &tags(&[]));
        index.add(german, "STRASSE", "Die Straße ist NAß. ÉCOLE", &tags(&[]));
        assert_eq!(all(&index, "ça"), vec![french]);
        assert_eq!(all(&index, "ÇA"), vec![french]);
        assert_eq!(all(&index, "Café"), vec![french]);
        assert_eq!(all(&index, "plaît"), vec![french]);
        assert_eq!(all(&index, "straße"), vec![german]);
        assert_eq!(all(&index, "strasse"), vec![german]);
        assert_eq!(all(&index, "école"), vec![german]);
        assert!(all(&index, "ca").is_empty(), "no accent folding");
    }

    #[test]
    fn every_word_is_required() {
        let mut index = SearchIndex::default();
        let web = key(1_000);
        let cli = key(2_000);
        let both = key(3_000);
        index.add(web, "Rust on the web", "actix", &tags(&[]));
        index.add(cli, "Rust on the command line", "clap", &tags(&[]));
        index.add(
            both,
            "Everything",
            "web and command line tools",
            &tags(&["rust"]),
        );
        assert_eq!(all(&index, "rust web"), vec![web, both]);
        assert_eq!(all(&index, "web rust"), vec![web, both]);
        assert_eq!(all(&index, "rust command line"), vec![cli, both]);
        assert_eq!(all(&index, "rust actix"), vec![web]);
        assert!(all(&index, "rust actix clap").is_empty());
        assert!(all(&index, "rust missing").is_empty());
    }

    #[test]
    fn tags_are_searched_word_by_word() {
        let mut index = SearchIndex::default();
        let post = key(1_000);
        index.add(post, "Title", "Body", &tags(&["web-dev", "Rust"]));
        assert_eq!(all(&index, "web"), vec![post]);
        assert_eq!(all(&index, "dev"), vec![post]);
        assert_eq!(all(&index, "web-dev"), vec![post]);
        assert_eq!(all(&index, "rust"), vec![post]);
    }

    #[test]
    fn removal_forgets_the_post_and_its_words() {
        let mut index = SearchIndex::default();
        let keep = key(1_000);
        let gone = key(2_000);
        index.add(keep, "Rust", "shared words", &tags(&["a"]));
        index.add(
            gone,
            "Unique title",
            "shared words only here",
            &tags(&["b"]),
        );
        assert_eq!(index.len(), 2);
        index.remove(
            gone,
            "Unique title",
            "shared words only here",
            &tags(&["b"]),
        );
        assert_eq!(index.len(), 1);
        assert!(all(&index, "unique").is_empty());
        assert!(all(&index, "here").is_empty());
        assert_eq!(all(&index, "shared"), vec![keep]);
        index.remove(keep, "Rust", "shared words", &tags(&["a"]));
        assert!(index.is_empty());
        assert_eq!(index.words(), 0, "no empty posting lists are left behind");
        // Removing what is not there changes nothing.
        index.remove(keep, "Rust", "shared words", &tags(&["a"]));
        assert!(index.is_empty());
    }

    #[test]
    fn an_edit_is_a_removal_and_an_addition() {
        let mut index = SearchIndex::default();
        let post = key(1_000);
        index.add(post, "Old title", "old text", &tags(&[]));
        index.remove(post, "Old title", "old text", &tags(&[]));
        index.add(post, "New title", "new text", &tags(&[]));
        assert!(all(&index, "old").is_empty());
        assert_eq!(all(&index, "new"), vec![post]);
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn relevance_then_recency() {
        let mut index = SearchIndex::default();
        let in_title = key(1_000);
        let in_tag = key(2_000);
        let in_content = key(3_000);
        let in_content_newer = key(4_000);
        let in_title_and_content = key(500);
        index.add(in_title, "Rust", "text", &tags(&[]));
        index.add(in_tag, "Post", "text", &tags(&["rust"]));
        index.add(in_content, "Post", "about rust", &tags(&[]));
        index.add(in_content_newer, "Post", "more rust", &tags(&[]));
        index.add(in_title_and_content, "Rust", "rust again", &tags(&[]));
        assert_eq!(
            all(&index, "rust"),
            vec![
                in_title_and_content,
                in_title,
                in_tag,
                in_content_newer,
                in_content
            ]
        );
        // Several words: the scores add up.
        let mut index = SearchIndex::default();
        let both_in_title = key(1_000);
        let one_in_title = key(2_000);
        let none_in_title = key(3_000);
        index.add(both_in_title, "Rust web", "x", &tags(&[]));
        index.add(one_in_title, "Rust", "web", &tags(&[]));
        index.add(none_in_title, "Post", "rust web", &tags(&[]));
        assert_eq!(
            all(&index, "web rust"),
            vec![both_in_title, one_in_title, none_in_title]
        );
    }

    /// 300 posts, the word in random fields: every page size gives every hit once, in rank order.
    #[test]
    fn paging_has_no_gaps_or_repeats() {
        let mut random = Random(0x9E37_79B9_7F4A_7C15);
        let mut index = SearchIndex::default();
        for i in 0..300 {
            let fields = random.next_u64() % 8;
            let title = if fields & 4 != 0 {
                "Rust notes"
            } else {
                "Notes"
            };
            let content = if fields & 1 != 0 {
                "rust and web"
            } else {
                "web"
            };
            let tag_names: &[&str] = if fields & 2 != 0 { &["rust"] } else { &[] };
            // Several posts per millisecond too.
            index.add(key(1_000 + i / 3), title, content, &tags(tag_names));
        }
        for query in ["rust", "web", "rust web", "notes rust web"] {
            let everything = all(&index, query);
            assert!(!everything.is_empty(), "{query}");
            let distinct: BTreeSet<_> = everything.iter().collect();
            assert_eq!(distinct.len(), everything.len(), "{query}");
            for limit in [1, 7, 20, 100, 300, 1000] {
                assert_eq!(
                    paged(&index, query, limit, |_| true),
                    everything,
                    "{query} by {limit}"
                );
            }
            // A filter (visibility, author, tag) keeps the order and the paging.
            let odd = |key: &PostKey| key.1.as_uuid().as_u128() % 2 == 1;
            let filtered: Vec<_> = everything.iter().copied().filter(|k| odd(k)).collect();
            for limit in [1, 7, 100] {
                assert_eq!(
                    paged(&index, query, limit, odd),
                    filtered,
                    "{query} filtered by {limit}"
                );
            }
        }
    }

    #[test]
    fn a_cursor_whose_post_is_gone_still_pages() {
        let mut index = SearchIndex::default();
        let keys: Vec<PostKey> = (0..10).map(|i| key(1_000 + i)).collect();
        for k in &keys {
            index.add(*k, "Post", "rust", &tags(&[]));
        }
        let first = index.search(&q("rust"), None, 3);
        assert_eq!(first.keys, vec![keys[9], keys[8], keys[7]]);
        let cursor = first.next.unwrap();
        index.remove(keys[7], "Post", "rust", &tags(&[]));
        let second = index.search(&q("rust"), Some(&cursor), 3);
        assert_eq!(second.keys, vec![keys[6], keys[5], keys[4]]);
    }

    /// Posts of one millisecond whose ids share their low bits: the later ones move to free slots.
    #[test]
    fn colliding_docs_are_moved_and_found() {
        let mut index = SearchIndex::default();
        let same = at(5_000);
        let keys: Vec<PostKey> = (0..200u128)
            .map(|i| {
                (
                    same,
                    PostId::from(uuid::Uuid::from_u128((i << 64) | 0x1_2345)),
                )
            })
            .collect();
        for (i, k) in keys.iter().enumerate() {
            index.add(*k, "Collide", &format!("rust word{i}"), &tags(&[]));
        }
        assert_eq!(index.len(), 200);
        assert_eq!(all(&index, "rust").len(), 200);
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(all(&index, &format!("word{i}")), vec![*k]);
        }
        let everything = all(&index, "rust");
        assert_eq!(paged(&index, "rust", 9, |_| true), everything);
        for (i, k) in keys.iter().enumerate().step_by(2) {
            index.remove(*k, "Collide", &format!("rust word{i}"), &tags(&[]));
        }
        assert_eq!(index.len(), 100);
        for (i, k) in keys.iter().enumerate() {
            let found = all(&index, &format!("word{i}"));
            assert_eq!(found, if i % 2 == 0 { vec![] } else { vec![*k] });
        }
    }

    #[test]
    fn built_in_one_go_or_one_by_one_the_index_is_the_same() {
        const VOCABULARY: &[&str] = &[
            "rust", "Web", "Ça", "café", "blog", "actix", "tokio", "serde",
        ];
        const TAG_NAMES: &[&str] = &["rust", "web", "blog"];
        let mut random = Random(7);
        let mut posts: Vec<(PostKey, String, String, Tags)> = Vec::new();
        for i in 0..600u64 {
            let mut pick = |n: u64| {
                (0..n)
                    .map(|_| VOCABULARY[(random.next_u64() % 8) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let title = format!("{} {i}", pick(2));
            let content = pick(12);
            let key = if i.is_multiple_of(40) {
                // Colliding docs too.
                (
                    at(9_000),
                    PostId::from(uuid::Uuid::from_u128((u128::from(i) << 64) | 0x777)),
                )
            } else {
                key(1_000 + (random.next_u64() % 300) as i64)
            };
            let tags = tags(&[TAG_NAMES[(random.next_u64() % 3) as usize]]);
            posts.push((key, title, content, tags));
        }
        let mut one_by_one = SearchIndex::default();
        for (key, title, content, tags) in &posts {
            one_by_one.add(*key, title, content, tags);
        }
        let mut in_one_go = SearchIndex::from_posts(
            posts
                .iter()
                .map(|(key, title, content, tags)| (*key, title.as_str(), content.as_str(), tags)),
        );
        let queries = [
            "rust",
            "café",
            "ça web",
            "rust web blog",
            "tokio serde",
            "599",
            "blog 40",
        ];
        let compare = |a: &SearchIndex, b: &SearchIndex| {
            assert_eq!(a.len(), b.len());
            assert_eq!(a.words(), b.words());
            for query in queries {
                let expected = all(b, query);
                assert_eq!(all(a, query), expected, "{query}");
                assert_eq!(paged(a, query, 7, |_| true), expected, "{query} by 7");
            }
        };
        compare(&in_one_go, &one_by_one);
        // It is an index like any other: it takes removals and additions.
        for (key, title, content, tags) in posts.iter().step_by(3) {
            in_one_go.remove(*key, title, content, tags);
            one_by_one.remove(*key, title, content, tags);
        }
        let late = key(5_000);
        in_one_go.add(late, "rust", "café", &tags(&["blog"]));
        one_by_one.add(late, "rust", "café", &tags(&["blog"]));
        compare(&in_one_go, &one_by_one);
    }

    #[test]
    fn the_index_read_back_from_its_snapshot_records_is_the_same() {
        let mut index = SearchIndex::default();
        let mut keys: Vec<PostKey> = Vec::new();
        for i in 0..300u64 {
            // Every tenth post collides with the one before it: moved docs too.
            let key = if i % 10 == 1 {
                (
                    keys[keys.len() - 1].0,
                    PostId::from(uuid::Uuid::from_u128((u128::from(i) << 64) | 0x4242)),
                )
            } else {
                (
                    at(1_000 + i as i64),
                    PostId::from(uuid::Uuid::from_u128((u128::from(i) << 64) | 0x4242)),
                )
            };
            keys.push(key);
            index.add(key, &format!("Title {i}"), "rust café ça", &tags(&["web"]));
        }
        assert!(!index.moved.is_empty());
        let mut loader = IndexLoader::default();
        for record in index.moved_records() {
            loader.moved(&record).unwrap();
        }
        for key in &keys {
            loader.post(*key);
        }
        // Records of 16 postings in tests: the common words span several.
        let mut records = Vec::new();
        index
            .term_records(|record| {
                records.push(record.to_vec());
                Ok(())
            })
            .unwrap();
        assert!(records.windows(2).any(|pair| pair[0][..6] == pair[1][..6]));
        for record in &records {
            loader.term(record).unwrap();
        }
        let loaded = loader.finish().unwrap();
        assert_eq!((loaded.len(), loaded.words()), (index.len(), index.words()));
        for query in ["rust", "café ça", "title 7", "web", "201", "rust 91"] {
            assert_eq!(all(&loaded, query), all(&index, query), "{query}");
            assert_eq!(
                paged(&loaded, query, 7, |_| true),
                all(&index, query),
                "{query} by 7"
            );
        }

        // Damage the checksums did not catch is refused, not served.
        let mut out_of_order = IndexLoader::default();
        out_of_order.term(&records[1]).unwrap();
        assert!(
            out_of_order.term(&records[0]).is_err(),
            "words out of order"
        );
        let mut unknown = IndexLoader::default();
        for record in index.moved_records() {
            unknown.moved(&record).unwrap();
        }
        unknown.term(&records[0]).unwrap();
        assert!(unknown.finish().is_err(), "postings of no post");
        let mut late = IndexLoader::default();
        late.post(keys[0]);
        assert!(
            late.moved(&index.moved_records()[0]).is_err(),
            "moved docs after posts"
        );
        let mut short = IndexLoader::default();
        assert!(short.term(&records[0][..records[0].len() - 3]).is_err());
    }

    #[test]
    fn clones_are_independent_versions() {
        let mut index = SearchIndex::default();
        let first = key(1_000);
        index.add(first, "Rust", "one", &tags(&[]));
        let published = index.clone();
        let second = key(2_000);
        index.add(second, "Rust", "two", &tags(&[]));
        index.remove(first, "Rust", "one", &tags(&[]));
        assert_eq!(all(&published, "rust"), vec![first]);
        assert_eq!(all(&index, "rust"), vec![second]);
    }

    #[test]
    fn long_words_are_not_indexed() {
        let mut index = SearchIndex::default();
        let long = "a".repeat(MAX_WORD_CHARS + 1);
        let fits = "b".repeat(MAX_WORD_CHARS);
        index.add(key(1), "Post", &format!("{long} {fits}"), &tags(&[]));
        assert!(all(&index, &long).is_empty());
        assert_eq!(all(&index, &fits).len(), 1);
        assert_eq!(index.words(), 2, "post and the word that fits");
    }

    #[test]
    fn query_validation() {
        assert_eq!(q("Rust, rust RUST web"), vec!["rust", "web"]);
        assert_eq!(q("  ça va? "), vec!["ça", "va"]);
        assert_eq!(q(&"x".repeat(200)).len(), 1);
        let too_long = query_words(&"x".repeat(201)).unwrap_err();
        assert!(too_long.contains("200"), "{too_long}");
        for blank in ["", "   ", "!!! ...", "- * -", "🦀"] {
            let error = query_words(blank).unwrap_err();
            assert!(error.contains("word"), "{blank:?}: {error}");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = SearchCursor {
            score: 13,
            key: key(1_795_428_000_123),
        };
        assert_eq!(SearchCursor::decode(&cursor.encode()), Some(cursor));
        let list_cursor = crate::store::Cursor::new(at(1_000), uuid::Uuid::now_v7()).encode();
        for garbage in ["", "!!", "czEz", list_cursor.as_str()] {
            assert_eq!(SearchCursor::decode(garbage), None, "{garbage}");
        }
    }
}
