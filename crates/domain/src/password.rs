use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha384};

use crate::{FieldRule, SecretString};

/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters in a password.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Prefix of the stored form: bcrypt over the base64 SHA-384 digest of the password.
const PREHASHED_SCHEME: &str = "bcrypt-sha384:";

/// A password as typed by a person: 8..=256 Unicode characters. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainPassword(SecretString);

/// Why a string is not an acceptable password (length rules only; strength is a policy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Under 8 characters.
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Over 256 characters.
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
}

impl FieldRule for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            PasswordError::TooShort => "too_short",
            PasswordError::TooLong => "too_long",
        }
    }
}

impl PlainPassword {
    /// Checks a password's length in Unicode characters. It is not trimmed.
    ///
    /// # Errors
    /// [`PasswordError`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(SecretString::new(raw)))
    }

    /// The password itself. Do not log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What bcrypt sees: base64(SHA-384(password)), 64 ASCII bytes, under bcrypt's
    /// 72-byte limit, so no two passwords collide by truncation.
    fn prehashed(&self) -> String {
        STANDARD.encode(Sha384::digest(self.expose().as_bytes()))
    }
}

impl fmt::Debug for PlainPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainPassword([redacted])")
    }
}

/// The bcrypt work factor, 4..=31 (each step doubles the time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BcryptCost(u32);

/// A bcrypt cost outside 4..=31.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bcrypt cost must be between 4 and 31")]
pub struct BcryptCostError;

impl BcryptCost {
    /// The production default, 12.
    pub const DEFAULT: BcryptCost = BcryptCost(12);
    /// The cheapest cost bcrypt allows, 4: for tests, never for production.
    pub const MIN: BcryptCost = BcryptCost(4);

    /// Checks a cost.
    ///
    /// # Errors
    /// [`BcryptCostError`] outside 4..=31.
    pub fn new(cost: u32) -> Result<Self, BcryptCostError> {
        if (4..=31).contains(&cost) { Ok(Self(cost)) } else { Err(BcryptCostError) }
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The stored form of a password. Its text names its scheme, so the scheme can change later:
/// `bcrypt-sha384:$2b$…` (what Portcullis writes) or a bare `$2a$`/`$2b$`/`$2y$` bcrypt hash
/// (accepted for imported accounts; such a hash only matches passwords under 72 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

/// Hashing failed, or a stored hash is not in a known scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The stored text is not a hash this code knows.
    #[error("stored password hash is in an unknown scheme")]
    UnknownScheme,
    /// bcrypt refused the input (should not happen for valid input).
    #[error("password hashing failed")]
    Hashing,
}

impl PasswordHash {
    /// Hashes a password with a fresh salt. Pure CPU: about 250 ms at cost 12.
    ///
    /// # Errors
    /// [`PasswordHashError::Hashing`] if bcrypt fails.
    pub fn from_plain(password: &PlainPassword, cost: BcryptCost) -> Result<Self, PasswordHashError> {
        let hash = bcrypt::hash(password.prehashed(), cost.get()).map_err(|_| PasswordHashError::Hashing)?;
        Ok(Self(format!("{PREHASHED_SCHEME}{hash}")))
    }

    /// Reads a stored hash back, checking that its scheme is known.
    ///
    /// # Errors
    /// [`PasswordHashError::UnknownScheme`] for anything else.
    pub fn from_stored(stored: impl Into<String>) -> Result<Self, PasswordHashError> {
        let stored = stored.into();
        let known = stored.strip_prefix(PREHASHED_SCHEME).unwrap_or(&stored);
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| known.starts_with(p)) {
            Ok(Self(stored))
        } else {
            Err(PasswordHashError::UnknownScheme)
        }
    }

    /// Whether `password` is the one this hash was made from. Compares in constant time.
    pub fn verify(&self, password: &PlainPassword) -> bool {
        match self.0.strip_prefix(PREHASHED_SCHEME) {
            Some(bcrypt_hash) => bcrypt::verify(password.prehashed(), bcrypt_hash).unwrap_or(false),
            None => bcrypt::non_truncating_verify(password.expose(), &self.0).unwrap_or(false),
        }
    }

    /// The text to store.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost() -> BcryptCost {
        BcryptCost::new(4).expect("valid cost")
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(PlainPassword::parse("1234567"), Err(PasswordError::TooShort));
        assert!(PlainPassword::parse("ééééééé€").is_ok());
        assert!(PlainPassword::parse(&"é".repeat(256)).is_ok());
        assert_eq!(PlainPassword::parse(&"é".repeat(257)), Err(PasswordError::TooLong));
    }

    #[test]
    fn hash_verifies_the_right_password_only() {
        let password = PlainPassword::parse("correct horse battery").expect("valid");
        let hash = PasswordHash::from_plain(&password, cost()).expect("hashes");
        assert!(hash.as_stored().starts_with("bcrypt-sha384:$2b$04$"));
        assert!(hash.verify(&password));
        assert!(!hash.verify(&PlainPassword::parse("correct horse battery!").expect("valid")));
    }

    #[test]
    fn passwords_differing_after_byte_72_are_different() {
        let base = "x".repeat(80);
        let one = PlainPassword::parse(&format!("{base}one")).expect("valid");
        let two = PlainPassword::parse(&format!("{base}two")).expect("valid");
        let hash = PasswordHash::from_plain(&one, cost()).expect("hashes");
        assert!(hash.verify(&one));
        assert!(!hash.verify(&two));
    }

    #[test]
    fn stored_form_round_trips_and_unknown_schemes_are_refused() {
        let password = PlainPassword::parse("a fine password").expect("valid");
        let hash = PasswordHash::from_plain(&password, cost()).expect("hashes");
        let back = PasswordHash::from_stored(hash.as_stored()).expect("known scheme");
        assert!(back.verify(&password));
        assert_eq!(PasswordHash::from_stored("md5:abc"), Err(PasswordHashError::UnknownScheme));
    }

    #[test]
    fn imported_plain_bcrypt_hashes_verify() {
        let legacy = bcrypt::hash("legacy password", 4).expect("hashes");
        let hash = PasswordHash::from_stored(legacy).expect("known scheme");
        assert!(hash.verify(&PlainPassword::parse("legacy password").expect("valid")));
        assert!(!hash.verify(&PlainPassword::parse("legacy passworD").expect("valid")));
    }

    #[test]
    fn debug_is_redacted() {
        let password = PlainPassword::parse("super secret value").expect("valid");
        assert!(!format!("{password:?}").contains("secret value"));
        let hash = PasswordHash::from_plain(&password, cost()).expect("hashes");
        assert!(!format!("{hash:?}").contains("$2b$"));
    }

    #[test]
    fn cost_is_bounded() {
        assert!(BcryptCost::new(3).is_err());
        assert!(BcryptCost::new(32).is_err());
        assert_eq!(BcryptCost::new(12).expect("valid"), BcryptCost::DEFAULT);
    }
}
