//! Passkeys (WebAuthn discoverable credentials): a registered key of a user, its name, and
//! the ceremony a registration or sign-in goes through between its start and its finish.
//!
//! The cryptography is not here: what the relying party keeps of a key (public key, flags,
//! counter) is an opaque [`PasskeyRecord`] written and read by the WebAuthn adapter. The
//! rules are: a name is 1..=64 characters; a ceremony lives five minutes and is finished
//! once, by whoever presents its `challenge_id` (stored only as a hash), on any instance; a
//! registration ceremony is finished only by the user who started it.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use crate::{FieldRule, OpaqueSecret, SecretHash, UserId, whole_seconds};

/// How long a started ceremony may be finished: 5 minutes.
pub const PASSKEY_CEREMONY_SECONDS: i64 = 300;

/// Longest passkey name, in characters after trimming.
pub const MAX_PASSKEY_NAME_CHARS: usize = 64;

/// The name a passkey gets when none is given.
pub const DEFAULT_PASSKEY_NAME: &str = "Passkey";

/// Identifies a registered passkey (`passkey_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PasskeyId(uuid::Uuid);

impl PasskeyId {
    /// A new, time-ordered (UUID v7) id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Wraps an existing UUID.
    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    /// The UUID inside.
    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for PasskeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for PasskeyId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        uuid::Uuid::parse_str(s).map(Self)
    }
}

/// The authenticator's id of a credential (`rawId`), as base64url without padding: what a
/// sign-in names and what is unique across all users.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CredentialId(String);

impl CredentialId {
    /// The id of these raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        use base64::Engine;
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// An id as stored (base64url).
    pub fn from_stored(encoded: impl Into<String>) -> Self {
        Self(encoded.into())
    }

    /// The base64url form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The raw bytes; `None` when the stored form is not base64url.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.0).ok()
    }
}

/// What the relying party keeps of a registered key (public key, counter, flags), in the
/// adapter's own serialised form. Opaque here; not a secret (it holds a public key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyRecord(String);

impl PasskeyRecord {
    /// Wraps the adapter's serialised form.
    pub fn new(serialised: impl Into<String>) -> Self {
        Self(serialised.into())
    }

    /// The serialised form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A passkey's name as its owner sees it: 1..=64 characters after trimming, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyName(String);

/// Why a string is not an acceptable passkey name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyNameError {
    /// Nothing left after trimming.
    #[error("name is required")]
    Empty,
    /// Over 64 characters.
    #[error("name must be at most {MAX_PASSKEY_NAME_CHARS} characters")]
    TooLong,
    /// Contains a control character.
    #[error("name must not contain control characters")]
    ControlCharacter,
}

impl FieldRule for PasskeyNameError {
    fn code(&self) -> &'static str {
        match self {
            PasskeyNameError::Empty => "required",
            PasskeyNameError::TooLong => "too_long",
            PasskeyNameError::ControlCharacter => "invalid_characters",
        }
    }
}

