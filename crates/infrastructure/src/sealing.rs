//! Secrets at rest: the signing keys' private halves and the TOTP secrets are sealed with
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) under `PORTCULLIS_ENCRYPTION_KEY`
//! before they are written to the database, so a copy of the database (a backup, a replica,
//! a stolen dump) holds neither.
//!
//! A sealed value is text: `sealed:v1:<key id>:<base64(nonce ‖ ciphertext)>`. The key id is
//! the first 8 bytes of the SHA-256 of the key, in hex, so a value names the key that opens
//! it; the nonce is 24 random bytes; the associated data binds the value to its row (a
//! signing key's `kid`, a TOTP secret's user), so a sealed value moved to another row does not
//! open. Older keys (`PORTCULLIS_ENCRYPTION_KEYS_OLD`) still open what they sealed; at start
//! every value not sealed by the current key (cleartext from before a key was set, or an old
//! key's) is sealed again with it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use portcullis_domain::SecretString;
use sha2::{Digest, Sha256};

/// What a sealed value starts with.
const PREFIX: &str = "sealed:v1:";
/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

/// Why an encryption key was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealingKeyError {
    /// Not base64 of exactly 32 bytes.
    #[error("an encryption key must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)")]
    Malformed,
}

/// Why a stored value could not be opened or sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealed with a key this process was not given.
    #[error(
        "a stored secret is sealed with encryption key {0}, which is not configured (PORTCULLIS_ENCRYPTION_KEY or PORTCULLIS_ENCRYPTION_KEYS_OLD)"
    )]
    UnknownKey(String),
    /// Sealed, but it does not open: altered, moved to another row, or cut short.
    #[error("a stored secret does not open with its key: it was altered or belongs to another row")]
    Corrupt,
}

struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn parse(encoded: &SecretString) -> Result<Self, SealingKeyError> {
        let text = encoded.expose().trim();
        let bytes = [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .or_else(|| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text).ok())
            .filter(|bytes| bytes.len() == 32)
            .ok_or(SealingKeyError::Malformed)?;
        let digest = Sha256::digest(&bytes);
        let id: String = digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SealingKeyError::Malformed)?;
        Ok(Self { id, cipher })
    }
}

/// Seals and opens the secrets kept in the database. Without a current key it writes
/// cleartext (and says so once at start); it always reads cleartext written before a key
/// was set. Cheap to clone.
#[derive(Clone, Default)]
pub struct SecretSealer {
    keys: std::sync::Arc<Keys>,
}

#[derive(Default)]
struct Keys {
    current: Option<SealingKey>,
    older: Vec<SealingKey>,
}

impl std::fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSealer")
            .field("current", &self.keys.current.as_ref().map(|key| key.id.as_str()))
            .field("older", &self.keys.older.len())
            .finish()
    }
}

impl SecretSealer {
    /// A sealer with `current` (seals and opens) and `older` keys (only open).
    ///
    /// # Errors
    /// [`SealingKeyError`] for a key that is not base64 of 32 bytes.
    pub fn new(current: Option<&SecretString>, older: &[SecretString]) -> Result<Self, SealingKeyError> {
        let current = current.map(SealingKey::parse).transpose()?;
        let older = older.iter().map(SealingKey::parse).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { keys: std::sync::Arc::new(Keys { current, older }) })
    }

    /// No keys: secrets are stored in the clear.
    pub fn cleartext() -> Self {
        Self::default()
    }

    /// Whether new secrets are sealed.
    pub fn is_enabled(&self) -> bool {
        self.keys.current.is_some()
    }

    /// The id of the current key, if any (for logs: it names the key, reveals nothing of it).
    pub fn current_key_id(&self) -> Option<&str> {
        self.keys.current.as_ref().map(|key| key.id.as_str())
    }

    /// `plaintext` sealed for the row named by `context` (as is without a current key).
    ///
    /// # Panics
    /// Never in practice: XChaCha20-Poly1305 encryption fails only for inputs of 256 GiB.
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let Some(key) = &self.keys.current else { return plaintext.to_owned() };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = key
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: context.as_bytes() })
            .unwrap_or_else(|_| unreachable!("encryption of a short secret cannot fail"));
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}:{}", key.id, STANDARD.encode(bytes))
    }

    /// The plaintext of a stored value of the row named by `context`: a sealed one opened
    /// with the key it names, cleartext as is.
    ///
    /// # Errors
    /// [`SealError`] when the key is not configured or the value does not open.
    pub fn open(&self, stored: &str, context: &str) -> Result<SecretString, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else { return Ok(SecretString::new(stored)) };
        let (id, body) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let key = self
            .keys
            .current
            .iter()
            .chain(self.keys.older.iter())
            .find(|key| key.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = STANDARD.decode(body).map_err(|_| SealError::Corrupt)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Corrupt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SealError::Corrupt)?;
        let plain = key
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map(SecretString::new).map_err(|_| SealError::Corrupt)
    }

    /// Whether `stored` should be written again: a current key is set and the value is
    /// cleartext or sealed by another key.
    pub fn needs_resealing(&self, stored: &str) -> bool {
        let Some(key) = &self.keys.current else { return false };
        stored.strip_prefix(PREFIX).is_none_or(|rest| rest.split_once(':').is_none_or(|(id, _)| id != key.id))
    }
}

