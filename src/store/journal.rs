//! Durability: an append-only journal of [`Change`]s, compacted into a snapshot.
//!
//! Layout of the data directory (mode 0700, files 0600):
//! - `lock`: held (flock) by the one server using the directory;
//! - `snapshot`: the whole state as of journal sequence number S (written to `snapshot.tmp`,
//!   flushed, then atomically renamed);
//! - `journal`: changes after the snapshot, one record each;
//! - `journal.old`: while a snapshot is being written, the journal it replaces (moved aside so
//!   that writers append to a fresh `journal` meanwhile), removed once the snapshot is in place.
//!
//! Every record is framed as `[payload length: u32 LE][CRC-32 of payload: u32 LE][payload]`, the
//! payload being JSON `{"seq": n, "change": {...}}`. Sequence numbers only grow; replay skips
//! journal records the snapshot already holds, so a crash at any point of a compaction loses
//! nothing and applies nothing twice: replay reads the snapshot, then `journal.old` if it is
//! still there, then `journal`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::records::PostRecord;
use super::search::{self, IndexLoader, SearchIndex, MOVED_RECORD, TERM_RECORD};
use super::state::{public_key, Change, PostKey, PostLoader, State};
use super::wire::{self, POST_RECORD, SUFFIXES_RECORD};
use crate::data_dir::{create_private_dir, private_file, sync_dir};
use crate::domain::{PostStatus, Slug, Tag, Tags};

const JOURNAL: &str = "journal";
const JOURNAL_OLD: &str = "journal.old";
const SNAPSHOT: &str = "snapshot";
const SNAPSHOT_TMP: &str = "snapshot.tmp";
const LOCK: &str = "lock";
const HEADER: usize = 8;
/// No record we write is larger (a post body is at most 1 MiB); a larger length is corruption.
const MAX_RECORD: usize = 64 * 1024 * 1024;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{0}: another blog-api server is using this data directory")]
    Locked(PathBuf),
    #[error("{file} is corrupt at byte offset {offset}: {reason}; refusing to start rather than drop data (restore from a backup, see docs/operations.md)")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// Every record reads, but together they do not make a store (the same post twice, a search
    /// index that names posts the file does not hold): no single place in the file is at fault.
    #[error("{file} is inconsistent: {reason}; refusing to start rather than drop data (restore from a backup, see docs/operations.md)")]
    Inconsistent { file: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

#[derive(Serialize)]
struct EntryRef<'a> {
    seq: u64,
    change: &'a Change,
}

#[derive(Deserialize)]
struct Entry {
    seq: u64,
    change: Change,
}

/// The snapshot format written: 1 is the changes alone (JSON records); 2 adds the search index
/// (binary records, see [`IndexLoader`]), so that loading does not rebuild it from the text;
/// 3 holds the posts and the slug suffix counters as binary records (see `wire.rs`), so that
/// loading parses no JSON and derives no slug per post.
const SNAPSHOT_FORMAT: u32 = 3;

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    /// The journal sequence number the snapshot includes.
    seq: u64,
    format: u32,
    /// Format 2: how the words of the index records were found ([`search::index_version`]).
    /// A server that finds them otherwise (another Unicode version, another word limit)
    /// rebuilds the index from the text instead of reading stale words back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<String>,
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The records of a snapshot or journal file's bytes, up to the first that does not read.
#[cfg(test)]
pub(super) fn records_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    let mut offset = 0;
    while let Frame::Record(payload) = read_frame(bytes, offset) {
        offset += HEADER + payload.len();
        records.push(payload.to_vec());
    }
    records
}

/// `records`, framed as a file holds them.
#[cfg(test)]
pub(super) fn framed(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        frame(record, &mut out);
    }
    out
}

/// One frame read from `bytes` at `offset`.
enum Frame<'a> {
    Record(&'a [u8]),
    /// Bytes that end before a whole, valid record: a crash mid-append.
    TornTail,
    Corrupt(String),
    End,
}

