use chrono::{DateTime, Utc};
use portcullis_domain::{Email, RefreshToken, RefreshTokenHash, Session, SessionId, User, UserId};

use super::PortError;

/// Why a user could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddUserError {
    /// Another user has this email (a unique-constraint violation in storage).
    #[error("email already registered")]
    EmailTaken,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Users, as the article's `IUserRepository`.
pub trait UserRepository {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`AddUserError::EmailTaken`] if the email is in use.
    fn add(&mut self, user: &User) -> Result<(), AddUserError>;

    /// The user with this (normalised) email.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, PortError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_by_id(&mut self, id: UserId) -> Result<Option<User>, PortError>;

    /// Saves every field of an existing user.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn update(&mut self, user: &User) -> Result<(), PortError>;
}

/// Sessions and their refresh-token families (the article's `IRefreshTokenRepository`).
pub trait SessionRepository {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_session(&mut self, session: &Session) -> Result<(), PortError>;

    /// The session with this id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_session(&mut self, id: SessionId) -> Result<Option<Session>, PortError>;

    /// Records a refresh of the session.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<(), PortError>;

    /// Ends a session and every refresh token of its family. `false` if it did not exist.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_session(&mut self, id: SessionId) -> Result<bool, PortError>;

    /// Every session of a user, oldest first (expired ones included; callers filter).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn sessions_of_user(&mut self, user_id: UserId) -> Result<Vec<Session>, PortError>;

    /// Ends every session of a user with their refresh tokens; returns how many ended.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_sessions_of_user(&mut self, user_id: UserId) -> Result<usize, PortError>;

    /// Stores a new refresh token of a session's family.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_refresh_token(&mut self, token: &RefreshToken) -> Result<(), PortError>;

    /// The refresh token with this hash.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_refresh_token(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshToken>, PortError>;

    /// Marks an unused token used at `now`; `true` only for the one caller that did so
    /// (compare-and-set), `false` if it was already used.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn mark_refresh_token_used(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool, PortError>;
}