/// Whether a stored value is sealed (by any key).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretString {
        SecretString::new(STANDARD.encode([byte; 32]))
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_row_and_with_its_key() {
        let sealer = SecretSealer::new(Some(&key(1)), &[]).expect("a key");
        let sealed = sealer.seal("JBSWY3DPEHPK3PXP", "totp:u1");
        assert!(is_sealed(&sealed) && !sealed.contains("JBSWY3DPEHPK3PXP"), "{sealed}");
        assert_ne!(sealer.seal("JBSWY3DPEHPK3PXP", "totp:u1"), sealed, "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed, "totp:u1").expect("opens").expose(), "JBSWY3DPEHPK3PXP");
        assert_eq!(sealer.open(&sealed, "totp:u2").map(|_| ()), Err(SealError::Corrupt), "another row");
        let mut altered = sealed.clone();
        altered.pop();
        altered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(&altered, "totp:u1").is_err(), "altered");
        let other = SecretSealer::new(Some(&key(2)), &[]).expect("a key");
        assert!(matches!(other.open(&sealed, "totp:u1"), Err(SealError::UnknownKey(_))));
        assert!(matches!(SecretSealer::cleartext().open(&sealed, "totp:u1"), Err(SealError::UnknownKey(_))));
    }

    #[test]
    fn rotation_opens_with_old_keys_and_reseals_with_the_new_one() {
        let old = SecretSealer::new(Some(&key(1)), &[]).expect("a key");
        let sealed = old.seal("secret", "signing_key:k1");
        let rotated = SecretSealer::new(Some(&key(2)), &[key(1)]).expect("keys");
        assert_eq!(rotated.open(&sealed, "signing_key:k1").expect("opens").expose(), "secret");
        assert!(rotated.needs_resealing(&sealed));
        assert!(rotated.needs_resealing("secret"), "cleartext from before the key");
        assert!(!rotated.needs_resealing(&rotated.seal("secret", "signing_key:k1")));
        assert!(!SecretSealer::cleartext().needs_resealing("secret"));
    }

    #[test]
    fn without_a_key_secrets_stay_as_they_are_and_cleartext_always_reads() {
        let none = SecretSealer::cleartext();
        assert!(!none.is_enabled());
        assert_eq!(none.seal("secret", "x"), "secret");
        assert_eq!(none.open("secret", "x").expect("reads").expose(), "secret");
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_debug_hides_them() {
        assert!(SecretSealer::new(Some(&SecretString::new("short")), &[]).is_err());
        assert!(SecretSealer::new(Some(&SecretString::new(STANDARD.encode([1u8; 16]))), &[]).is_err());
        let url_safe = SecretString::new(URL_SAFE_NO_PAD.encode([0xfbu8; 32]));
        let sealer = SecretSealer::new(Some(&url_safe), &[]).expect("base64url works too");
        let debug = format!("{sealer:?}");
        assert!(debug.contains(sealer.current_key_id().expect("an id")) && !debug.contains(url_safe.expose()));
    }
}