fn read_frame(bytes: &[u8], offset: usize) -> Frame<'_> {
    let rest = &bytes[offset..];
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < HEADER {
        return Frame::TornTail;
    }
    let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
    if len > MAX_RECORD {
        return Frame::Corrupt(format!("record length {len} is impossible"));
    }
    if len == 0 {
        // We never write an empty record. Zeros to the end of the file are a tail the
        // filesystem extended but never filled (a crash); anything else is damage.
        return if rest.iter().all(|byte| *byte == 0) {
            Frame::TornTail
        } else {
            Frame::Corrupt("record length 0 is impossible".into())
        };
    }
    if rest.len() < HEADER + len {
        return Frame::TornTail;
    }
    let payload = &rest[HEADER..HEADER + len];
    if crc32fast::hash(payload) != crc {
        // A bad checksum on the very last record is a torn append; anywhere else it is damage.
        return if rest.len() == HEADER + len {
            Frame::TornTail
        } else {
            Frame::Corrupt("checksum mismatch".into())
        };
    }
    Frame::Record(payload)
}

/// Records waiting to be written, for one group commit.
pub struct Batch {
    bytes: Vec<u8>,
    next_seq: u64,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn push(&mut self, change: &Change) {
        let payload = serde_json::to_vec(&EntryRef {
            seq: self.next_seq,
            change,
        })
        .expect("a Change always serialises");
        frame(&payload, &mut self.bytes);
        self.next_seq += 1;
    }
}

/// The open journal of one data directory.
pub struct Journal {
    dir: PathBuf,
    file: File,
    len: u64,
    /// Sequence number of the last durable record.
    seq: u64,
    compact_at: u64,
    _lock: File,
    #[cfg(test)]
    flush_hook: Option<Box<dyn Fn() + Send>>,
}

