//! Sessions: refresh rotation and reuse, the cap per account, the sweep, logout.

use std::time::Duration;

use blog_api::domain::{now, Role, SessionId};
use blog_api::store::{PresentedRefresh, RefreshError, StoreError};

use crate::helpers::{
    engines, engines_with, expired_session, new_user, random_hash, session, session_until, user,
};

/// When a token given out now expires.
fn tomorrow() -> blog_api::domain::Timestamp {
    now() + chrono::Duration::days(1)
}

#[tokio::test]
async fn refresh_tokens_rotate_once_expire_and_reuse_revokes() {
    let test = "refresh_tokens_rotate_once_expire_and_reuse_revokes";
    for engine in engines(test).await {
        let store = engine.start(test);
        let first_session = session();
        let (sid, h0) = (first_session.id, first_session.refresh_hash);
        let (alice, _) = store
            .create_user(new_user("alice", Role::User), first_session)
            .await
            .unwrap();
        let first = PresentedRefresh {
            session: sid,
            generation: 0,
            hash: h0,
        };

        let h1 = random_hash();
        let (user, session_id) = store.rotate_refresh(first, h1, tomorrow()).await.unwrap();
        assert_eq!((user.id, session_id), (alice.id, sid));
        let second = PresentedRefresh {
            session: sid,
            generation: 1,
            hash: h1,
        };
        let wrong = PresentedRefresh {
            hash: random_hash(),
            ..second
        };
        assert_eq!(
            store.rotate_refresh(wrong, random_hash(), tomorrow()).await,
            Err(RefreshError::Unknown),
            "the current generation with another token's hash"
        );
        let ahead = PresentedRefresh {
            generation: 5,
            ..second
        };
        assert_eq!(
            store.rotate_refresh(ahead, random_hash(), tomorrow()).await,
            Err(RefreshError::Unknown)
        );
        let unknown = PresentedRefresh {
            session: SessionId::new(),
            ..second
        };
        assert_eq!(
            store
                .rotate_refresh(unknown, random_hash(), tomorrow())
                .await,
            Err(RefreshError::Unknown)
        );
        assert!(
            store.principal(alice.id, sid).await.unwrap().is_some(),
            "a token that does not match ends nothing"
        );

        // The used token comes back: the whole session is revoked.
        assert_eq!(
            store.rotate_refresh(first, random_hash(), tomorrow()).await,
            Err(RefreshError::Reused)
        );
        assert_eq!(
            store.principal(alice.id, sid).await.unwrap(),
            None,
            "reuse revoked the session"
        );
        assert_eq!(
            store
                .rotate_refresh(second, random_hash(), tomorrow())
                .await,
            Err(RefreshError::Unknown),
            "the current token died with its session"
        );
        assert_eq!(store.refresh_family_key(sid).await.unwrap(), None);
        assert!(store.sessions(alice.id).await.unwrap().is_empty());

        // An expired token is refused, and its session ends.
        let expiring = session_until(now() - chrono::Duration::seconds(1));
        let (expired, hash) = (expiring.id, expiring.refresh_hash);
        store.start_session(alice.id, expiring).await.unwrap();
        let presented = PresentedRefresh {
            session: expired,
            generation: 0,
            hash,
        };
        assert_eq!(
            store
                .rotate_refresh(presented, random_hash(), tomorrow())
                .await,
            Err(RefreshError::Expired)
        );
        assert_eq!(store.principal(alice.id, expired).await.unwrap(), None);
        assert_eq!(store.stats().await.unwrap().sessions, 0);
    }
}

