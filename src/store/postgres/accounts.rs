//! Accounts in PostgreSQL: signup, login lookups, external identities, profiles, deletion.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use super::{
    get, now, parsed, role_text, unavailable, user_from, violated, Postgres, USER_COLUMNS,
};
use crate::domain::{DisplayName, Email, ExternalIdentity, Role, SessionId, UserId, Username};
use crate::store::accounts::external_usernames;
use crate::store::cursor::Cursor;
use crate::store::records::{Principal, User, UserRecord};
use crate::store::{LoginName, NewSession, NewUser, StoreError};

/// Which "taken" a unique violation means, if it is one.
pub(super) fn taken(error: &sqlx::Error) -> Option<StoreError> {
    match super::violated(error)? {
        "users_email_key" => Some(StoreError::EmailTaken),
        "users_username_key" => Some(StoreError::UsernameTaken),
        _ => None,
    }
}

/// Inserts an account row.
pub(super) async fn insert_user(
    connection: &mut PgConnection,
    user: &UserRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, username, email, email_key, name, role, password_hash,
             external_issuer, external_subject, bio, image, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(user.id.as_uuid())
    .bind(user.username.as_str())
    .bind(user.email.as_ref().map(Email::as_str))
    .bind(user.email.as_ref().map(Email::key))
    .bind(user.name.as_ref().map(DisplayName::as_str))
    .bind(role_text(user.role))
    .bind(user.password_hash.as_deref())
    .bind(user.external.as_ref().map(|e| e.issuer.as_str()))
    .bind(user.external.as_ref().map(|e| e.subject.as_str()))
    .bind(user.bio.as_ref().map(|bio| bio.as_str()))
    .bind(user.image.as_ref().map(|image| image.as_str()))
    .bind(user.created_at)
    .execute(connection)
    .await
    .map(|_| ())
}

