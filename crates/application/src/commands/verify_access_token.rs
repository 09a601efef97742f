//! `VerifyAccessToken`: who is this access token for? Touches no storage.

use std::sync::Arc;

use shaku::Component;

use crate::ports::{AccessClaims, TokenService, TokenVerifyError};

/// Input: the presented access token.
#[derive(Clone, Debug)]
pub struct VerifyAccessToken<'a> {
    /// The compact JWT.
    pub access_token: &'a str,
}

/// Why no current user could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyAccessTokenError {
    /// The token is past its expiry.
    #[error("the access token has expired")]
    Expired,
    /// The token is not one of ours, or broken.
    #[error("the access token is invalid")]
    Unauthorized,
    /// The token names a signing key unknown here (yet): reload the keys and ask again.
    #[error("the access token names an unknown signing key")]
    UnknownKey,
}

/// Handles [`VerifyAccessToken`].
#[derive(Component)]
#[shaku(interface = VerifyAccessTokenUseCase)]
pub struct VerifyAccessTokenHandler {
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
}

/// Reads the user an access token speaks for. Implemented by [`VerifyAccessTokenHandler`]; the HTTP layer and embedders call it through this trait.
pub trait VerifyAccessTokenUseCase: shaku::Interface {
    /// Verifies the token and returns its claims: the user as of the token's issue.
    /// Cheap (one signature check), so callers may run it inline.
    ///
    /// # Errors
    /// See [`VerifyAccessTokenError`].
    fn handle(&self, query: VerifyAccessToken<'_>) -> Result<AccessClaims, VerifyAccessTokenError>;
}

impl VerifyAccessTokenUseCase for VerifyAccessTokenHandler {
    fn handle(&self, query: VerifyAccessToken<'_>) -> Result<AccessClaims, VerifyAccessTokenError> {
        self.tokens.verify_access_token(query.access_token).map_err(|error| match error {
            TokenVerifyError::Expired => VerifyAccessTokenError::Expired,
            TokenVerifyError::Invalid => VerifyAccessTokenError::Unauthorized,
            TokenVerifyError::UnknownKey => VerifyAccessTokenError::UnknownKey,
        })
    }
}
