//! Access tokens: short-lived JWTs, `typ: at+jwt` (RFC 9068), signed with HS256 by default or
//! with our own EdDSA/RS256 key (`BLOG_JWT_ALGORITHM`).
//!
//! Keys and their `Validation`s are built once at startup and shared; nothing reads the
//! environment per request. Each validation pins one algorithm, requires every registered claim
//! we issue and checks `iss` and `aud` with 5 s of leeway. `iat` is required and checked here
//! (jsonwebtoken ignores it): a token issued further ahead than the leeway is refused.
//!
//! With an asymmetric key the public half is published as a JWKS (`/.well-known/jwks.json`) with
//! its RFC 7638 thumbprint as `kid`. Rotation is replacing the key file and restarting: the data
//! directory remembers the previous public key (`jwt-keys.json`), which keeps verifying (and is
//! kept published) until every token it signed has expired, then is forgotten.
//!
//! Tokens whose `kid` is not one of ours go to the external issuer, if one is configured
//! ([`ExternalIssuer`]).

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::jwt::{
    check_issued_at, pinned_validation, refused, AccessClaims, ClientClaims, Subject, TokenError,
    ACCESS_TOKEN_TYPE, LEEWAY_SECONDS,
};
use super::oidc::ExternalIssuer;
use super::verified::{self, VerifiedTokens};
use crate::config::{JwtAlgorithm, Settings, Storage, MIN_SECRET_BYTES};
use crate::data_dir;
use crate::domain::{ClientId, Role, Scopes, SessionId, UserId};

/// File in the data directory holding the generated secret.
const SECRET_FILE: &str = "jwt-secret";
/// File in the data directory remembering our public keys, for rotation.
const KEYS_FILE: &str = "jwt-keys.json";

/// The claims as read from a token, before we know which kind it is. The registered claims
/// `iss`, `aud`, `exp` and `nbf` are checked by `Validation`; `iat` and `jti` here.
#[derive(Deserialize)]
struct AnyClaims {
    sub: String,
    exp: i64,
    /// Optional only so that its absence is "lacks a required claim", not "malformed".
    iat: Option<i64>,
    #[allow(dead_code)]
    jti: Uuid,
    sid: Option<SessionId>,
    role: Option<Role>,
    client_id: Option<ClientId>,
    scope: Option<String>,
    #[serde(default)]
    realworld: bool,
}

/// A freshly signed access token.
#[derive(Debug)]
pub struct IssuedToken {
    pub token: String,
    /// Seconds until `exp`.
    pub expires_in: u64,
}

/// A key our tokens may be verified with.
struct VerifyingKey {
    /// `None` for the HMAC secret (symmetric keys are never named or published).
    kid: Option<String>,
    decoding: DecodingKey,
    /// Pins this key's algorithm.
    validation: Validation,
    /// The public key as published; `None` for the HMAC secret.
    jwk: Option<Jwk>,
    /// A retired key verifies nothing from this instant (Unix seconds): by then every token it
    /// signed has expired.
    retired_until: Option<i64>,
}

/// A previous public key of ours, still verifying until `until` (Unix seconds).
#[derive(Debug, Clone)]
pub struct RetiredKey {
    pub jwk: Jwk,
    pub until: i64,
}

/// Signing and verification keys, built once.
pub struct TokenKeys {
    encoding: EncodingKey,
    header: Header,
    /// The signing key's counterpart first, then retired keys.
    keys: Vec<VerifyingKey>,
    external: Option<ExternalIssuer>,
    /// Tokens already verified, until their `exp`.
    verified: VerifiedTokens,
    issuer: String,
    audience: String,
    ttl: Duration,
}

/// The validation of our own tokens signed with `algorithm`: every registered claim we issue.
/// jsonwebtoken's required claims cannot include `iat` (it ignores the name), so
/// `TokenKeys::verify_own` requires and checks it.
fn own_validation(algorithm: Algorithm, issuer: &str, audience: &str) -> Validation {
    let claims = ["exp", "nbf", "iss", "aud", "sub"];
    pinned_validation(algorithm, issuer, audience, &claims)
}

