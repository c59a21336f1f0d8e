//! Sessions in PostgreSQL: login, the per-request check, refresh rotation with reuse
//! detection (one conditional `UPDATE`: of concurrent refreshes on any servers exactly one
//! matches), logout, the sweep and the cap per account.

use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::PgConnection;
use uuid::Uuid;

use super::cache::CachedSession;
use super::{bytes32, get, now, parsed, unavailable, user_from, Postgres, USER_COLUMNS};
use crate::domain::{Role, SessionId, Timestamp, UserId};
use crate::store::records::{Principal, SessionInfo, User};
use crate::store::{NewSession, PresentedRefresh, RefreshError, StoreError};

/// A session's last use is written at most this often.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// Inserts a session row (generation 0).
pub(super) async fn insert_session(
    connection: &mut PgConnection,
    user: UserId,
    session: NewSession,
    at: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_hash, generation, family_key, created_at,
             last_used_at, expires_at, user_agent)
         VALUES ($1, $2, $3, 0, $4, $5, $5, $6, $7)",
    )
    .bind(session.id.as_uuid())
    .bind(user.as_uuid())
    .bind(session.refresh_hash.to_vec())
    .bind(session.family_key.to_vec())
    .bind(at)
    .bind(session.expires_at)
    .bind(session.user_agent)
    .execute(connection)
    .await
    .map(|_| ())
}

