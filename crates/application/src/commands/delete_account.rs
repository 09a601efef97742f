//! `DeleteAccountCommand`: a user deletes their own account.

use std::sync::Arc;

use portcullis_domain::{PlainPassword, SecretString, SessionAuth, UserId};
use shaku::Component;

use super::ReauthWindow;
use crate::ports::{Clock, PasswordHasher, PortError, UnitOfWorkFactory};

/// Input of an account deletion by its owner.
#[derive(Clone, Debug)]
pub struct DeleteAccountCommand {
    /// Whose account (from the verified access token).
    pub user_id: UserId,
    /// The session the request came from, as its access token says.
    pub session: SessionAuth,
    /// The account's password, as typed, to confirm; not needed (and ignored) when the user
    /// has none — then the session must have signed in within the [`ReauthWindow`].
    pub password: Option<SecretString>,
}

/// Why an account could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    /// The password is wrong.
    #[error("the password is wrong")]
    InvalidCredentials,
    /// The user has a password and none was given.
    #[error("the password is required")]
    PasswordRequired,
    /// A user without a password deletes their account only from a session that signed in
    /// within the [`ReauthWindow`].
    #[error("a recent sign-in is needed to delete the account")]
    ReauthenticationRequired,
    /// The user is the last active administrator; deleting them would leave none.
    #[error("the last active administrator cannot be deleted")]
    LastAdmin,
    /// The user no longer exists.
    #[error("user not found")]
    NotFound,
    /// Storage or hashing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`DeleteAccountCommand`].
#[derive(Component)]
#[shaku(interface = DeleteAccountUseCase)]
pub struct DeleteAccountHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    hasher: Arc<dyn PasswordHasher>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    /// How recent a sign-in must be for a user without a password (default: [`ReauthWindow::default`]).
    #[shaku(default)]
    reauth: ReauthWindow,
}

/// Deletes one's own account. Implemented by [`DeleteAccountHandler`]; the HTTP layer and embedders call it through this trait.
pub trait DeleteAccountUseCase: shaku::Interface {
    /// Reads the user (a unit that only reads) and checks the password (outside any
    /// transaction; for a user without one, that the session signed in recently), then in one unit of work refuses if the user is the last active admin,
    /// and deletes the user with everything of theirs: sessions, refresh tokens, API keys and
    /// pending mailed tokens.
    ///
    /// # Errors
    /// See [`DeleteAccountError`].
    fn handle(&self, command: DeleteAccountCommand) -> Result<(), DeleteAccountError>;
}

impl DeleteAccountUseCase for DeleteAccountHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "delete_account"))]
    fn handle(&self, command: DeleteAccountCommand) -> Result<(), DeleteAccountError> {
        let user_id = command.user_id;
        let mut unit = self.units.begin_read()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(DeleteAccountError::NotFound)?;
        unit.commit()?;

        match (&user.password, &command.password) {
            (Some(_), None) => return Err(DeleteAccountError::PasswordRequired),
            (Some(stored), Some(typed)) => {
                // A password that breaks the length rules cannot be the stored one.
                let matches = match PlainPassword::parse(typed.expose()) {
                    Ok(password) => self.hasher.verify(&password, stored)?,
                    Err(_) => false,
                };
                if !matches {
                    tracing::info!(%user_id, "account deletion refused: wrong password");
                    return Err(DeleteAccountError::InvalidCredentials);
                }
            }
            (None, _) => {
                if !command.session.is_recent(self.clock.now(), self.reauth.secs()) {
                    tracing::info!(%user_id, "account deletion refused: the sign-in is not recent");
                    return Err(DeleteAccountError::ReauthenticationRequired);
                }
            }
        }

        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(DeleteAccountError::NotFound)?;
        if user.is_active_admin() && unit.users().count_active_admins()? <= 1 {
            return Err(DeleteAccountError::LastAdmin);
        }
        if !unit.users().delete(user_id)? {
            return Err(DeleteAccountError::NotFound);
        }
        unit.commit()?;
        tracing::info!(%user_id, "account deleted by its owner");
        Ok(())
    }
}