#[tokio::test]
async fn a_refresh_token_many_rotations_old_still_revokes_the_session() {
    let test = "a_refresh_token_many_rotations_old_still_revokes_the_session";
    for engine in engines(test).await {
        let store = engine.start(test);
        let first_session = session();
        let (sid, mut hash) = (first_session.id, first_session.refresh_hash);
        let (alice, _) = store
            .create_user(new_user("alice", Role::User), first_session)
            .await
            .unwrap();
        let oldest = PresentedRefresh {
            session: sid,
            generation: 0,
            hash,
        };
        for generation in 0..50 {
            let next = random_hash();
            let current = PresentedRefresh {
                session: sid,
                generation,
                hash,
            };
            store
                .rotate_refresh(current, next, tomorrow())
                .await
                .unwrap();
            hash = next;
        }
        assert_eq!(
            store.stats().await.unwrap().sessions,
            1,
            "one session, whatever its age"
        );
        assert_eq!(
            store
                .rotate_refresh(oldest, random_hash(), tomorrow())
                .await,
            Err(RefreshError::Reused)
        );
        assert_eq!(store.principal(alice.id, sid).await.unwrap(), None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_refreshes_with_one_token_at_once_exactly_one_succeeds() {
    let test = "of_two_refreshes_with_one_token_at_once_exactly_one_succeeds";
    for engine in engines(test).await {
        let store = engine.start(test);
        let first_session = session();
        let presented = PresentedRefresh {
            session: first_session.id,
            generation: 0,
            hash: first_session.refresh_hash,
        };
        store
            .create_user(new_user("alice", Role::User), first_session)
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.rotate_refresh(presented, random_hash(), tomorrow()),
            store.rotate_refresh(presented, random_hash(), tomorrow())
        );
        let outcomes = [a.map(|(_, id)| id), b.map(|(_, id)| id)];
        assert_eq!(
            outcomes.iter().filter(|outcome| outcome.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes.contains(&Err(RefreshError::Reused)),
            "the other one is a reuse: {outcomes:?}"
        );
    }
}

#[tokio::test]
async fn the_login_past_the_cap_ends_the_least_recently_used_session() {
    let test = "the_login_past_the_cap_ends_the_least_recently_used_session";
    for engine in engines_with(test, |store| store.with_session_cap(3)).await {
        let store = engine.start(test);
        // Timestamps are milliseconds: a pause between steps orders them.
        let pause = || tokio::time::sleep(Duration::from_millis(3));
        let first_session = session();
        let first_refresh = PresentedRefresh {
            session: first_session.id,
            generation: 0,
            hash: first_session.refresh_hash,
        };
        let (alice, s0) = store
            .create_user(new_user("alice", Role::User), first_session)
            .await
            .unwrap();
        let mut sessions = vec![s0];
        for _ in 1..3 {
            pause().await;
            sessions.push(store.start_session(alice.id, session()).await.unwrap().1);
        }
        assert_eq!(store.sessions(alice.id).await.unwrap().len(), 3);
        // The first session is the oldest but is used last (a refresh); the second is now the
        // least recently used.
        pause().await;
        store
            .rotate_refresh(first_refresh, random_hash(), tomorrow())
            .await
            .unwrap();
        pause().await;
        let (_, newest) = store.start_session(alice.id, session()).await.unwrap();

        let live: Vec<SessionId> = store
            .sessions(alice.id)
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            live,
            [newest, sessions[2], sessions[0]],
            "the 4th login fits by ending one; newest first"
        );
        assert_eq!(store.principal(alice.id, sessions[1]).await.unwrap(), None);
        assert!(store
            .principal(alice.id, sessions[0])
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn the_sweep_removes_expired_sessions_only() {
    let test = "the_sweep_removes_expired_sessions_only";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        for _ in 0..3 {
            expired_session(store, &alice).await;
        }
        assert_eq!(store.stats().await.unwrap().sessions, 4);
        assert_eq!(
            store.sessions(alice.user_id).await.unwrap().len(),
            1,
            "an expired session is not listed"
        );
        assert_eq!(store.sweep_sessions().await.unwrap(), 3);
        assert_eq!(store.stats().await.unwrap().sessions, 1);
        assert_eq!(
            store.sweep_sessions().await.unwrap(),
            0,
            "nothing left to sweep"
        );
        assert!(store
            .principal(alice.user_id, alice.session_id.unwrap())
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn a_session_is_ended_by_its_own_account_only() {
    let test = "a_session_is_ended_by_its_own_account_only";
    for engine in engines(test).await {
        let store = engine.start(test);
        let alice = user(store, "alice").await;
        let bob = user(store, "bob").await;
        let hers = alice.session_id.unwrap();
        assert_eq!(
            store.end_user_session(bob.user_id, hers).await,
            Err(StoreError::NotFound("session"))
        );
        assert_eq!(
            store.principal(bob.user_id, hers).await.unwrap(),
            None,
            "her session is not his access"
        );
        assert!(store
            .principal(alice.user_id, hers)
            .await
            .unwrap()
            .is_some());
        store.end_user_session(alice.user_id, hers).await.unwrap();
        assert_eq!(store.principal(alice.user_id, hers).await.unwrap(), None);
        assert_eq!(
            store.end_user_session(alice.user_id, hers).await,
            Err(StoreError::NotFound("session"))
        );
        // Ending an unknown session is no error.
        store.end_session(hers).await.unwrap();
        assert!(store
            .principal(bob.user_id, bob.session_id.unwrap())
            .await
            .unwrap()
            .is_some());
    }
}
