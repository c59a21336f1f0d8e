//! Settings from `BLOG_*` environment variables (and `.env`, loaded by `main`).
//!
//! Every setting has a safe default so that a bare `cargo run` serves. A bad value is reported as
//! one line naming the variable; nothing here panics.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::fetch_url::check_fetch_url;

/// The shortest HMAC secret accepted: 256 bits, as RFC 7518 section 3.2 requires for HS256.
pub const MIN_SECRET_BYTES: usize = 32;

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to bind, `host:port`; port 0 picks a free port (tests do).
    pub listen: String,
    /// The blog's address as readers reach it, without a trailing `/` (links in `/feed.atom`);
    /// `None`: `http://` and the address bound.
    pub public_url: Option<String>,
    /// The data directory (`BLOG_STORAGE=disk` only): the journal and its snapshot, the
    /// generated JWT secret and the remembered public keys (see `data_dir.rs`).
    pub data_dir: PathBuf,
    /// HS256 secret; when `None` one is generated and kept in `data_dir` (with
    /// `BLOG_STORAGE=memory`, generated for this process only).
    pub jwt_secret: Option<SecretString>,
    /// How our own access tokens are signed.
    pub jwt_algorithm: JwtAlgorithm,
    /// PKCS#8 PEM private key, for `EdDSA` and `RS256`.
    pub jwt_key_file: Option<PathBuf>,
    /// An external identity provider whose access tokens are accepted too.
    pub oidc: Option<OidcSettings>,
    /// `iss` of the tokens we issue and accept.
    pub issuer: String,
    /// `aud` of the tokens we issue and accept.
    pub audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Lifetime of the tokens `/api` (RealWorld) issues: its frontends never refresh.
    pub realworld_token_ttl: Duration,
    /// `BLOG_DATABASE_URL`: PostgreSQL instead of the embedded store. A secret: it may hold a
    /// password.
    pub database_url: Option<SecretString>,
    /// `BLOG_DATABASE_POOL_SIZE`: connections per server at most.
    pub database_pool_size: u32,
    /// `BLOG_DATABASE_CACHE_ENTRIES`: sessions and post views the PostgreSQL engine's read
    /// cache holds, each; 0 turns it off.
    pub database_cache_entries: usize,
    /// `BLOG_PASSWORD_MIN_SCORE`: how strong a new password must be.
    pub password_policy: crate::domain::PasswordPolicy,
    /// Origins allowed by CORS; `*` allows any.
    pub cors_origins: Vec<String>,
    /// A `tracing` filter, e.g. `info` or `blog_api=debug,actix_web=info`.
    pub log: String,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
    /// Where the store keeps its data.
    pub storage: Storage,
    /// Journal size (bytes) past which it is compacted into a snapshot.
    pub journal_compact_bytes: u64,
    /// Live sessions one account may hold; logging in past it ends the least recently used.
    pub sessions_per_account: usize,
    /// How often expired sessions and stale login-throttle entries are swept from memory.
    pub sweep_interval: Duration,
    /// The admin account to create at startup, if it does not exist.
    pub admin: Option<AdminAccount>,
    /// Abuse limits.
    pub limits: Limits,
    /// `BLOG_METRICS`: serve `GET /metrics` (Prometheus text format); off, it is a 404.
    pub metrics: bool,
}

/// `BLOG_STORAGE`: `disk` (default) journals every write in `BLOG_DATA_DIR`; `memory` keeps
/// nothing on disk at all (tests, demos): data and, without `BLOG_JWT_SECRET`, tokens end with
/// the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Disk,
    Memory,
    /// PostgreSQL at `BLOG_DATABASE_URL`.
    Postgres,
}

/// `BLOG_JWT_ALGORITHM`: how our own access tokens are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with `BLOG_JWT_SECRET` (or a generated secret): the default.
    Hs256,
    /// Ed25519 with `BLOG_JWT_KEY_FILE`; public keys at `/.well-known/jwks.json`.
    EdDsa,
    /// RSA PKCS#1 v1.5 SHA-256 with `BLOG_JWT_KEY_FILE`; public keys at `/.well-known/jwks.json`.
    Rs256,
}

impl JwtAlgorithm {
    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Hs256 => jsonwebtoken::Algorithm::HS256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

/// `BLOG_OIDC_*`: an external issuer (Auth0, Keycloak...) whose access tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// Exactly the `iss` of its tokens, e.g. `https://tenant.eu.auth0.com/` (trailing slash
    /// included, as Auth0 writes it) or `https://sso.example/realms/blog`.
    pub issuer: String,
    /// The `aud` its tokens must carry: the API identifier (Auth0) or client id (Keycloak).
    pub audience: String,
    /// Where its JWKS is; `None` means discovery at `{issuer}/.well-known/openid-configuration`.
    pub jwks_url: Option<String>,
    /// The least time between two JWKS fetches caused by unknown `kid`s.
    pub jwks_min_refresh: Duration,
}

