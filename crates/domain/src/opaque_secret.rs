//! Opaque bearer secrets (refresh, verification, reset tokens) and the hashes stored instead.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::SecretString;

/// An opaque bearer secret as handed to a client (a refresh token, an email-verification or
/// password-reset token): 256 random bits, base64url. Never stored; only its [`SecretHash`] is.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueSecret(SecretString);

impl OpaqueSecret {
    /// Makes a token from 32 fresh random bytes (the caller brings the randomness).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretString::new(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token presented by a client, unchecked: an unknown token simply has no match.
    pub fn presented(value: impl Into<String>) -> Self {
        Self(SecretString::new(value.into()))
    }

    /// The token text. Do not log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The form that is stored and looked up.
    pub fn hash(&self) -> SecretHash {
        SecretHash::of(self.expose())
    }
}

impl fmt::Debug for OpaqueSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueSecret([redacted])")
    }
}

/// SHA-256 of an opaque secret, hex: what the database holds instead of the secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretHash(String);

impl SecretHash {
    /// Hashes a token's text.
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        Self(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Wraps a hash read back from storage.
    pub fn from_stored(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refresh token as handed to a client.
pub type RefreshTokenSecret = OpaqueSecret;
/// What is stored of a refresh token.
pub type RefreshTokenHash = SecretHash;
