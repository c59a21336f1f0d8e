//! Sessions: login, the per-request check of an access token's session, refresh rotation with
//! reuse detection, logout, the sweep of expired sessions and the cap per account.
//!
//! A session costs the same whatever its age: the current refresh token's hash and its
//! generation, nothing per rotation. A session leaves the state when it ends, expires (the
//! sweep) or is pushed out by the cap.

use subtle::ConstantTimeEq as _;

use crate::domain::{now, SessionId, Timestamp, UserId};

use super::records::{Principal, SessionInfo, SessionRecord, User};
use super::state::Change;
use super::{Embedded, NewSession, PresentedRefresh, RefreshError, StoreError, Tx};

/// A session's last use is written down at most this often; a request in between writes
/// nothing.
const TOUCH_EVERY: chrono::Duration = chrono::Duration::seconds(60);

pub(super) fn new_session_record(
    user_id: UserId,
    session: NewSession,
    created_at: Timestamp,
) -> SessionRecord {
    SessionRecord {
        id: session.id,
        user_id,
        refresh_hash: session.refresh_hash,
        generation: 0,
        family_key: session.family_key,
        created_at,
        last_used_at: created_at,
        expires_at: session.expires_at,
        user_agent: session.user_agent,
    }
}

impl Embedded {
    /// Starts a session for an existing account (after its password was checked). If the
    /// account already holds as many live sessions as the cap allows, its least recently used
    /// one ends: logging in never fails because of the cap.
    pub async fn start_session(
        &self,
        user_id: UserId,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        let cap = self.session_cap;
        self.write(move |tx| {
            let user = tx
                .state
                .users
                .get(&user_id)
                .map(|user| User::from(&**user))
                .ok_or(StoreError::NotFound("user"))?;
            make_room(tx, user_id, cap);
            let session = new_session_record(user_id, session, now());
            let session_id = session.id;
            tx.commit(Change::CreateSession(session));
            Ok((user, session_id))
        })
        .await
    }

    /// Who holds this access token, if its account and session are still live: O(1) lookups
    /// on the published version, so logout and account deletion take effect at once. Writes
    /// nothing on the way, but for a session last recorded as used over a minute ago, whose
    /// use is recorded in the background.
    pub async fn principal(&self, user_id: UserId, session_id: SessionId) -> Option<Principal> {
        let state = self.read();
        let role = state.users.get(&user_id)?.role;
        let session = state.sessions.get(&session_id)?;
        let now = now();
        if session.user_id != user_id || session.expires_at <= now {
            return None;
        }
        if now - session.last_used_at >= TOUCH_EVERY {
            self.write_detached(move |tx| {
                // Several requests may have asked at once: only the first writes.
                let stale = tx
                    .state
                    .sessions
                    .get(&session_id)
                    .is_some_and(|session| now - session.last_used_at >= TOUCH_EVERY);
                if stale {
                    tx.commit(Change::TouchSession {
                        id: session_id,
                        at: now,
                    });
                }
            });
        }
        Some(Principal {
            user_id,
            session_id: Some(session_id),
            role,
        })
    }

    /// The key a session's refresh tokens carry their MAC under, to check a presented one.
    pub async fn refresh_family_key(&self, session: SessionId) -> Option<[u8; 32]> {
        self.read()
            .sessions
            .get(&session)
            .map(|session| session.family_key)
    }

    /// Exchanges the session's current refresh token for the next generation's, atomically: of
    /// several requests presenting the same token exactly one succeeds. A token of an earlier
    /// generation (already used) revokes the session.
    pub async fn rotate_refresh(
        &self,
        presented: PresentedRefresh,
        next_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(User, SessionId), RefreshError> {
        self.write(move |tx| {
            let id = presented.session;
            let session = tx.state.sessions.get(&id).ok_or(RefreshError::Unknown)?;
            if presented.generation < session.generation {
                tx.commit(Change::EndSession { id });
                return Err(RefreshError::Reused);
            }
            let current = presented.generation == session.generation
                && bool::from(presented.hash.ct_eq(&session.refresh_hash));
            if !current {
                return Err(RefreshError::Unknown);
            }
            let now = now();
            if session.expires_at <= now {
                tx.commit(Change::EndSession { id });
                return Err(RefreshError::Expired);
            }
            let generation = session.generation + 1;
            let user = tx
                .state
                .users
                .get(&session.user_id)
                .map(|user| User::from(&**user))
                .ok_or(RefreshError::Unknown)?;
            tx.commit(Change::RotateRefresh {
                id,
                refresh_hash: next_hash,
                generation: Some(generation),
                expires_at,
                at: now,
            });
            Ok((user, id))
        })
        .await
    }

    /// The live sessions of an account, newest first.
    pub async fn sessions(&self, user_id: UserId) -> Vec<SessionInfo> {
        let state = self.read();
        let now = now();
        let mut sessions: Vec<SessionInfo> = state
            .sessions_by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| state.sessions.get(id))
            .filter(|session| session.expires_at > now)
            .map(|session| SessionInfo {
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                user_agent: session.user_agent.clone(),
            })
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        sessions
    }

    /// Ends a session of `user_id`; another account's session id is "not found".
    pub async fn end_user_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        self.write(move |tx| match tx.state.sessions.get(&id) {
            Some(session) if session.user_id == user_id => {
                tx.commit(Change::EndSession { id });
                Ok(())
            }
            _ => Err(StoreError::NotFound("session")),
        })
        .await
    }

    pub async fn end_session(&self, id: SessionId) {
        self.write(move |tx| {
            if tx.state.sessions.contains_key(&id) {
                tx.commit(Change::EndSession { id });
            }
        })
        .await
    }

    /// Removes every session whose refresh token has expired; returns how many. Costs nothing
    /// (no write, no journal record) when there are none. Run from a timer, never on a
    /// request's path.
    pub async fn sweep_sessions(&self) -> usize {
        let at = now();
        if self.read().expired_sessions(at).is_empty() {
            return 0;
        }
        self.write(move |tx| {
            let expired = tx.state.expired_sessions(at).len();
            if expired > 0 {
                tx.commit(Change::ExpireSessions { at });
            }
            expired
        })
        .await
    }
}

/// Ends the least recently used sessions of `user_id` until one more fits under `cap`.
fn make_room(tx: &mut Tx<'_>, user_id: UserId, cap: usize) {
    let Some(ids) = tx.state.sessions_by_user.get(&user_id) else {
        return;
    };
    if ids.len() < cap {
        return;
    }
    let mut by_use: Vec<(Timestamp, Timestamp, SessionId)> = ids
        .iter()
        .filter_map(|id| tx.state.sessions.get(id))
        .map(|session| (session.last_used_at, session.created_at, session.id))
        .collect();
    by_use.sort_unstable();
    let excess = by_use.len() + 1 - cap;
    for (_, _, id) in by_use.into_iter().take(excess) {
        tx.commit(Change::EndSession { id });
    }
}