impl TokenKeys {
    /// HS256 keys from `secret`, proven to sign and verify, so a misbuilt crypto backend
    /// (jsonwebtoken 11 panics at first use without exactly one) fails startup, not the first
    /// login.
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Result<Self, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        let key = VerifyingKey {
            kid: None,
            decoding: DecodingKey::from_secret(secret),
            validation: own_validation(Algorithm::HS256, issuer, audience),
            jwk: None,
            retired_until: None,
        };
        Self::assemble(
            EncodingKey::from_secret(secret),
            Algorithm::HS256,
            vec![key],
            issuer,
            audience,
            ttl,
        )
    }

    /// Keys from a PKCS#8 PEM private key (`EdDSA` or `RS256`), with `retired` public keys still
    /// verifying. The current key's `kid` is its RFC 7638 thumbprint.
    pub fn asymmetric(
        algorithm: JwtAlgorithm,
        pem: &[u8],
        retired: Vec<RetiredKey>,
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, String> {
        let (encoding, jwk) = signing_key(algorithm, pem)?;
        let mut keys = vec![verifying_key(jwk, None, issuer, audience)?];
        for key in retired {
            keys.push(verifying_key(key.jwk, Some(key.until), issuer, audience)?);
        }
        Self::assemble(
            encoding,
            algorithm.jsonwebtoken(),
            keys,
            issuer,
            audience,
            ttl,
        )
    }

    fn assemble(
        encoding: EncodingKey,
        algorithm: Algorithm,
        keys: Vec<VerifyingKey>,
        issuer: &str,
        audience: &str,
        ttl: Duration,
    ) -> Result<Self, String> {
        let mut header = Header::new(algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = keys[0].kid.clone();
        let keys = Self {
            encoding,
            header,
            keys,
            external: None,
            verified: VerifiedTokens::new(verified::CAPACITY),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        };
        keys.self_test()?;
        Ok(keys)
    }

    /// Keys as configured: the HS256 secret (given, or generated and kept in the data
    /// directory), or the EdDSA/RS256 key file with rotation remembered in the data directory;
    /// and the external issuer, if any.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let mut keys = match (&settings.jwt_key_file, settings.jwt_algorithm) {
            (Some(path), algorithm @ (JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256)) => {
                let pem = fs::read(path)
                    .map_err(|e| format!("BLOG_JWT_KEY_FILE {}: {e}", path.display()))?;
                let (_, current) = signing_key(algorithm, &pem)
                    .map_err(|e| format!("BLOG_JWT_KEY_FILE {}: {e}", path.display()))?;
                let retired = match settings.storage {
                    // Nothing on disk: nothing to remember, and no account outlives the process.
                    // With PostgreSQL, servers share no directory: a retired key is not
                    // remembered (docs/operations.md: rotate on every server together).
                    Storage::Memory | Storage::Postgres => Vec::new(),
                    Storage::Disk => {
                        // Tokens of `/api` live longer than ours: a key retires after the longest.
                        let longest = settings.access_token_ttl.max(settings.realworld_token_ttl);
                        let window = longest.as_secs() + LEEWAY_SECONDS;
                        let now = chrono::Utc::now().timestamp();
                        remember_keys(&settings.data_dir, &current, now, window as i64).map_err(
                            |e| format!("{}: {e}", settings.data_dir.join(KEYS_FILE).display()),
                        )?
                    }
                };
                Self::asymmetric(
                    algorithm,
                    &pem,
                    retired,
                    &settings.issuer,
                    &settings.audience,
                    settings.access_token_ttl,
                )?
            }
            _ => {
                let secret = match &settings.jwt_secret {
                    Some(secret) => secret.clone(),
                    // Nothing may touch the disk: a secret for this process only.
                    None if settings.storage == Storage::Memory => {
                        random_secret().map_err(|e| e.to_string())?
                    }
                    None => load_or_create_secret(&settings.data_dir).map_err(|e| {
                        format!("{}: {e}", settings.data_dir.join(SECRET_FILE).display())
                    })?,
                };
                Self::new(
                    secret.expose_secret().as_bytes(),
                    &settings.issuer,
                    &settings.audience,
                    settings.access_token_ttl,
                )?
            }
        };
        if let Some(oidc) = &settings.oidc {
            keys.external = Some(ExternalIssuer::new(oidc)?);
        }
        Ok(keys)
    }

    /// The external issuer, when one is configured.
    pub fn external(&self) -> Option<&ExternalIssuer> {
        self.external.as_ref()
    }

    /// Our public keys, for `/.well-known/jwks.json`: none with HS256 (a secret is never
    /// published); the current key and the retired ones still verifying otherwise.
    pub fn jwks(&self) -> JwkSet {
        let now = chrono::Utc::now().timestamp();
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|key| key.retired_until.is_none_or(|until| now < until))
                .filter_map(|key| key.jwk.clone())
                .collect(),
        }
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
        self.sign_access(user, session, role, self.ttl, false)
    }

    /// Signs a token of the RealWorld API (`/api`): it lives `ttl` (its frontends never
    /// refresh), is bound to the session like any other (it dies with it), and is marked so
    /// that only `/api` accepts it: a days-long token never reaches `/api/v1`'s admin powers.
    pub fn issue_realworld(
        &self,
        user: UserId,
        session: SessionId,
        role: Role,
        ttl: Duration,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        self.sign_access(user, session, role, ttl, true)
    }

    fn sign_access(
        &self,
        user: UserId,
        session: SessionId,
        role: Role,
        ttl: Duration,
        realworld: bool,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let ttl = ttl.as_secs();
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
            realworld,
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

    /// Verifies our own token or, when its `kid` is not one of ours and an external issuer is
    /// configured, the issuer's (which may fetch its keys: hence `async`).
    ///
    /// A verified token is remembered until its `exp` (see `verified.rs`): the store checks
    /// that follow still run on every request.
    pub async fn authenticate(&self, token: &str) -> Result<Subject, TokenError> {
        let cache = &self.verified;
        let digest = verified::digest(token);
        let generation = self.external.as_ref().map_or(0, ExternalIssuer::generation);
        if let Some(subject) = cache.get(&digest, chrono::Utc::now().timestamp(), generation) {
            return Ok(subject);
        }
        let (subject, expires) = self.verify_uncached(token).await?;
        let now = chrono::Utc::now().timestamp();
        cache.insert(digest, subject.clone(), expires, generation, now);
        Ok(subject)
    }

    /// The subject and `exp` of our own token or the external provider's.
    async fn verify_uncached(&self, token: &str) -> Result<(Subject, i64), TokenError> {
        if let Some(external) = &self.external {
            let header = jsonwebtoken::decode_header(token)
                .map_err(|_| TokenError::Invalid("the access token is malformed"))?;
            let ours = |kid: &str| self.keys.iter().any(|key| key.kid.as_deref() == Some(kid));
            if header.kid.as_deref().is_some_and(|kid| !ours(kid)) {
                let (identity, expires) = external.verify(token, &header).await?;
                return Ok((Subject::External(identity), expires));
            }
        }
        self.verify_own(token)
    }

    /// The key that may have signed `token`: the only one, or the one its `kid` names.
    fn key_for(&self, token: &str) -> Result<&VerifyingKey, TokenError> {
        if let [only] = self.keys.as_slice() {
            return Ok(only);
        }
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid("the access token is malformed"))?
            .kid;
        let now = chrono::Utc::now().timestamp();
        self.keys
            .iter()
            .find(|key| key.kid == kid && key.retired_until.is_none_or(|until| now < until))
            .ok_or(TokenError::Invalid(
                "the access token's signing key is unknown",
            ))
    }

    /// Checks signature, algorithm, `typ` and every claim of one of our own tokens, and says
    /// whose it is. A token must be exactly one kind: a person's (`sid` and `role`) or a
    /// client's (`client_id` and `scope`, with `sub` the same client).
    pub fn verify(&self, token: &str) -> Result<Subject, TokenError> {
        self.verify_own(token).map(|(subject, _)| subject)
    }

    fn verify_own(&self, token: &str) -> Result<(Subject, i64), TokenError> {
        let key = self.key_for(token)?;
        let data = jsonwebtoken::decode::<AnyClaims>(token, &key.decoding, &key.validation)
            .map_err(refused)?;
        // `typ` tells access tokens from other JWTs signed with the same key (RFC 8725 3.11).
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenError::Invalid("the token is not an access token"));
        }
        let lacking = TokenError::Invalid("the access token lacks a required claim");
        check_issued_at(data.claims.iat, chrono::Utc::now().timestamp())?;
        let expires = data.claims.exp;
        let subject = match data.claims {
            AnyClaims {
                sid: Some(session),
                role: Some(role),
                client_id: None,
                scope: None,
                sub,
                realworld,
                ..
            } => {
                let id = sub
                    .parse()
                    .map_err(|_| TokenError::Invalid("the access token is malformed"))?;
                Ok(Subject::User {
                    id,
                    session,
                    role,
                    realworld,
                })
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
        }?;
        Ok((subject, expires))
    }
}

