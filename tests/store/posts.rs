//! Posts: cursor pages, slugs, `If-Match` versions, permissions, drafts and scheduled posts,
//! search.

use blog_api::domain::{now, PostContent, PostStatus, PostTitle, Tag, Tags, Username};
use blog_api::store::search::query_words;
use blog_api::store::{Expected, Listing, PostEdit, PostSearch, Store, StoreError};

use crate::helpers::{
    admin, all_pages, draft, engines, listing, new_post, post_at, query, timeline, titles, user,
};

#[tokio::test]
async fn pages_walk_newest_first_without_gaps_or_repeats() {
    let test = "pages_walk_newest_first_without_gaps_or_repeats";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let at = timeline();
        for i in 0..25 {
            let (who, tags) = if i % 2 == 0 {
                (&alice, &["even"][..])
            } else {
                (&bob, &["odd"][..])
            };
            store
                .create_post(who.user_id, post_at(&format!("p{i:02}"), tags, at(i)))
                .await
                .unwrap();
        }
        let expected: Vec<String> = (0..25).rev().map(|i| format!("p{i:02}")).collect();
        assert_eq!(all_pages(store, query(None, None, 7)).await, expected);
        let alices: Vec<String> = expected
            .iter()
            .filter(|t| t[1..].parse::<u32>().unwrap() % 2 == 0)
            .cloned()
            .collect();
        assert_eq!(
            all_pages(store, query(Some("alice"), None, 4)).await,
            alices
        );
        assert_eq!(all_pages(store, query(None, Some("even"), 3)).await, alices);
        assert_eq!(
            all_pages(store, query(Some("alice"), Some("even"), 5)).await,
            alices
        );
        assert!(all_pages(store, query(Some("alice"), Some("odd"), 3))
            .await
            .is_empty());
        assert!(all_pages(store, query(Some("nobody"), None, 3))
            .await
            .is_empty());
        let exact = store.list_posts(&query(None, None, 25)).await.unwrap();
        assert_eq!(
            (exact.posts.len(), exact.next),
            (25, None),
            "a full last page has no next cursor"
        );
        // The viewer's own view changes nothing about the order.
        let mut as_bob = query(None, None, 10);
        as_bob.viewer = Some(bob.user_id);
        let page = store.list_posts(&as_bob).await.unwrap();
        assert_eq!(titles(&page.posts), expected[..10].to_vec());
    }
}

#[tokio::test]
async fn slugs_stay_unique_and_follow_the_title() {
    let test = "slugs_stay_unique_and_follow_the_title";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let mut slugs = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let post = store
                .create_post(alice.user_id, new_post("Hello", &[]))
                .await
                .unwrap();
            slugs.push(post.slug.as_str().to_owned());
            ids.push(post.id);
        }
        assert_eq!(slugs, ["hello", "hello-2", "hello-3"]);

        // An edit whose title asks for the same base keeps the slug.
        let edit = PostEdit {
            title: Some(PostTitle::parse("Hello!").unwrap()),
            content: Some(PostContent::parse("changed").unwrap()),
            ..Default::default()
        };
        let kept = store
            .update_post(ids[1], &alice.actor(), &Expected::Any, edit)
            .await
            .unwrap();
        assert_eq!(kept.slug.as_str(), "hello-2");

        // Another title, another slug; the old one is released.
        let edit = PostEdit {
            title: Some(PostTitle::parse("Other").unwrap()),
            ..Default::default()
        };
        let renamed = store
            .update_post(ids[0], &alice.actor(), &Expected::Any, edit)
            .await
            .unwrap();
        assert_eq!(renamed.slug.as_str(), "other");
        assert_eq!(
            store.post_by_slug("hello", None).await.unwrap(),
            None,
            "the old slug is released"
        );
        assert_eq!(
            store.post_by_slug("other", None).await.unwrap().unwrap().id,
            ids[0]
        );
        assert_eq!(
            store
                .post_by_slug("hello-3", None)
                .await
                .unwrap()
                .unwrap()
                .id,
            ids[2]
        );
        // A released slug is free for the next post of that title; a taken one gets a suffix.
        let fresh = store
            .create_post(alice.user_id, new_post("Hello", &[]))
            .await
            .unwrap();
        assert_eq!(fresh.slug.as_str(), "hello");
        let second = store
            .create_post(alice.user_id, new_post("Other", &[]))
            .await
            .unwrap();
        assert_eq!(second.slug.as_str(), "other-2");
    }
}

