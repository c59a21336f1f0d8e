//! Accounts: signup, login lookups, profiles, external identities, deletion.

use sha2::Digest as _;

use crate::domain::{
    now, DisplayName, Email, ExternalIdentity, Role, SessionId, Timestamp, UserId, Username,
};

use super::cursor::Cursor;
use super::records::{ExternalAccount, Principal, User, UserRecord};
use super::sessions::new_session_record;
use super::state::{Change, State};
use super::{Embedded, LoginName, NewSession, NewUser, StoreError, Tx};

impl NewUser {
    /// The stored account: a new id, and the password this service checks.
    pub(super) fn into_record(self, created_at: Timestamp) -> UserRecord {
        UserRecord {
            id: UserId::new(),
            username: self.username,
            email: Some(self.email),
            name: self.name,
            role: self.role,
            password_hash: Some(self.password_hash),
            external: None,
            created_at,
            bio: None,
            image: None,
        }
    }
}

impl Embedded {
    /// Fails fast when the username or email is taken, so signup can skip the password hash.
    /// [`Store::create_user`] checks again on the working version.
    pub async fn check_available(
        &self,
        username: &Username,
        email: &Email,
    ) -> Result<(), StoreError> {
        check_available(&self.read(), username, email)
    }

    /// Creates an account and its first session in one step.
    pub async fn create_user(
        &self,
        user: NewUser,
        session: NewSession,
    ) -> Result<(User, SessionId), StoreError> {
        self.write(move |tx| {
            check_available(tx.state, &user.username, &user.email)?;
            let created_at = now();
            let record = user.into_record(created_at);
            let view = User::from(&record);
            let session = new_session_record(record.id, session, created_at);
            let session_id = session.id;
            tx.commit(Change::CreateUser(record));
            tx.commit(Change::CreateSession(session));
            Ok((view, session_id))
        })
        .await
    }

    /// The id and password hash of the account `name` refers to, for login.
    pub async fn credentials(&self, name: LoginName<'_>) -> Option<(UserId, String)> {
        let state = self.read();
        let id = match name {
            LoginName::Email(email) => state.users_by_email.get(&email.trim().to_lowercase()),
            LoginName::Username(username) => {
                state.users_by_username.get(&username.trim().to_lowercase())
            }
        }?;
        // An external account has no password: at login it is no different from no account.
        let user = state.users.get(id)?;
        Some((user.id, user.password_hash.clone()?))
    }

    /// The password hash of an account, to check its current password.
    pub async fn password_hash(&self, id: UserId) -> Option<String> {
        self.read()
            .users
            .get(&id)
            .and_then(|user| user.password_hash.clone())
    }

    /// The local account of an external identity, created on first use. It is an ordinary
    /// journaled account (with no email and no password), so the mapping survives restarts.
    /// Its username is the identity's hint when free and valid, else derived from the identity.
    pub async fn external_principal(
        &self,
        identity: &ExternalIdentity,
    ) -> Result<Principal, StoreError> {
        let account = ExternalAccount {
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
        };
        fn principal(state: &State, account: &ExternalAccount) -> Option<Principal> {
            let id = state.users_by_external.get(account)?;
            let user = state.users.get(id)?;
            Some(Principal {
                user_id: user.id,
                session_id: None,
                role: user.role,
            })
        }
        if let Some(found) = principal(&self.read(), &account) {
            return Ok(found);
        }
        let identity = identity.clone();
        self.write(move |tx| {
            // Two first requests at once: the second finds the first's account.
            if let Some(found) = principal(tx.state, &account) {
                return Ok(found);
            }
            let record = UserRecord {
                id: UserId::new(),
                username: external_username(tx.state, &identity),
                email: None,
                name: identity
                    .name_hint
                    .as_deref()
                    .and_then(|name| DisplayName::parse(name).ok()),
                role: Role::User,
                password_hash: None,
                external: Some(account),
                created_at: now(),
                bio: None,
                image: None,
            };
            let found = Principal {
                user_id: record.id,
                session_id: None,
                role: record.role,
            };
            tracing::info!(user_id = %record.id, username = %record.username, "created the account of an external user");
            tx.commit(Change::CreateUser(record));
            Ok(found)
        })
        .await
    }

    /// Creates `user` unless its username or email is taken; `true` if it was created.
    pub async fn ensure_user(&self, user: NewUser) -> bool {
        self.write(move |tx| {
            if check_available(tx.state, &user.username, &user.email).is_err() {
                return false;
            }
            tx.commit(Change::CreateUser(user.into_record(now())));
            true
        })
        .await
    }

