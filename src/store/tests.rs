use super::*;
// The embedded engine itself: these tests reach into its state (the API suite runs on both engines).
use super::Embedded as Store;
use crate::domain::{
    now, ExternalIdentity, PostContent, PostStatus, PostTitle, Role, SessionId, Slug, Tag, Tags,
    Timestamp, UserId,
};
use accounts::username_from_hint;

fn session() -> NewSession {
    session_until(now() + chrono::Duration::days(1))
}

fn session_until(expires_at: Timestamp) -> NewSession {
    NewSession {
        id: SessionId::new(),
        family_key: rand_hash(),
        refresh_hash: rand_hash(),
        expires_at,
        user_agent: None,
    }
}

/// A session of `user` whose refresh token expired a second ago.
async fn expired_session(store: &Store, user: UserId) -> SessionId {
    let session = session_until(now() - chrono::Duration::seconds(1));
    store.start_session(user, session).await.unwrap().1
}

fn rand_hash() -> [u8; 32] {
    let mut hash = [0u8; 32];
    getrandom::fill(&mut hash).unwrap();
    hash
}

async fn user(store: &Store, name: &str) -> Principal {
    let new = NewUser {
        username: Username::parse(name).unwrap(),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        name: None,
        role: Role::User,
        password_hash: "$argon2id$fake".into(),
    };
    let (user, session_id) = store.create_user(new, session()).await.unwrap();
    store.principal(user.id, session_id).await.unwrap()
}

fn new_post(title: &str, tags: &[&str]) -> NewPost {
    NewPost {
        title: PostTitle::parse(title).unwrap(),
        content: PostContent::parse("body").unwrap(),
        description: None,
        tags: Tags::parse(tags).unwrap(),
        status: PostStatus::Published,
        published_at: None,
    }
}

fn query(author: Option<&str>, tag: Option<&str>, limit: usize) -> PostQuery {
    PostQuery {
        author: author.map(|a| Username::parse(a).unwrap()),
        tag: tag.map(|t| Tag::parse(t).unwrap()),
        after: None,
        limit,
        listing: Listing::Public,
        viewer: None,
    }
}

/// Follows `next` cursors to the end and returns every title seen, in order.
async fn all_pages(store: &Store, mut query: PostQuery) -> Vec<String> {
    let mut titles = Vec::new();
    loop {
        let page = store.list_posts(&query).await;
        assert!(page.posts.len() <= query.limit);
        titles.extend(page.posts.iter().map(|p| p.title.as_str().to_owned()));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return titles,
        }
    }
}

/// Unit tests hash a slug to its length (`state::slug_hash`), so these slugs all collide: each
/// is still found, and none is lost when the one holding the hash's slot goes.
#[actix_web::test]
async fn slugs_that_hash_alike_are_told_apart() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let mut posts = Vec::new();
    for title in ["abc", "abd", "abe", "abc"] {
        posts.push(
            store
                .create_post(alice.user_id, new_post(title, &[]))
                .await
                .unwrap(),
        );
    }
    let slugs: Vec<&str> = posts.iter().map(|post| post.slug.as_str()).collect();
    assert_eq!(slugs, ["abc", "abd", "abe", "abc-2"]);
    for post in &posts {
        let found = store.post_by_slug(post.slug.as_str(), None).await.unwrap();
        assert_eq!(found.id, post.id);
    }
    assert!(
        store.post_by_slug("abz", None).await.is_none(),
        "same hash, no post"
    );
    // The first holds the hash's slot: after it goes, the others are still found.
    store
        .delete_post(posts[0].id, &alice.actor(), &Expected::Any)
        .await
        .unwrap();
    assert!(store.post_by_slug("abc", None).await.is_none());
    for post in &posts[1..] {
        let found = store.post_by_slug(post.slug.as_str(), None).await.unwrap();
        assert_eq!(found.id, post.id);
    }
    // The freed slug is given again, and found.
    let again = store
        .create_post(alice.user_id, new_post("abc", &[]))
        .await
        .unwrap();
    assert_eq!(again.slug.as_str(), "abc");
    assert_eq!(store.post_by_slug("abc", None).await.unwrap().id, again.id);
    for post in &posts[1..] {
        store
            .delete_post(post.id, &alice.actor(), &Expected::Any)
            .await
            .unwrap();
        assert!(store.post_by_slug(post.slug.as_str(), None).await.is_none());
    }
    assert_eq!(store.post_by_slug("abc", None).await.unwrap().id, again.id);
}

#[actix_web::test]
async fn pages_walk_newest_first_without_gaps_or_repeats() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    for i in 0..25 {
        let (who, tags) = if i % 2 == 0 {
            (&alice, &["even"][..])
        } else {
            (&bob, &["odd"][..])
        };
        store
            .create_post(who.user_id, new_post(&format!("p{i:02}"), tags))
            .await
            .unwrap();
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("p{i:02}")).collect();
    assert_eq!(all_pages(&store, query(None, None, 7)).await, expected);
    let alices: Vec<String> = expected
        .iter()
        .filter(|t| t[1..].parse::<u32>().unwrap() % 2 == 0)
        .cloned()
        .collect();
    assert_eq!(
        all_pages(&store, query(Some("alice"), None, 4)).await,
        alices
    );
    assert_eq!(
        all_pages(&store, query(None, Some("even"), 3)).await,
        alices
    );
    assert_eq!(
        all_pages(&store, query(Some("alice"), Some("odd"), 3)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        all_pages(&store, query(Some("nobody"), None, 3)).await,
        Vec::<String>::new()
    );
    let exact = store.list_posts(&query(None, None, 25)).await;
    assert_eq!(
        (exact.posts.len(), exact.next),
        (25, None),
        "a full last page has no next cursor"
    );
}

