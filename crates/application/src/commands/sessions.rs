//! A user's sessions (one per login and device): list them, end one, end them all.

use std::sync::Arc;

use portcullis_domain::{Session, SessionId, UserId};
use shaku::Component;

use crate::ports::{Clock, PortError, UnitOfWorkFactory};

/// One session as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// Whether it is the session of the asking access token.
    pub current: bool,
}

/// Why sessions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListSessionsError {
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a session could not be ended.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// No such session belongs to this user (someone else's looks the same as none).
    #[error("no such session")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why the sessions could not all be ended.
#[derive(Debug, thiserror::Error)]
pub enum LogoutAllError {
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Lists, ends one of, or ends all of a user's sessions.
pub trait SessionsUseCase: shaku::Interface {
    /// The user's live sessions, oldest first, the one of `current` marked.
    ///
    /// # Errors
    /// See [`ListSessionsError`].
    fn list(&self, user_id: UserId, current: SessionId) -> Result<Vec<SessionView>, ListSessionsError>;

    /// Ends one of the user's sessions and its refresh tokens.
    ///
    /// # Errors
    /// [`RevokeSessionError::NotFound`] when it is not one of the user's.
    fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<(), RevokeSessionError>;

    /// Ends every session of the user; returns how many.
    ///
    /// # Errors
    /// See [`LogoutAllError`].
    fn logout_all(&self, user_id: UserId) -> Result<usize, LogoutAllError>;
}

/// Handles a user's sessions.
#[derive(Component)]
#[shaku(interface = SessionsUseCase)]
pub struct SessionsHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

impl SessionsUseCase for SessionsHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "sessions_list"))]
    fn list(&self, user_id: UserId, current: SessionId) -> Result<Vec<SessionView>, ListSessionsError> {
        let now = self.clock.now();
        let mut unit = self.units.begin_read()?;
        let sessions = unit.sessions().sessions_of_user(user_id)?;
        unit.commit()?;
        Ok(sessions
            .into_iter()
            .filter(|session| !session.is_expired(now))
            .map(|session| SessionView { current: session.id == current, session })
            .collect())
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "session_revoke"))]
    fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<(), RevokeSessionError> {
        let mut unit = self.units.begin()?;
        let owned = unit.sessions().find_session(session_id)?.is_some_and(|session| session.user_id == user_id);
        if !owned {
            return Err(RevokeSessionError::NotFound);
        }
        unit.sessions().delete_session(session_id)?;
        unit.commit()?;
        tracing::info!(%user_id, %session_id, "session revoked by its owner");
        Ok(())
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "logout_all"))]
    fn logout_all(&self, user_id: UserId) -> Result<usize, LogoutAllError> {
        let mut unit = self.units.begin()?;
        let ended = unit.sessions().delete_sessions_of_user(user_id)?;
        unit.commit()?;
        tracing::info!(%user_id, ended, "every session ended");
        Ok(ended)
    }
}