/// The signing key in a PKCS#8 PEM file and its public JWK (`kid` = RFC 7638 thumbprint).
fn signing_key(algorithm: JwtAlgorithm, pem: &[u8]) -> Result<(EncodingKey, Jwk), String> {
    let encoding = match algorithm {
        JwtAlgorithm::EdDsa => EncodingKey::from_ed_pem(pem),
        JwtAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
        JwtAlgorithm::Hs256 => return Err("HS256 has no key file".into()),
    }
    .map_err(|e| format!("not a {algorithm:?} private key in PKCS#8 PEM: {e}"))?;
    let mut jwk = Jwk::from_encoding_key(&encoding, algorithm.jsonwebtoken())
        .map_err(|e| format!("cannot derive the public key: {e}"))?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| format!("cannot compute the key id: {e}"))?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok((encoding, jwk))
}

/// A verifying key from one of our public JWKs, its algorithm pinned to the JWK's `alg`.
fn verifying_key(
    jwk: Jwk,
    retired_until: Option<i64>,
    issuer: &str,
    audience: &str,
) -> Result<VerifyingKey, String> {
    let algorithm = jwk
        .common
        .key_algorithm
        .and_then(|alg| alg.to_string().parse::<Algorithm>().ok())
        .filter(|alg| matches!(alg, Algorithm::EdDSA | Algorithm::RS256))
        .ok_or("a remembered key has no EdDSA or RS256 `alg`")?;
    Ok(VerifyingKey {
        kid: jwk.common.key_id.clone(),
        decoding: DecodingKey::from_jwk(&jwk).map_err(|e| format!("a remembered key: {e}"))?,
        validation: own_validation(algorithm, issuer, audience),
        jwk: Some(jwk),
        retired_until,
    })
}

