//! `UpdateProfileCommand`: change one's name or avatar.

use std::sync::Arc;

use portcullis_domain::{AvatarUrl, SessionAuth, UserId, UserInfo, UserName};
use shaku::Component;

use crate::ports::{AccessToken, Clock, PortError, TokenIssueError, TokenService, UnitOfWorkFactory};
use crate::validation::ValidationErrors;

/// Input of a profile change. `None` leaves a field as it is; `avatar_url: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct UpdateProfileCommand {
    /// Whose profile (from the verified access token).
    pub user_id: Option<UserId>,
    /// A new name.
    pub name: Option<String>,
    /// A new avatar (`Some(None)` removes it).
    pub avatar_url: Option<Option<String>>,
}

/// A profile change after every rule passed.
#[derive(Debug)]
pub struct ValidProfileChange {
    /// A new name, if any.
    pub name: Option<UserName>,
    /// A new avatar (`Some(None)` removes it), if any.
    pub avatar_url: Option<Option<AvatarUrl>>,
}

impl UpdateProfileCommand {
    /// Checks every given field, reporting one error per bad field.
    ///
    /// # Errors
    /// [`ValidationErrors`] listing each bad field.
    pub fn validate(&self) -> Result<ValidProfileChange, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name.as_deref() {
            Some(raw) => errors.check("name", UserName::parse(raw)).map(Some),
            None => Some(None),
        };
        let avatar_url = match self.avatar_url.as_ref() {
            Some(Some(raw)) => errors.check("avatar_url", AvatarUrl::parse(raw)).map(|url| Some(Some(url))),
            Some(None) => Some(Some(None)),
            None => Some(None),
        };
        match (name, avatar_url) {
            (Some(name), Some(avatar_url)) => Ok(ValidProfileChange { name, avatar_url }),
            _ => Err(errors),
        }
    }
}

/// Why a profile change failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateProfileError {
    /// One or more fields break the input rules.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The user no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The change was saved but the new access token could not be signed.
    #[error(transparent)]
    Signing(#[from] TokenIssueError),
}

/// Handles [`UpdateProfileCommand`].
#[derive(Component)]
#[shaku(interface = UpdateProfileUseCase)]
pub struct UpdateProfileHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
}

/// Changes a profile. Implemented by [`UpdateProfileHandler`]; the HTTP layer and embedders call it through this trait.
pub trait UpdateProfileUseCase: shaku::Interface {
    /// Validates and applies the change; returns the updated user.
    ///
    /// # Errors
    /// See [`UpdateProfileError`].
    fn handle(&self, command: UpdateProfileCommand) -> Result<UserInfo, UpdateProfileError>;

    /// As [`UpdateProfileUseCase::handle`], then issues a fresh access token for `session`
    /// carrying the new profile (for a browser whose cookie holds the old one).
    ///
    /// # Errors
    /// See [`UpdateProfileError`].
    fn handle_and_reissue(
        &self,
        command: UpdateProfileCommand,
        session: &SessionAuth,
    ) -> Result<(UserInfo, AccessToken), UpdateProfileError>;
}

impl UpdateProfileUseCase for UpdateProfileHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "update_profile"))]
    fn handle(&self, command: UpdateProfileCommand) -> Result<UserInfo, UpdateProfileError> {
        let ValidProfileChange { name, avatar_url } = command.validate().map_err(UpdateProfileError::Validation)?;
        let user_id = command.user_id.ok_or(UpdateProfileError::UserNotFound)?;

        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let mut user = unit.users().find_by_id(user_id)?.ok_or(UpdateProfileError::UserNotFound)?;
        if let Some(name) = name {
            user.rename(name, now);
        }
        if let Some(avatar_url) = avatar_url {
            user.set_avatar(avatar_url, now);
        }
        unit.users().update(&user)?;
        unit.commit()?;
        Ok(user.info())
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "update_profile"))]
    fn handle_and_reissue(
        &self,
        command: UpdateProfileCommand,
        session: &SessionAuth,
    ) -> Result<(UserInfo, AccessToken), UpdateProfileError> {
        let user = self.handle(command)?;
        let access = self.tokens.issue_access_token(&user, session, self.clock.now())?;
        Ok((user, access))
    }
}