impl Journal {
    /// Locks `dir`, loads the snapshot, replays the journal (cutting a torn tail) and returns the
    /// journal ready to append, with the state it describes.
    pub fn open(dir: &Path, compact_at: u64) -> Result<(Self, State), JournalError> {
        create_private_dir(dir).map_err(io_error(dir))?;
        let lock_path = dir.join(LOCK);
        let lock = private_file(
            &lock_path,
            OpenOptions::new().create(true).truncate(false).write(true),
        )
        .map_err(io_error(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(JournalError::Locked(dir.to_owned())),
            Err(TryLockError::Error(error)) => return Err(io_error(&lock_path)(error)),
        }
        let _ = fs::remove_file(dir.join(SNAPSHOT_TMP));

        let mut state = State::default();
        let snapshot_seq = load_snapshot(&dir.join(SNAPSHOT), &mut state)?;

        let mut seq = snapshot_seq;
        let old = dir.join(JOURNAL_OLD);
        let sealed_left = old.exists();
        if sealed_left {
            // A crash interrupted a compaction: its journal still counts.
            let mut file = open_journal_file(&old).map_err(io_error(&old))?;
            replay(&old, &mut file, &mut state, &mut seq)?;
        }
        let path = dir.join(JOURNAL);
        let mut file = open_journal_file(&path).map_err(io_error(&path))?;
        let len = replay(&path, &mut file, &mut state, &mut seq)?;
        sync_dir(dir).map_err(io_error(dir))?;
        if sealed_left {
            // Finish that compaction now, so that the next one can move the journal aside.
            let sealed = Sealed {
                dir: dir.to_owned(),
                seq,
            };
            sealed.write_snapshot(&state).map_err(io_error(dir))?;
        }
        let journal = Self {
            dir: dir.to_owned(),
            file,
            len,
            seq,
            compact_at,
            _lock: lock,
            #[cfg(test)]
            flush_hook: None,
        };
        Ok((journal, state))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A batch whose records follow the last durable one.
    pub fn batch(&self) -> Batch {
        Batch {
            bytes: Vec::new(),
            next_seq: self.seq + 1,
        }
    }

    /// Appends the batch and flushes it to disk (one `fdatasync` for the whole group).
    pub fn commit(&mut self, batch: Batch) -> io::Result<()> {
        if batch.bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(&batch.bytes)?;
        #[cfg(test)]
        if let Some(hook) = &self.flush_hook {
            hook();
        }
        self.file.sync_data()?;
        self.len += batch.bytes.len() as u64;
        self.seq = batch.next_seq - 1;
        Ok(())
    }

    /// No more compactions until the next start.
    pub fn stop_compacting(&mut self) {
        self.compact_at = u64::MAX;
    }

    /// Whether the journal has grown past the size that calls for a snapshot.
    pub fn wants_compaction(&self) -> bool {
        self.len >= self.compact_at
    }

    /// Moves the journal aside as `journal.old` and continues in a fresh one. What was moved
    /// aside is everything up to the returned [`Sealed`]'s sequence number, which a snapshot of
    /// the current state then replaces. Refused while an earlier `journal.old` is still there.
    pub fn seal(&mut self) -> io::Result<Sealed> {
        let old = self.dir.join(JOURNAL_OLD);
        if old.exists() {
            return Err(io::Error::other(
                "journal.old is still there: an earlier compaction did not finish",
            ));
        }
        let path = self.dir.join(JOURNAL);
        fs::rename(&path, &old)?;
        // From here on a crash replays journal.old and then journal: nothing is lost whatever
        // happens next. If the fresh journal cannot be made, appends go on into journal.old
        // (the open file) and no snapshot is written: still nothing lost.
        sync_dir(&self.dir)?;
        let file = open_journal_file(&path)?;
        sync_dir(&self.dir)?;
        self.file = file;
        self.len = 0;
        Ok(Sealed {
            dir: self.dir.clone(),
            seq: self.seq,
        })
    }

    /// Makes every flush call `hook` first (tests hold a flush with it).
    #[cfg(test)]
    pub fn set_flush_hook(&mut self, hook: Box<dyn Fn() + Send>) {
        self.flush_hook = Some(hook);
    }
}

/// A journal moved aside, waiting for the snapshot that replaces it.
pub struct Sealed {
    dir: PathBuf,
    seq: u64,
}

impl Sealed {
    /// The sequence number the snapshot must hold.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Writes `state` (which must hold exactly the records up to [`Sealed::seq`]) as the
    /// snapshot, then removes `journal.old`.
    pub fn write_snapshot(&self, state: &State) -> io::Result<()> {
        write_snapshot(&self.dir, self.seq, state)?;
        fs::remove_file(self.dir.join(JOURNAL_OLD))?;
        sync_dir(&self.dir)
    }
}

/// Whether `dir` holds a journal (of a store that was opened there).
pub fn has_journal(dir: &Path) -> bool {
    dir.join(JOURNAL).exists() || dir.join(JOURNAL_OLD).exists()
}

/// Opens (creating if need be) a journal file for reading and appending.
fn open_journal_file(path: &Path) -> io::Result<File> {
    private_file(
        path,
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true),
    )
}

/// Applies the records of the journal file at `path` that follow `seq`, advancing it; cuts a
/// torn tail off. Returns the length of the file that remains.
fn replay(
    path: &Path,
    file: &mut File,
    state: &mut State,
    seq: &mut u64,
) -> Result<u64, JournalError> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_error(path))?;
    let mut offset = 0;
    loop {
        match read_frame(&bytes, offset) {
            Frame::End => break,
            Frame::Record(payload) => {
                let entry: Entry =
                    serde_json::from_slice(payload).map_err(|e| JournalError::Corrupt {
                        file: path.to_owned(),
                        offset: offset as u64,
                        reason: format!("unreadable record: {e}"),
                    })?;
                if entry.seq > *seq {
                    *seq = entry.seq;
                    state.apply(entry.change);
                }
                offset += HEADER + payload.len();
            }
            Frame::TornTail => {
                tracing::warn!(
                    file = %path.display(), offset, dropped_bytes = bytes.len() - offset,
                    "the journal ends in a partly written record (a crash mid-write); cutting it off"
                );
                file.set_len(offset as u64).map_err(io_error(path))?;
                file.sync_all().map_err(io_error(path))?;
                break;
            }
            Frame::Corrupt(reason) => {
                return Err(JournalError::Corrupt {
                    file: path.to_owned(),
                    offset: offset as u64,
                    reason,
                });
            }
        }
    }
    Ok(offset as u64)
}

/// How much of a snapshot is written between two flushes to the disk.
const SYNC_EVERY: usize = 8 << 20;

