//! Public keys by `kid`, parsed once.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::VerifyingKey;

/// Why a public key was not taken into a key set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// `x` is not base64url of 32 bytes.
    #[error("the key's x is not base64url of 32 bytes")]
    Encoding,
    /// The 32 bytes are not a point of the curve.
    #[error("the key is not a valid Ed25519 public key")]
    NotAPoint,
}

/// Ed25519 public keys by `kid`, each decompressed when it is added.
#[derive(Clone, Default)]
pub struct VerifyingKeys {
    keys: HashMap<String, VerifyingKey>,
}

impl std::fmt::Debug for VerifyingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKeys").field("kids", &self.kids()).finish()
    }
}

impl VerifyingKeys {
    /// An empty key set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the key whose JWK `x` (base64url of the 32-byte public key) is given.
    ///
    /// # Errors
    /// [`KeyError`] when `x` is not a usable Ed25519 public key.
    pub fn insert_jwk_x(&mut self, kid: impl Into<String>, x: &str) -> Result<(), KeyError> {
        let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| KeyError::Encoding)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Encoding)?;
        self.insert(kid, &bytes)
    }

    /// Adds the key with these 32 public-key bytes.
    ///
    /// # Errors
    /// [`KeyError::NotAPoint`] when the bytes are not an Ed25519 public key.
    pub fn insert(&mut self, kid: impl Into<String>, public_key: &[u8; 32]) -> Result<(), KeyError> {
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| KeyError::NotAPoint)?;
        self.keys.insert(kid.into(), key);
        Ok(())
    }

    /// The key named `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// Whether `kid` is in the set.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The `kid`s, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.keys.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_key() {
        let mut keys = VerifyingKeys::new();
        assert_eq!(keys.insert_jwk_x("a", "not base64!"), Err(KeyError::Encoding));
        assert_eq!(keys.insert_jwk_x("a", &URL_SAFE_NO_PAD.encode([1u8; 31])), Err(KeyError::Encoding));
        assert!(keys.is_empty());
        // RFC 8037 A.2's public key.
        keys.insert_jwk_x("rfc", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert!(keys.contains("rfc"));
        assert_eq!(keys.kids(), vec!["rfc".to_owned()]);
    }
}