    /// A page of accounts, newest first (for admins).
    pub async fn list_users(
        &self,
        after: Option<Cursor>,
        limit: usize,
    ) -> (Vec<User>, Option<Cursor>) {
        let state = self.read();
        let keys: Box<dyn DoubleEndedIterator<Item = &(Timestamp, UserId)>> = match after {
            Some(cursor) => Box::new(state.users_timeline.range(..cursor.key::<UserId>())),
            None => Box::new(state.users_timeline.iter()),
        };
        let mut users: Vec<User> = keys
            .rev()
            .take(limit + 1)
            .filter_map(|(_, id)| state.users.get(id))
            .map(|user| User::from(&**user))
            .collect();
        let next = if users.len() > limit {
            users.truncate(limit);
            users
                .last()
                .map(|user| Cursor::new(user.created_at, user.id))
        } else {
            None
        };
        (users, next)
    }

    pub async fn user(&self, id: UserId) -> Option<User> {
        self.read().users.get(&id).map(|user| User::from(&**user))
    }

    /// Sets or clears the display name.
    pub async fn set_user_name(
        &self,
        id: UserId,
        name: Option<DisplayName>,
    ) -> Result<User, StoreError> {
        self.write(move |tx| {
            require_user(tx, id)?;
            tx.commit(Change::SetUserName { id, name });
            tx.state
                .users
                .get(&id)
                .map(|user| User::from(&**user))
                .ok_or(StoreError::NotFound("user"))
        })
        .await
    }

    /// Replaces the password hash and ends every session of the account but `keep`.
    pub async fn set_password_hash(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<SessionId>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            require_user(tx, id)?;
            tx.commit(Change::SetPasswordHash {
                id,
                password_hash,
                keep,
            });
            Ok(())
        })
        .await
    }

    /// Deletes an account with its posts and sessions.
    pub async fn delete_user(&self, id: UserId) -> Result<(), StoreError> {
        self.write(move |tx| {
            require_user(tx, id)?;
            tx.commit(Change::DeleteUser { id });
            Ok(())
        })
        .await
    }
}

fn require_user(tx: &Tx<'_>, id: UserId) -> Result<(), StoreError> {
    if tx.state.users.contains_key(&id) {
        Ok(())
    } else {
        Err(StoreError::NotFound("user"))
    }
}

/// A provider's username as one of ours: `Kc.Bob` -> `kc-bob` (characters we do not allow
/// become `-`). An email address is not used: its local part would be shown to everyone.
pub(super) fn username_from_hint(hint: &str) -> Option<Username> {
    if hint.contains('@') {
        return None;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let name: String = hint
        .trim()
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .collect();
    Username::parse_new(name.trim_matches('-')).ok()
}

/// A free username for an external identity: the first of [`external_usernames`] not taken.
fn external_username(state: &State, identity: &ExternalIdentity) -> Username {
    let free = |name: &Username| !state.users_by_username.contains_key(name.as_str());
    external_usernames(identity)
        .find(free)
        .expect("the candidates end in a random one")
}

/// The usernames an external identity may get, best first: its hint if valid, else `ext-` and
/// a digest of the identity (longer ones next, in case of a collision or a squatter), and last
/// a random one.
pub(super) fn external_usernames(identity: &ExternalIdentity) -> impl Iterator<Item = Username> {
    let hint = identity
        .username_hint
        .as_deref()
        .and_then(username_from_hint);
    let digest: String =
        sha2::Sha256::digest(format!("{}\n{}", identity.issuer, identity.subject).as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
    let digests = (12..=28)
        .step_by(4)
        .filter_map(move |len| Username::parse(&format!("ext-{}", &digest[..len])).ok());
    let random = std::iter::repeat_with(|| {
        let random = UserId::new().to_string().replace('-', "");
        Username::parse(&format!("ext-{}", &random[..28])).expect("a valid username")
    });
    hint.into_iter().chain(digests).chain(random)
}

fn check_available(state: &State, username: &Username, email: &Email) -> Result<(), StoreError> {
    if state.users_by_email.contains_key(&email.key()) {
        return Err(StoreError::EmailTaken);
    }
    if state.users_by_username.contains_key(username.as_str()) {
        return Err(StoreError::UsernameTaken);
    }
    Ok(())
}
