//! `RefreshCommand`: exchange a refresh token for a new pair.

use std::sync::Arc;

use portcullis_domain::{RefreshTokenSecret, RefreshTokenState, SessionId};
use shaku::Component;

use super::{IssuedTokens, SessionPolicy, new_refresh_token};
use crate::ports::{
    Clock, PortError, RefreshContext, RefreshRotation, RotationOutcome, TokenService, UnitOfWorkFactory,
};

/// Input of a refresh: the presented refresh token.
#[derive(Clone, Debug)]
pub struct RefreshCommand {
    /// The refresh token as the client sent it.
    pub refresh_token: RefreshTokenSecret,
}

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired, or its session is over.
    #[error("the refresh token is invalid or expired")]
    InvalidToken,
    /// An already-used token came back after the grace window: the whole session was ended.
    #[error("the refresh token was reused; the session has been revoked")]
    SessionRevoked,
    /// The user was disabled; the session was ended.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Storage or signing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`RefreshCommand`].
#[derive(Component)]
#[shaku(interface = RefreshUseCase)]
pub struct RefreshHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    /// Refresh-token and session lifetimes and the reuse grace (default:
    /// [`SessionPolicy::default`]).
    #[shaku(default)]
    policy: SessionPolicy,
}

/// Rotates a refresh token. Implemented by [`RefreshHandler`]; the HTTP layer and embedders call it through this trait.
pub trait RefreshUseCase: shaku::Interface {
    /// Rotates the token: the presented one is marked used (compare-and-set, so of two
    /// concurrent refreshes exactly one wins and the other counts as a reuse within grace),
    /// a new one joins the family, and a new access token is signed from the user's
    /// current data. A reuse after the grace window ends the session.
    ///
    /// # Errors
    /// See [`RefreshError`].
    fn handle(&self, command: RefreshCommand) -> Result<IssuedTokens, RefreshError>;
}

impl RefreshUseCase for RefreshHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "refresh"))]
    fn handle(&self, command: RefreshCommand) -> Result<IssuedTokens, RefreshError> {
        let hash = command.refresh_token.hash();
        let now = self.clock.now();
        // One read, then one rotation: each atomic by itself, so the unit needs no
        // transaction around them where the store can skip it (PostgreSQL: two statements in
        // all). The rotation's compare-and-set and its check that the session still exists
        // keep concurrent refreshes and a concurrent logout correct.
        let mut unit = self.units.begin_autocommit()?;
        // The token, its session and the user in one read: a store answers it in one round trip.
        let Some(RefreshContext { token, session, user }) = unit.refresh_context(&hash)? else {
            return Err(RefreshError::InvalidToken);
        };
        if session.is_expired(now) {
            drop(unit);
            self.end_session(session.id)?;
            return Err(RefreshError::InvalidToken);
        }
        let mark_used = match token.state(now, self.policy.reuse_grace) {
            RefreshTokenState::Expired => return Err(RefreshError::InvalidToken),
            RefreshTokenState::Replayed => {
                drop(unit);
                self.end_session(session.id)?;
                tracing::warn!(session_id = %session.id, user_id = %session.user_id, "refresh token reused after the grace window; session revoked");
                return Err(RefreshError::SessionRevoked);
            }
            RefreshTokenState::Fresh => true,
            RefreshTokenState::ReusedWithinGrace => {
                tracing::debug!(session_id = %session.id, "refresh token reused within the grace window");
                false
            }
        };
        if !user.can_authenticate() {
            drop(unit);
            self.end_session(session.id)?;
            return Err(RefreshError::AccountDisabled);
        }
        let (refresh_token, successor) = new_refresh_token(&*self.tokens, now, &session, &self.policy);
        let rotation = RefreshRotation {
            session_id: session.id,
            presented: &hash,
            mark_used,
            successor: &successor,
            touch_session: session.use_is_due(now),
            now,
        };
        match unit.rotate_refresh_token(&rotation)? {
            RotationOutcome::SessionGone => return Err(RefreshError::InvalidToken),
            RotationOutcome::Rotated { won } => {
                if mark_used && !won {
                    tracing::debug!(session_id = %session.id, "concurrent refresh lost the race; treated as reuse within grace");
                }
            }
        }
        unit.commit()?;

        let info = user.info();
        let access_token = self.tokens.issue_access_token(&info, &session.auth(), now).map_err(PortError::from)?;
        Ok(IssuedTokens { user: info, session_id: session.id, access_token, refresh_token })
    }
}

impl RefreshHandler {
    /// Ends a session and its token family in a transaction of its own.
    fn end_session(&self, session_id: SessionId) -> Result<(), PortError> {
        let mut unit = self.units.begin()?;
        unit.sessions().delete_session(session_id)?;
        unit.commit()
    }
}
