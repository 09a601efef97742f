//! `LogoutCommand`: end the current session.

use std::sync::Arc;

use portcullis_domain::{RefreshTokenSecret, SessionId};
use shaku::Component;

use crate::ports::{PortError, UnitOfWorkFactory};

/// Input of a logout: whatever identifies the session. The refresh token wins over the id.
#[derive(Clone, Debug, Default)]
pub struct LogoutCommand {
    /// The refresh token (cookie), if one came.
    pub refresh_token: Option<RefreshTokenSecret>,
    /// The `sid` of a verified access token, if one came.
    pub session_id: Option<SessionId>,
}

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`LogoutCommand`].
#[derive(Component)]
#[shaku(interface = LogoutUseCase)]
pub struct LogoutHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
}

/// Ends a session. Implemented by [`LogoutHandler`]; the HTTP layer and embedders call it through this trait.
pub trait LogoutUseCase: shaku::Interface {
    /// Ends the session and its refresh tokens. Returns whether a session was ended;
    /// nothing to end is not an error (logging out twice is fine).
    ///
    /// # Errors
    /// [`LogoutError::Port`] when storage fails.
    fn handle(&self, command: LogoutCommand) -> Result<bool, LogoutError>;
}

impl LogoutUseCase for LogoutHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "logout"))]
    fn handle(&self, command: LogoutCommand) -> Result<bool, LogoutError> {
        let mut unit = self.units.begin()?;
        let from_token = match &command.refresh_token {
            Some(secret) => unit.sessions().find_refresh_token(&secret.hash())?.map(|token| token.session_id),
            None => None,
        };
        let Some(session_id) = from_token.or(command.session_id) else {
            return Ok(false);
        };
        let ended = unit.sessions().delete_session(session_id)?;
        unit.commit()?;
        if ended {
            tracing::info!(%session_id, "session ended by logout");
        }
        Ok(ended)
    }
}
