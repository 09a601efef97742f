//! Signing a token: the compact JWS form (RFC 7515, `header.claims.signature`, each part
//! base64url without padding) with an Ed25519 key kept parsed, so issuing a token costs one
//! signature and no key parsing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use serde::Serialize;

/// The key that signs new tokens, parsed once, with the `kid` its tokens name.
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The signing key `key`, published under `kid`.
    pub fn new(kid: impl Into<String>, key: ed25519_dalek::SigningKey) -> Self {
        Self { kid: kid.into(), key }
    }

    /// The key id put in each token's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("key", &"[redacted]").finish()
    }
}

/// Why a token could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The claims do not serialise to JSON.
    #[error("the claims cannot be serialised: {0}")]
    Claims(#[from] serde_json::Error),
}

#[derive(Serialize)]
struct Header<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

/// `claims` as a signed compact token: header `{"typ":"JWT","alg":"EdDSA","kid":…}`.
///
/// # Errors
/// [`SignError::Claims`] when the claims do not serialise.
pub fn sign<C: Serialize>(claims: &C, key: &SigningKey) -> Result<String, SignError> {
    let header = serde_json::to_vec(&Header { typ: "JWT", alg: "EdDSA", kid: &key.kid })?;
    let claims = serde_json::to_vec(claims)?;
    let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 100);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
    let signature = key.key.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
    Ok(token)
}