/// `BLOG_ADMIN_USERNAME`, `BLOG_ADMIN_EMAIL`, `BLOG_ADMIN_PASSWORD`: all three or none.
#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub username: String,
    pub email: String,
    pub password: SecretString,
}

/// Limits that keep a flood of logins from hurting anyone else.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests per minute per client IP on `/api/v1/auth/*` (token bucket refill rate).
    pub auth_rate_per_minute: u32,
    /// Bucket size: requests a client may send at once before the rate applies.
    pub auth_burst: u32,
    /// Consecutive failed logins for one account from one client address before that address
    /// is throttled for the account.
    pub login_failure_limit: u32,
    /// First throttle window; it doubles with every further failure, up to an hour.
    pub login_lockout: Duration,
    /// Failed logins for one account in an hour, from every address together, past which the
    /// account is throttled everywhere (OWASP ASVS 2.2.1: at most 100).
    pub login_account_failures_per_hour: u32,
    /// Password hashes computed at once (each takes 19 MiB and a core for ~20 ms).
    pub hash_concurrency: usize,
    /// Logins and signups allowed to wait for a hashing slot; beyond that, 503.
    pub hash_queue: usize,
    /// Proxies whose `X-Forwarded-For` is believed (IPs or CIDR ranges).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Time a request body has to arrive whole once a handler reads it; then 408.
    pub body_timeout: Duration,
}