#[actix_web::test]
async fn deleting_a_user_removes_posts_sessions_and_index_entries() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    store
        .create_post(alice.user_id, new_post("A", &["x"]))
        .await
        .unwrap();
    store
        .create_post(bob.user_id, new_post("B", &["x"]))
        .await
        .unwrap();

    store.delete_user(alice.user_id).await.unwrap();

    assert_eq!(
        store
            .principal(alice.user_id, alice.session_id.unwrap())
            .await,
        None
    );
    assert_eq!(all_pages(&store, query(None, Some("x"), 10)).await, ["B"]);
    assert_eq!(all_pages(&store, query(None, None, 10)).await, ["B"]);
    let state = store.read();
    assert!(!state.posts_by_author.contains_key(&alice.user_id));
    assert!(!state.sessions_by_user.contains_key(&alice.user_id));
    assert!(!state.users_by_username.contains_key("alice"));
}

/// The refresh token a session holds now, as the store sees a presentation of it.
fn current_refresh(store: &Store, id: SessionId) -> PresentedRefresh {
    let state = store.read();
    let session = &state.sessions[&id];
    PresentedRefresh {
        session: id,
        generation: session.generation,
        hash: session.refresh_hash,
    }
}

#[actix_web::test]
async fn refresh_tokens_rotate_once_expire_and_reuse_revokes() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let sid = alice.session_id.unwrap();
    let first = current_refresh(&store, sid);
    let later = now() + chrono::Duration::days(1);

    let (user, session) = store
        .rotate_refresh(first, rand_hash(), later)
        .await
        .unwrap();
    assert_eq!((user.id, session), (alice.user_id, sid));
    let second = current_refresh(&store, sid);
    assert_eq!(second.generation, 1);
    let wrong = PresentedRefresh {
        hash: rand_hash(),
        ..second
    };
    assert_eq!(
        store.rotate_refresh(wrong, rand_hash(), later).await,
        Err(RefreshError::Unknown),
        "the current generation with another token's hash"
    );
    let ahead = PresentedRefresh {
        generation: 5,
        ..second
    };
    assert_eq!(
        store.rotate_refresh(ahead, rand_hash(), later).await,
        Err(RefreshError::Unknown)
    );
    assert!(store.principal(alice.user_id, sid).await.is_some());
    assert_eq!(
        store.rotate_refresh(first, rand_hash(), later).await,
        Err(RefreshError::Reused)
    );
    assert_eq!(
        store.principal(alice.user_id, sid).await,
        None,
        "reuse revoked the session"
    );
    assert_eq!(
        store.rotate_refresh(second, rand_hash(), later).await,
        Err(RefreshError::Unknown)
    );
    assert!(
        store.read().sessions_by_expiry.is_empty(),
        "nothing of the session is left"
    );

    let expired = expired_session(&store, alice.user_id).await;
    assert_eq!(
        store
            .rotate_refresh(current_refresh(&store, expired), rand_hash(), later)
            .await,
        Err(RefreshError::Expired)
    );
    assert_eq!(store.principal(alice.user_id, expired).await, None);
}

#[actix_web::test]
async fn a_refresh_token_a_thousand_rotations_old_still_revokes_the_session() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let sid = alice.session_id.unwrap();
    let oldest = current_refresh(&store, sid);
    let later = now() + chrono::Duration::days(1);
    for _ in 0..1000 {
        let current = current_refresh(&store, sid);
        store
            .rotate_refresh(current, rand_hash(), later)
            .await
            .unwrap();
    }
    let state = store.read();
    assert_eq!(state.sessions[&sid].generation, 1000);
    assert_eq!(state.sessions.len(), 1, "one record, whatever its age");
    drop(state);
    assert_eq!(
        store.rotate_refresh(oldest, rand_hash(), later).await,
        Err(RefreshError::Reused)
    );
    assert_eq!(store.principal(alice.user_id, sid).await, None);
}

#[actix_web::test]
async fn the_login_past_the_cap_ends_the_least_recently_used_session() {
    let store = Store::ephemeral().with_session_cap(100);
    let alice = user(&store, "alice").await;
    let mut sessions = vec![alice.session_id.unwrap()];
    for _ in 1..100 {
        sessions.push(
            store
                .start_session(alice.user_id, session())
                .await
                .unwrap()
                .1,
        );
    }
    // The first session is the oldest but was used last; the second is now the least recent.
    let first = sessions[0];
    store
        .write(move |tx| {
            tx.commit(Change::TouchSession {
                id: first,
                at: now() + chrono::Duration::seconds(5),
            })
        })
        .await;
    assert_eq!(store.sessions(alice.user_id).await.len(), 100);
    let (_, newest) = store.start_session(alice.user_id, session()).await.unwrap();
    let live: Vec<SessionId> = store
        .sessions(alice.user_id)
        .await
        .iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live.len(), 100, "the 101st login fits by ending one");
    assert!(live.contains(&newest) && live.contains(&sessions[0]));
    assert!(
        !live.contains(&sessions[1]),
        "the least recently used ended"
    );
    assert_eq!(store.principal(alice.user_id, sessions[1]).await, None);
}

