//! `LoginCommand`: check credentials and start a session.

use std::sync::Arc;

use portcullis_domain::{Email, PlainPassword, SecretString, Session, SessionMetadata};
use shaku::Component;

use super::{IssuedTokens, SessionPolicy, add_refresh_token};
use crate::ports::{Clock, PasswordHasher, PortError, TokenService, UnitOfWorkFactory};

/// Input of a login.
#[derive(Clone, Debug)]
pub struct LoginCommand {
    /// Login address, as typed.
    pub email: String,
    /// Password, as typed.
    pub password: SecretString,
    /// Where the login comes from, kept with the session.
    pub metadata: SessionMetadata,
}

/// A successful login: a new session and its first tokens.
pub type LoginOutcome = IssuedTokens;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email or wrong password; the two are not told apart.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Right password, but the account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Storage, hashing or signing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`LoginCommand`].
#[derive(Component)]
#[shaku(interface = LoginUseCase)]
pub struct LoginHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    hasher: Arc<dyn PasswordHasher>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

/// Logs a user in. Implemented by [`LoginHandler`]; the HTTP layer and embedders call it through this trait.
pub trait LoginUseCase: shaku::Interface {
    /// Finds the user, checks the password (outside any transaction; an unknown email is
    /// checked against a dummy hash so both failures take the same time), then stores a new
    /// session with its first refresh token and signs an access token.
    ///
    /// # Errors
    /// See [`LoginError`].
    fn handle(&self, command: LoginCommand) -> Result<LoginOutcome, LoginError>;
}

impl LoginHandler {
    /// Builds the handler from its ports and the session policy.
    pub fn new(
        units: Arc<dyn UnitOfWorkFactory>,
        hasher: Arc<dyn PasswordHasher>,
        tokens: Arc<dyn TokenService>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self { units, hasher, tokens, clock, policy }
    }
}

impl LoginUseCase for LoginHandler {
    /// Finds the user, checks the password (outside any transaction; an unknown email is
    /// checked against a dummy hash so both failures take the same time), then stores a new
    /// session with its first refresh token and signs an access token.
    ///
    /// # Errors
    /// See [`LoginError`].
    fn handle(&self, command: LoginCommand) -> Result<LoginOutcome, LoginError> {
        let email = Email::parse(&command.email).ok();
        let password = PlainPassword::parse(command.password.expose()).ok();
        let user = match &email {
            Some(email) => {
                let mut unit = self.units.begin()?;
                let user = unit.users().find_by_email(email)?;
                unit.commit()?;
                user
            }
            None => None,
        };
        let (Some(user), Some(password)) = (user, password) else {
            self.hasher.verify_dummy()?;
            return Err(LoginError::InvalidCredentials);
        };
        if !self.hasher.verify(&password, &user.password)? {
            tracing::info!(user_id = %user.id, "login failed: wrong password");
            return Err(LoginError::InvalidCredentials);
        }
        if !user.can_authenticate() {
            return Err(LoginError::AccountDisabled);
        }

        let now = self.clock.now();
        let session = Session::start(user.id, command.metadata, now, self.policy.session_max);
        let mut unit = self.units.begin()?;
        unit.sessions().add_session(&session)?;
        let refresh_token = add_refresh_token(&mut *unit, &*self.tokens, &*self.clock, &session, &self.policy)?;
        unit.commit()?;

        let info = user.info();
        let access_token = self.tokens.issue_access_token(&info, session.id, now).map_err(PortError::from)?;
        tracing::info!(user_id = %user.id, session_id = %session.id, "user logged in");
        Ok(IssuedTokens { user: info, session_id: session.id, access_token, refresh_token })
    }
}