/// A setting that cannot be used; `Display` is the single line printed at startup.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    pub variable: String,
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &str, reason: impl Into<String>) -> Self {
        Self {
            variable: variable.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The environment as envy reads it, before validation.
#[derive(Deserialize)]
struct RawSettings {
    #[serde(default = "defaults::listen")]
    listen: String,
    #[serde(default = "defaults::data_dir")]
    data_dir: PathBuf,
    jwt_secret: Option<String>,
    #[serde(default = "defaults::jwt_algorithm")]
    jwt_algorithm: String,
    jwt_key_file: Option<PathBuf>,
    oidc_issuer: Option<String>,
    oidc_audience: Option<String>,
    oidc_jwks_url: Option<String>,
    #[serde(default = "defaults::oidc_jwks_refresh_seconds")]
    oidc_jwks_refresh_seconds: u64,
    #[serde(default = "defaults::issuer")]
    issuer: String,
    #[serde(default = "defaults::issuer")]
    audience: String,
    #[serde(default = "defaults::access_token_ttl")]
    access_token_ttl: u64,
    #[serde(default = "defaults::refresh_token_ttl")]
    refresh_token_ttl: u64,
    realworld_token_ttl: Option<u64>,
    #[serde(default = "defaults::password_min_score")]
    password_min_score: u8,
    database_url: Option<String>,
    #[serde(default = "defaults::database_pool_size")]
    database_pool_size: u32,
    #[serde(default = "defaults::database_cache_entries")]
    database_cache_entries: usize,
    #[serde(default)]
    cors_origins: String,
    public_url: Option<String>,
    #[serde(default = "defaults::log")]
    log: String,
    workers: Option<usize>,
    #[serde(default = "defaults::storage")]
    storage: String,
    #[serde(default = "defaults::journal_compact_bytes")]
    journal_compact_bytes: u64,
    #[serde(default = "defaults::sessions_per_account")]
    sessions_per_account: u64,
    #[serde(default = "defaults::sweep_seconds")]
    sweep_seconds: u64,
    admin_username: Option<String>,
    admin_email: Option<String>,
    admin_password: Option<String>,
    #[serde(default = "defaults::auth_rate_per_minute")]
    auth_rate_per_minute: u32,
    #[serde(default = "defaults::auth_burst")]
    auth_burst: u32,
    #[serde(default = "defaults::login_failure_limit")]
    login_failure_limit: u32,
    #[serde(default = "defaults::login_lockout_seconds")]
    login_lockout_seconds: u64,
    #[serde(default = "defaults::login_account_failures_per_hour")]
    login_account_failures_per_hour: u32,
    hash_concurrency: Option<usize>,
    #[serde(default = "defaults::hash_queue")]
    hash_queue: usize,
    #[serde(default)]
    trusted_proxies: String,
    #[serde(default = "defaults::body_timeout_seconds")]
    body_timeout_seconds: u64,
    #[serde(default)]
    metrics: bool,
}

mod defaults {
    use std::path::PathBuf;

    pub fn listen() -> String {
        "127.0.0.1:8080".into()
    }
    pub fn data_dir() -> PathBuf {
        "./data".into()
    }
    pub fn issuer() -> String {
        "blog-api".into()
    }
    pub fn jwt_algorithm() -> String {
        "HS256".into()
    }
    pub fn oidc_jwks_refresh_seconds() -> u64 {
        60
    }
    pub fn access_token_ttl() -> u64 {
        15 * 60
    }
    pub fn refresh_token_ttl() -> u64 {
        30 * 24 * 60 * 60
    }
    pub fn realworld_token_ttl() -> u64 {
        7 * 24 * 60 * 60
    }
    pub fn database_pool_size() -> u32 {
        16
    }
    pub fn database_cache_entries() -> usize {
        10_000
    }
    pub fn password_min_score() -> u8 {
        crate::domain::PasswordPolicy::default().min_score
    }
    pub fn log() -> String {
        "info".into()
    }
    pub fn storage() -> String {
        "disk".into()
    }
    pub fn journal_compact_bytes() -> u64 {
        64 * 1024 * 1024
    }
    pub fn sessions_per_account() -> u64 {
        crate::store::DEFAULT_SESSION_CAP as u64
    }
    pub fn sweep_seconds() -> u64 {
        300
    }
    pub fn auth_rate_per_minute() -> u32 {
        30
    }
    pub fn auth_burst() -> u32 {
        10
    }
    pub fn login_failure_limit() -> u32 {
        10
    }
    pub fn login_lockout_seconds() -> u64 {
        60
    }
    pub fn login_account_failures_per_hour() -> u32 {
        100
    }
    pub fn hash_queue() -> usize {
        64
    }
    pub fn body_timeout_seconds() -> u64 {
        10
    }
    /// Half the cores (at least one), so logins can never take every core from reads.
    pub fn hash_concurrency() -> usize {
        std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
    }
}

impl Settings {
    /// Reads `BLOG_*` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from `(name, value)` pairs; only `BLOG_*` names are looked at.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let raw: RawSettings = envy::prefixed("BLOG_")
            .from_iter(
                vars.into_iter()
                    .filter(|(name, _)| name.starts_with("BLOG_")),
            )
            .map_err(|error| match error {
                envy::Error::MissingValue(field) => {
                    ConfigError::new(&format!("BLOG_{}", field.to_uppercase()), "is required")
                }
                // envy says "<why> while parsing value '<v>' provided by <NAME>", naming the
                // variable without its `BLOG_` prefix.
                envy::Error::Custom(message) => match message.rsplit_once(" provided by ") {
                    Some((reason, variable)) => {
                        let variable = variable.trim().to_uppercase();
                        let variable = if variable.starts_with("BLOG_") {
                            variable
                        } else {
                            format!("BLOG_{variable}")
                        };
                        ConfigError::new(&variable, reason)
                    }
                    None => ConfigError::new("BLOG_*", message),
                },
            })?;
        raw.validate()
    }

    /// Every default, as an empty environment gives them: for tests and embedding, which then
    /// change the fields they need.
    pub fn defaults() -> Self {
        Self::from_vars(std::iter::empty()).expect("the defaults are valid")
    }
}

impl RawSettings {
    /// Checks one concern at a time, each naming the variable at fault: the first bad setting
    /// is the error. Each part takes the values it keeps out of `self`.
    fn validate(mut self) -> Result<Settings, ConfigError> {
        let listen = self.listen()?;
        let public_url = self.public_url()?;
        let key = self.signing_key()?;
        let tokens = self.tokens()?;
        let cors_origins = parse_origins(&self.cors_origins)?;
        let workers = self.workers()?;
        let admin = self.admin()?;
        let limits = self.limits()?;
        let storage = self.storage()?;
        if storage.storage == Storage::Postgres && key.secret.is_none() && key.key_file.is_none() {
            return Err(ConfigError::new(
                "BLOG_JWT_SECRET",
                "is required with BLOG_DATABASE_URL (or BLOG_JWT_KEY_FILE): every server on the \
                 database must sign and check tokens with the same key",
            ));
        }
        let oidc = self.oidc(&tokens.issuer)?;
        Ok(Settings {
            listen,
            public_url,
            data_dir: storage.data_dir,
            jwt_secret: key.secret,
            jwt_algorithm: key.algorithm,
            jwt_key_file: key.key_file,
            oidc,
            issuer: tokens.issuer,
            audience: tokens.audience,
            access_token_ttl: tokens.access_token_ttl,
            refresh_token_ttl: tokens.refresh_token_ttl,
            realworld_token_ttl: tokens.realworld_token_ttl,
            password_policy: self.password_policy()?,
            database_url: storage.database_url,
            database_pool_size: storage.database_pool_size,
            database_cache_entries: storage.database_cache_entries,
            cors_origins,
            log: self.log,
            workers,
            storage: storage.storage,
            journal_compact_bytes: storage.journal_compact_bytes,
            sessions_per_account: storage.sessions_per_account,
            sweep_interval: storage.sweep_interval,
            admin,
            limits,
            metrics: self.metrics,
        })
    }

    /// `BLOG_LISTEN`.
    fn listen(&mut self) -> Result<String, ConfigError> {
        if self.listen.trim().is_empty() {
            return Err(ConfigError::new(
                "BLOG_LISTEN",
                "must be host:port, e.g. 127.0.0.1:8080",
            ));
        }
        Ok(std::mem::take(&mut self.listen))
    }

    /// `BLOG_PUBLIC_URL`: an http(s) URL, kept without its trailing `/`.
    fn public_url(&mut self) -> Result<Option<String>, ConfigError> {
        let Some(url) = self.public_url.take().filter(|url| !url.trim().is_empty()) else {
            return Ok(None);
        };
        let url = url.trim().trim_end_matches('/');
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(Some(url.to_owned()))
            }
            _ => Err(ConfigError::new(
                "BLOG_PUBLIC_URL",
                "must be an http:// or https:// URL, e.g. https://blog.example.com",
            )),
        }
    }

    /// `BLOG_WORKERS`.
    fn workers(&self) -> Result<Option<usize>, ConfigError> {
        if self.workers == Some(0) {
            return Err(ConfigError::new("BLOG_WORKERS", "must be at least 1"));
        }
        Ok(self.workers)
    }

    /// `BLOG_JWT_SECRET`, `BLOG_JWT_ALGORITHM`, `BLOG_JWT_KEY_FILE`: a long enough secret, and
    /// the secret or the key file as the algorithm needs, never both.
    fn signing_key(&mut self) -> Result<SigningKey, ConfigError> {
        let secret = match self.jwt_secret.take() {
            Some(secret) if secret.len() < MIN_SECRET_BYTES => {
                return Err(ConfigError::new(
                    "BLOG_JWT_SECRET",
                    format!(
                        "must be at least {MIN_SECRET_BYTES} bytes (it is {})",
                        secret.len()
                    ),
                ))
            }
            Some(secret) => Some(SecretString::from(secret)),
            None => None,
        };
        let algorithm = match self.jwt_algorithm.as_str() {
            "HS256" => JwtAlgorithm::Hs256,
            "EdDSA" => JwtAlgorithm::EdDsa,
            "RS256" => JwtAlgorithm::Rs256,
            other => {
                return Err(ConfigError::new(
                    "BLOG_JWT_ALGORITHM",
                    format!("`{other}` is not one of HS256, EdDSA, RS256"),
                ))
            }
        };
        let key_file = self.jwt_key_file.take();
        match (algorithm, key_file.is_some(), secret.is_some()) {
            (JwtAlgorithm::Hs256, true, _) => Err(ConfigError::new(
                "BLOG_JWT_KEY_FILE",
                "is for BLOG_JWT_ALGORITHM=EdDSA or RS256; HS256 uses BLOG_JWT_SECRET",
            )),
            (JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256, false, _) => Err(ConfigError::new(
                "BLOG_JWT_KEY_FILE",
                "is required with BLOG_JWT_ALGORITHM=EdDSA or RS256 (a PKCS#8 PEM private key, \
                     e.g. from `openssl genpkey -algorithm ed25519`)",
            )),
            (JwtAlgorithm::EdDsa | JwtAlgorithm::Rs256, true, true) => Err(ConfigError::new(
                "BLOG_JWT_SECRET",
                "is for BLOG_JWT_ALGORITHM=HS256; EdDSA and RS256 use BLOG_JWT_KEY_FILE",
            )),
            _ => Ok(SigningKey {
                algorithm,
                secret,
                key_file,
            }),
        }
    }

    /// `BLOG_ISSUER`, `BLOG_AUDIENCE`, `BLOG_ACCESS_TOKEN_TTL`, `BLOG_REFRESH_TOKEN_TTL`: what
    /// our tokens say and how long they live.
    fn tokens(&mut self) -> Result<Tokens, ConfigError> {
        if self.issuer.trim().is_empty() {
            return Err(ConfigError::new("BLOG_ISSUER", "must not be empty"));
        }
        if self.audience.trim().is_empty() {
            return Err(ConfigError::new("BLOG_AUDIENCE", "must not be empty"));
        }
        if !(60..=24 * 60 * 60).contains(&self.access_token_ttl) {
            return Err(ConfigError::new(
                "BLOG_ACCESS_TOKEN_TTL",
                "must be between 60 and 86400 seconds",
            ));
        }
        if self.refresh_token_ttl < self.access_token_ttl {
            return Err(ConfigError::new(
                "BLOG_REFRESH_TOKEN_TTL",
                "must be at least BLOG_ACCESS_TOKEN_TTL",
            ));
        }
        // Unset: 7 days, or the session's lifetime when that is shorter.
        let realworld_token_ttl = self
            .realworld_token_ttl
            .unwrap_or_else(|| defaults::realworld_token_ttl().min(self.refresh_token_ttl));
        if !(60..=self.refresh_token_ttl).contains(&realworld_token_ttl) {
            return Err(ConfigError::new(
                "BLOG_REALWORLD_TOKEN_TTL",
                "must be between 60 seconds and BLOG_REFRESH_TOKEN_TTL (its session must outlive it)",
            ));
        }
        Ok(Tokens {
            issuer: std::mem::take(&mut self.issuer),
            audience: std::mem::take(&mut self.audience),
            access_token_ttl: Duration::from_secs(self.access_token_ttl),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl),
            realworld_token_ttl: Duration::from_secs(realworld_token_ttl),
        })
    }

    /// `BLOG_PASSWORD_MIN_SCORE`: a zxcvbn score, 0-4.
    fn password_policy(&self) -> Result<crate::domain::PasswordPolicy, ConfigError> {
        if self.password_min_score > 4 {
            return Err(ConfigError::new(
                "BLOG_PASSWORD_MIN_SCORE",
                "must be a zxcvbn score from 0 (length only) to 4",
            ));
        }
        Ok(crate::domain::PasswordPolicy {
            min_score: self.password_min_score,
        })
    }

    /// `BLOG_ADMIN_USERNAME`, `BLOG_ADMIN_EMAIL`, `BLOG_ADMIN_PASSWORD`: all three or none.
    fn admin(&mut self) -> Result<Option<AdminAccount>, ConfigError> {
        match (
            self.admin_username.take(),
            self.admin_email.take(),
            self.admin_password.take(),
        ) {
            (None, None, None) => Ok(None),
            (Some(username), Some(email), Some(password)) => Ok(Some(AdminAccount {
                username,
                email,
                password: SecretString::from(password),
            })),
            _ => Err(ConfigError::new(
                "BLOG_ADMIN_USERNAME",
                "set BLOG_ADMIN_USERNAME, BLOG_ADMIN_EMAIL and BLOG_ADMIN_PASSWORD together",
            )),
        }
    }

    /// The abuse limits: `BLOG_AUTH_*`, `BLOG_LOGIN_*`, `BLOG_HASH_*`, `BLOG_TRUSTED_PROXIES`
    /// and `BLOG_BODY_TIMEOUT_SECONDS`.
    fn limits(&self) -> Result<Limits, ConfigError> {
        positive(
            self.auth_rate_per_minute.into(),
            "BLOG_AUTH_RATE_PER_MINUTE",
        )?;
        positive(self.auth_burst.into(), "BLOG_AUTH_BURST")?;
        positive(self.login_failure_limit.into(), "BLOG_LOGIN_FAILURE_LIMIT")?;
        positive(self.login_lockout_seconds, "BLOG_LOGIN_LOCKOUT_SECONDS")?;
        positive(
            self.login_account_failures_per_hour.into(),
            "BLOG_LOGIN_ACCOUNT_FAILURES_PER_HOUR",
        )?;
        let hash_concurrency = self
            .hash_concurrency
            .unwrap_or_else(defaults::hash_concurrency);
        positive(hash_concurrency as u64, "BLOG_HASH_CONCURRENCY")?;
        let trusted_proxies = parse_networks(&self.trusted_proxies)?;
        if !(1..=300).contains(&self.body_timeout_seconds) {
            return Err(ConfigError::new(
                "BLOG_BODY_TIMEOUT_SECONDS",
                "must be between 1 and 300 seconds",
            ));
        }
        Ok(Limits {
            auth_rate_per_minute: self.auth_rate_per_minute,
            auth_burst: self.auth_burst,
            login_failure_limit: self.login_failure_limit,
            login_lockout: Duration::from_secs(self.login_lockout_seconds),
            login_account_failures_per_hour: self.login_account_failures_per_hour,
            hash_concurrency,
            hash_queue: self.hash_queue,
            trusted_proxies,
            body_timeout: Duration::from_secs(self.body_timeout_seconds),
        })
    }

    /// `BLOG_STORAGE`, `BLOG_DATA_DIR`, `BLOG_JOURNAL_COMPACT_BYTES`, and the sessions the store
    /// keeps: `BLOG_SESSIONS_PER_ACCOUNT`, `BLOG_SWEEP_SECONDS`.
    fn storage(&mut self) -> Result<StorageSettings, ConfigError> {
        positive(self.sessions_per_account, "BLOG_SESSIONS_PER_ACCOUNT")?;
        positive(self.sweep_seconds, "BLOG_SWEEP_SECONDS")?;
        if self.journal_compact_bytes < 4096 {
            return Err(ConfigError::new(
                "BLOG_JOURNAL_COMPACT_BYTES",
                "must be at least 4096",
            ));
        }
        let mut storage = match self.storage.as_str() {
            "disk" => Storage::Disk,
            "memory" => Storage::Memory,
            other => {
                return Err(ConfigError::new(
                    "BLOG_STORAGE",
                    format!("`{other}` is neither `disk` nor `memory`"),
                ))
            }
        };
        let database_url = self
            .database_url
            .take()
            .filter(|url| !url.trim().is_empty());
        if let Some(url) = &database_url {
            let url = url.trim();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError::new(
                    "BLOG_DATABASE_URL",
                    "must be a postgres:// URL, e.g. postgres://blog@127.0.0.1:5432/blog",
                ));
            }
            storage = Storage::Postgres;
        }
        if !(1..=1000).contains(&self.database_pool_size) {
            return Err(ConfigError::new(
                "BLOG_DATABASE_POOL_SIZE",
                "must be between 1 and 1000",
            ));
        }
        if self.database_cache_entries > 10_000_000 {
            return Err(ConfigError::new(
                "BLOG_DATABASE_CACHE_ENTRIES",
                "must be at most 10000000",
            ));
        }
        Ok(StorageSettings {
            storage,
            database_url: database_url.map(|url| SecretString::from(url.trim().to_owned())),
            database_pool_size: self.database_pool_size,
            database_cache_entries: self.database_cache_entries,
            data_dir: std::mem::take(&mut self.data_dir),
            journal_compact_bytes: self.journal_compact_bytes,
            sessions_per_account: usize::try_from(self.sessions_per_account).unwrap_or(usize::MAX),
            sweep_interval: Duration::from_secs(self.sweep_seconds),
        })
    }

    /// `BLOG_OIDC_*`: an external issuer, other than `our_issuer`, whose keys are fetched over
    /// https (or from loopback).
    fn oidc(&mut self, our_issuer: &str) -> Result<Option<OidcSettings>, ConfigError> {
        let jwks_url = self.oidc_jwks_url.take();
        let (issuer, audience) = match (self.oidc_issuer.take(), self.oidc_audience.take()) {
            (None, None) if jwks_url.is_some() => {
                return Err(ConfigError::new(
                    "BLOG_OIDC_JWKS_URL",
                    "needs BLOG_OIDC_ISSUER and BLOG_OIDC_AUDIENCE",
                ))
            }
            (None, None) => return Ok(None),
            (Some(issuer), Some(audience)) => (issuer, audience),
            _ => {
                return Err(ConfigError::new(
                    "BLOG_OIDC_ISSUER",
                    "set BLOG_OIDC_ISSUER and BLOG_OIDC_AUDIENCE together",
                ))
            }
        };
        fetchable(&issuer, "BLOG_OIDC_ISSUER")?;
        if let Some(url) = &jwks_url {
            fetchable(url, "BLOG_OIDC_JWKS_URL")?;
        }
        if audience.trim().is_empty() {
            return Err(ConfigError::new("BLOG_OIDC_AUDIENCE", "must not be empty"));
        }
        if issuer == our_issuer {
            return Err(ConfigError::new(
                "BLOG_OIDC_ISSUER",
                "must differ from BLOG_ISSUER, or its tokens could not be told from ours",
            ));
        }
        positive(
            self.oidc_jwks_refresh_seconds,
            "BLOG_OIDC_JWKS_REFRESH_SECONDS",
        )?;
        Ok(Some(OidcSettings {
            issuer,
            audience,
            jwks_url,
            jwks_min_refresh: Duration::from_secs(self.oidc_jwks_refresh_seconds),
        }))
    }
}