#[actix_web::test]
async fn ten_thousand_posts_of_one_title_get_distinct_readable_slugs() {
    let store = Store::ephemeral();
    let alice = user(&store, "alice").await;
    let mut slugs = std::collections::HashSet::new();
    for _ in 0..10_000 {
        let post = store
            .create_post(alice.user_id, new_post("Same title", &[]))
            .await
            .unwrap();
        assert!(slugs.insert(post.slug.as_str().to_owned()));
    }
    assert!(slugs.contains("same-title") && slugs.contains("same-title-10000"));
    assert_eq!(
        store
            .read()
            .slug_suffixes
            .get(&Slug::from_stored("same-title")),
        Some(&10_001),
        "the next suffix is known: no probing through 10,000 taken ones"
    );
    // An edit that keeps the title's base keeps the slug.
    let post = store.post_by_slug("same-title-5000", None).await.unwrap();
    let alice_actor = alice.actor();
    let edit = PostEdit {
        content: Some(PostContent::parse("changed").unwrap()),
        ..Default::default()
    };
    let edited = store
        .update_post(post.id, &alice_actor, &Expected::Any, edit)
        .await
        .unwrap();
    assert_eq!(edited.slug.as_str(), "same-title-5000");
}

mod durability {
    use super::*;
    use std::fs;

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, 1 << 30).expect("the store opens")
    }

    async fn titles(store: &Store) -> Vec<String> {
        all_pages(store, query(None, None, 100)).await
    }

    /// Alice and three posts, one edited and one deleted.
    /// [`fill`], then 40 posts titled "bulk N rust": enough to compact a 4 KiB journal into a
    /// snapshot.
    async fn fill_and_bulk(store: &Store) -> Principal {
        let alice = fill(store).await;
        for i in 0..40 {
            store
                .create_post(alice.user_id, new_post(&format!("bulk {i} rust"), &["t"]))
                .await
                .unwrap();
        }
        alice
    }

    /// A snapshot record as format 1 or 2 held it: changes as JSON, posts too. `None` for the
    /// records those formats did not have.
    fn as_json(record: &[u8]) -> Option<Vec<u8>> {
        match record[0] {
            b'{' => Some(record.to_vec()),
            b'P' => {
                let tags = |names: &[&str]| {
                    Tags::from_stored(names.iter().map(|name| Tag::from_stored(name)).collect())
                };
                let post = wire::read_post(record, tags).unwrap();
                Some(serde_json::to_vec(&Change::PutPost(post)).unwrap())
            }
            _ => None,
        }
    }

    async fn fill(store: &Store) -> Principal {
        let alice = user(store, "alice").await;
        let mut ids = Vec::new();
        for title in ["one", "two", "three"] {
            ids.push(
                store
                    .create_post(alice.user_id, new_post(title, &["t"]))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let edit = PostEdit {
            title: Some(PostTitle::parse("two, edited").unwrap()),
            ..Default::default()
        };
        store
            .update_post(ids[1], &alice.actor(), &Expected::Any, edit)
            .await
            .unwrap();
        store
            .delete_post(ids[2], &alice.actor(), &Expected::Any)
            .await
            .unwrap();
        alice
    }

    #[actix_web::test]
    async fn everything_written_is_there_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let alice = {
            let store = open(dir.path());
            fill(&store).await
        };
        let store = open(dir.path());
        assert_eq!(titles(&store).await, ["two, edited", "one"]);
        assert!(
            store
                .principal(alice.user_id, alice.session_id.unwrap())
                .await
                .is_some(),
            "sessions survive"
        );
        let post = store.post_by_slug("two-edited", None).await.unwrap();
        assert_eq!(post.version, 2);
        assert_eq!(store.post_by_slug("three", None).await, None);
    }

    #[actix_web::test]
    async fn writes_that_arrive_together_share_a_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(open(dir.path()));
        let alice = user(&store, "alice").await;
        let before = store.journal_flushes();
        let writes: Vec<_> = (0..200)
            .map(|i| {
                let store = std::sync::Arc::clone(&store);
                actix_web::rt::spawn(async move {
                    store
                        .create_post(alice.user_id, new_post(&format!("p{i}"), &[]))
                        .await
                })
            })
            .collect();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        let flushes = store.journal_flushes() - before;
        assert!(flushes >= 1, "every write was flushed");
        assert!(
            flushes < 200,
            "200 concurrent writes took {flushes} flushes: no group commit"
        );
        assert_eq!(titles(&store).await.len(), 200);
        drop(store);
        assert_eq!(
            all_pages(&open(dir.path()), query(None, None, 100))
                .await
                .len(),
            200
        );
    }

    #[actix_web::test]
    async fn a_second_store_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = open(dir.path());
        let second = Store::open(dir.path(), 1 << 30);
        assert!(matches!(second, Err(JournalError::Locked(_))), "{second:?}");
    }

    #[cfg(unix)]
    #[actix_web::test]
    async fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let store = open(&data);
        fill(&store).await;
        assert_eq!(
            fs::metadata(&data).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for file in ["journal", "lock"] {
            assert_eq!(
                fs::metadata(data.join(file)).unwrap().permissions().mode() & 0o777,
                0o600,
                "{file}"
            );
        }
    }

    #[actix_web::test]
    async fn a_torn_last_record_is_cut_off_at_every_byte_offset() {
        let dir = tempfile::tempdir().unwrap();
        let (before_last, full) = {
            let store = open(dir.path());
            let alice = user(&store, "alice").await;
            store
                .create_post(alice.user_id, new_post("kept", &[]))
                .await
                .unwrap();
            let before_last = fs::read(dir.path().join("journal")).unwrap();
            store
                .create_post(alice.user_id, new_post("torn", &[]))
                .await
                .unwrap();
            (before_last, fs::read(dir.path().join("journal")).unwrap())
        };
        assert!(full.len() > before_last.len() + 8);
        for cut in before_last.len()..full.len() {
            let copy = tempfile::tempdir().unwrap();
            fs::write(copy.path().join("journal"), &full[..cut]).unwrap();
            let store = open(copy.path());
            assert_eq!(titles(&store).await, ["kept"], "cut at {cut}");
            drop(store);
            assert_eq!(
                fs::read(copy.path().join("journal")).unwrap(),
                before_last,
                "the tail is truncated away"
            );
        }
        // A corrupt (not short) last record is a torn write too.
        let copy = tempfile::tempdir().unwrap();
        let mut flipped = full.clone();
        *flipped.last_mut().unwrap() ^= 0x55;
        fs::write(copy.path().join("journal"), &flipped).unwrap();
        assert_eq!(titles(&open(copy.path())).await, ["kept"]);
    }

    #[actix_web::test]
    async fn a_zero_filled_tail_is_cut_off_like_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let kept = {
            let store = open(dir.path());
            fill(&store).await;
            fs::read(dir.path().join("journal")).unwrap()
        };
        // A crash after the file grew but before its new blocks were written.
        fs::write(
            dir.path().join("journal"),
            [kept.clone(), vec![0; 4096]].concat(),
        )
        .unwrap();
        assert_eq!(titles(&open(dir.path())).await, ["two, edited", "one"]);
        assert_eq!(fs::read(dir.path().join("journal")).unwrap(), kept);
        // Zeros followed by anything else are damage, not a torn write.
        let mut damaged = [kept.clone(), vec![0; 16]].concat();
        damaged.push(1);
        fs::write(dir.path().join("journal"), &damaged).unwrap();
        let error = Store::open(dir.path(), 1 << 30).unwrap_err().to_string();
        assert!(error.contains("record length 0"), "{error}");
    }

    #[actix_web::test]
    async fn corruption_before_the_tail_stops_startup_naming_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(dir.path());
            fill(&store).await;
        }
        let path = dir.path().join("journal");
        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 0x01; // inside the first record's payload
        fs::write(&path, &bytes).unwrap();
        let error = Store::open(dir.path(), 1 << 30).unwrap_err().to_string();
        assert!(
            error.contains("journal") && error.contains("offset 0"),
            "{error}"
        );
        assert_eq!(fs::read(&path).unwrap(), bytes, "nothing was dropped");
    }

    #[actix_web::test]
    async fn compaction_keeps_everything_and_replay_never_applies_twice() {
        let dir = tempfile::tempdir().unwrap();
        let alice = {
            let store = open(dir.path());
            let alice = fill(&store).await;
            for i in 0..20 {
                store
                    .create_post(alice.user_id, new_post(&format!("bulk {i}"), &[]))
                    .await
                    .unwrap();
            }
            alice
        };
        let history = fs::read(dir.path().join("journal")).unwrap();
        assert!(history.len() > 4096);

        // Reopened with a small threshold, the next write compacts. The changes after the
        // history make replaying it again visible: "one" deleted, "two" renamed.
        let after_compaction = {
            let store = Store::open(dir.path(), 4096).unwrap();
            let one = store.post_by_slug("one", None).await.unwrap();
            store
                .delete_post(one.id, &alice.actor(), &Expected::Any)
                .await
                .unwrap();
            let two = store.post_by_slug("two-edited", None).await.unwrap();
            let edit = PostEdit {
                title: Some(PostTitle::parse("two, again").unwrap()),
                ..Default::default()
            };
            store
                .update_post(two.id, &alice.actor(), &Expected::Any, edit)
                .await
                .unwrap();
            titles(&store).await
        };
        // The snapshot is written on its own thread; closing the store waits for it.
        assert!(dir.path().join("snapshot").exists(), "compacted past 4 KiB");
        assert!(!dir.path().join("journal.old").exists());
        assert_eq!(after_compaction.len(), 21);
        assert!(after_compaction.contains(&"two, again".to_owned()));
        assert!(fs::metadata(dir.path().join("journal")).unwrap().len() < 4096);
        assert_eq!(
            titles(&open(dir.path())).await,
            after_compaction,
            "snapshot + journal replay"
        );

        // A crash after the snapshot's rename but before the journal was emptied leaves records
        // the snapshot already holds. Replay must skip them, not resurrect "one".
        let tail = fs::read(dir.path().join("journal")).unwrap();
        fs::write(dir.path().join("journal"), [history, tail].concat()).unwrap();
        assert_eq!(titles(&open(dir.path())).await, after_compaction);
    }

    #[actix_web::test]
    async fn a_snapshot_holds_the_search_index_and_one_without_it_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 4096).unwrap();
            fill_and_bulk(&store).await;
        }
        let path = dir.path().join("snapshot");
        let records = journal::records_of(&std::fs::read(&path).unwrap());
        let header: serde_json::Value = serde_json::from_slice(&records[0]).unwrap();
        assert_eq!(header["format"], 3);
        let kinds: Vec<u8> = records[1..].iter().map(|r| r[0]).collect();
        let words = kinds.iter().filter(|kind| **kind == b'T').count();
        assert!(
            words > 40,
            "every word's postings are in the snapshot: {words}"
        );
        let first_post = kinds.iter().position(|kind| *kind == b'P').unwrap();
        assert!(
            kinds[first_post..].iter().all(|kind| *kind != b'T'),
            "the words come before the posts"
        );
        let mut written = State::default();
        journal::load_snapshot(&path, &mut written).unwrap();
        let post_records = kinds.iter().filter(|kind| **kind == b'P').count();
        assert!(post_records > 30);
        assert_eq!(post_records, written.posts.len());
        assert_eq!(written.search.len(), written.timeline.len());

        // The same data as format 2 wrote it: JSON posts, the words after them.
        let all = records.clone();
        let as_format_2: Vec<Vec<u8>> = [&records[..1]]
            .into_iter()
            .flatten()
            .cloned()
            .chain(records.iter().filter(|r| r[0] == b'M').cloned())
            .chain(records[1..].iter().filter_map(|r| as_json(r)))
            .chain(records.iter().filter(|r| r[0] == b'T').cloned())
            .collect();
        let mut header = header;
        header["format"] = 2.into();
        let mut second = as_format_2.clone();
        second[0] = serde_json::to_vec(&header).unwrap();
        std::fs::write(&path, journal::framed(&second)).unwrap();
        let mut from_format_2 = State::default();
        journal::load_snapshot(&path, &mut from_format_2).unwrap();
        assert_eq!(from_format_2.search.words(), written.search.words());
        assert_eq!(from_format_2.posts.len(), written.posts.len());
        let slugs = |state: &State| -> Vec<String> {
            state.posts.values().map(|p| p.slug().to_owned()).collect()
        };
        assert_eq!(slugs(&from_format_2), slugs(&written));

        // As format 1 wrote it: the changes alone. The index is rebuilt from them.
        let mut old: Vec<Vec<u8>> = as_format_2.into_iter().filter(|r| r[0] == b'{').collect();
        header["format"] = 1.into();
        old[0] = serde_json::to_vec(&header).unwrap();
        std::fs::write(&path, journal::framed(&old)).unwrap();
        let mut rebuilt = State::default();
        journal::load_snapshot(&path, &mut rebuilt).unwrap();
        assert_eq!(rebuilt.search.len(), written.search.len());
        assert_eq!(rebuilt.search.words(), written.search.words());
        for query in [&["rust"][..], &["bulk", "7"], &["edited"]] {
            let words: Vec<String> = query.iter().map(|w| w.to_string()).collect();
            assert_eq!(
                rebuilt.search.search(&words, None, 100).keys,
                written.search.search(&words, None, 100).keys,
                "{query:?}"
            );
        }

        // An index saved by a build that finds words otherwise is rebuilt, not read back: its
        // records are skipped (here they are garbage that would not load).
        let mut elsewhere: Vec<Vec<u8>> = all
            .iter()
            .map(|record| match record[0] {
                b'T' => [&b"T\x05\x00zzzzz"[..], &u64::MAX.to_le_bytes()].concat(),
                _ => record.clone(),
            })
            .collect();
        let mut other: serde_json::Value = serde_json::from_slice(&all[0]).unwrap();
        other["index"] = "words 1.0.0, lower 1.0.0, max 9, postings 3+44+17".into();
        elsewhere[0] = serde_json::to_vec(&other).unwrap();
        std::fs::write(&path, journal::framed(&elsewhere)).unwrap();
        let mut relearned = State::default();
        journal::load_snapshot(&path, &mut relearned).unwrap();
        assert_eq!(relearned.search.words(), written.search.words());
        let rust = vec!["rust".to_owned()];
        assert_eq!(
            relearned.search.search(&rust, None, 100).keys,
            written.search.search(&rust, None, 100).keys
        );
        // The same garbage under this build's own version is refused.
        other["index"] = header["index"].clone();
        elsewhere[0] = serde_json::to_vec(&other).unwrap();
        std::fs::write(&path, journal::framed(&elsewhere)).unwrap();
        assert!(journal::load_snapshot(&path, &mut State::default()).is_err());

        // A format from the future is refused, not misread.
        header["format"] = 4.into();
        old[0] = serde_json::to_vec(&header).unwrap();
        std::fs::write(&path, journal::framed(&old)).unwrap();
        let refused = journal::load_snapshot(&path, &mut State::default()).unwrap_err();
        assert!(refused.to_string().contains("format 4"), "{refused}");
    }

    #[actix_web::test]
    async fn a_snapshot_keeps_the_slug_counters_and_refuses_damaged_posts() {
        let (dir, exported) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let live = {
            let store = Store::open(dir.path(), 4096).unwrap();
            let alice = fill_and_bulk(&store).await;
            for _ in 0..3 {
                store
                    .create_post(alice.user_id, new_post("Same title", &["t"]))
                    .await
                    .unwrap();
            }
            store.export_snapshot(exported.path()).unwrap();
            store.read()
        };
        let path = exported.path().join("snapshot");
        let mut loaded = State::default();
        journal::load_snapshot(&path, &mut loaded).unwrap();
        let counters = |state: &State| -> Vec<(String, u32)> {
            let mut all: Vec<_> = state
                .slug_suffixes
                .iter()
                .map(|(base, n)| (base.as_str().to_owned(), *n))
                .collect();
            all.sort();
            all
        };
        assert_eq!(counters(&loaded), vec![("same-title".to_owned(), 4)]);
        assert_eq!(counters(&loaded), counters(&live));
        // Read from the counters, not worked out from each post: a snapshot whose counters
        // say otherwise is believed.
        let records = journal::records_of(&std::fs::read(&path).unwrap());
        let mut recounted: Vec<Vec<u8>> =
            records.iter().filter(|r| r[0] != b'S').cloned().collect();
        let at = recounted.iter().position(|r| r[0] == b'P').unwrap();
        recounted.insert(
            at,
            wire::suffixes_records([(&Slug::from_stored("same-title"), 9)].into_iter()).remove(0),
        );
        std::fs::write(&path, journal::framed(&recounted)).unwrap();
        let mut believed = State::default();
        journal::load_snapshot(&path, &mut believed).unwrap();
        assert_eq!(counters(&believed), vec![("same-title".to_owned(), 9)]);

        // A post listed twice is refused.
        let mut twice = records.clone();
        let post = twice.iter().find(|r| r[0] == b'P').unwrap().clone();
        twice.push(post);
        std::fs::write(&path, journal::framed(&twice)).unwrap();
        let refused = journal::load_snapshot(&path, &mut State::default()).unwrap_err();
        assert!(
            matches!(&refused, JournalError::Inconsistent { reason, .. } if reason.contains("listed twice")),
            "{refused}"
        );
        assert!(
            !refused.to_string().contains("offset"),
            "no one place is at fault"
        );

        // A post record that does not decode is refused wherever it falls: the snapshot is
        // decoded in batches on two threads, so one damaged post in each of the first batches.
        let posts: Vec<usize> = (0..records.len())
            .filter(|i| records[*i][0] == b'P')
            .collect();
        assert!(posts.len() > 16);
        for damaged in posts.iter().take(12) {
            let mut bad = records.clone();
            let cut = bad[*damaged].len() - 3;
            bad[*damaged].truncate(cut);
            std::fs::write(&path, journal::framed(&bad)).unwrap();
            let refused = journal::load_snapshot(&path, &mut State::default())
                .unwrap_err()
                .to_string();
            assert!(refused.contains("post record"), "{refused}");
            let start: usize = bad[..*damaged].iter().map(|r| 8 + r.len()).sum();
            assert!(
                refused.contains(&format!("byte offset {start}:")),
                "{refused}"
            );
        }
    }

    #[actix_web::test]
    async fn the_key_sets_a_snapshot_load_builds_are_the_ones_kept_live() {
        let dir = tempfile::tempdir().unwrap();
        let live = {
            let store = Store::open(dir.path(), 4096).unwrap();
            let alice = fill(&store).await;
            let bob = user(&store, "bob").await;
            for i in 0..150 {
                let mut post = new_post(&format!("post {i}"), &[["a", "b", "c"][i % 3], "all"]);
                match i % 5 {
                    0 => {
                        post.status = PostStatus::Draft;
                    }
                    1 => post.published_at = Some(now() + chrono::Duration::days(1)),
                    _ => {}
                }
                let author = if i % 2 == 0 { &alice } else { &bob };
                store.create_post(author.user_id, post).await.unwrap();
            }
            store.read()
        };
        assert!(dir.path().join("snapshot").exists());
        let mut loaded = State::default();
        journal::load_snapshot(&dir.path().join("snapshot"), &mut loaded).unwrap();
        // The snapshot was written before the last posts: compare with the state it holds.
        let mut expected = State::default();
        for change in live.as_changes() {
            expected.apply(change);
        }
        fn keys(set: &state::KeySet) -> Vec<state::PostKey> {
            set.iter().copied().collect()
        }
        fn named<K: Clone + Ord + std::hash::Hash>(
            sets: &imbl::HashMap<K, state::KeySet>,
        ) -> Vec<(K, Vec<state::PostKey>)> {
            let mut all: Vec<_> = sets
                .iter()
                .map(|(name, set)| (name.clone(), keys(set)))
                .collect();
            all.sort();
            all
        }
        let mut reloaded = State::default();
        let mut posts = state::PostLoader::new(true);
        for change in live.as_changes() {
            match change {
                Change::PutPost(post) => posts.add(&mut reloaded, Arc::new(post)),
                change => reloaded.apply(change),
            }
        }
        posts.finish(&mut reloaded).unwrap();
        // And the real load against the same snapshot's changes applied one by one.
        let mut one_by_one = State::default();
        for record in journal::records_of(&std::fs::read(dir.path().join("snapshot")).unwrap())
            .iter()
            .skip(1)
            .filter_map(|record| as_json(record))
        {
            one_by_one.apply(serde_json::from_slice(&record).unwrap());
        }
        assert!(one_by_one.timeline.len() > 10);
        for (built, kept) in [(&reloaded, &expected), (&loaded, &one_by_one)] {
            assert_eq!(keys(&built.timeline), keys(&kept.timeline));
            assert_eq!(named(&built.posts_by_author), named(&kept.posts_by_author));
            assert_eq!(named(&built.posts_by_tag), named(&kept.posts_by_tag));
            assert_eq!(
                named(&built.drafts_by_author),
                named(&kept.drafts_by_author)
            );
        }
        assert_eq!(
            reloaded.timeline.len(),
            120 + 3 - 1,
            "drafts are not in the timeline"
        );
        assert_eq!(named(&reloaded.drafts_by_author).len(), 2);
        // Built, they are sets like the others: they take new keys and lose old ones.
        let newest = (
            now() + chrono::Duration::days(2),
            crate::domain::PostId::new(),
        );
        reloaded.timeline.insert(newest);
        assert_eq!(reloaded.timeline.iter().next_back(), Some(&newest));
        assert_eq!(reloaded.timeline.remove(&newest), Some(newest));
    }

    #[actix_web::test]
    async fn search_finds_the_same_posts_after_a_snapshot_is_loaded() {
        async fn found(store: &Store, words: &[&str]) -> Vec<String> {
            let query = PostSearch {
                words: words.iter().map(|w| w.to_string()).collect(),
                author: None,
                tag: None,
                after: None,
                limit: 10,
                viewer: None,
            };
            let mut titles: Vec<String> = store
                .search_posts(&query)
                .await
                .posts
                .iter()
                .map(|p| p.title.as_str().to_owned())
                .collect();
            titles.sort();
            titles
        }
        let dir = tempfile::tempdir().unwrap();
        let before = {
            let store = Store::open(dir.path(), 4096).unwrap();
            fill_and_bulk(&store).await;
            (
                found(&store, &["rust"]).await,
                found(&store, &["edited"]).await,
            )
        };
        assert_eq!(before.0.len(), 10);
        assert_eq!(before.1, ["two, edited"]);
        assert!(dir.path().join("snapshot").exists());
        let store = open(dir.path());
        assert_eq!(found(&store, &["rust"]).await, before.0);
        assert_eq!(found(&store, &["edited"]).await, before.1);
        assert!(found(&store, &["three"]).await.is_empty(), "deleted");
    }

    #[actix_web::test]
    async fn reads_complete_while_the_journal_is_stuck_in_a_flush() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc::channel;
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let hold = Arc::new(AtomicBool::new(false));
        let (entered, flushing) = channel::<()>();
        let (release, released) = channel::<()>();
        let (entered, released) = (Mutex::new(entered), Mutex::new(released));
        let holding = Arc::clone(&hold);
        let store = Arc::new(Store::open_with_flush_hook(
            dir.path(),
            Box::new(move || {
                if holding.load(Ordering::SeqCst) {
                    let _ = entered.lock().send(());
                    let _ = released.lock().recv();
                }
            }),
        ));
        let alice = fill(&store).await;
        let post = store.post_by_slug("one", None).await.unwrap();

        hold.store(true, Ordering::SeqCst);
        let writer = {
            let store = Arc::clone(&store);
            actix_web::rt::spawn(async move {
                store
                    .create_post(alice.user_id, new_post("held", &[]))
                    .await
            })
        };
        actix_web::rt::task::yield_now().await;
        flushing
            .recv_timeout(Duration::from_secs(10))
            .expect("the journal thread is in its flush");

        // On another thread, so that a read blocked behind the flush fails the test instead of
        // hanging it.
        let reader = {
            let store = Arc::clone(&store);
            let (done, answer) = channel();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let one = store.post(post.id, None).await;
                    let page = store.list_posts(&query(None, None, 10)).await;
                    let me = store
                        .principal(alice.user_id, alice.session_id.unwrap())
                        .await;
                    let _ = done.send((one, page, me));
                });
            });
            answer
        };
        let (one, page, me) = reader
            .recv_timeout(Duration::from_secs(5))
            .expect("reads finish while a flush is held");
        assert_eq!(one.unwrap().id, post.id);
        assert!(me.is_some());
        let seen: Vec<&str> = page.posts.iter().map(|p| p.title.as_str()).collect();
        assert!(
            !seen.contains(&"held"),
            "a write that is not on disk yet is not visible: {seen:?}"
        );

        hold.store(false, Ordering::SeqCst);
        release.send(()).unwrap();
        writer.await.unwrap().unwrap();
        assert!(titles(&store).await.contains(&"held".to_owned()));
    }

    #[actix_web::test]
    async fn an_expired_session_is_gone_from_the_snapshot_after_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let (alice, expired) = {
            let store = Store::open(dir.path(), 4096).unwrap();
            let alice = user(&store, "alice").await;
            let expired = expired_session(&store, alice.user_id).await;
            assert_eq!(store.sweep_sessions().await, 1);
            for i in 0..30 {
                store
                    .create_post(alice.user_id, new_post(&format!("filler {i}"), &[]))
                    .await
                    .unwrap();
            }
            (alice, expired)
        };
        let mut snapshot = State::default();
        journal::load_snapshot(&dir.path().join("snapshot"), &mut snapshot).unwrap();
        assert!(snapshot.sessions.contains_key(&alice.session_id.unwrap()));
        assert!(
            !snapshot.sessions.contains_key(&expired),
            "the swept session is not written again"
        );
        assert!(!snapshot
            .sessions_by_expiry
            .iter()
            .any(|(_, id)| *id == expired));
    }
}

