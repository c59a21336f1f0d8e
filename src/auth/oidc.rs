//! Access tokens from an external OpenID provider (Auth0, Keycloak...), verified against the
//! keys it publishes (JWKS).
//!
//! - The key is chosen by the token's `kid` among the issuer's keys, and only those: the `jku`,
//!   `x5u` and `jwk` headers, which would let a token name its own key, are never read.
//! - Each key's algorithm follows from its type (RSA -> RS256, EC P-256 -> ES256, Ed25519 ->
//!   EdDSA); a token whose `alg` differs from its key's is refused, which is what defeats the
//!   "HS256 signed with the issuer's public key" confusion. Symmetric (`oct`) keys are ignored.
//! - `iss`, `aud`, `exp` and `sub` are required; `nbf` is checked when present.
//! - The JWKS is cached. An unknown `kid` fetches it again (the issuer rotated its keys), at
//!   most once per `BLOG_OIDC_JWKS_REFRESH_SECONDS` and one fetch at a time, so a flood of
//!   tokens with made-up `kid`s costs the issuer one request per interval.
//! - Fetches use reqwest (rustls) with short timeouts and a size cap, awaited as futures: an
//!   actix worker thread is never blocked, and requests with known keys never wait for them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use parking_lot::RwLock;
use serde::Deserialize;

use super::jwt::{pinned_validation, refused, TokenError};
use crate::config::OidcSettings;
use crate::domain::ExternalIdentity;

/// The algorithms accepted from an external issuer.
const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A discovery document or JWKS larger than this is refused (real ones are a few KiB).
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Keys read from one JWKS at most.
const MAX_KEYS: usize = 64;
/// RSA moduli under 2048 bits are refused (RFC 7518 section 3.3).
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// One of the issuer's signing keys.
struct IssuerKey {
    algorithm: Algorithm,
    decoding: DecodingKey,
}

#[derive(Default)]
struct RefreshState {
    /// When the JWKS was last fetched (or tried).
    last_attempt: Option<Instant>,
    /// The `jwks_uri` discovery found, kept until a fetch from it fails.
    discovered: Option<String>,
}

/// An external issuer whose access tokens are accepted.
pub struct ExternalIssuer {
    issuer: String,
    jwks_url: Option<String>,
    min_refresh: Duration,
    http: reqwest::Client,
    /// One validation per accepted algorithm, built once.
    validations: Vec<(Algorithm, Validation)>,
    keys: RwLock<HashMap<String, Arc<IssuerKey>>>,
    /// Bumped whenever `keys` is replaced, so tokens verified with an older set are verified
    /// again (see `verified.rs`).
    generation: AtomicU64,
    /// Held across a fetch: one fetch at a time.
    refresh: tokio::sync::Mutex<RefreshState>,
}

/// The claims read from an external token beyond the registered ones. Hints are read leniently:
/// a claim of an unexpected type is ignored, not a reason to refuse the token.
#[derive(Deserialize)]
struct ExternalClaims {
    sub: String,
    /// A NumericDate may have a fraction (RFC 7519 section 2).
    exp: f64,
    #[serde(default)]
    preferred_username: serde_json::Value,
    #[serde(default)]
    nickname: serde_json::Value,
    #[serde(default)]
    name: serde_json::Value,
}