#[tokio::test]
async fn updates_check_author_and_version_then_bump_the_version() {
    let test = "updates_check_author_and_version_then_bump_the_version";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let post = store
            .create_post(alice.user_id, new_post("T", &["a"]))
            .await
            .unwrap();
        assert_eq!(post.version, 1);
        let retag = || PostEdit {
            tags: Some(Tags::parse(&["b"]).unwrap()),
            ..Default::default()
        };

        let by_bob = store
            .update_post(post.id, &bob.actor(), &Expected::Any, retag())
            .await;
        assert_eq!(by_bob.unwrap_err(), StoreError::NotAuthor);
        let stale = store
            .update_post(post.id, &alice.actor(), &Expected::OneOf(vec![7]), retag())
            .await;
        assert_eq!(stale.unwrap_err(), StoreError::VersionMismatch);
        let none = store
            .update_post(post.id, &alice.actor(), &Expected::OneOf(vec![]), retag())
            .await;
        assert_eq!(
            none.unwrap_err(),
            StoreError::VersionMismatch,
            "an empty list never matches"
        );

        let updated = store
            .update_post(
                post.id,
                &alice.actor(),
                &Expected::OneOf(vec![3, 1]),
                retag(),
            )
            .await
            .unwrap();
        assert_eq!(updated.version, 2);
        let again = store
            .update_post(post.id, &alice.actor(), &Expected::Any, retag())
            .await
            .unwrap();
        assert_eq!(
            again.version, 2,
            "a change that changes nothing keeps the version"
        );
        assert_eq!(store.post(post.id, None).await.unwrap().unwrap().version, 2);
        assert!(all_pages(store, query(None, Some("a"), 10))
            .await
            .is_empty());
        assert_eq!(all_pages(store, query(None, Some("b"), 10)).await, ["T"]);

        // Deleting checks the version too.
        assert_eq!(
            store
                .delete_post(post.id, &alice.actor(), &Expected::OneOf(vec![1]))
                .await,
            Err(StoreError::VersionMismatch)
        );
        store
            .delete_post(post.id, &alice.actor(), &Expected::OneOf(vec![2]))
            .await
            .unwrap();
        assert_eq!(
            store
                .update_post(post.id, &alice.actor(), &Expected::Any, retag())
                .await
                .unwrap_err(),
            StoreError::NotFound("post")
        );
    }
}

#[tokio::test]
async fn admins_may_delete_any_post_others_may_not() {
    let test = "admins_may_delete_any_post_others_may_not";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let mallory = user(store, "mallory").await;
        let root = admin(store, "root").await;
        let post = store
            .create_post(alice.user_id, new_post("T", &[]))
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_post(post.id, &mallory.actor(), &Expected::Any)
                .await,
            Err(StoreError::NotAuthor)
        );
        assert!(store.post(post.id, None).await.unwrap().is_some());
        // An admin may delete it, but not edit it: the words stay the author's.
        let edit = PostEdit {
            title: Some(PostTitle::parse("Mine now").unwrap()),
            ..Default::default()
        };
        assert_eq!(
            store
                .update_post(post.id, &root.actor(), &Expected::Any, edit)
                .await
                .unwrap_err(),
            StoreError::NotAuthor
        );
        store
            .delete_post(post.id, &root.actor(), &Expected::Any)
            .await
            .unwrap();
        assert_eq!(store.post(post.id, None).await.unwrap(), None);
        assert_eq!(
            store
                .delete_post(post.id, &root.actor(), &Expected::Any)
                .await,
            Err(StoreError::NotFound("post"))
        );
    }
}