fn identity(subject: &str, hint: Option<&str>) -> ExternalIdentity {
    ExternalIdentity {
        issuer: "https://sso.example/".into(),
        subject: subject.into(),
        username_hint: hint.map(str::to_owned),
        name_hint: Some("Eve Example".into()),
    }
}

#[actix_web::test]
async fn an_external_identity_gets_one_account_even_when_first_seen_twice_at_once() {
    let store = Arc::new(Store::ephemeral());
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                actix_web::rt::System::new().block_on(async move {
                    store
                        .external_principal(&identity("auth0|eve", Some("eve")))
                        .await
                        .unwrap()
                })
            })
        })
        .collect();
    let mut ids: Vec<UserId> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap().user_id)
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let user = store.user(ids[0]).await.unwrap();
    assert_eq!(user.username.as_str(), "eve");
    assert_eq!(user.email, None);
    assert_eq!(
        store.read().users[&ids[0]].external,
        Some(ExternalAccount {
            issuer: "https://sso.example/".into(),
            subject: "auth0|eve".into(),
        })
    );
    assert_eq!(store.stats().await.users, 1);
    // No password: at login the account does not exist.
    assert_eq!(store.credentials(LoginName::Username("eve")).await, None);
}

#[test]
fn a_provider_s_username_is_made_one_of_ours_where_it_can_be() {
    let name = |hint: &str| username_from_hint(hint).map(|name| name.as_str().to_owned());
    assert_eq!(name("Kc.Bob").as_deref(), Some("kc-bob"));
    assert_eq!(name(" jean luc ").as_deref(), Some("jean-luc"));
    assert_eq!(name("..dot..").as_deref(), Some("dot"));
    assert_eq!(name("bob@example.com"), None, "not an email's local part");
    assert_eq!(name("é"), None);
    assert_eq!(name(&"a".repeat(33)), None);
    assert_eq!(
        name("Admin"),
        None,
        "a reserved name is not taken from a provider either"
    );
}