impl PasskeyName {
    /// Trims and checks a name.
    ///
    /// # Errors
    /// [`PasskeyNameError`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, PasskeyNameError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(PasskeyNameError::Empty);
        }
        if value.chars().count() > MAX_PASSKEY_NAME_CHARS {
            return Err(PasskeyNameError::TooLong);
        }
        if value.chars().any(char::is_control) {
            return Err(PasskeyNameError::ControlCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    /// The name given, or [`DEFAULT_PASSKEY_NAME`] when none (or only blanks) was.
    ///
    /// # Errors
    /// [`PasskeyNameError`] for a given name that breaks a rule.
    pub fn or_default(raw: Option<&str>) -> Result<Self, PasskeyNameError> {
        match raw.map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) => Self::parse(name),
            None => Ok(Self(DEFAULT_PASSKEY_NAME.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered passkey of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passkey {
    /// Its id in the API.
    pub id: PasskeyId,
    /// Whose it is.
    pub user_id: UserId,
    /// The authenticator's credential id (unique across users).
    pub credential_id: CredentialId,
    /// Its name, as its owner gave it.
    pub name: PasskeyName,
    /// What the relying party keeps of the key.
    pub record: PasskeyRecord,
    /// The signature counter last seen at a sign-in (0 until the first, and for
    /// authenticators that keep none); the relying party's record has its own copy.
    pub sign_count: u32,
    /// When it was registered (whole seconds).
    pub created_at: DateTime<Utc>,
    /// When it last signed in (whole seconds).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Passkey {
    /// A passkey registered `now`.
    pub fn register(
        user_id: UserId,
        credential_id: CredentialId,
        name: PasskeyName,
        record: PasskeyRecord,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: PasskeyId::generate(),
            user_id,
            credential_id,
            name,
            record,
            sign_count: 0,
            created_at: whole_seconds(now),
            last_used_at: None,
        }
    }
}

/// What a ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to this signed-in user.
    Registration(UserId),
    /// Signing in with a discoverable passkey (the user is not known until the finish).
    SignIn,
}

/// A started WebAuthn ceremony as stored, found again by the hash of its `challenge_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// Hash of the `challenge_id` handed to the browser: the key.
    pub id_hash: SecretHash,
    /// What it is for.
    pub purpose: CeremonyPurpose,
    /// The relying party's state of the ceremony (the challenge and the policy), opaque.
    pub state: String,
    /// When it started (whole seconds).
    pub created_at: DateTime<Utc>,
    /// When it can no longer be finished.
    pub expires_at: DateTime<Utc>,
}

impl PasskeyCeremony {
    /// A ceremony named by `challenge_id`, started `now`, finishable for five minutes.
    pub fn start(challenge_id: &OpaqueSecret, purpose: CeremonyPurpose, state: String, now: DateTime<Utc>) -> Self {
        let created_at = whole_seconds(now);
        Self {
            id_hash: challenge_id.hash(),
            purpose,
            state,
            created_at,
            expires_at: created_at + Duration::seconds(PASSKEY_CEREMONY_SECONDS),
        }
    }

    /// Whether it may still be finished at `now`.
    pub fn is_alive(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }

    /// Whether `user` may finish it as a registration (the one who started it, in time).
    pub fn registers_for(&self, user: UserId, now: DateTime<Utc>) -> bool {
        self.is_alive(now) && self.purpose == CeremonyPurpose::Registration(user)
    }

    /// Whether it may be finished as a sign-in at `now`.
    pub fn signs_in(&self, now: DateTime<Utc>) -> bool {
        self.is_alive(now) && self.purpose == CeremonyPurpose::SignIn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a time")
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(PasskeyName::parse("  Laptop ").expect("valid").as_str(), "Laptop");
        assert_eq!(PasskeyName::parse("   "), Err(PasskeyNameError::Empty));
        assert_eq!(PasskeyName::parse(&"k".repeat(65)), Err(PasskeyNameError::TooLong));
        assert!(PasskeyName::parse(&"é".repeat(64)).is_ok(), "characters, not bytes");
        assert_eq!(PasskeyName::parse("a\nb"), Err(PasskeyNameError::ControlCharacter));
        assert_eq!(PasskeyName::or_default(None).expect("default").as_str(), DEFAULT_PASSKEY_NAME);
        assert_eq!(PasskeyName::or_default(Some(" ")).expect("default").as_str(), DEFAULT_PASSKEY_NAME);
        assert_eq!(PasskeyName::or_default(Some("a\u{0}")), Err(PasskeyNameError::ControlCharacter));
    }

    #[test]
    fn credential_ids_round_trip_as_base64url() {
        let id = CredentialId::from_bytes(&[0xfb, 0xff, 0x01]);
        assert_eq!(id.as_str(), "-_8B");
        assert_eq!(id.to_bytes(), Some(vec![0xfb, 0xff, 0x01]));
        assert_eq!(CredentialId::from_stored("not base64!").to_bytes(), None);
    }

    #[test]
    fn a_ceremony_lives_five_minutes_for_its_purpose_only() {
        let user = UserId::generate();
        let secret = OpaqueSecret::from_random_bytes([7; 32]);
        let ceremony = PasskeyCeremony::start(&secret, CeremonyPurpose::Registration(user), "{}".into(), now());
        assert_eq!(ceremony.id_hash, secret.hash());
        assert!(ceremony.registers_for(user, now() + Duration::seconds(299)));
        assert!(!ceremony.registers_for(user, now() + Duration::seconds(300)), "expired");
        assert!(!ceremony.registers_for(UserId::generate(), now()), "another user's");
        assert!(!ceremony.signs_in(now()), "a registration is not a sign-in");
        let sign_in = PasskeyCeremony::start(&secret, CeremonyPurpose::SignIn, "{}".into(), now());
        assert!(sign_in.signs_in(now()));
        assert!(!sign_in.registers_for(user, now()));
    }
}