impl ExternalIssuer {
    pub fn new(settings: &OidcSettings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            // Fetches are rare and may come from any worker's runtime: no pooled connections
            // tied to one of them.
            .pool_max_idle_per_host(0)
            // A redirect could lead off https; discovery documents are not redirected.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("blog-api/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client for the external issuer: {e}"))?;
        let validations = ALGORITHMS
            .iter()
            .map(|&algorithm| {
                let claims = ["exp", "iss", "aud", "sub"];
                let validation =
                    pinned_validation(algorithm, &settings.issuer, &settings.audience, &claims);
                (algorithm, validation)
            })
            .collect();
        Ok(Self {
            issuer: settings.issuer.clone(),
            jwks_url: settings.jwks_url.clone(),
            min_refresh: settings.jwks_min_refresh,
            http,
            validations,
            keys: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Which set of the provider's keys is in use; changes whenever it is replaced.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Verifies an access token of this issuer (`header` is the token's, already decoded): who
    /// it is for, and its `exp`.
    pub async fn verify(
        &self,
        token: &str,
        header: &Header,
    ) -> Result<(ExternalIdentity, i64), TokenError> {
        if !ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::Invalid(
                "the access token uses a refused algorithm",
            ));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(TokenError::Invalid("the access token names no key"))?;
        let key = match self.key(kid) {
            Some(key) => key,
            None => {
                self.refresh_for(kid).await;
                self.key(kid).ok_or(TokenError::Invalid(
                    "the access token's signing key is unknown",
                ))?
            }
        };
        if key.algorithm != header.alg {
            return Err(TokenError::Invalid(
                "the access token's algorithm is not its key's",
            ));
        }
        let validation = self
            .validations
            .iter()
            .find(|(algorithm, _)| *algorithm == key.algorithm)
            .map(|(_, validation)| validation)
            .ok_or(TokenError::Invalid(
                "the access token uses a refused algorithm",
            ))?;
        let claims = jsonwebtoken::decode::<ExternalClaims>(token, &key.decoding, validation)
            .map_err(refused)?
            .claims;
        if claims.sub.is_empty()
            || claims.sub.len() > 255
            || claims.sub.chars().any(char::is_control)
        {
            return Err(TokenError::Invalid("the access token's subject is invalid"));
        }
        let text = |value: serde_json::Value| value.as_str().map(str::to_owned);
        let identity = ExternalIdentity {
            issuer: self.issuer.clone(),
            subject: claims.sub,
            username_hint: text(claims.preferred_username).or_else(|| text(claims.nickname)),
            name_hint: text(claims.name),
        };
        Ok((identity, claims.exp.floor() as i64))
    }

    fn key(&self, kid: &str) -> Option<Arc<IssuerKey>> {
        self.keys.read().get(kid).cloned()
    }

    /// Fetches the JWKS again for an unknown `kid`, unless another request has just done so or
    /// is doing so (it is waited for), or the last fetch was less than `min_refresh` ago.
    async fn refresh_for(&self, kid: &str) {
        let mut state = self.refresh.lock().await;
        if self.keys.read().contains_key(kid) {
            return;
        }
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.min_refresh)
        {
            tracing::debug!(
                kid,
                "unknown key id; the JWKS was fetched too recently to refetch"
            );
            return;
        }
        self.fetch(&mut state).await;
    }

    /// The first fetch, at startup, so the first request does not wait for it. Failure is only
    /// logged: the issuer may come up later, and tokens will fetch again.
    pub async fn prime(&self) {
        let mut state = self.refresh.lock().await;
        if state.last_attempt.is_none() {
            self.fetch(&mut state).await;
        }
    }