#[test]
fn accounts_journaled_before_external_identities_still_read() {
    let old = r#"{"id":"0192f0a4-0000-7000-8000-000000000001","username":"alice",
        "email":"alice@example.com","name":null,"role":"user",
        "password_hash":"$argon2id$fake","created_at":"2026-11-23T10:00:00Z"}"#;
    let record: UserRecord = serde_json::from_str(old).unwrap();
    assert_eq!(record.email.unwrap().as_str(), "alice@example.com");
    assert_eq!(record.password_hash.as_deref(), Some("$argon2id$fake"));
    assert_eq!(record.external, None);
}

/// The social operations' behaviour is the store contract's (tests/store/social.rs, on both
/// engines); what is left here reaches into the embedded engine's state.
mod social {
    use super::*;
    use crate::domain::{CommentBody, PostId};

    fn comment(text: &str) -> CommentBody {
        CommentBody::parse(text).unwrap()
    }

    /// Alice writes a post; Bob follows her, favorites it and comments; Carol comments too.
    async fn scene(store: &Store) -> (Principal, Principal, Principal, Post) {
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let carol = user(store, "carol").await;
        let post = store
            .create_post(alice.user_id, new_post("Hello", &["greeting"]))
            .await
            .unwrap();
        store.follow(bob.user_id, alice.user_id).await.unwrap();
        store.favorite(&bob.actor(), post.id).await.unwrap();
        store
            .add_comment(&bob.actor(), post.id, comment("first"))
            .await
            .unwrap();
        store
            .add_comment(&carol.actor(), post.id, comment("second"))
            .await
            .unwrap();
        (alice, bob, carol, post)
    }

