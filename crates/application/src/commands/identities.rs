//! A user's ways in: their password and linked provider identities, listed; an identity
//! unlinked, never the last way in.

use std::sync::Arc;

use portcullis_domain::{ExternalIdentity, Passkey, ProviderId, SignInMethod, UserId};
use shaku::Component;

use super::passkeys::sign_in_methods;
use crate::ports::{PortError, UnitOfWorkFactory};

/// A user's sign-in methods (`GET /api/auth/methods`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInMethodsView {
    /// Whether they have a password.
    pub password: bool,
    /// Their linked provider identities, by provider id.
    pub identities: Vec<ExternalIdentity>,
    /// Their passkeys, oldest first.
    pub passkeys: Vec<Passkey>,
}

/// Why the methods could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListIdentitiesError {
    /// The user no longer exists.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why an identity was not unlinked.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkIdentityError {
    /// The user has no identity of that provider (`404 not_found`).
    #[error("no identity of that provider is linked")]
    NotFound,
    /// It is the user's only way in (`409 last_sign_in_method`).
    #[error("the last way to sign in cannot be removed")]
    LastSignInMethod,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles listing and unlinking identities.
#[derive(Component)]
#[shaku(interface = IdentitiesUseCase)]
pub struct IdentitiesHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
}

/// A user's sign-in methods. Implemented by [`IdentitiesHandler`].
pub trait IdentitiesUseCase: shaku::Interface {
    /// `user_id`'s password flag and linked identities.
    ///
    /// # Errors
    /// See [`ListIdentitiesError`].
    fn methods(&self, user_id: UserId) -> Result<SignInMethodsView, ListIdentitiesError>;

    /// Unlinks `user_id`'s identity of `provider` unless it is their last way in. The user's
    /// row is written first, so two unlinks of the same user at once are serialized and
    /// cannot together remove both of two ways in.
    ///
    /// # Errors
    /// See [`UnlinkIdentityError`].
    fn unlink(&self, user_id: UserId, provider: &str) -> Result<(), UnlinkIdentityError>;
}

impl IdentitiesUseCase for IdentitiesHandler {
    fn methods(&self, user_id: UserId) -> Result<SignInMethodsView, ListIdentitiesError> {
        let mut unit = self.units.begin_read()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(ListIdentitiesError::UserGone)?;
        let identities = unit.identities().identities_of_user(user_id)?;
        let passkeys = unit.passkeys().of_user(user_id)?;
        unit.commit()?;
        Ok(SignInMethodsView { password: user.has_password(), identities, passkeys })
    }

    fn unlink(&self, user_id: UserId, provider: &str) -> Result<(), UnlinkIdentityError> {
        let provider = ProviderId::parse(provider).map_err(|_| UnlinkIdentityError::NotFound)?;
        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(UnlinkIdentityError::NotFound)?;
        // Locks the user's row (PostgreSQL) or the database (SQLite) until the commit.
        unit.users().update(&user)?;
        let identities = unit.identities().identities_of_user(user_id)?;
        if !identities.iter().any(|identity| identity.provider == provider) {
            return Err(UnlinkIdentityError::NotFound);
        }
        if !sign_in_methods(unit.as_mut(), &user)?.may_remove(SignInMethod::Identity) {
            return Err(UnlinkIdentityError::LastSignInMethod);
        }
        unit.identities().unlink(user_id, &provider)?;
        unit.commit()?;
        tracing::info!(%user_id, %provider, "provider identity unlinked");
        Ok(())
    }
}
