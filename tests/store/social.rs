//! What readers do with posts and each other: favorites, follows and the feed, comments,
//! profiles, tags in use.

use blog_api::domain::{Bio, CommentBody, Email, ImageUrl, PostId, Timestamp, Username};
use blog_api::store::{
    ArticleQuery, Expected, LoginName, Post, Principal, ProfileEdit, Store, StoreError,
};

use crate::helpers::{admin, draft, engines, post_at, timeline, titles, user};

fn comment(text: &str) -> CommentBody {
    CommentBody::parse(text).unwrap()
}

/// Alice writes a post (published at `at(0)`); Bob follows her, favorites it and comments;
/// Carol comments too.
async fn scene(
    store: &Store,
    at: &impl Fn(i64) -> Timestamp,
) -> (Principal, Principal, Principal, Post) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let carol = user(store, "carol").await;
    let post = store
        .create_post(alice.user_id, post_at("Hello", &["greeting"], at(0)))
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

/// The bodies of a post's comments, oldest first; none when the post is not there.
async fn bodies(store: &Store, post: PostId) -> Vec<String> {
    store
        .comments(post, None, None, 100)
        .await
        .unwrap()
        .map(|page| {
            page.comments
                .iter()
                .map(|c| c.body.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn favorites_count_per_post_and_show_per_viewer() {
    let test = "favorites_count_per_post_and_show_per_viewer";
    for engine in engines(test).await {
        let store = engine.start(test);
        let (alice, bob, carol, post) = scene(store, &timeline()).await;
        let seen_by_bob = store
            .post(post.id, Some(&bob.actor()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((seen_by_bob.favorites, seen_by_bob.favorited), (1, true));
        let seen_by_alice = store
            .post(post.id, Some(&alice.actor()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (seen_by_alice.favorites, seen_by_alice.favorited),
            (1, false)
        );
        let anonymous = store.post(post.id, None).await.unwrap().unwrap();
        assert_eq!((anonymous.favorites, anonymous.favorited), (1, false));

        // Idempotent both ways; each answer is the post as its reader now sees it.
        let again = store.favorite(&bob.actor(), post.id).await.unwrap();
        assert_eq!((again.favorites, again.favorited), (1, true));
        let by_carol = store.favorite(&carol.actor(), post.id).await.unwrap();
        assert_eq!((by_carol.favorites, by_carol.favorited), (2, true));
        let undone = store.unfavorite(&bob.actor(), post.id).await.unwrap();
        assert_eq!((undone.favorites, undone.favorited), (1, false));
        store.unfavorite(&bob.actor(), post.id).await.unwrap();
        assert_eq!(
            store.post(post.id, None).await.unwrap().unwrap().favorites,
            1
        );

        // The list of a reader's favorites.
        let favorited = ArticleQuery {
            favorited: Some("carol".into()),
            limit: 10,
            viewer: Some(carol.user_id),
            ..ArticleQuery::default()
        };
        let page = store.articles(&favorited).await.unwrap();
        assert_eq!(
            (titles(&page.posts), page.total),
            (vec!["Hello".to_owned()], 1)
        );
        assert!(page.posts[0].favorited);
    }
}

#[tokio::test]
async fn the_feed_merges_followed_authors_newest_first_and_counts_them() {
    let test = "the_feed_merges_followed_authors_newest_first_and_counts_them";
    for engine in engines(test).await {
        let store = engine.start(test);
        let at = timeline();
        let (alice, bob, carol, _) = scene(store, &at).await;
        let followed = store.follow(bob.user_id, carol.user_id).await.unwrap();
        assert!(followed.following);
        assert!(
            store
                .profile(carol.user_id, Some(bob.user_id))
                .await
                .unwrap()
                .unwrap()
                .following
        );
        assert!(
            !store
                .profile(bob.user_id, Some(carol.user_id))
                .await
                .unwrap()
                .unwrap()
                .following,
            "following is one way"
        );
        for (i, (who, title)) in [
            (&carol, "c1"),
            (&alice, "a1"),
            (&carol, "c2"),
            (&bob, "own"),
        ]
        .into_iter()
        .enumerate()
        {
            store
                .create_post(who.user_id, post_at(title, &[], at(i as i64 + 1)))
                .await
                .unwrap();
        }
        // A draft of a followed author is not news.
        store
            .create_post(carol.user_id, draft("c-draft", &[]))
            .await
            .unwrap();
        let feed = |offset, limit| ArticleQuery {
            feed_of: Some(bob.user_id),
            offset,
            limit,
            viewer: Some(bob.user_id),
            ..ArticleQuery::default()
        };
        let page = store.articles(&feed(0, 10)).await.unwrap();
        assert_eq!(titles(&page.posts), ["c2", "a1", "c1", "Hello"]);
        assert_eq!(page.total, 4, "his own post is not in his feed");
        assert!(page.posts.iter().all(|p| p.author.following));
        let slice = store.articles(&feed(1, 2)).await.unwrap();
        assert_eq!(
            (titles(&slice.posts), slice.total),
            (vec!["a1".to_owned(), "c1".to_owned()], 4)
        );
        let beyond = store.articles(&feed(10, 2)).await.unwrap();
        assert_eq!((beyond.posts.len(), beyond.total), (0, 4));

        // Cursor pages walk the same list.
        let mut query = feed(0, 3);
        let first = store.article_page(&query).await.unwrap();
        assert!(first.next.is_some());
        query.after = first.next;
        let second = store.article_page(&query).await.unwrap();
        let mut all = titles(&first.posts);
        all.extend(titles(&second.posts));
        assert_eq!(all, ["c2", "a1", "c1", "Hello"]);
        assert!(second.next.is_none());

        // Narrowed to one followed author.
        let only_carol = ArticleQuery {
            author: Some("carol".into()),
            ..feed(0, 10)
        };
        let page = store.articles(&only_carol).await.unwrap();
        assert_eq!(
            (titles(&page.posts), page.total),
            (vec!["c2".to_owned(), "c1".to_owned()], 2)
        );

        let unfollowed = store.unfollow(bob.user_id, carol.user_id).await.unwrap();
        assert!(!unfollowed.following);
        store.unfollow(bob.user_id, carol.user_id).await.unwrap();
        assert_eq!(store.articles(&feed(0, 10)).await.unwrap().total, 2);
        assert_eq!(
            store.follow(bob.user_id, bob.user_id).await.unwrap_err(),
            StoreError::FollowSelf
        );
        // A reader who follows nobody has an empty feed.
        let carols = ArticleQuery {
            feed_of: Some(carol.user_id),
            ..feed(0, 10)
        };
        let page = store.articles(&carols).await.unwrap();
        assert_eq!((page.posts.len(), page.total), (0, 0));
    }
}

#[tokio::test]
async fn comments_may_be_deleted_by_their_author_the_post_author_or_an_admin() {
    let test = "comments_may_be_deleted_by_their_author_the_post_author_or_an_admin";
    for engine in engines(test).await {
        let store = engine.start(test);
        let (alice, bob, carol, post) = scene(store, &timeline()).await;
        let root = admin(store, "root").await;
        let dave = user(store, "dave").await;
        let by_dave = store
            .add_comment(&dave.actor(), post.id, comment("third"))
            .await
            .unwrap();
        assert_eq!(by_dave.author.username.as_str(), "dave");
        let page = store
            .comments(post.id, None, None, 100)
            .await
            .unwrap()
            .unwrap();
        let ids: Vec<_> = page.comments.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), 3);
        let (bobs, carols, daves) = (ids[0], ids[1], ids[2]);
        assert_eq!(by_dave.id, daves);

        assert_eq!(
            store
                .delete_comment(&carol.actor(), post.id, bobs)
                .await
                .unwrap_err(),
            StoreError::NotAuthor,
            "another commenter may not"
        );
        store
            .delete_comment(&bob.actor(), post.id, bobs)
            .await
            .unwrap();
        store
            .delete_comment(&alice.actor(), post.id, carols)
            .await
            .unwrap();
        store
            .delete_comment(&root.actor(), post.id, daves)
            .await
            .unwrap();
        assert!(bodies(store, post.id).await.is_empty());
        assert_eq!(
            store
                .delete_comment(&alice.actor(), post.id, carols)
                .await
                .unwrap_err(),
            StoreError::NotFound("comment")
        );
    }
}

#[tokio::test]
async fn comment_pages_walk_oldest_first() {
    let test = "comment_pages_walk_oldest_first";
    for engine in engines(test).await {
        let store = engine.start(test);
        let (alice, _, _, post) = scene(store, &timeline()).await;
        for i in 0..5 {
            store
                .add_comment(&alice.actor(), post.id, comment(&format!("c{i}")))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .comments(post.id, None, after, 2)
                .await
                .unwrap()
                .unwrap();
            assert!(page.comments.len() <= 2);
            seen.extend(page.comments.iter().map(|c| c.body.as_str().to_owned()));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, ["first", "second", "c0", "c1", "c2", "c3", "c4"]);
    }
}

#[tokio::test]
async fn deleting_a_post_or_an_account_takes_its_comments_and_favorites() {
    let test = "deleting_a_post_or_an_account_takes_its_comments_and_favorites";
    for engine in engines(test).await {
        let store = engine.start(test);
        let (alice, bob, carol, post) = scene(store, &timeline()).await;
        store.follow(carol.user_id, bob.user_id).await.unwrap();
        store.delete_user(bob.user_id).await.unwrap();
        assert_eq!(bodies(store, post.id).await, ["second"]);
        assert_eq!(
            store.post(post.id, None).await.unwrap().unwrap().favorites,
            0
        );
        assert_eq!(store.profile(bob.user_id, None).await.unwrap(), None);
        assert_eq!(
            store.follow(carol.user_id, bob.user_id).await.unwrap_err(),
            StoreError::NotFound("profile")
        );

        store
            .delete_post(post.id, &alice.actor(), &Expected::Any)
            .await
            .unwrap();
        assert!(
            store
                .comments(post.id, None, None, 10)
                .await
                .unwrap()
                .is_none(),
            "no post, no comments"
        );
        assert_eq!(
            store
                .add_comment(&carol.actor(), post.id, comment("late"))
                .await
                .unwrap_err(),
            StoreError::NotFound("post")
        );
    }
}

#[tokio::test]
async fn profiles_change_and_names_stay_unique() {
    let test = "profiles_change_and_names_stay_unique";
    for engine in engines(test).await {
        let store = engine.start(test);
        let (alice, bob, _, post) = scene(store, &timeline()).await;
        let edit = ProfileEdit {
            username: Some(Username::parse("alicia").unwrap()),
            email: Some(Email::parse("alicia@example.com").unwrap()),
            bio: Some(Bio::parse("Writes").unwrap()),
            image: Some(ImageUrl::parse("https://example.com/a.png").unwrap()),
            ..ProfileEdit::default()
        };
        let user = store.update_profile(alice.user_id, edit).await.unwrap();
        assert_eq!(user.username.as_str(), "alicia");
        assert_eq!(user.bio.as_ref().unwrap().as_str(), "Writes");
        assert!(store
            .credentials(LoginName::Email("alice@example.com"))
            .await
            .unwrap()
            .is_none());
        assert!(store
            .credentials(LoginName::Email("alicia@example.com"))
            .await
            .unwrap()
            .is_some());
        assert!(store.user_by_username("alice").await.unwrap().is_none());
        assert_eq!(
            store.user_by_username("Alicia").await.unwrap().unwrap().id,
            alice.user_id
        );
        // Her posts show her new name at once.
        let seen = store.post(post.id, None).await.unwrap().unwrap();
        assert_eq!(seen.author.username.as_str(), "alicia");
        assert_eq!(
            seen.author.bio.as_ref().map(|bio| bio.as_str()),
            Some("Writes")
        );

        let taken = ProfileEdit {
            username: Some(Username::parse("alicia").unwrap()),
            ..ProfileEdit::default()
        };
        assert_eq!(
            store.update_profile(bob.user_id, taken).await.unwrap_err(),
            StoreError::UsernameTaken
        );
        let taken = ProfileEdit {
            email: Some(Email::parse("ALICIA@example.com").unwrap()),
            ..ProfileEdit::default()
        };
        assert_eq!(
            store.update_profile(bob.user_id, taken).await.unwrap_err(),
            StoreError::EmailTaken
        );
        assert_eq!(
            store
                .user(bob.user_id)
                .await
                .unwrap()
                .unwrap()
                .username
                .as_str(),
            "bob",
            "a refused edit changes nothing"
        );
        // Her own names are hers to give again.
        let same = ProfileEdit {
            username: Some(Username::parse("alicia").unwrap()),
            email: Some(Email::parse("alicia@example.com").unwrap()),
            ..ProfileEdit::default()
        };
        store.update_profile(alice.user_id, same).await.unwrap();

        let clear = ProfileEdit {
            bio: Some(None),
            ..ProfileEdit::default()
        };
        let user = store.update_profile(alice.user_id, clear).await.unwrap();
        assert_eq!((user.bio, user.image.is_some()), (None, true));
        let profile = store.profile(alice.user_id, None).await.unwrap().unwrap();
        assert_eq!((profile.bio, profile.image.is_some()), (None, true));
    }
}

#[tokio::test]
async fn tags_in_use_come_most_used_first() {
    let test = "tags_in_use_come_most_used_first";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let at = timeline();
        for (i, tags) in [&["b", "a"][..], &["b"], &["c", "b"], &["a"]]
            .into_iter()
            .enumerate()
        {
            store
                .create_post(alice.user_id, post_at("t", tags, at(i as i64)))
                .await
                .unwrap();
        }
        // Drafts are not in use.
        store
            .create_post(alice.user_id, draft("d", &["c", "z"]))
            .await
            .unwrap();
        let tags: Vec<(String, usize)> = store
            .tags(10)
            .await
            .unwrap()
            .into_iter()
            .map(|(tag, count)| (tag.as_str().to_owned(), count))
            .collect();
        assert_eq!(tags, [("b".into(), 3), ("a".into(), 2), ("c".into(), 1)]);
        let top: Vec<String> = store
            .tags(1)
            .await
            .unwrap()
            .into_iter()
            .map(|(tag, _)| tag.as_str().to_owned())
            .collect();
        assert_eq!(top, ["b"]);
    }
}