    async fn bodies(store: &Store, post: PostId) -> Vec<String> {
        store
            .comments(post, None, None, 100)
            .await
            .map(|page| {
                page.comments
                    .iter()
                    .map(|c| c.body.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[actix_web::test]
    async fn deleting_a_post_or_an_account_takes_its_comments_favorites_and_follows() {
        let store = Store::ephemeral();
        let (alice, bob, carol, post) = scene(&store).await;
        store.delete_user(bob.user_id).await.unwrap();
        assert_eq!(bodies(&store, post.id).await, ["second"]);
        assert_eq!(store.post(post.id, None).await.unwrap().favorites, 0);
        let state = store.read();
        assert!(state.followers.get(&alice.user_id).is_none());
        assert!(state.favorites_of.get(&bob.user_id).is_none());
        drop(state);
        store
            .delete_post(post.id, &alice.actor(), &Expected::Any)
            .await
            .unwrap();
        let state = store.read();
        assert!(state.comments.is_empty() && state.comments_by_post.is_empty());
        assert!(state.comments_by_author.get(&carol.user_id).is_none());
    }

    #[actix_web::test]
    async fn follows_favorites_and_comments_survive_a_snapshot_and_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let (post, bob) = {
            let store = Store::open(dir.path(), 1 << 30).unwrap();
            let (_, bob, _, post) = scene(&store).await;
            (post, bob)
        };
        let check = |store: Store| async move {
            let seen = store.post(post.id, Some(&bob.actor())).await.unwrap();
            assert_eq!((seen.favorites, seen.favorited), (1, true));
            assert!(seen.author.following);
            assert_eq!(bodies(&store, post.id).await, ["first", "second"]);
        };
        // Replayed from the journal.
        let store = Store::open(dir.path(), 1 << 30).unwrap();
        // ... and from a snapshot of it.
        let copy = tempfile::tempdir().unwrap();
        store.export_snapshot(&copy.path().join("data")).unwrap();
        check(store).await;
        check(Store::open(&copy.path().join("data"), 1 << 30).unwrap()).await;
    }
}