/// Writes `state` as the snapshot of `dir` at sequence number `seq`: to a temporary file,
/// flushed, then renamed into place.
pub fn write_snapshot(dir: &Path, seq: u64, state: &State) -> io::Result<()> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let mut file = io::BufWriter::new(private_file(
        &tmp,
        OpenOptions::new().create(true).truncate(true).write(true),
    )?);
    let mut buf = Vec::new();
    let header = serde_json::to_vec(&SnapshotHeader {
        seq,
        format: SNAPSHOT_FORMAT,
        index: Some(search::index_version()),
    })
    .map_err(io::Error::other)?;
    frame(&header, &mut buf);
    for record in state.search.moved_records() {
        frame(&record, &mut buf);
    }
    // Flushed to the disk every SYNC_EVERY bytes, not all at the end: dirty pages never pile
    // up, so the journal's own flushes (a `fdatasync` per group commit, on the same disk) do
    // not queue behind the writeback of a whole snapshot.
    let mut unsynced = 0;
    let mut put = |payload: &[u8], buf: &mut Vec<u8>| -> io::Result<()> {
        frame(payload, buf);
        if buf.len() > 1 << 20 {
            file.write_all(buf)?;
            unsynced += buf.len();
            buf.clear();
            if unsynced >= SYNC_EVERY {
                file.flush()?;
                file.get_ref().sync_data()?;
                unsynced = 0;
            }
        }
        Ok(())
    };
    // The words before the posts: a loader builds the word map while it reads the posts.
    state.search.term_records(|record| put(record, &mut buf))?;
    let counters = state.slug_suffixes.iter().map(|(base, n)| (base, *n));
    for record in wire::suffixes_records(counters) {
        put(&record, &mut buf)?;
    }
    for change in state.as_changes() {
        let record = match &change {
            Change::PutPost(post) => wire::post_record(post),
            change => serde_json::to_vec(change).map_err(io::Error::other)?,
        };
        put(&record, &mut buf)?;
    }
    file.write_all(&buf)?;
    let file = file.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(SNAPSHOT))?;
    sync_dir(dir)
}

