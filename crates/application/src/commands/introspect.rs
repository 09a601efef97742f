//! Token introspection (RFC 7662): is this API key or access token usable right now?
//!
//! Unlike verifying an access token on its own, introspection checks storage: an access
//! token whose session ended or whose user was disabled or deleted is inactive at once.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_domain::{API_KEY_MARKER, ApiKeySecret, Role, Scope, User, UserId};
use shaku::Component;

use super::api_keys::find_valid_key;
use crate::ports::{AccessClaims, Clock, PortError, TokenService, TokenVerifyError, UnitOfWorkFactory};

/// What kind of token was introspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// An API key (`pc_…`).
    ApiKey,
    /// A JWT access token.
    AccessToken,
}

/// What an active token is and may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveToken {
    /// What kind of token it is.
    pub token_type: TokenKind,
    /// The user it acts as.
    pub sub: UserId,
    /// That user's email, as stored now.
    pub username: String,
    /// What it may do: an API key's scopes; for an access token `profile:read`,
    /// `profile:write`, and `admin` while both the token and the stored user have role `admin`.
    pub scope: Vec<String>,
    /// When it stops working, if ever.
    pub exp: Option<DateTime<Utc>>,
    /// The user's roles, as stored now.
    pub roles: Vec<String>,
}

/// The answer of an introspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Introspection {
    /// Not a token of ours, or no longer usable: nothing more is said.
    Inactive,
    /// Usable now.
    Active(ActiveToken),
}

/// Why a token could not be introspected. A bad token is never an error: it is
/// [`Introspection::Inactive`].
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// An access token names a signing key unknown here (yet): reload the keys and ask again.
    #[error("the access token names an unknown signing key")]
    UnknownKey,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Introspects tokens. Implemented by [`IntrospectHandler`]; the HTTP layer and embedders
/// call it through this trait.
pub trait IntrospectUseCase: shaku::Interface {
    /// Reports whether `token` (an API key when it starts with `pc_`, else an access token)
    /// is usable now, and as whom. An API key follows the rules of
    /// [`ApiKeysUseCase::authenticate`](super::api_keys::ApiKeysUseCase::authenticate), but
    /// introspection is not a use: its `last_used_at` is left alone. An access token must
    /// verify, its session must still exist and be unexpired, and its user must exist and
    /// be enabled.
    ///
    /// # Errors
    /// See [`IntrospectError`].
    fn introspect(&self, token: &str) -> Result<Introspection, IntrospectError>;
}

/// Handles introspection.
#[derive(Component)]
#[shaku(interface = IntrospectUseCase)]
pub struct IntrospectHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

impl IntrospectHandler {
    fn introspect_api_key(&self, presented: &str) -> Result<Introspection, IntrospectError> {
        let secret = ApiKeySecret::presented(presented);
        if secret.prefix().is_none() {
            return Ok(Introspection::Inactive);
        }
        let now = self.clock.now();
        let mut unit = self.units.begin_read()?;
        let found = find_valid_key(unit.as_mut(), &secret, now)?;
        unit.commit()?;
        Ok(match found {
            None => Introspection::Inactive,
            Some((key, owner)) => Introspection::Active(ActiveToken {
                token_type: TokenKind::ApiKey,
                sub: owner.id,
                username: owner.email.as_str().to_owned(),
                scope: key.scopes.names(),
                exp: key.expires_at,
                roles: owner.roles.names(),
            }),
        })
    }

    fn introspect_access_token(&self, token: &str) -> Result<Introspection, IntrospectError> {
        let claims = match self.tokens.verify_access_token(token) {
            Ok(claims) => claims,
            Err(TokenVerifyError::UnknownKey) => return Err(IntrospectError::UnknownKey),
            Err(TokenVerifyError::Expired | TokenVerifyError::Invalid) => return Ok(Introspection::Inactive),
        };
        let now = self.clock.now();
        let mut unit = self.units.begin_read()?;
        let session = unit.sessions().find_session(claims.session_id)?;
        let session_live = session.is_some_and(|s| s.user_id == claims.user.user_id && !s.is_expired(now));
        let user = if session_live { unit.users().find_by_id(claims.user.user_id)? } else { None };
        unit.commit()?;
        Ok(match user.filter(User::can_authenticate) {
            None => Introspection::Inactive,
            Some(user) => Introspection::Active(active_access_token(&claims, &user)),
        })
    }
}

/// The answer for a live access token of `user`.
fn active_access_token(claims: &AccessClaims, user: &User) -> ActiveToken {
    let mut scope = vec![Scope::PROFILE_READ.to_owned(), Scope::PROFILE_WRITE.to_owned()];
    let token_is_admin = claims.user.roles.iter().any(|role| role == Role::ADMIN);
    if token_is_admin && user.roles.contains(Role::ADMIN) {
        scope.push(Scope::ADMIN.to_owned());
    }
    ActiveToken {
        token_type: TokenKind::AccessToken,
        sub: user.id,
        username: user.email.as_str().to_owned(),
        scope,
        exp: Some(claims.expires_at),
        roles: user.roles.names(),
    }
}

impl IntrospectUseCase for IntrospectHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "introspect"))]
    fn introspect(&self, token: &str) -> Result<Introspection, IntrospectError> {
        if token.starts_with(API_KEY_MARKER) {
            self.introspect_api_key(token)
        } else {
            self.introspect_access_token(token)
        }
    }
}
