//! A stand-in OpenID provider for the tests of external tokens: a discovery document and a JWKS
//! served on 127.0.0.1, and tokens signed with the test keys in tests/fixtures/keys.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use blog_api::config::OidcSettings;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

pub const AUDIENCE: &str = "https://blog.example/api";

/// A key of the stand-in provider (or of an attacker).
pub struct TestKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
}

/// A file of tests/fixtures/keys.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

impl TestKey {
    pub fn new(file: &str, alg: Algorithm, kid: &str) -> Self {
        let pem = fixture(file);
        let encoding = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
            other => panic!("no test keys for {other:?}"),
        }
        .unwrap();
        Self {
            kid: kid.into(),
            alg,
            encoding,
        }
    }

    pub fn rsa() -> Self {
        Self::new("rsa-a.pem", Algorithm::RS256, "rsa-a")
    }

    /// The public key as a JWK, as a provider publishes it.
    pub fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.clone());
        serde_json::to_value(jwk).unwrap()
    }

    /// The header a provider writes: `alg`, `kid`, `typ: JWT`.
    pub fn header(&self) -> Header {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        header
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(&self.header(), claims)
    }

    pub fn sign_with(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }
}

/// The stand-in provider: `{issuer}/.well-known/openid-configuration` and `{issuer}/jwks`.
pub struct Issuer {
    /// Its issuer identifier: `http://127.0.0.1:PORT/realms/test`.
    pub issuer: String,
    jwks: Arc<Mutex<Value>>,
    /// The `issuer` its discovery document names (normally `issuer`): see
    /// [`Issuer::claim_issuer`].
    claimed_issuer: Arc<Mutex<String>>,
    jwks_hits: Arc<AtomicUsize>,
    discovery_hits: Arc<AtomicUsize>,
    /// The JWKS is answered only with a permit: a test may hold its answer back.
    pub gate: Arc<tokio::sync::Semaphore>,
    handle: ServerHandle,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl Issuer {
    pub fn start(keys: &[&TestKey]) -> Self {
        Self::start_gated(keys, tokio::sync::Semaphore::MAX_PERMITS)
    }

    /// A provider that answers `permits` JWKS requests, then holds the rest until the test adds
    /// permits to `gate`.
    pub fn start_gated(keys: &[&TestKey], permits: usize) -> Self {
        let gate = Arc::new(tokio::sync::Semaphore::new(permits));
        let jwks = Arc::new(Mutex::new(json!({"keys": []})));
        let claimed_issuer = Arc::new(Mutex::new(String::new()));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let state = (
            jwks.clone(),
            claimed_issuer.clone(),
            jwks_hits.clone(),
            discovery_hits.clone(),
            gate.clone(),
        );
        let (ready, started) = mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    let (jwks, claimed, jwks_hits, discovery_hits, gate) = state.clone();
                    App::new().default_service(web::to(move |req: HttpRequest| {
                        let (jwks, claimed, gate) = (jwks.clone(), claimed.clone(), gate.clone());
                        let (jwks_hits, discovery_hits) =
                            (jwks_hits.clone(), discovery_hits.clone());
                        async move {
                            let base =
                                format!("http://{}/realms/test", req.connection_info().host());
                            match req.path() {
                                "/realms/test/.well-known/openid-configuration" => {
                                    discovery_hits.fetch_add(1, Ordering::SeqCst);
                                    let claimed = claimed.lock().clone();
                                    let issuer = if claimed.is_empty() {
                                        base.clone()
                                    } else {
                                        claimed
                                    };
                                    HttpResponse::Ok().json(json!({
                                        "issuer": issuer,
                                        "jwks_uri": format!("{base}/jwks"),
                                        "id_token_signing_alg_values_supported": ["RS256"],
                                    }))
                                }
                                "/realms/test/jwks" => {
                                    jwks_hits.fetch_add(1, Ordering::SeqCst);
                                    let _permit = gate.acquire().await.unwrap();
                                    HttpResponse::Ok().json(jwks.lock().clone())
                                }
                                _ => HttpResponse::NotFound().finish(),
                            }
                        }
                    }))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .expect("the issuer binds");
                let address = server.addrs()[0];
                let server = server.run();
                ready.send((address, server.handle())).unwrap();
                server.await.unwrap();
            })
        });
        let (address, handle) = started.recv().expect("the issuer starts");
        let issuer = Self {
            issuer: format!("http://{address}/realms/test"),
            jwks,
            claimed_issuer,
            jwks_hits,
            discovery_hits,
            gate,
            handle,
        };
        issuer.publish(keys);
        issuer
    }

    /// Replaces the published keys (a rotation).
    pub fn publish(&self, keys: &[&TestKey]) {
        *self.jwks.lock() = json!({"keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>()});
    }

    /// Makes its discovery document name `issuer` instead of itself.
    pub fn claim_issuer(&self, issuer: &str) {
        *self.claimed_issuer.lock() = issuer.into();
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    pub fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.discovery_hits.load(Ordering::SeqCst)
    }

    /// Claims of a valid token for `sub`, valid for five minutes.
    pub fn claims(&self, sub: &str) -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({
            "iss": self.issuer, "aud": [AUDIENCE, format!("{}/userinfo", self.issuer)],
            "sub": sub, "iat": now, "exp": now + 300, "scope": "openid profile",
        })
    }

    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.issuer.clone(),
            audience: AUDIENCE.into(),
            jwks_url: None,
            jwks_min_refresh: Duration::from_secs(60),
        }
    }
}