impl Postgres {
    /// Starts a session; past the cap, the least recently used ones end first. The account's
    /// row is locked meanwhile, so two logins at once count each other.
    pub async fn start_session(
        &self,
        user_id: UserId,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 FOR NO KEY UPDATE"
        ))
        .bind(user_id.as_uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(unavailable)?;
        let user = user_from(&row.ok_or(StoreError::NotFound("user"))?)?;
        sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE user_id = $1
                 ORDER BY last_used_at DESC, created_at DESC, id DESC OFFSET $2)",
        )
        .bind(user_id.as_uuid())
        .bind(self.session_cap as i64 - 1)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
        let id = session.id;
        insert_session(&mut tx, user_id, session, now())
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((user, id))
    }

    /// The account and session of an access token, if both are live: one indexed lookup.
    /// Its last use is written when over a minute old.
    pub async fn principal(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> Result<Option<Principal>, StoreError> {
        let now = now();
        let principal = |role| Principal {
            user_id,
            session_id: Some(session_id),
            role,
        };
        if let Some(hit) = self.cache.session(session_id) {
            if hit.user_id == user_id && hit.expires_at > now {
                self.touch(session_id, &hit.touched_ms, now).await;
                return Ok(Some(principal(hit.role)));
            }
        }
        let ticket = self.cache.session_ticket();
        let row = sqlx::query(
            "SELECT u.role, s.last_used_at, s.expires_at FROM sessions s
             JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2 AND s.expires_at > $3",
        )
        .bind(session_id.as_uuid())
        .bind(user_id.as_uuid())
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        let role = parsed("role", &get::<String>(&row, "role")?, |text| match text {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            other => Err(format!("unknown role {other}")),
        })?;
        let entry = CachedSession::new(
            user_id,
            role,
            get(&row, "expires_at")?,
            get(&row, "last_used_at")?,
        );
        self.touch(session_id, &entry.touched_ms, now).await;
        self.cache.put_session(session_id, ticket, entry);
        Ok(Some(principal(role)))
    }

    /// Writes a session's last use when the one written is over a minute old. A failure is
    /// logged and ignored: bookkeeping never refuses a token.
    async fn touch(&self, session_id: SessionId, touched_ms: &AtomicI64, now: Timestamp) {
        let last = touched_ms.load(Ordering::Acquire);
        if now.timestamp_millis() - last < TOUCH_EVERY_SECONDS * 1000 {
            return;
        }
        // One request of the many that see it due writes it.
        if touched_ms
            .compare_exchange(
                last,
                now.timestamp_millis(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return;
        }
        let touched = sqlx::query(
            "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND last_used_at < $2",
        )
        .bind(session_id.as_uuid())
        .bind(now)
        .execute(&self.pool)
        .await;
        if let Err(error) = touched {
            tracing::warn!(%error, "could not record a session's last use");
        }
    }

    pub async fn refresh_family_key(
        &self,
        session: SessionId,
    ) -> Result<Option<[u8; 32]>, StoreError> {
        let row = sqlx::query("SELECT family_key FROM sessions WHERE id = $1")
            .bind(session.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|row| bytes32(&row, "family_key")).transpose()
    }

    /// Rotation is one `UPDATE` conditional on the generation and hash presented: the row lock
    /// makes exactly one of several concurrent refreshes match. A miss is then told apart: an
    /// earlier generation (reuse) or an expired token ends the session.
    pub async fn rotate_refresh(
        &self,
        presented: PresentedRefresh,
        next_hash: [u8; 32],
        expires_at: Timestamp,
    ) -> Result<(User, SessionId), RefreshError> {
        let store = |error: sqlx::Error| {
            unavailable(error);
            RefreshError::Unavailable
        };
        let now = now();
        let id = presented.session;
        // The account comes back in the same statement: a rotation that committed is never
        // answered 503 (whose retry, with the old token, would look like reuse and revoke).
        let rotated = sqlx::query(&format!(
            "WITH rotated AS (
                 UPDATE sessions SET refresh_hash = $4, generation = generation + 1,
                     expires_at = $5, last_used_at = $6
                 WHERE id = $1 AND generation = $2 AND refresh_hash = $3 AND expires_at > $6
                 RETURNING user_id)
             SELECT {USER_COLUMNS} FROM rotated r JOIN users u ON u.id = r.user_id"
        ))
        .bind(id.as_uuid())
        .bind(presented.generation as i64)
        .bind(presented.hash.to_vec())
        .bind(next_hash.to_vec())
        .bind(expires_at)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(store)?;
        if let Some(row) = rotated {
            let user = user_from(&row).map_err(|_| RefreshError::Unavailable)?;
            return Ok((user, id));
        }
        let row =
            sqlx::query("SELECT generation, refresh_hash, expires_at FROM sessions WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(store)?;
        let Some(row) = row else {
            return Err(RefreshError::Unknown);
        };
        let generation =
            get::<i64>(&row, "generation").map_err(|_| RefreshError::Unavailable)? as u64;
        let hash = bytes32(&row, "refresh_hash").map_err(|_| RefreshError::Unavailable)?;
        let expires: Timestamp = get(&row, "expires_at").map_err(|_| RefreshError::Unavailable)?;
        let outcome = if presented.generation < generation {
            RefreshError::Reused
        } else if presented.generation == generation && hash == presented.hash && expires <= now {
            RefreshError::Expired
        } else {
            return Err(RefreshError::Unknown);
        };
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(store)?;
        self.wrote().await;
        Err(outcome)
    }

    pub async fn sessions(&self, user_id: UserId) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, user_agent FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(user_id.as_uuid())
        .bind(now())
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: SessionId::from(get::<Uuid>(row, "id")?),
                    created_at: get(row, "created_at")?,
                    last_used_at: get(row, "last_used_at")?,
                    user_agent: get(row, "user_agent")?,
                })
            })
            .collect()
    }

    pub async fn end_user_session(&self, user_id: UserId, id: SessionId) -> Result<(), StoreError> {
        let ended = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        if ended.rows_affected() == 0 {
            return Err(StoreError::NotFound("session"));
        }
        Ok(())
    }

    pub async fn end_session(&self, id: SessionId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        self.wrote().await;
        Ok(())
    }

    pub async fn sweep_sessions(&self) -> Result<usize, StoreError> {
        let swept = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        if swept.rows_affected() > 0 {
            self.wrote().await;
        }
        Ok(swept.rows_affected() as usize)
    }
}
