//! Verifies Portcullis access tokens in another Rust service.
//!
//! A [`Verifier`] fetches Portcullis' public keys from its JWKS URL
//! (`GET /.well-known/jwks.json`), keeps them in memory, and checks each token locally:
//! signature (EdDSA only), `iss`, `aud`, `exp` and `nbf` with a 5-second leeway. A token
//! naming a key it does not know makes it re-fetch the keys (after a key rotation), but at
//! most once per [`VerifierConfig::min_refetch_interval`], so garbage tokens cannot make it
//! hammer Portcullis.
//!
//! With the default feature `actix`, [`AuthenticatedUser`] is an actix-web extractor that
//! reads `Authorization: Bearer …` or the `access_token` cookie.
//!
//! TLS: the crate uses `reqwest` without default features, so only `http://` JWKS URLs work
//! out of the box; enable the `rustls` feature for `https://`.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use portcullis_jwt::{CheckError, Expectations, TokenChecker, VerifyingKeys};
use serde::{Deserialize, Serialize};

#[cfg(feature = "actix")]
mod actix;
#[cfg(feature = "actix")]
pub use actix::{ACCESS_TOKEN_COOKIE, Admin, AuthenticatedUser, RequireRole, RoleName};

/// Clock skew tolerated on `exp` and `nbf`, in seconds (the Portcullis contract's maximum).
pub const LEEWAY_SECS: u64 = portcullis_jwt::LEEWAY_SECS.unsigned_abs();

/// Where the keys are and what the tokens must say.
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    /// The JWKS URL, e.g. `https://auth.example.com/.well-known/jwks.json`.
    pub jwks_url: String,
    /// The expected `iss`: Portcullis' public URL without a trailing slash.
    pub issuer: String,
    /// The expected `aud` (Portcullis' `PORTCULLIS_AUDIENCE`, default `portcullis`).
    pub audience: String,
    /// The shortest time between two fetches of the JWKS caused by unknown `kid`s.
    pub min_refetch_interval: Duration,
    /// Timeout of one JWKS request.
    pub http_timeout: Duration,
}

impl VerifierConfig {
    /// A configuration with the default re-fetch interval (5 s) and HTTP timeout (10 s).
    pub fn new(jwks_url: impl Into<String>, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self { jwks_url: jwks_url.into(), issuer: issuer.into(), audience: audience.into(), ..Self::default() }
    }
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            jwks_url: String::new(),
            issuer: String::new(),
            audience: "portcullis".into(),
            min_refetch_interval: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
        }
    }
}

/// The claims of a verified Portcullis access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: Portcullis' public URL.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch.
    pub nbf: i64,
    /// The token id.
    pub jti: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Avatar URL, if any.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Roles, e.g. `["admin"]`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether the email address is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// When the account was made, seconds since the epoch.
    #[serde(default)]
    pub created_at: i64,
    /// Any other claim, e.g. those a team adds with a `ClaimsExtension` (`"tenant"`, …).
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

portcullis_jwt::registered_claims!(Claims);

/// Why a token was refused (or could not be checked).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    /// No token was presented (extractor only).
    #[error("no access token was presented")]
    Missing,
    /// The token has expired.
    #[error("the access token has expired")]
    Expired,
    /// Malformed, badly signed, wrong algorithm, issuer or audience, not yet valid.
    #[error("the access token is invalid")]
    Invalid,
    /// The token names a key that is not in the JWKS, even after a re-fetch.
    #[error("the access token names an unknown key")]
    UnknownKey,
    /// The JWKS could not be fetched or read, and no keys are cached.
    #[error("the signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The user lacks a required role.
    #[error("the role {0:?} is required")]
    Forbidden(String),
}

