//! Accounts: uniqueness, deletion, password changes, external identities.

use blog_api::domain::{Email, ExternalIdentity, Role, Username};
use blog_api::store::{LoginName, NewUser, StoreError};

use crate::helpers::{all_pages, engines, new_post, new_user, query, session, user};

#[tokio::test]
async fn duplicate_email_or_username_is_refused_ignoring_case() {
    let test = "duplicate_email_or_username_is_refused_ignoring_case";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let clash = |username: &str, email: &str| NewUser {
            username: Username::parse(username).unwrap(),
            email: Email::parse(email).unwrap(),
            name: None,
            role: Role::User,
            password_hash: String::new(),
        };
        let by_email = store
            .create_user(clash("bob", "ALICE@example.com"), session())
            .await;
        assert_eq!(by_email.unwrap_err(), StoreError::EmailTaken);
        let by_name = store
            .create_user(clash("ALICE", "other@example.com"), session())
            .await;
        assert_eq!(by_name.unwrap_err(), StoreError::UsernameTaken);
        // The early check says the same.
        let taken = clash("bob", "Alice@Example.com");
        assert_eq!(
            store.check_available(&taken.username, &taken.email).await,
            Err(StoreError::EmailTaken)
        );
        let taken = clash("Alice", "other@example.com");
        assert_eq!(
            store.check_available(&taken.username, &taken.email).await,
            Err(StoreError::UsernameTaken)
        );
        let free = clash("bob", "bob@example.com");
        assert_eq!(
            store.check_available(&free.username, &free.email).await,
            Ok(())
        );
        assert_eq!(store.stats().await.unwrap().users, 1);
        // Login finds the account by either name, in any case.
        for name in [
            LoginName::Email("ALICE@example.com"),
            LoginName::Username("Alice"),
        ] {
            let (id, _) = store.credentials(name).await.unwrap().unwrap();
            assert_eq!(id, alice.user_id);
        }
    }
}

#[tokio::test]
async fn deleting_a_user_removes_posts_and_sessions() {
    let test = "deleting_a_user_removes_posts_and_sessions";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let post = store
            .create_post(alice.user_id, new_post("A", &["x"]))
            .await
            .unwrap();
        store
            .create_post(bob.user_id, new_post("B", &["x"]))
            .await
            .unwrap();

        store.delete_user(alice.user_id).await.unwrap();

        let hers = alice.session_id.unwrap();
        assert_eq!(store.principal(alice.user_id, hers).await.unwrap(), None);
        assert!(store.sessions(alice.user_id).await.unwrap().is_empty());
        assert_eq!(store.user(alice.user_id).await.unwrap(), None);
        assert_eq!(store.post(post.id, None).await.unwrap(), None);
        assert_eq!(all_pages(store, query(None, Some("x"), 10)).await, ["B"]);
        assert_eq!(all_pages(store, query(None, None, 10)).await, ["B"]);
        assert!(all_pages(store, query(Some("alice"), None, 10))
            .await
            .is_empty());
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.users, stats.posts, stats.sessions), (1, 1, 1));
        assert_eq!(
            store.delete_user(alice.user_id).await,
            Err(StoreError::NotFound("user"))
        );
        // Her username and email are free again.
        store
            .create_user(new_user("alice", Role::User), session())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn password_change_ends_other_sessions_only() {
    let test = "password_change_ends_other_sessions_only";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let kept = alice.session_id.unwrap();
        let (_, other) = store.start_session(alice.user_id, session()).await.unwrap();
        store
            .set_password_hash(alice.user_id, "new".into(), Some(kept))
            .await
            .unwrap();
        assert!(store
            .principal(alice.user_id, kept)
            .await
            .unwrap()
            .is_some());
        assert_eq!(store.principal(alice.user_id, other).await.unwrap(), None);
        assert_eq!(
            store.password_hash(alice.user_id).await.unwrap().as_deref(),
            Some("new")
        );
        assert!(
            store
                .principal(bob.user_id, bob.session_id.unwrap())
                .await
                .unwrap()
                .is_some(),
            "another account's sessions are untouched"
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_identity_gets_one_account_even_when_first_seen_twice_at_once() {
    let test = "an_external_identity_gets_one_account_even_when_first_seen_twice_at_once";
    for engine in engines(test).await {
        let store = engine.start(test);
        let eve = identity("auth0|eve", Some("eve"));
        let (first, second) = tokio::join!(
            store.external_principal(&eve),
            store.external_principal(&eve)
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first.user_id, second.user_id);
        assert_eq!(first.session_id, None, "its sessions are the issuer's");
        let again = store.external_principal(&eve).await.unwrap();
        assert_eq!(again.user_id, first.user_id, "found again later");

        let user = store.user(first.user_id).await.unwrap().unwrap();
        assert_eq!(user.username.as_str(), "eve");
        assert_eq!(user.email, None);
        assert_eq!(
            user.name.as_ref().map(|name| name.as_str()),
            Some("Eve Example")
        );
        assert_eq!(store.stats().await.unwrap().users, 1);
        // No password: at login the account does not exist.
        assert_eq!(
            store.credentials(LoginName::Username("eve")).await.unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn an_external_username_falls_back_to_a_digest_when_the_hint_is_taken_or_invalid() {
    let test = "an_external_username_falls_back_to_a_digest_when_the_hint_is_taken_or_invalid";
    for engine in engines(test).await {
        let store = engine.start(test);
        user(store, "eve").await;
        let taken = store
            .external_principal(&identity("auth0|eve", Some("eve")))
            .await
            .unwrap();
        let invalid = store
            .external_principal(&identity("auth0|x", Some("x")))
            .await
            .unwrap();
        let email = store
            .external_principal(&identity("auth0|y", Some("yves@example.com")))
            .await
            .unwrap();
        for principal in [taken, invalid, email] {
            let name = store
                .user(principal.user_id)
                .await
                .unwrap()
                .unwrap()
                .username;
            assert!(name.as_str().starts_with("ext-"), "{name}");
            assert_eq!(name.as_str().len(), 16, "{name}");
        }
        assert_eq!(store.stats().await.unwrap().users, 4);
    }
}