#[tokio::test]
async fn drafts_and_scheduled_posts_are_hidden_from_others() {
    let test = "drafts_and_scheduled_posts_are_hidden_from_others";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let root = admin(store, "root").await;
        let tomorrow = now() + chrono::Duration::days(1);
        store
            .create_post(alice.user_id, new_post("Out", &["shown"]))
            .await
            .unwrap();
        let hidden = store
            .create_post(alice.user_id, draft("Secret draft", &["hidden"]))
            .await
            .unwrap();
        assert_eq!(
            (hidden.status, hidden.published_at),
            (PostStatus::Draft, None)
        );
        let later = store
            .create_post(
                alice.user_id,
                post_at("Secret later", &["hidden"], tomorrow),
            )
            .await
            .unwrap();
        assert_eq!(later.published_at, Some(tomorrow));

        for post in [&hidden, &later] {
            let slug = post.slug.as_str();
            for viewer in [None, Some(bob.actor())] {
                assert_eq!(store.post(post.id, viewer.as_ref()).await.unwrap(), None);
                assert_eq!(
                    store.post_by_slug(slug, viewer.as_ref()).await.unwrap(),
                    None
                );
            }
            for viewer in [alice.actor(), root.actor()] {
                assert!(store.post(post.id, Some(&viewer)).await.unwrap().is_some());
                assert!(store
                    .post_by_slug(slug, Some(&viewer))
                    .await
                    .unwrap()
                    .is_some());
            }
            // Not even its existence shows through a change.
            let edit = PostEdit {
                content: Some(PostContent::parse("mine").unwrap()),
                ..Default::default()
            };
            assert_eq!(
                store
                    .update_post(post.id, &bob.actor(), &Expected::Any, edit)
                    .await
                    .unwrap_err(),
                StoreError::NotFound("post")
            );
            assert_eq!(
                store.favorite(&bob.actor(), post.id).await.unwrap_err(),
                StoreError::NotFound("post")
            );
        }

        // Lists: the public one holds what is out, whoever reads it.
        assert_eq!(all_pages(store, query(None, None, 10)).await, ["Out"]);
        let mut as_alice = query(Some("alice"), None, 10);
        as_alice.viewer = Some(alice.user_id);
        assert_eq!(all_pages(store, as_alice).await, ["Out"]);
        assert!(all_pages(store, query(None, Some("hidden"), 10))
            .await
            .is_empty());
        assert_eq!(
            all_pages(store, listing(Listing::DraftsOf(alice.user_id), 10)).await,
            ["Secret draft"]
        );
        assert_eq!(
            all_pages(store, listing(Listing::ScheduledOf(alice.user_id), 10)).await,
            ["Secret later"]
        );
        assert!(
            all_pages(store, listing(Listing::DraftsOf(bob.user_id), 10))
                .await
                .is_empty()
        );
        let mut others = listing(Listing::DraftsOf(alice.user_id), 10);
        others.author = Some(Username::parse("bob").unwrap());
        assert!(
            all_pages(store, others).await.is_empty(),
            "an author who is not the owner of the drafts lists none"
        );
        // Tags in use and search count public posts only.
        let tags = store.tags(10).await.unwrap();
        assert!(
            tags.iter().all(|(tag, _)| tag.as_str() != "hidden"),
            "{tags:?}"
        );
        let search = PostSearch {
            words: query_words("secret").unwrap(),
            author: None,
            tag: None,
            after: None,
            limit: 10,
            viewer: Some(alice.user_id),
        };
        assert!(store.search_posts(&search).await.unwrap().posts.is_empty());

        // A draft has no publication time; publishing it makes it public now.
        let mut with_time = draft("Bad", &[]);
        with_time.published_at = Some(now());
        assert_eq!(
            store
                .create_post(alice.user_id, with_time)
                .await
                .unwrap_err(),
            StoreError::DraftWithPublishTime
        );
        let publish = PostEdit {
            status: Some(PostStatus::Published),
            ..Default::default()
        };
        let published = store
            .update_post(hidden.id, &alice.actor(), &Expected::Any, publish)
            .await
            .unwrap();
        assert!(published.published_at.is_some());
        assert!(store.post(hidden.id, None).await.unwrap().is_some());
        assert_eq!(
            all_pages(store, query(None, None, 10)).await,
            ["Secret draft", "Out"]
        );
        assert!(
            all_pages(store, listing(Listing::DraftsOf(alice.user_id), 10))
                .await
                .is_empty()
        );
    }
}