/// Verifies Portcullis access tokens against its JWKS. Cheap to share: wrap it in an `Arc`
/// or actix-web's `web::Data`.
///
/// Keys are parsed once when the JWKS is read, and a token that passed once is answered from
/// a bounded cache until it expires (its `exp`, `nbf` and key are still checked on every
/// use; see [`portcullis_jwt::TokenChecker`]): the same checks, in the same code, as
/// Portcullis itself makes.
pub struct Verifier {
    config: VerifierConfig,
    http: reqwest::Client,
    checker: TokenChecker<Claims>,
    keys: RwLock<Arc<VerifyingKeys>>,
    /// Serialises fetches; holds when the last one was attempted.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl From<CheckError> for VerifierError {
    fn from(error: CheckError) -> Self {
        match error {
            CheckError::Expired => Self::Expired,
            CheckError::Invalid => Self::Invalid,
            CheckError::UnknownKey => Self::UnknownKey,
        }
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("config", &self.config).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<JwkEntry>,
}

#[derive(Deserialize)]
struct JwkEntry {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
}

impl Verifier {
    /// A verifier for `config`. Keys are fetched on the first verification (or call
    /// [`Verifier::refresh`] to fetch them up front).
    pub fn new(config: VerifierConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            // Fetches are rare: keep no idle connection open to Portcullis between them.
            .pool_max_idle_per_host(0)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let expect = Expectations {
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_secs: portcullis_jwt::LEEWAY_SECS,
        };
        Self {
            config,
            http,
            checker: TokenChecker::new(expect),
            keys: RwLock::new(Arc::new(VerifyingKeys::new())),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// The `kid`s currently cached.
    pub fn cached_kids(&self) -> Vec<String> {
        self.key_set().kids()
    }

    /// Fetches the JWKS now (regardless of the re-fetch interval) and replaces the cache.
    ///
    /// # Errors
    /// [`VerifierError::KeysUnavailable`] when the JWKS cannot be fetched or read.
    pub async fn refresh(&self) -> Result<(), VerifierError> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    /// Verifies `token` and returns its claims. Answers from the cached keys; fetches the
    /// JWKS only when none are cached or the token names an unknown `kid` (rate-limited).
    ///
    /// # Errors
    /// [`VerifierError::Expired`], [`VerifierError::Invalid`], [`VerifierError::UnknownKey`],
    /// or [`VerifierError::KeysUnavailable`] when no keys could be had.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifierError> {
        match self.check(token) {
            Err(CheckError::UnknownKey) => {}
            other => return other.map_err(VerifierError::from),
        }
        let kid =
            jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid).ok_or(VerifierError::Invalid)?;
        self.refetch_for(&kid).await?;
        self.check(token).map_err(VerifierError::from)
    }

    /// How many verified tokens the cache holds now.
    pub fn cached_tokens(&self) -> u64 {
        self.checker.cached_tokens()
    }

    fn check(&self, token: &str) -> Result<Claims, CheckError> {
        self.checker.check_now(token, &self.key_set())
    }

    fn key_set(&self) -> Arc<VerifyingKeys> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-fetches the keys because `kid` is unknown, unless another task just did or the
    /// last fetch is more recent than the minimum interval.
    async fn refetch_for(&self, kid: &str) -> Result<(), VerifierError> {
        let mut last = self.last_fetch.lock().await;
        let cached = self.key_set();
        if cached.contains(kid) {
            return Ok(());
        }
        let recent = last.is_some_and(|at| at.elapsed() < self.config.min_refetch_interval);
        if recent {
            return if cached.is_empty() {
                Err(VerifierError::KeysUnavailable("the last JWKS fetch failed; retrying later".into()))
            } else {
                Err(VerifierError::UnknownKey)
            };
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(()) => Ok(()),
            // Keys we already have still serve; only a verifier with none is unavailable.
            Err(_) if !cached.is_empty() => Err(VerifierError::UnknownKey),
            Err(error) => Err(error),
        }
    }

    async fn fetch(&self) -> Result<(), VerifierError> {
        let unavailable = |e: reqwest::Error| VerifierError::KeysUnavailable(e.to_string());
        let document: JwksDocument = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let mut keys = VerifyingKeys::new();
        for jwk in document.keys {
            let usable = jwk.kty.as_deref() == Some("OKP")
                && jwk.crv.as_deref() == Some("Ed25519")
                && jwk.alg.as_deref().is_none_or(|alg| alg == "EdDSA");
            if let (true, Some(kid), Some(x)) = (usable, jwk.kid, jwk.x) {
                // A key that does not parse is left out; the others still serve.
                let _ = keys.insert_jwk_x(kid, &x);
            }
        }
        if keys.is_empty() {
            return Err(VerifierError::KeysUnavailable("the JWKS has no Ed25519 key".into()));
        }
        let set = Arc::new(keys);
        match self.keys.write() {
            Ok(mut guard) => *guard = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }
}