/// How our own tokens are signed, as [`RawSettings::signing_key`] validated it.
struct SigningKey {
    algorithm: JwtAlgorithm,
    secret: Option<SecretString>,
    key_file: Option<PathBuf>,
}

/// What our tokens say and how long they live, as [`RawSettings::tokens`] validated it.
struct Tokens {
    issuer: String,
    audience: String,
    access_token_ttl: Duration,
    refresh_token_ttl: Duration,
    realworld_token_ttl: Duration,
}

/// Where the store keeps its data, as [`RawSettings::storage`] validated it.
struct StorageSettings {
    storage: Storage,
    database_url: Option<SecretString>,
    database_pool_size: u32,
    database_cache_entries: usize,
    data_dir: PathBuf,
    journal_compact_bytes: u64,
    sessions_per_account: usize,
    sweep_interval: Duration,
}

fn positive(value: u64, variable: &str) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::new(variable, "must be at least 1"))
    } else {
        Ok(())
    }
}

/// `url` (the value of `variable`) is an address keys may be fetched from: see
/// [`check_fetch_url`].
fn fetchable(url: &str, variable: &str) -> Result<(), ConfigError> {
    check_fetch_url(url).map_err(|reason| ConfigError::new(variable, reason))
}

/// `10.0.0.1, 192.168.0.0/16, ::1` -> networks (a bare IP is a /32 or /128).
fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "BLOG_TRUSTED_PROXIES",
                        format!("`{entry}` is not an IP address or CIDR range"),
                    )
                })
        })
        .collect()
}

