//! Access tokens: short-lived JWTs, HS256, `typ: at+jwt` (RFC 9068).
//!
//! Keys and the `Validation` are built once at startup and shared; nothing reads the environment
//! per request. Validation pins the algorithm, requires every registered claim we issue and checks
//! `iss` and `aud` with 5 s of leeway.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::{Settings, Storage, MIN_SECRET_BYTES};
use crate::domain::{ClientId, Role, Scopes, SessionId, UserId};

/// The JWT `typ` header of our access tokens (RFC 9068 section 2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The algorithm every access token must use; any other `alg` is refused before the signature
/// is looked at.
const ALGORITHM: Algorithm = Algorithm::HS256;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 5;
/// File in the data directory holding the generated secret.
const SECRET_FILE: &str = "jwt-secret";

/// The claims of a person's access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) this token belongs to.
    pub sid: SessionId,
    pub role: Role,
}

/// The claims of an API client's access token (RFC 9068): no session, no role; `scope` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientClaims {
    pub iss: String,
    pub aud: String,
    /// The client itself.
    pub sub: ClientId,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub client_id: ClientId,
    /// Space-separated scopes.
    pub scope: String,
}

/// The claims as read from a token, before we know which kind it is. The registered claims
/// (`iss`, `aud`, `exp`, `nbf`, `iat`) are checked by `Validation`; `jti` is required here.
#[derive(Deserialize)]
struct AnyClaims {
    sub: String,
    #[allow(dead_code)]
    jti: Uuid,
    sid: Option<SessionId>,
    role: Option<Role>,
    client_id: Option<ClientId>,
    scope: Option<String>,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A person's session.
    User {
        id: UserId,
        session: SessionId,
        role: Role,
    },
    /// An API client with its granted scopes.
    Client { id: ClientId, scopes: Scopes },
}

/// Why a token was refused. The message is safe to show the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("{0}")]
    Invalid(&'static str),
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: String,
    /// Seconds until `exp`.
    pub expires_in: u64,
}

/// Signing and verification keys, built once.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    header: Header,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl TokenKeys {
    /// Builds keys from `secret` and proves that sign + verify works, so a misbuilt crypto
    /// backend (jsonwebtoken 11 panics at first use without exactly one) fails startup, not the
    /// first login.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        let mut header = Header::new(ALGORITHM);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        let keys = Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            header,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        };
        keys.self_test()?;
        Ok(keys)
    }

    /// Keys for the configured secret, or for the one kept in the data directory (generated on
    /// first start).
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let secret = match &settings.jwt_secret {
            Some(secret) => secret.clone(),
            // Nothing may touch the disk: a secret for this process only.
            None if settings.storage == Storage::Memory => {
                random_secret().map_err(|e| e.to_string())?
            }
            None => load_or_create_secret(&settings.data_dir)
                .map_err(|e| format!("{}: {e}", settings.data_dir.join(SECRET_FILE).display()))?,
        };
        Self::new(
            secret.expose_secret().as_bytes(),
            &settings.issuer,
            &settings.audience,
            settings.access_token_ttl,
        )
    }

    fn self_test(&self) -> Result<(), String> {
        let token = self
            .issue(UserId::new(), SessionId::new(), Role::User)
            .map_err(|e| format!("signing a test token failed: {e}"))?;
        self.verify(&token.token)
            .map(|_| ())
            .map_err(|e| format!("verifying a test token failed: {e}"))
    }

    /// Signs an access token for a session.
    pub fn issue(
        &self,
        user: UserId,
        session: SessionId,
        role: Role,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let ttl = self.ttl.as_secs();
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user,
            iat: now,
            nbf: now,
            exp: now + ttl as i64,
            jti: Uuid::now_v7(),
            sid: session,
            role,
        };
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
        })
    }

    /// Signs a short-lived access token for an API client (the same lifetime as a person's).
    pub fn issue_client(
        &self,
        client: ClientId,
        scopes: &Scopes,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let ttl = self.ttl.as_secs();
        let claims = ClientClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: client,
            iat: now,
            nbf: now,
            exp: now + ttl as i64,
            jti: Uuid::now_v7(),
            client_id: client,
            scope: scopes.to_string(),
        };
        let token = jsonwebtoken::encode(&self.header, &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_in: ttl,
        })
    }

    /// Checks signature, algorithm, `typ` and every claim, and says whose token it is. A token
    /// must be exactly one kind: a person's (`sid` and `role`) or a client's (`client_id` and
    /// `scope`, with `sub` the same client).
    pub fn verify(&self, token: &str) -> Result<Subject, TokenError> {
        let data = jsonwebtoken::decode::<AnyClaims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => {
                    TokenError::Invalid("the access token is not valid yet")
                }
                ErrorKind::InvalidAudience => {
                    TokenError::Invalid("the access token is for another audience")
                }
                ErrorKind::InvalidIssuer => {
                    TokenError::Invalid("the access token is from another issuer")
                }
                ErrorKind::InvalidAlgorithm => {
                    TokenError::Invalid("the access token uses a refused algorithm")
                }
                ErrorKind::InvalidSignature => {
                    TokenError::Invalid("the access token signature is invalid")
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    TokenError::Invalid("the access token lacks a required claim")
                }
                _ => TokenError::Invalid("the access token is malformed"),
            })?;
        // `typ` tells access tokens from other JWTs signed with the same key (RFC 8725 3.11).
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenError::Invalid("the token is not an access token"));
        }
        let lacking = TokenError::Invalid("the access token lacks a required claim");
        match data.claims {
            AnyClaims {
                sid: Some(session),
                role: Some(role),
                client_id: None,
                scope: None,
                sub,
                ..
            } => {
                let id = sub
                    .parse()
                    .map_err(|_| TokenError::Invalid("the access token is malformed"))?;
                Ok(Subject::User { id, session, role })
            }
            AnyClaims {
                sid: None,
                role: None,
                client_id: Some(id),
                scope: Some(scope),
                sub,
                ..
            } => {
                if sub != id.to_string() {
                    return Err(TokenError::Invalid("the access token is malformed"));
                }
                let scopes = Scopes::parse_list(&scope)
                    .map_err(|_| TokenError::Invalid("the access token is malformed"))?;
                Ok(Subject::Client { id, scopes })
            }
            _ => Err(lacking),
        }
    }
}