/// Applies the snapshot at `path`, if any, to `state`; returns the sequence number it holds.
/// A snapshot is renamed into place only once complete, so any damage is an error.
///
/// Streamed, on two threads: one reads and decodes records, the other applies them, so that a
/// large snapshot loads in about the time of the slower of the two, in bounded extra memory.
pub(super) fn load_snapshot(path: &Path, state: &mut State) -> Result<u64, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(io_error(path)(error)),
    };
    let empty = file.metadata().map_err(io_error(path))?.len() == 0;
    // The records are read in place from the file mapped into memory, not copied out of it
    // through a buffer: a large snapshot is read once, by the checksums.
    // SAFETY: the mapped file does not change while it is read: a snapshot is never written in
    // place (a new one is written to `snapshot.tmp` and renamed over it, which leaves this one
    // as it is), and only the server holding the directory's lock writes one. (Overwriting the
    // file in place by hand while a server starts, or a disk read error, ends the process with
    // SIGBUS instead of an error message: startup stops either way, nothing is written.)
    let map = match empty {
        true => None,
        false => Some(unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(io_error(path))?),
    };
    let mut records = SnapshotReader {
        path,
        bytes: map.as_deref().unwrap_or_default(),
        offset: 0,
    };
    let header: SnapshotHeader = match records.next_payload()? {
        Some(payload) => serde_json::from_slice(payload)
            .map_err(|e| records.corrupt(format!("unreadable header: {e}")))?,
        None => return Err(records.corrupt("no header".into())),
    };
    if !(1..=SNAPSHOT_FORMAT).contains(&header.format) {
        return Err(records.corrupt(format!(
            "snapshot format {} is not one this server knows (1 to {SNAPSHOT_FORMAT})",
            header.format
        )));
    }
    // Format 2 holds the search index; format 1 has it rebuilt from the posts' text, and so
    // does a format 2 whose words were found another way than this server finds them.
    let format = header.format;
    let indexed = format >= 2 && header.index == Some(search::index_version());
    // Small in tests, so that their snapshots are decoded on both threads.
    const BATCH: usize = if cfg!(test) { 4 } else { 1024 };
    // Two threads share the work. This one applies changes and notes the posts in a
    // `PostLoader`. The reading thread reads and checks the records, gives the search index
    // loader the moved docs and the words (whose map it builds on a third thread while the
    // posts load), and decodes every other batch of records itself: it hands the applying
    // thread each batch decoded, or raw for that thread to decode, so that decoding, the
    // largest cost, is split between the two. A snapshot without a usable index (format 1, or
    // words found another way) is decoded by the reading thread alone, which keeps the posts'
    // text for the rebuild.
    enum Batch {
        Decoded(Vec<Loaded>),
        /// Records to decode: where each one's payload lies in the file.
        Raw(Vec<std::ops::Range<usize>>),
    }
    let bytes = records.bytes;
    let loaded = std::thread::scope(|scope| {
        let (batches, received) = std::sync::mpsc::sync_channel::<Batch>(4);
        let reader = scope.spawn(
            move || -> Result<(IndexLoader, Vec<Searchable>), JournalError> {
                let mut decoder = Decoder::new(format);
                let mut loader = IndexLoader::default();
                let mut searchable = Vec::new();
                let mut decoded = Vec::with_capacity(BATCH);
                let mut raw = Vec::with_capacity(BATCH);
                while let Some(payload) = records.next_payload()? {
                    match payload.first() {
                        Some(&MOVED_RECORD | &TERM_RECORD) if !indexed && format >= 2 => continue,
                        Some(&MOVED_RECORD) if indexed => {
                            loader
                                .moved(payload)
                                .map_err(|reason| records.corrupt(reason))?;
                            continue;
                        }
                        Some(&TERM_RECORD) if indexed => {
                            loader
                                .term(payload)
                                .map_err(|reason| records.corrupt(reason))?;
                            continue;
                        }
                        _ => {}
                    }
                    if decoded.len() < BATCH {
                        // Errors name the record's start, as on the other thread.
                        let start = (records.offset - payload.len() - HEADER) as u64;
                        let loaded =
                            decoder
                                .decode(payload)
                                .map_err(|reason| JournalError::Corrupt {
                                    file: path.to_owned(),
                                    offset: start,
                                    reason,
                                })?;
                        if let Loaded::Post(post) = &loaded {
                            if let Some(key) = public_key(post) {
                                if indexed {
                                    loader.post(key);
                                } else {
                                    searchable.push((key, Arc::clone(post)));
                                }
                            }
                        }
                        decoded.push(loaded);
                        if decoded.len() == BATCH && !indexed {
                            let full = std::mem::replace(&mut decoded, Vec::with_capacity(BATCH));
                            if batches.send(Batch::Decoded(full)).is_err() {
                                break;
                            }
                        }
                    } else {
                        let end = records.offset;
                        raw.push(end - payload.len()..end);
                        if raw.len() == BATCH {
                            let sent = batches
                                .send(Batch::Decoded(std::mem::take(&mut decoded)))
                                .and_then(|()| batches.send(Batch::Raw(std::mem::take(&mut raw))));
                            if sent.is_err() {
                                break;
                            }
                            decoded.reserve(BATCH);
                            raw.reserve(BATCH);
                        }
                    }
                }
                let _ = batches.send(Batch::Decoded(decoded));
                let _ = batches.send(Batch::Raw(raw));
                Ok((loader, searchable))
            },
        );
        let mut posts = PostLoader::new(format < 3);
        let mut decoder = Decoder::new(format);
        let mut keys = Vec::new();
        let mut apply = |loaded: Loaded, state: &mut State| match loaded {
            Loaded::Change(change) => state.apply(change),
            Loaded::Post(post) => posts.add(state, post),
            Loaded::Suffixes(counters) => state.slug_suffixes.extend(counters),
        };
        let mut applied = Ok(());
        for batch in received {
            match batch {
                Batch::Decoded(loaded) => loaded.into_iter().for_each(|l| apply(l, state)),
                Batch::Raw(ranges) => {
                    for range in ranges {
                        let offset = (range.start - HEADER) as u64;
                        let loaded = match decoder.decode(&bytes[range]) {
                            Ok(loaded) => loaded,
                            Err(reason) => {
                                applied = Err(JournalError::Corrupt {
                                    file: path.to_owned(),
                                    offset,
                                    reason,
                                });
                                break;
                            }
                        };
                        if let Loaded::Post(post) = &loaded {
                            keys.extend(public_key(post));
                        }
                        apply(loaded, state);
                    }
                }
            }
            if applied.is_err() {
                break;
            }
        }
        let read = reader.join().expect("the snapshot reader does not panic");
        applied?;
        let (mut loader, searchable) = read?;
        // The search index on one thread, the posts' maps and key sets on this one.
        let search = scope.spawn(move || {
            if !indexed {
                return Ok(SearchIndex::from_posts(searchable.iter().map(
                    |(key, post)| (*key, post.title(), post.content(), &post.tags),
                )));
            }
            for key in keys {
                loader.post(key);
            }
            loader
                .finish()
                .map_err(|reason| JournalError::Inconsistent {
                    file: path.to_owned(),
                    reason,
                })
        });
        let installed = posts
            .finish(state)
            .map_err(|duplicate| JournalError::Inconsistent {
                file: path.to_owned(),
                reason: format!("post {} is listed twice", duplicate.0),
            });
        let search = search
            .join()
            .expect("the search index loader does not panic");
        installed.and(search)
    });
    state.search = loaded?;
    Ok(header.seq)
}