    async fn fetch(&self, state: &mut RefreshState) {
        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(state).await {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "fetched the external issuer's keys");
                *self.keys.write() = keys;
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            // The keys known so far stay in use.
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "cannot fetch the external issuer's keys")
            }
        }
    }

    async fn fetch_keys(
        &self,
        state: &mut RefreshState,
    ) -> Result<HashMap<String, Arc<IssuerKey>>, String> {
        let url = match (&self.jwks_url, &state.discovered) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover().await?;
                state.discovered = Some(url.clone());
                url
            }
        };
        match self.get(&url).await {
            Ok(body) => parse_jwks(&body).map_err(|e| format!("{url}: {e}")),
            Err(error) => {
                // The issuer may have moved its keys: discover again next time.
                state.discovered = None;
                Err(error)
            }
        }
    }

    /// The `jwks_uri` of the issuer's discovery document, which must name this very issuer
    /// (OpenID Connect Discovery 1.0, section 4.3).
    async fn discover(&self) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let document: Discovery =
            serde_json::from_slice(&self.get(&url).await?).map_err(|e| format!("{url}: {e}"))?;
        if document.issuer != self.issuer {
            return Err(format!(
                "{url} is the discovery document of `{}`, not of `{}`",
                document.issuer, self.issuer
            ));
        }
        crate::fetch_url::check_fetch_url(&document.jwks_uri)
            .map_err(|reason| format!("{url}: jwks_uri: {reason}"))?;
        Ok(document.jwks_uri)
    }

    /// A JSON document, size-capped.
    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let too_large = || format!("{url}: larger than {MAX_DOCUMENT_BYTES} bytes");
        if response
            .content_length()
            .is_some_and(|length| length > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The usable signing keys of a JWKS, by `kid`. Keys we cannot or must not use (encryption
/// keys, symmetric keys, other curves, short RSA moduli, no `kid`, an `alg` that is not the one
/// their type is used with here) are skipped, not fatal: issuers publish such keys too.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<IssuerKey>>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for value in set.keys.into_iter().take(MAX_KEYS) {
        match issuer_key(value) {
            Ok((kid, key)) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(why) => tracing::debug!(why, "skipped a key of the external issuer's JWKS"),
        }
    }
    Ok(keys)
}

fn issuer_key(value: serde_json::Value) -> Result<(String, IssuerKey), &'static str> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|_| "not a JWK")?;
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|usage| *usage != PublicKeyUse::Signature)
    {
        return Err("not a signing key");
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let modulus = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                rsa.n.trim_end_matches('='),
            )
            .map_err(|_| "an RSA modulus that is not base64url")?;
            let significant = modulus.iter().skip_while(|byte| **byte == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err("an RSA key under 2048 bits");
            }
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return Err("not an RSA, EC P-256 or Ed25519 key"),
    };
    if let Some(declared) = jwk.common.key_algorithm {
        if declared.to_string().parse::<Algorithm>().ok() != Some(algorithm) {
            return Err("its alg is not the one its key type is used with here");
        }
    }
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| "an unreadable key")?;
    Ok((
        kid,
        IssuerKey {
            algorithm,
            decoding,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kids(jwks: serde_json::Value) -> Vec<String> {
        let mut kids: Vec<String> = parse_jwks(jwks.to_string().as_bytes())
            .unwrap()
            .into_keys()
            .collect();
        kids.sort();
        kids
    }

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const P256_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const P256_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";

    #[test]
    fn only_usable_signing_keys_are_kept() {
        let rsa_n = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xc5u8; 256],
        );
        let short_n = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            [0xc5u8; 128],
        );
        let jwks = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "ed"},
            {"kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y, "kid": "ec", "alg": "ES256"},
            {"kty": "RSA", "n": rsa_n, "e": "AQAB", "kid": "rsa", "use": "sig", "alg": "RS256"},
            // Skipped:
            {"kty": "OKP", "crv": "Ed25519", "x": ED_X},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "n": rsa_n, "e": "AQAB", "kid": "enc", "use": "enc"},
            {"kty": "RSA", "n": rsa_n, "e": "AQAB", "kid": "pss", "alg": "PS256"},
            {"kty": "RSA", "n": short_n, "e": "AQAB", "kid": "short"},
            {"kty": "EC", "crv": "P-256", "x": P256_X, "y": P256_Y, "kid": "ec-as-rsa", "alg": "RS256"},
            {"kty": "EC", "crv": "P-384", "x": P256_X, "y": P256_Y, "kid": "p384"},
            {"kty": "XYZ", "kid": "unknown"},
            "not an object",
        ]});
        assert_eq!(kids(jwks), ["ec", "ed", "rsa"]);
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_an_error() {
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(br#"{"keys": {}}"#).is_err());
        assert!(parse_jwks(br#"{"keys": []}"#).unwrap().is_empty());
    }
}