/// Reads the secret kept in `dir`, or generates one (64 random bytes, hex) and writes it with
/// mode 0600 in a 0700 directory. Created with `create_new`, so two servers starting at once
/// cannot both write it: the loser reads the winner's.
fn load_or_create_secret(dir: &Path) -> io::Result<SecretString> {
    let path = dir.join(SECRET_FILE);
    match fs::read_to_string(&path) {
        Ok(secret) => return check_secret(secret.trim().to_owned()),
        Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
        Err(_) => {}
    }
    crate::config::create_private_dir(dir)?;
    let secret = random_secret()?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.expose_secret().as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new JWT secret");
            Ok(secret)
        }
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            check_secret(fs::read_to_string(&path)?.trim().to_owned())
        }
        Err(error) => Err(error),
    }
}

/// 64 random bytes from the OS, hex-encoded.
fn random_secret() -> io::Result<SecretString> {
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(SecretString::from(
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    ))
}

fn check_secret(secret: String) -> io::Result<SecretString> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(io::Error::other(format!(
            "the secret must be at least {MIN_SECRET_BYTES} bytes"
        )));
    }
    Ok(SecretString::from(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, "blog-api", "blog-api", Duration::from_secs(900)).unwrap()
    }

    #[test]
    fn issued_tokens_verify_with_every_claim() {
        let keys = keys();
        let (user, session) = (UserId::new(), SessionId::new());
        let issued = keys.issue(user, session, Role::Admin).unwrap();
        assert_eq!(
            keys.verify(&issued.token).unwrap(),
            Subject::User {
                id: user,
                session,
                role: Role::Admin
            }
        );
        assert_eq!(issued.expires_in, 900);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));

        let client = ClientId::new();
        let scopes = Scopes::parse_list("posts:write").unwrap();
        let issued = keys.issue_client(client, &scopes).unwrap();
        assert_eq!(
            keys.verify(&issued.token).unwrap(),
            Subject::Client { id: client, scopes }
        );
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(TokenKeys::new(b"short", "i", "a", Duration::from_secs(60)).is_err());
    }

    fn user_claims() -> serde_json::Value {
        let now = chrono::Utc::now().timestamp();
        serde_json::json!({
            "iss": "blog-api", "aud": "blog-api", "sub": UserId::new(), "iat": now, "nbf": now,
            "exp": now + 60, "jti": Uuid::now_v7(), "sid": SessionId::new(), "role": "user",
        })
    }

    fn sign(header: &Header, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    #[test]
    fn a_token_of_another_type_is_refused() {
        let keys = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".into());
        assert_eq!(
            keys.verify(&sign(&header, &user_claims())),
            Err(TokenError::Invalid("the token is not an access token"))
        );
    }

    #[test]
    fn a_token_must_be_wholly_a_person_s_or_a_client_s() {
        let keys = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        assert!(keys.verify(&sign(&header, &user_claims())).is_ok());
        let client = ClientId::new();
        let mixed = [
            ("client_id", serde_json::json!(client)),
            ("scope", serde_json::json!("posts:write")),
        ];
        for (claim, value) in mixed {
            let mut claims = user_claims();
            claims[claim] = value;
            assert!(
                keys.verify(&sign(&header, &claims)).is_err(),
                "a person's token with {claim}"
            );
        }
        let mut claims = user_claims();
        claims.as_object_mut().unwrap().remove("sid");
        claims["client_id"] = serde_json::json!(client);
        claims["scope"] = serde_json::json!("posts:write");
        claims.as_object_mut().unwrap().remove("role");
        assert!(
            keys.verify(&sign(&header, &claims)).is_err(),
            "sub is not the client"
        );
        claims["sub"] = serde_json::json!(client);
        assert!(keys.verify(&sign(&header, &claims)).is_ok());
        claims["scope"] = serde_json::json!("admin");
        assert!(
            keys.verify(&sign(&header, &claims)).is_err(),
            "unknown scope"
        );
    }

    #[cfg(unix)]
    #[test]
    fn generated_secret_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_or_create_secret(&data).unwrap();
        let second = load_or_create_secret(&data).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        assert_eq!(first.expose_secret().len(), 128);
        let mode = fs::metadata(data.join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = fs::metadata(&data).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
    }
}
