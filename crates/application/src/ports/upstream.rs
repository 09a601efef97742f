//! Upstream sign-in providers (Google, GitHub, Facebook, any OpenID Connect provider): what
//! the provider sign-in handler needs from them. The adapters (discovery, PKCE, ID-token
//! checks, the provider's REST API) live in `portcullis-infrastructure`.

use std::sync::Arc;

use portcullis_domain::{LinkingPolicy, ProviderId, ProviderIdentity, SecretString};
use shaku::Interface;

/// A configured provider as shown to people and used by account resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its id (`google`, `github`, `corp`).
    pub id: ProviderId,
    /// What buttons say ("Google").
    pub name: String,
    /// How its verified addresses may link to existing accounts.
    pub linking: LinkingPolicy,
}

/// What goes into one authorization URL. The adapter adds the client id, the redirect URI and
/// the scopes, and sends `S256(pkce_verifier)` as the code challenge.
#[derive(Clone, Copy, Debug)]
pub struct AuthorizationRequest<'a> {
    /// The `state` parameter.
    pub state: &'a str,
    /// The PKCE verifier; only its challenge leaves.
    pub pkce_verifier: &'a SecretString,
    /// The OpenID Connect `nonce` (ignored by providers that have none).
    pub nonce: &'a SecretString,
}

/// A callback's code, to be exchanged for the person's identity.
#[derive(Clone, Copy, Debug)]
pub struct CodeExchange<'a> {
    /// The `code` parameter.
    pub code: &'a str,
    /// The flow's PKCE verifier.
    pub pkce_verifier: &'a SecretString,
    /// The nonce the ID token must carry (OpenID Connect).
    pub nonce: &'a SecretString,
    /// The callback's `iss` parameter (RFC 9207), when it had one: must be the provider's issuer.
    pub issuer: Option<&'a str>,
}

/// Why a provider gave no identity. The message is for the log: it names what went wrong
/// and never holds a secret (no client secret, code, token).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The provider could not be reached, answered too slowly, redirected, or sent
    /// something unreadable.
    #[error("provider unreachable: {0}")]
    Unreachable(String),
    /// The provider answered, but what it answered fails a check (the code was refused, the ID
    /// token's signature, issuer, audience, expiry or nonce is wrong, a claim is missing).
    #[error("provider answer refused: {0}")]
    Refused(String),
}

/// One configured provider. Calls may block on the network (bounded by the adapter's
/// timeouts); the application layer runs on the blocking pool.
pub trait UpstreamProvider: Send + Sync {
    /// Its id, name and linking policy.
    fn info(&self) -> &ProviderInfo;

    /// The URL to send the person to.
    ///
    /// # Errors
    /// [`UpstreamError::Unreachable`] when the provider's endpoints cannot be learnt (an
    /// OpenID Connect discovery document that cannot be fetched).
    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> Result<String, UpstreamError>;

    /// Exchanges a callback's code for the identity the provider vouches for (every check of
    /// the answer done).
    ///
    /// # Errors
    /// See [`UpstreamError`].
    fn exchange(&self, exchange: &CodeExchange<'_>) -> Result<ProviderIdentity, UpstreamError>;
}

/// The configured providers, in configured order.
pub trait UpstreamProviders: Interface {
    /// Every provider that is configured (and whose configuration is good).
    fn all(&self) -> Vec<ProviderInfo>;

    /// The provider with id `id`, if configured.
    fn find(&self, id: &str) -> Option<Arc<dyn UpstreamProvider>>;
}