/// `https://a.example, http://localhost:3000` -> origins. An origin has no path, so a trailing
/// slash (a common copy-paste slip that would silently never match) is refused.
fn parse_origins(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let valid = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/')
                    && origin.split("://").nth(1).is_some_and(|host| {
                        !host.is_empty() && !host.contains('/') && !host.contains(' ')
                    }));
            if valid {
                Ok(origin.to_owned())
            } else {
                Err(ConfigError::new(
                    "BLOG_CORS_ORIGINS",
                    format!("`{origin}` is not an origin like https://blog.example or http://localhost:3000"),
                ))
            }
        })
        .collect()
}

impl Settings {
    /// The configured HS256 secret, if any. The secret is kept as a `SecretString`, so `{:?}`
    /// of the settings never prints it.
    pub fn jwt_secret_bytes(&self) -> Option<&[u8]> {
        self.jwt_secret
            .as_ref()
            .map(|secret| secret.expose_secret().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn realworld_tokens_never_outlive_their_session() {
        let day = 24 * 60 * 60;
        let default = settings(&[]).unwrap();
        assert_eq!(default.realworld_token_ttl, Duration::from_secs(7 * day));
        let short = settings(&[("BLOG_REFRESH_TOKEN_TTL", "3600")]).unwrap();
        assert_eq!(short.realworld_token_ttl, Duration::from_secs(3600));
        let too_long = settings(&[
            ("BLOG_REFRESH_TOKEN_TTL", "3600"),
            ("BLOG_REALWORLD_TOKEN_TTL", "7200"),
        ]);
        assert_eq!(too_long.unwrap_err().variable, "BLOG_REALWORLD_TOKEN_TTL");
        let score = settings(&[("BLOG_PASSWORD_MIN_SCORE", "5")]);
        assert_eq!(score.unwrap_err().variable, "BLOG_PASSWORD_MIN_SCORE");
        assert_eq!(settings(&[]).unwrap().password_policy.min_score, 2);
    }

    #[test]
    fn defaults_serve_on_loopback() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert!(s.jwt_secret.is_none());
        assert!(!s.metrics, "/metrics is off unless asked for");
    }

    #[test]
    fn bad_values_name_their_variable() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("BLOG_JWT_SECRET", "short")],
                "BLOG_JWT_SECRET",
                "a secret under 32 bytes",
            ),
            (
                &[("BLOG_ACCESS_TOKEN_TTL", "abc")],
                "BLOG_ACCESS_TOKEN_TTL",
                "not a number",
            ),
            (
                &[("BLOG_ACCESS_TOKEN_TTL", "5")],
                "BLOG_ACCESS_TOKEN_TTL",
                "too short",
            ),
            (
                &[("BLOG_CORS_ORIGINS", "https://a.example/")],
                "BLOG_CORS_ORIGINS",
                "trailing slash",
            ),
            (
                &[("BLOG_CORS_ORIGINS", "a.example")],
                "BLOG_CORS_ORIGINS",
                "no scheme",
            ),
            (&[("BLOG_WORKERS", "0")], "BLOG_WORKERS", "no workers"),
            (
                &[("BLOG_STORAGE", "tape")],
                "BLOG_STORAGE",
                "unknown storage",
            ),
            (
                &[("BLOG_ADMIN_USERNAME", "root")],
                "BLOG_ADMIN_USERNAME",
                "admin without email and password",
            ),
            (
                &[("BLOG_AUTH_BURST", "0")],
                "BLOG_AUTH_BURST",
                "an empty bucket",
            ),
            (
                &[("BLOG_TRUSTED_PROXIES", "10.0.0.1, nope")],
                "BLOG_TRUSTED_PROXIES",
                "not an IP",
            ),
            (
                &[("BLOG_HASH_CONCURRENCY", "0")],
                "BLOG_HASH_CONCURRENCY",
                "no hashing at all",
            ),
            (
                &[("BLOG_JWT_ALGORITHM", "none")],
                "BLOG_JWT_ALGORITHM",
                "alg none",
            ),
            (
                &[("BLOG_JWT_ALGORITHM", "EdDSA")],
                "BLOG_JWT_KEY_FILE",
                "EdDSA without a key",
            ),
            (
                &[("BLOG_JWT_KEY_FILE", "key.pem")],
                "BLOG_JWT_KEY_FILE",
                "a key file for HS256",
            ),
            (
                &[("BLOG_OIDC_ISSUER", "https://sso.example/")],
                "BLOG_OIDC_ISSUER",
                "issuer without audience",
            ),
            (
                &[
                    ("BLOG_OIDC_ISSUER", "http://sso.example/"),
                    ("BLOG_OIDC_AUDIENCE", "blog"),
                ],
                "BLOG_OIDC_ISSUER",
                "keys over clear text",
            ),
            (
                &[
                    ("BLOG_OIDC_ISSUER", "https://sso.example/"),
                    ("BLOG_OIDC_AUDIENCE", "blog"),
                    ("BLOG_OIDC_JWKS_URL", "http://127.0.0.1.evil.example/jwks"),
                ],
                "BLOG_OIDC_JWKS_URL",
                "a host that only starts like loopback",
            ),
            (
                &[("BLOG_REFRESH_TOKEN_TTL", "60")],
                "BLOG_REFRESH_TOKEN_TTL",
                "shorter than access",
            ),
            (
                &[("BLOG_BODY_TIMEOUT_SECONDS", "0")],
                "BLOG_BODY_TIMEOUT_SECONDS",
                "no time at all for a body",
            ),
        ];
        for (pairs, variable, reason) in cases {
            let error = settings(pairs).expect_err(reason).to_string();
            assert!(error.contains(variable), "{reason}: {error}");
            assert!(!error.contains('\n'), "{reason}: one line");
        }
    }

    #[test]
    fn secret_is_not_in_debug_output() {
        let secret = "x".repeat(40);
        let s = settings(&[("BLOG_JWT_SECRET", &secret)]).unwrap();
        assert!(!format!("{s:?}").contains(&secret));
        assert_eq!(s.jwt_secret_bytes(), Some(secret.as_bytes()));
    }

    /// `.env.example` documents the defaults: its uncommented values must be valid and equal to
    /// what an empty environment gives.
    #[test]
    fn env_example_matches_the_defaults() {
        let pairs: Vec<(String, String)> = include_str!("../.env.example")
            .lines()
            .filter(|line| line.starts_with("BLOG_"))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(pairs.len() >= 10, "{pairs:?}");
        let example = Settings::from_vars(pairs).expect(".env.example is valid");
        assert_eq!(
            format!("{example:?}"),
            format!("{:?}", Settings::defaults())
        );
    }

    #[test]
    fn an_external_issuer_is_https_or_loopback() {
        let oidc = |issuer: &str| {
            settings(&[("BLOG_OIDC_ISSUER", issuer), ("BLOG_OIDC_AUDIENCE", "blog")])
                .map(|s| s.oidc.expect("configured"))
        };
        let auth0 = oidc("https://tenant.eu.auth0.com/").unwrap();
        assert_eq!(auth0.jwks_url, None);
        assert_eq!(auth0.jwks_min_refresh, Duration::from_secs(60));
        assert!(oidc("http://localhost:8081/realms/blog").is_ok());
        assert!(oidc("http://127.0.0.1:9000").is_ok());
        assert!(oidc("http://[::1]:9000/").is_ok());
        assert!(oidc("http://sso.example").is_err());
        assert!(oidc("ftp://sso.example").is_err());
        assert!(oidc("https://").is_err());
        assert!(oidc("blog-api").is_err());
    }

    #[test]
    fn proxies_are_ips_or_ranges() {
        let s = settings(&[("BLOG_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16")]).unwrap();
        let proxies: Vec<String> = s
            .limits
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(proxies, ["10.0.0.1/32", "192.168.0.0/16"]);
    }

    #[test]
    fn origins_are_split_and_trimmed() {
        let s = settings(&[(
            "BLOG_CORS_ORIGINS",
            "https://a.example, http://localhost:3000",
        )])
        .unwrap();
        assert_eq!(
            s.cors_origins,
            ["https://a.example", "http://localhost:3000"]
        );
    }
}