/// One of our public keys as `jwt-keys.json` remembers it.
#[derive(Debug, Serialize, Deserialize)]
struct RememberedKey {
    jwk: Jwk,
    /// When another key replaced it (Unix seconds); `None` for the current key.
    retired_at: Option<i64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RememberedKeys {
    keys: Vec<RememberedKey>,
}

/// Records `current` as our signing key in `dir/jwt-keys.json` and returns the previous keys
/// whose tokens may still be alive: a key replaced at `t` verifies until `t + window` (the
/// access-token lifetime plus leeway), and is forgotten after that.
fn remember_keys(dir: &Path, current: &Jwk, now: i64, window: i64) -> io::Result<Vec<RetiredKey>> {
    let path = dir.join(KEYS_FILE);
    let mut remembered: RememberedKeys = match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(io::Error::other)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => RememberedKeys::default(),
        Err(error) => return Err(error),
    };
    let kid = &current.common.key_id;
    for key in &mut remembered.keys {
        if key.jwk.common.key_id == *kid {
            // Back to a key used before: it is current again.
            key.retired_at = None;
        } else if key.retired_at.is_none() {
            key.retired_at = Some(now);
        }
    }
    if !remembered
        .keys
        .iter()
        .any(|key| key.jwk.common.key_id == *kid)
    {
        remembered.keys.push(RememberedKey {
            jwk: current.clone(),
            retired_at: None,
        });
    }
    remembered
        .keys
        .retain(|key| key.retired_at.is_none_or(|at| now < at + window));
    let bytes = serde_json::to_vec_pretty(&remembered).map_err(io::Error::other)?;
    data_dir::replace_private_file(dir, KEYS_FILE, &bytes)?;
    Ok(remembered
        .keys
        .into_iter()
        .filter_map(|key| {
            key.retired_at.map(|at| RetiredKey {
                jwk: key.jwk,
                until: at + window,
            })
        })
        .collect())
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
    data_dir::create_private_dir(dir)?;
    let secret = random_secret()?;
    match data_dir::private_file(&path, fs::OpenOptions::new().write(true).create_new(true)) {
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
                role: Role::Admin,
                realworld: false,
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

    #[test]
    fn iat_is_required_and_not_in_the_future() {
        let keys = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        let now = chrono::Utc::now().timestamp();
        let mut claims = user_claims();
        claims["iat"] = serde_json::json!(now + LEEWAY_SECONDS as i64 - 1);
        assert!(
            keys.verify(&sign(&header, &claims)).is_ok(),
            "within the leeway"
        );
        claims["iat"] = serde_json::json!(now + 11 * 24 * 60 * 60);
        assert_eq!(
            keys.verify(&sign(&header, &claims)),
            Err(TokenError::Invalid(
                "the access token was issued in the future"
            ))
        );
        claims.as_object_mut().unwrap().remove("iat");
        assert_eq!(
            keys.verify(&sign(&header, &claims)),
            Err(TokenError::Invalid(
                "the access token lacks a required claim"
            ))
        );
        assert_eq!(check_issued_at(Some(100), 95), Ok(()));
        assert!(check_issued_at(Some(101), 95).is_err());
    }

    const ED_A: &[u8] = include_bytes!("../../tests/fixtures/keys/ed25519-a.pem");
    const ED_B: &[u8] = include_bytes!("../../tests/fixtures/keys/ed25519-b.pem");

    fn ed_keys(pem: &[u8], retired: Vec<RetiredKey>) -> TokenKeys {
        let ttl = Duration::from_secs(900);
        TokenKeys::asymmetric(
            JwtAlgorithm::EdDsa,
            pem,
            retired,
            "blog-api",
            "blog-api",
            ttl,
        )
        .unwrap()
    }

    #[test]
    fn retired_keys_are_remembered_until_their_tokens_have_expired() {
        let dir = tempfile::tempdir().unwrap();
        let (_, a) = signing_key(JwtAlgorithm::EdDsa, ED_A).unwrap();
        let (_, b) = signing_key(JwtAlgorithm::EdDsa, ED_B).unwrap();
        let window = 905;
        assert!(remember_keys(dir.path(), &a, 1_000, window)
            .unwrap()
            .is_empty());
        // A restart with the same key changes nothing.
        assert!(remember_keys(dir.path(), &a, 1_500, window)
            .unwrap()
            .is_empty());
        // Key b replaces a at 2000: a verifies until 2905.
        let retired = remember_keys(dir.path(), &b, 2_000, window).unwrap();
        assert_eq!(retired.len(), 1);
        assert_eq!(retired[0].jwk.common.key_id, a.common.key_id);
        assert_eq!(retired[0].until, 2_905);
        assert_eq!(
            remember_keys(dir.path(), &b, 2_904, window).unwrap()[0].until,
            2_905,
            "a restart does not extend the window"
        );
        // Then it is forgotten, for good.
        assert!(remember_keys(dir.path(), &b, 2_905, window)
            .unwrap()
            .is_empty());
        let file = fs::read_to_string(dir.path().join(KEYS_FILE)).unwrap();
        assert!(
            !file.contains(a.common.key_id.as_deref().unwrap()),
            "{file}"
        );
    }

    #[test]
    fn a_retired_key_verifies_its_tokens_only_within_its_window() {
        let token = ed_keys(ED_A, Vec::new())
            .issue(UserId::new(), SessionId::new(), Role::User)
            .unwrap()
            .token;
        let (_, old) = signing_key(JwtAlgorithm::EdDsa, ED_A).unwrap();
        let now = chrono::Utc::now().timestamp();
        let retired = |until| {
            vec![RetiredKey {
                jwk: old.clone(),
                until,
            }]
        };

        let keys = ed_keys(ED_B, retired(now + 60));
        assert!(keys.verify(&token).is_ok());
        assert_eq!(keys.jwks().keys.len(), 2);

        let keys = ed_keys(ED_B, retired(now - 1));
        assert_eq!(
            keys.verify(&token),
            Err(TokenError::Invalid(
                "the access token's signing key is unknown"
            ))
        );
        assert_eq!(keys.jwks().keys.len(), 1, "no longer published");
        // Without the retired key at all, the new key's signature check refuses it.
        assert!(ed_keys(ED_B, Vec::new()).verify(&token).is_err());
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
