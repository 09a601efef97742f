//! API keys for service-to-service calls: the key is shown once, only its hash is kept, and
//! its visible prefix (`pc_` + 8 characters) lets a leaked key be recognised.

use std::fmt;

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::{FieldRule, OpaqueSecret, SecretHash, UserId, UserName, UserNameError, ids::ApiKeyId, user::whole_seconds};

/// What every key starts with.
pub const API_KEY_MARKER: &str = "pc_";
/// Characters of the random part that are shown as the key's prefix (after `pc_`).
const PREFIX_CHARS: usize = 8;
/// Most scopes one key may carry.
pub const MAX_SCOPES: usize = 20;
/// Longest scope, in characters.
pub const MAX_SCOPE_CHARS: usize = 64;

/// One permission a key carries: 1..=64 characters of `[a-z0-9:._-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

/// Why a scope list is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A scope is empty, too long or has a character outside `[a-z0-9:._-]`.
    #[error("a scope is 1 to {MAX_SCOPE_CHARS} characters of a-z, 0-9, ':', '.', '_' and '-'")]
    Invalid,
    /// More than 20 scopes.
    #[error("a key has at most {MAX_SCOPES} scopes")]
    TooMany,
}

impl FieldRule for ScopeError {
    fn code(&self) -> &'static str {
        match self {
            ScopeError::Invalid => "invalid",
            ScopeError::TooMany => "too_many",
        }
    }
}

impl Scope {
    /// Read the caller's own profile (`GET /api/auth/current-user`).
    pub const PROFILE_READ: &'static str = "profile:read";
    /// Change the caller's own profile (`PATCH /api/auth/current-user`).
    pub const PROFILE_WRITE: &'static str = "profile:write";
    /// Use the admin API, while the owner has role `admin`.
    pub const ADMIN: &'static str = "admin";
    /// Ask `POST /api/auth/introspect` about other tokens and keys.
    pub const INTROSPECT: &'static str = "introspect";

    /// Checks a scope.
    ///
    /// # Errors
    /// [`ScopeError::Invalid`] when it breaks the rule.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_SCOPE_CHARS
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":._-".contains(&b));
        if valid { Ok(Self(raw.to_owned())) } else { Err(ScopeError::Invalid) }
    }

    /// The scope text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key's scopes: 1..=20, sorted, without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses the scopes asked for; none asked for means `["profile:read"]`.
    ///
    /// # Errors
    /// [`ScopeError`] for a bad scope or too many.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopeError> {
        let mut scopes = names.into_iter().map(Scope::parse).collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.len() > MAX_SCOPES {
            return Err(ScopeError::TooMany);
        }
        if scopes.is_empty() {
            return Ok(Self::default_for_new_key());
        }
        Ok(Self(scopes))
    }

    /// `["profile:read"]`, what a key gets when no scope is asked for.
    pub fn default_for_new_key() -> Self {
        Self(vec![Scope(Scope::PROFILE_READ.to_owned())])
    }

    /// Whether the named scope is granted.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|scope| scope.as_str() == name)
    }

    /// The scope names in order.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|scope| scope.as_str().to_owned()).collect()
    }
}

/// A key's label, chosen by its owner: the same rules as a user's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyName(UserName);

impl ApiKeyName {
    /// Trims and checks a label.
    ///
    /// # Errors
    /// [`UserNameError`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, UserNameError> {
        UserName::parse(raw).map(Self)
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A whole API key as handed to its owner once: `pc_` + 43 base64url characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(OpaqueSecret);

impl ApiKeySecret {
    /// A key made from a fresh opaque secret (the caller brings the randomness).
    pub fn from_secret(secret: &OpaqueSecret) -> Self {
        Self(OpaqueSecret::presented(format!("{API_KEY_MARKER}{}", secret.expose())))
    }

    /// Wraps a key presented by a caller, unchecked.
    pub fn presented(value: impl Into<String>) -> Self {
        Self(OpaqueSecret::presented(value))
    }

    /// The visible prefix (`pc_` + 8 characters), or `None` when the text is not shaped like
    /// a key at all.
    pub fn prefix(&self) -> Option<&str> {
        let text = self.0.expose();
        let end = API_KEY_MARKER.len() + PREFIX_CHARS;
        let random = text.strip_prefix(API_KEY_MARKER)?;
        let shaped =
            random.len() > PREFIX_CHARS && random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| &text[..end])
    }

