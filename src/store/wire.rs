//! The binary records of a snapshot (format 3), encoded with postcard: posts, and the slug
//! suffix counters. The journal stays JSON (one readable record per change); a snapshot is
//! written once per compaction and read at every start, where decoding a million posts from
//! JSON (timestamps and ids parsed from text) was most of the load time.
//!
//! A record is its kind byte followed by the postcard encoding of its body. Postcard's wire
//! format is specified and stable (1.0); it is not self-describing, so a body's fields are
//! exactly the struct's, in order: a change to [`PostBody`] is a new snapshot format.

use serde::{Deserialize, Serialize};

use crate::domain::{PostId, PostStatus, Slug, Tags, Timestamp, UserId};

use super::records::{PostRecord, PostText};

/// First byte of a post record.
pub(super) const POST_RECORD: u8 = b'P';
/// First byte of a record of slug suffix counters.
pub(super) const SUFFIXES_RECORD: u8 = b'S';
/// Most counters in one suffixes record.
const SUFFIXES_PER_RECORD: usize = if cfg!(test) { 4 } else { 1 << 16 };

/// A timestamp as seconds and nanoseconds since the epoch: two varints, where chrono's own
/// serde form is RFC 3339 text to parse.
#[derive(Serialize, Deserialize)]
struct Time(i64, u32);

impl From<Timestamp> for Time {
    fn from(at: Timestamp) -> Self {
        Self(at.timestamp(), at.timestamp_subsec_nanos())
    }
}

impl TryFrom<Time> for Timestamp {
    type Error = String;

    fn try_from(Time(seconds, nanos): Time) -> Result<Self, String> {
        Timestamp::from_timestamp(seconds, nanos)
            .ok_or_else(|| format!("time {seconds}.{nanos:09} is out of range"))
    }
}

/// A [`PostRecord`] as a snapshot holds it. One layout for writing and reading, generic over
/// the tags only: [`Tags`] to write, the names as the record holds them to read (so that posts
/// with the same tags can share them without a copy being made first). The texts are borrowed
/// both ways: read straight out of the record into the post's one allocation.
#[derive(Serialize, Deserialize)]
struct PostBody<'a, T> {
    id: PostId,
    author: UserId,
    slug: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    content: &'a str,
    tags: T,
    status: PostStatus,
    published_at: Option<Time>,
    created_at: Time,
    updated_at: Time,
    version: u64,
}

/// The record of `post`.
pub(super) fn post_record(post: &PostRecord) -> Vec<u8> {
    let body = PostBody {
        id: post.id,
        author: post.author,
        slug: post.slug(),
        title: post.title(),
        description: post.description(),
        content: post.content(),
        tags: &post.tags,
        status: post.status,
        published_at: post.published_at.map(Time::from),
        created_at: post.created_at.into(),
        updated_at: post.updated_at.into(),
        version: post.version,
    };
    postcard::to_extend(&body, vec![POST_RECORD]).expect("a post always encodes")
}

/// The post of a record of [`post_record`], its tags made by `tags` from their names (so that
/// posts with the same tags can share them without a copy being made first).
pub(super) fn read_post(
    record: &[u8],
    tags: impl FnOnce(&[&str]) -> Tags,
) -> Result<PostRecord, String> {
    let body: PostBody<Vec<&str>> = decode(record, "post")?;
    Ok(PostRecord {
        id: body.id,
        author: body.author,
        text: PostText::new(body.slug, body.title, body.description, body.content),
        tags: tags(&body.tags),
        status: body.status,
        published_at: body.published_at.map(Timestamp::try_from).transpose()?,
        created_at: body.created_at.try_into()?,
        updated_at: body.updated_at.try_into()?,
        version: body.version,
    })
}

/// The records of the slug suffix counters (base slug -> next suffix to try): at least one
/// record (possibly empty), so that a loader knows the counters are in the snapshot.
pub(super) fn suffixes_records<'a>(
    counters: impl Iterator<Item = (&'a Slug, u32)>,
) -> Vec<Vec<u8>> {
    let counters: Vec<(&str, u32)> = counters.map(|(base, n)| (base.as_str(), n)).collect();
    let mut records: Vec<Vec<u8>> = counters
        .chunks(SUFFIXES_PER_RECORD)
        .map(|chunk| {
            postcard::to_extend(chunk, vec![SUFFIXES_RECORD]).expect("counters always encode")
        })
        .collect();
    if records.is_empty() {
        records.push(postcard::to_extend(&counters, vec![SUFFIXES_RECORD]).expect("encodes"));
    }
    records
}

/// The counters of a record of [`suffixes_records`].
pub(super) fn read_suffixes(record: &[u8]) -> Result<Vec<(Slug, u32)>, String> {
    let counters: Vec<(&str, u32)> = decode(record, "slug suffixes")?;
    Ok(counters
        .into_iter()
        .map(|(base, n)| (Slug::from_stored(base), n))
        .collect())
}

fn decode<'a, T: Deserialize<'a>>(record: &'a [u8], what: &str) -> Result<T, String> {
    let body = record.get(1..).unwrap_or_default();
    match postcard::take_from_bytes(body) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(format!("{what} record with {} bytes too many", rest.len())),
        Err(error) => Err(format!("unreadable {what} record: {error}")),
    }
}