/// A decoded snapshot record (other than the search index's).
enum Loaded {
    Change(Change),
    Post(Arc<PostRecord>),
    Suffixes(Vec<(Slug, u32)>),
}

/// A post's search key and the post, for an index rebuilt from the text.
type Searchable = (PostKey, Arc<PostRecord>);

/// Decodes a snapshot's change, post and slug suffix records. Posts with the same tags share
/// one list, and lists share their tags.
struct Decoder {
    format: u32,
    /// Each list met, by its tags' names joined by newlines (which no tag holds).
    lists: HashMap<String, Tags>,
    tags: HashSet<Tag>,
    key: String,
}

impl Decoder {
    fn new(format: u32) -> Self {
        Self {
            format,
            lists: HashMap::new(),
            tags: HashSet::new(),
            key: String::new(),
        }
    }

    fn decode(&mut self, payload: &[u8]) -> Result<Loaded, String> {
        Ok(match payload.first() {
            Some(&SUFFIXES_RECORD) if self.format >= 3 => {
                Loaded::Suffixes(wire::read_suffixes(payload)?)
            }
            Some(&POST_RECORD) if self.format >= 3 => {
                Loaded::Post(Arc::new(wire::read_post(payload, |names| {
                    self.shared(names)
                })?))
            }
            _ => match serde_json::from_slice(payload).map_err(|e| e.to_string())? {
                Change::PutPost(mut post) => {
                    let names: Vec<&str> = post.tags.iter().map(Tag::as_str).collect();
                    post.tags = self.shared(&names);
                    if post.status == PostStatus::Published && post.published_at.is_none() {
                        // Written before drafts existed: public since its creation. Filled in
                        // here, before the post is shared with the search index's rebuild.
                        post.published_at = Some(post.created_at);
                    }
                    Loaded::Post(Arc::new(post))
                }
                change => Loaded::Change(change),
            },
        })
    }

    /// The list of the tags named, shared with the posts before that have the same.
    fn shared(&mut self, names: &[&str]) -> Tags {
        self.key.clear();
        for name in names {
            self.key.push_str(name);
            self.key.push('\n');
        }
        if let Some(list) = self.lists.get(&self.key) {
            return list.clone();
        }
        let tags = &mut self.tags;
        let list = Tags::from_stored(
            names
                .iter()
                .map(|name| {
                    let tag = Tag::from_stored(name);
                    match tags.get(&tag) {
                        Some(shared) => shared.clone(),
                        None => {
                            tags.insert(tag.clone());
                            tag
                        }
                    }
                })
                .collect(),
        );
        self.lists.insert(self.key.clone(), list.clone());
        list
    }
}

/// The framed records of a snapshot file's bytes, read one at a time, in place.
struct SnapshotReader<'a> {
    path: &'a Path,
    bytes: &'a [u8],
    /// Where the next record starts.
    offset: usize,
}

impl<'a> SnapshotReader<'a> {
    fn corrupt(&self, reason: String) -> JournalError {
        JournalError::Corrupt {
            file: self.path.to_owned(),
            offset: self.offset as u64,
            reason,
        }
    }

    /// The next record's payload, checked; `None` at the end of the file.
    fn next_payload(&mut self) -> Result<Option<&'a [u8]>, JournalError> {
        let rest = &self.bytes[self.offset..];
        if rest.is_empty() {
            return Ok(None);
        }
        if rest.len() < HEADER {
            return Err(self.corrupt("truncated record".into()));
        }
        let len = u32::from_le_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        if len > MAX_RECORD {
            return Err(self.corrupt(format!("record length {len} is impossible")));
        }
        let Some(payload) = rest.get(HEADER..HEADER + len) else {
            return Err(self.corrupt("truncated record".into()));
        };
        if crc32fast::hash(payload) != crc {
            return Err(self.corrupt("checksum mismatch".into()));
        }
        self.offset += HEADER + len;
        Ok(Some(payload))
    }
}