/// The titles a search finds, following its pages to the end.
async fn search_all(store: &Store, q: &str, tag: Option<&str>, limit: usize) -> Vec<String> {
    let mut search = PostSearch {
        words: query_words(q).unwrap(),
        author: None,
        tag: tag.map(|tag| Tag::parse(tag).unwrap()),
        after: None,
        limit,
        viewer: None,
    };
    let mut found = Vec::new();
    loop {
        let page = store.search_posts(&search).await.unwrap();
        assert!(page.posts.len() <= limit);
        found.extend(titles(&page.posts));
        match page.next {
            Some(next) => search.after = Some(next),
            None => return found,
        }
    }
}

#[tokio::test]
async fn search_finds_posts_holding_every_word_title_matches_first() {
    let test = "search_finds_posts_holding_every_word_title_matches_first";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let at = timeline();
        // (title, content, tags), oldest first.
        let posts: [(&str, &str, &[&str]); 6] = [
            ("Rust and async", "An older post on both.", &[]),
            ("Gardening notes", "Rust on tools, and async watering.", &[]),
            ("Async Rust!", "Newer, with both in the title.", &[]),
            ("Rust only", "Nothing about the other word.", &["async"]),
            ("Trusty rusty", "asynchronous, not a match", &[]),
            ("Weekly", "Rust, and more rust; also ASYNC.", &["rust"]),
        ];
        for (i, (title, content, tags)) in posts.into_iter().enumerate() {
            let mut post = post_at(title, tags, at(i as i64));
            post.content = PostContent::parse(content).unwrap();
            store.create_post(alice.user_id, post).await.unwrap();
        }
        // Both words in the title first (newest first among equals), then title and tag, then
        // tag and content, then content alone; never a post missing a word or holding only a
        // longer one.
        let expected = [
            "Async Rust!",
            "Rust and async",
            "Rust only",
            "Weekly",
            "Gardening notes",
        ];
        assert_eq!(search_all(store, "rust async", None, 10).await, expected);
        assert_eq!(
            search_all(store, "ASYNC, rust", None, 2).await,
            expected,
            "pages walk the same ranking, in any case"
        );
        assert_eq!(
            search_all(store, "rust async", Some("rust"), 10).await,
            ["Weekly"]
        );
        assert_eq!(
            search_all(store, "rust gardening async watering tools", None, 10).await,
            ["Gardening notes"]
        );
        assert!(search_all(store, "rust kubernetes", None, 10)
            .await
            .is_empty());

        // An edit moves a post in and out of the results; a deleted one is gone.
        let weekly = store.post_by_slug("weekly", None).await.unwrap().unwrap();
        let edit = PostEdit {
            content: Some(PostContent::parse("Nothing to see.").unwrap()),
            tags: Some(Tags::default()),
            ..Default::default()
        };
        store
            .update_post(weekly.id, &alice.actor(), &Expected::Any, edit)
            .await
            .unwrap();
        let first = store
            .post_by_slug("async-rust", None)
            .await
            .unwrap()
            .unwrap();
        store
            .delete_post(first.id, &alice.actor(), &Expected::Any)
            .await
            .unwrap();
        assert_eq!(
            search_all(store, "rust async", None, 10).await,
            ["Rust and async", "Rust only", "Gardening notes"]
        );
    }
}
