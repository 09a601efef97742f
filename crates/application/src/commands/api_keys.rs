//! API keys for service-to-service calls: create (the key is shown once), list, delete, and
//! authenticate a presented key.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_domain::{
    ApiKey, ApiKeyId, ApiKeyName, ApiKeySecret, NewApiKey, Role, Scopes, User, UserId, UserInfo, whole_seconds,
};
use shaku::Component;

use crate::ports::{Clock, PortError, TokenService, UnitOfWork, UnitOfWorkFactory};
use crate::validation::ValidationErrors;

/// How stale a key's `last_used_at` may get before a use records it again: a busy key
/// writes at most once a minute.
pub const LAST_USED_GRANULARITY_SECONDS: i64 = 60;

/// Input of [`ApiKeysUseCase::create`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateApiKeyCommand {
    /// The owner (from the verified access token).
    pub user_id: UserId,
    /// The owner's label for the key.
    pub name: String,
    /// The scopes; `None` or empty means `["profile:read"]`.
    pub scopes: Option<Vec<String>>,
    /// When the key stops working; must be in the future. `None`: never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key just made: its stored form and the whole key, which is never available again.
#[derive(Clone, Debug)]
pub struct CreatedApiKey {
    /// The key as stored (by hash).
    pub key: ApiKey,
    /// The whole key, to show the owner this once. Do not log it.
    pub secret: ApiKeySecret,
}