    /// The key text. Do not log it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The form that is stored.
    pub fn hash(&self) -> SecretHash {
        self.0.hash()
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret([redacted])")
    }
}

/// An API key as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// The user the key acts as.
    pub user_id: UserId,
    /// The owner's label.
    pub name: ApiKeyName,
    /// The visible start of the key.
    pub prefix: String,
    /// SHA-256 of the whole key.
    pub hash: SecretHash,
    /// What it may do.
    pub scopes: Scopes,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a new key needs.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    /// The owner.
    pub user_id: UserId,
    /// The label.
    pub name: ApiKeyName,
    /// Its scopes.
    pub scopes: Scopes,
    /// Optional end.
    pub expires_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Creates the stored form of `secret` at `now`. `None` if the secret has no prefix
    /// (it always has one when made by [`ApiKeySecret::from_secret`]).
    pub fn create(new: NewApiKey, secret: &ApiKeySecret, now: DateTime<Utc>) -> Option<Self> {
        Some(Self {
            id: ApiKeyId::generate(),
            user_id: new.user_id,
            name: new.name,
            prefix: secret.prefix()?.to_owned(),
            hash: secret.hash(),
            scopes: new.scopes,
            created_at: whole_seconds(now),
            expires_at: new.expires_at.map(whole_seconds),
            last_used_at: None,
        })
    }

    /// Whether `presented` is this key, compared in constant time.
    pub fn matches(&self, presented: &ApiKeySecret) -> bool {
        bool::from(self.hash.as_str().as_bytes().ct_eq(presented.hash().as_str().as_bytes()))
    }

    /// Whether the key has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|end| now >= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn scopes_follow_the_rules_and_default_to_profile_read() {
        assert_eq!(Scopes::parse([]).expect("empty").names(), vec!["profile:read"]);
        let scopes = Scopes::parse(["introspect", "billing.read", "introspect"]).expect("valid");
        assert_eq!(scopes.names(), vec!["billing.read", "introspect"]);
        assert!(scopes.contains("introspect") && !scopes.contains("admin"));
        assert_eq!(Scopes::parse(["Admin"]), Err(ScopeError::Invalid));
        assert_eq!(Scopes::parse([""]), Err(ScopeError::Invalid));
        let long = "a".repeat(65);
        assert_eq!(Scopes::parse([long.as_str()]), Err(ScopeError::Invalid));
        let many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
        assert_eq!(Scopes::parse(many.iter().map(String::as_str)), Err(ScopeError::TooMany));
    }

    #[test]
    fn a_key_is_stored_by_hash_with_a_visible_prefix() {
        let secret = ApiKeySecret::from_secret(&OpaqueSecret::from_random_bytes([9; 32]));
        assert!(secret.expose().starts_with("pc_"));
        assert_eq!(secret.expose().len(), 46);
        let new = NewApiKey {
            user_id: UserId::generate(),
            name: ApiKeyName::parse(" ci ").expect("valid"),
            scopes: Scopes::default_for_new_key(),
            expires_at: None,
        };
        let key = ApiKey::create(new, &secret, Utc::now()).expect("prefix");
        assert_eq!(key.prefix.len(), 11);
        assert!(secret.expose().starts_with(&key.prefix));
        assert_ne!(key.hash.as_str(), secret.expose());
        assert!(key.matches(&ApiKeySecret::presented(secret.expose())));
        assert!(!key.matches(&ApiKeySecret::presented(format!("{}x", secret.expose()))));
        assert!(!format!("{secret:?}").contains("pc_"));
        assert_eq!(key.name.as_str(), "ci");
    }

    #[test]
    fn odd_presented_keys_have_no_prefix_and_expiry_is_checked() {
        assert_eq!(ApiKeySecret::presented("nope").prefix(), None);
        assert_eq!(ApiKeySecret::presented("pc_short").prefix(), None);
        assert_eq!(ApiKeySecret::presented("pc_ééééé").prefix(), None);
        let secret = ApiKeySecret::from_secret(&OpaqueSecret::from_random_bytes([1; 32]));
        let now = Utc::now();
        let new = NewApiKey {
            user_id: UserId::generate(),
            name: ApiKeyName::parse("k").expect("valid"),
            scopes: Scopes::default_for_new_key(),
            expires_at: Some(now + Duration::hours(1)),
        };
        let key = ApiKey::create(new, &secret, now).expect("prefix");
        assert!(!key.is_expired(now));
        assert!(key.is_expired(now + Duration::hours(2)));
    }
}