impl Postgres {
    pub async fn check_available(
        &self,
        username: &Username,
        email: &Email,
    ) -> Result<(), StoreError> {
        let row = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM users WHERE email_key = $1) AS email,
                    EXISTS (SELECT 1 FROM users WHERE username = $2) AS username",
        )
        .bind(email.key())
        .bind(username.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        if get::<bool>(&row, "email")? {
            return Err(StoreError::EmailTaken);
        }
        if get::<bool>(&row, "username")? {
            return Err(StoreError::UsernameTaken);
        }
        Ok(())
    }

    pub async fn create_user(
        &self,
        user: NewUser,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        let record = user.into_record(now());
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        insert_user(&mut tx, &record)
            .await
            .map_err(|error| taken(&error).unwrap_or_else(|| unavailable(error)))?;
        let session_id = session.id;
        super::sessions::insert_session(&mut tx, record.id, session, record.created_at)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok((User::from(&record), session_id))
    }

    pub async fn credentials(
        &self,
        name: LoginName<'_>,
    ) -> Result<Option<(UserId, String)>, StoreError> {
        let (column, value) = match name {
            LoginName::Email(email) => ("email_key", email.trim().to_lowercase()),
            LoginName::Username(username) => ("username", username.trim().to_lowercase()),
        };
        let value = super::lookup_text(&value);
        let row = sqlx::query(&format!(
            "SELECT id, password_hash FROM users WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        let Some(row) = row else { return Ok(None) };
        // An external account has no password: at login it is no different from no account.
        let hash: Option<String> = get(&row, "password_hash")?;
        let id = UserId::from(get::<Uuid>(&row, "id")?);
        Ok(hash.map(|hash| (id, hash)))
    }

    pub async fn password_hash(&self, id: UserId) -> Result<Option<String>, StoreError> {
        let hash: Option<Option<String>> =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(hash.flatten())
    }

    pub async fn external_principal(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Principal, StoreError> {
        let find = || async {
            sqlx::query(
                "SELECT id, role FROM users WHERE external_issuer = $1 AND external_subject = $2",
            )
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .map(|row| principal(&row))
            .transpose()
        };
        if let Some(found) = find().await? {
            return Ok(found);
        }
        for username in external_usernames(identity).take(8) {
            let record = UserRecord {
                id: UserId::new(),
                username,
                email: None,
                name: identity
                    .name_hint
                    .as_deref()
                    .and_then(|name| DisplayName::parse(name).ok()),
                role: Role::User,
                password_hash: None,
                external: Some(crate::store::ExternalAccount {
                    issuer: identity.issuer.clone(),
                    subject: identity.subject.clone(),
                }),
                created_at: now(),
                bio: None,
                image: None,
            };
            let mut connection = self.pool.acquire().await.map_err(unavailable)?;
            match insert_user(&mut connection, &record).await {
                Ok(()) => {
                    return Ok(Principal {
                        user_id: record.id,
                        session_id: None,
                        role: Role::User,
                    })
                }
                // Two first requests at once: the other one made the account.
                Err(error) if violated(&error) == Some("users_external_key") => {
                    return find().await?.ok_or(StoreError::Unavailable);
                }
                // The name is taken: the next candidate.
                Err(error) if violated(&error) == Some("users_username_key") => continue,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(StoreError::Unavailable)
    }

    pub async fn ensure_user(&self, user: NewUser) -> Result<bool, StoreError> {
        let record = user.into_record(now());
        let mut connection = self.pool.acquire().await.map_err(unavailable)?;
        match insert_user(&mut connection, &record).await {
            Ok(()) => Ok(true),
            Err(error) if taken(&error).is_some() => Ok(false),
            Err(error) => Err(unavailable(error)),
        }
    }

    pub async fn list_users(
        &self,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<User>, Option<Cursor>), StoreError> {
        let (at, id) = match after {
            Some(cursor) => {
                let (at, id) = cursor.key::<UserId>();
                (Some(at), Some(id.as_uuid()))
            }
            None => (None, None),
        };
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE $1::timestamptz IS NULL OR (u.created_at, u.id) < ($1, $2)
             ORDER BY u.created_at DESC, u.id DESC LIMIT $3"
        ))
        .bind(at)
        .bind(id)
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let mut users = rows.iter().map(user_from).collect::<Result<Vec<_>, _>>()?;
        let next = if users.len() > limit {
            users.truncate(limit);
            users
                .last()
                .map(|user| Cursor::new(user.created_at, user.id))
        } else {
            None
        };
        Ok((users, next))
    }

    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .bind(id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?
        .as_ref()
        .map(user_from)
        .transpose()
    }

    pub async fn set_user_name(
        &self,
        id: UserId,
        name: Option<DisplayName>,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE users u SET name = $2 WHERE u.id = $1 RETURNING {USER_COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(name.as_ref().map(DisplayName::as_str))
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable)?;
        row.as_ref()
            .map(user_from)
            .transpose()?
            .ok_or(StoreError::NotFound("user"))
    }

    pub async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<SessionId>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let updated = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.as_uuid())
            .bind(password_hash)
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        end_other_sessions(&mut tx, id, keep)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        // Sessions, clients, posts (with their comments, favorites, tags and words), comments,
        // favorites and follows go with it: every reference cascades.
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        Ok(())
    }
}

/// Ends every session of `user` but `keep`.
pub(super) async fn end_other_sessions(
    connection: &mut PgConnection,
    user: UserId,
    keep: Option<SessionId>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2")
        .bind(user.as_uuid())
        .bind(keep.map(|id| id.as_uuid()))
        .execute(connection)
        .await
        .map(|_| ())
}

fn principal(row: &PgRow) -> Result<Principal, StoreError> {
    let role: String = row.try_get("role").map_err(unavailable)?;
    Ok(Principal {
        user_id: UserId::from(get::<Uuid>(row, "id")?),
        session_id: None,
        role: parsed("role", &role, |text| match text {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            other => Err(format!("unknown role {other}")),
        })?,
    })
}