/// Who a valid API key acts as, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyPrincipal {
    /// The key's owner, as stored now.
    pub user: UserInfo,
    /// The key that authenticated.
    pub key_id: ApiKeyId,
    /// The key's scopes.
    pub scopes: Scopes,
    /// Whether the owner currently has role `admin` (needed, with scope `admin`, for the admin API).
    pub owner_is_admin: bool,
}

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateApiKeyError {
    /// One or more fields break the rules (`name`, `scopes`, `expires_at`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The owner no longer exists.
    #[error("user not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why keys could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListApiKeysError {
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a key could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteApiKeyError {
    /// The user has no such key (someone else's looks the same as none).
    #[error("no such API key")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a presented key does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyAuthError {
    /// Not a key, unknown, wrong, expired, or its owner is gone or disabled.
    #[error("the API key is invalid")]
    Invalid,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Manages and checks API keys. Implemented by [`ApiKeysHandler`]; the HTTP layer and
/// embedders call it through this trait.
pub trait ApiKeysUseCase: shaku::Interface {
    /// Validates the input and makes a key for `command.user_id`; only its hash is stored.
    ///
    /// # Errors
    /// See [`CreateApiKeyError`].
    fn create(&self, command: CreateApiKeyCommand) -> Result<CreatedApiKey, CreateApiKeyError>;

    /// The user's keys, oldest first (never a secret: none is stored).
    ///
    /// # Errors
    /// See [`ListApiKeysError`].
    fn list(&self, user_id: UserId) -> Result<Vec<ApiKey>, ListApiKeysError>;

    /// Deletes one of the user's keys.
    ///
    /// # Errors
    /// [`DeleteApiKeyError::NotFound`] when it is not one of theirs.
    fn delete(&self, user_id: UserId, key_id: ApiKeyId) -> Result<(), DeleteApiKeyError>;

    /// Checks a presented key (`X-API-Key`): known prefix, matching hash (compared in
    /// constant time), not expired, owner present and enabled. Records the use in
    /// `last_used_at` when it was never recorded or at least a minute ago; that bookkeeping
    /// is best effort and never fails the authentication.
    ///
    /// # Errors
    /// [`ApiKeyAuthError::Invalid`] for any bad key; [`ApiKeyAuthError::Port`] when storage fails.
    fn authenticate(&self, presented: &str) -> Result<ApiKeyPrincipal, ApiKeyAuthError>;
}

/// Handles API keys.
#[derive(Component)]
#[shaku(interface = ApiKeysUseCase)]
pub struct ApiKeysHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

impl ApiKeysHandler {
    /// A fresh key's secret and stored form.
    fn fresh_key(&self, new: NewApiKey, now: DateTime<Utc>) -> Result<(ApiKey, ApiKeySecret), PortError> {
        let secret = ApiKeySecret::from_secret(&self.tokens.generate_secret());
        let key = ApiKey::create(new, &secret, now)
            .ok_or_else(|| PortError::internal("api_keys.fresh_key", "a generated API key has no prefix"))?;
        Ok((key, secret))
    }
}

impl CreateApiKeyCommand {
    /// Checks every field at `now`, reporting one error per bad field.
    ///
    /// # Errors
    /// [`ValidationErrors`] listing each bad field.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<NewApiKey, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", ApiKeyName::parse(&self.name));
        let scopes = match &self.scopes {
            Some(names) => errors.check("scopes", Scopes::parse(names.iter().map(String::as_str))),
            None => Some(Scopes::default_for_new_key()),
        };
        let expires_at = match self.expires_at {
            Some(end) if whole_seconds(end) <= now => {
                errors.add("expires_at", "in_the_past", "the expiry must be in the future");
                None
            }
            end => Some(end),
        };
        match (name, scopes, expires_at) {
            (Some(name), Some(scopes), Some(expires_at)) => {
                Ok(NewApiKey { user_id: self.user_id, name, scopes, expires_at })
            }
            _ => Err(errors),
        }
    }
}

/// A stored key matching `secret` that works at `now`, with its enabled owner; `None` when
/// the key is unknown, wrong or expired, or its owner is missing or disabled.
pub(crate) fn find_valid_key(
    unit: &mut dyn UnitOfWork,
    secret: &ApiKeySecret,
    now: DateTime<Utc>,
) -> Result<Option<(ApiKey, User)>, PortError> {
    let Some(prefix) = secret.prefix() else { return Ok(None) };
    let Some((key, owner)) = unit.api_key_with_owner(prefix)? else { return Ok(None) };
    if !key.matches(secret) || key.is_expired(now) || !owner.can_authenticate() {
        return Ok(None);
    }
    Ok(Some((key, owner)))
}

/// Whether a use at `now` should be recorded in `last_used_at`.
fn use_is_due(last_used_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used_at.is_none_or(|last| now - last >= Duration::seconds(LAST_USED_GRANULARITY_SECONDS))
}

impl ApiKeysUseCase for ApiKeysHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "api_key_create"))]
    fn create(&self, command: CreateApiKeyCommand) -> Result<CreatedApiKey, CreateApiKeyError> {
        let now = self.clock.now();
        let new = command.validate(now).map_err(CreateApiKeyError::Validation)?;
        let mut unit = self.units.begin()?;
        if unit.users().find_by_id(command.user_id)?.is_none() {
            return Err(CreateApiKeyError::NotFound);
        }
        let (mut key, mut secret) = self.fresh_key(new.clone(), now)?;
        if unit.api_keys().find_by_prefix(&key.prefix)?.is_some() {
            (key, secret) = self.fresh_key(new, now)?;
            if unit.api_keys().find_by_prefix(&key.prefix)?.is_some() {
                return Err(PortError::internal(
                    "api_keys.create",
                    "two generated API keys in a row had a prefix in use",
                )
                .into());
            }
        }
        unit.api_keys().add(&key)?;
        unit.commit()?;
        tracing::info!(user_id = %key.user_id, key_id = %key.id, scopes = ?key.scopes.names(), "API key created");
        Ok(CreatedApiKey { key, secret })
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "api_key_list"))]
    fn list(&self, user_id: UserId) -> Result<Vec<ApiKey>, ListApiKeysError> {
        let mut unit = self.units.begin_read()?;
        let keys = unit.api_keys().keys_of_user(user_id)?;
        unit.commit()?;
        Ok(keys)
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "api_key_delete"))]
    fn delete(&self, user_id: UserId, key_id: ApiKeyId) -> Result<(), DeleteApiKeyError> {
        let mut unit = self.units.begin()?;
        if !unit.api_keys().delete(user_id, key_id)? {
            return Err(DeleteApiKeyError::NotFound);
        }
        unit.commit()?;
        tracing::info!(%user_id, %key_id, "API key deleted by its owner");
        Ok(())
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "api_key_authenticate"))]
    fn authenticate(&self, presented: &str) -> Result<ApiKeyPrincipal, ApiKeyAuthError> {
        let secret = ApiKeySecret::presented(presented);
        if secret.prefix().is_none() {
            return Err(ApiKeyAuthError::Invalid);
        }
        let now = self.clock.now();
        // One joined read: the key and its owner, without a transaction around it.
        let mut unit = self.units.single_read()?;
        let (key, owner) = find_valid_key(unit.as_mut(), &secret, now)?.ok_or(ApiKeyAuthError::Invalid)?;
        unit.commit()?;

        if use_is_due(key.last_used_at, now) {
            let recorded = self.units.begin().and_then(|mut unit| {
                unit.api_keys().touch(key.id, now)?;
                unit.commit()
            });
            if let Err(error) = recorded {
                tracing::warn!(key_id = %key.id, error = %error.detail(), "could not record an API key's use");
            }
        }
        Ok(ApiKeyPrincipal {
            owner_is_admin: owner.roles.contains(Role::ADMIN),
            user: owner.info(),
            key_id: key.id,
            scopes: key.scopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_use_is_recorded_at_most_once_a_minute() {
        let now = Utc::now();
        assert!(use_is_due(None, now));
        assert!(!use_is_due(Some(now - Duration::seconds(59)), now));
        assert!(use_is_due(Some(now - Duration::seconds(60)), now));
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let now = Utc::now();
        let command = CreateApiKeyCommand {
            user_id: UserId::generate(),
            name: "  ".to_owned(),
            scopes: Some(vec!["Bad Scope".to_owned()]),
            expires_at: Some(now),
        };
        let errors = command.validate(now).expect_err("invalid");
        let fields: Vec<(&str, &str)> = errors.errors().iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields[1..], [("scopes", "invalid"), ("expires_at", "in_the_past")]);
        assert_eq!(fields[0].0, "name");
    }
}
