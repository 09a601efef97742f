//! `LoginCommand`: check credentials and start a session.

use std::sync::Arc;

use portcullis_domain::{
    AuthMethod, AuthMethods, Email, LockoutPolicy, LoginAdmission, OpaqueSecret, PlainPassword, SecretString,
    SessionMetadata, User,
};
use shaku::Component;

use super::{FirstFactorOutcome, IssuedTokens, SessionPolicy, after_first_factor};
use crate::ports::{Clock, LockoutStore, PasswordHasher, PortError, TokenService, UnitOfWorkFactory};

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
    /// Too many failed logins in a row: the account is locked and the password was not
    /// checked. Only an existing account can be locked.
    #[error("the account is locked after too many failed logins")]
    Locked {
        /// Whole seconds (at least 1) until the lock ends.
        retry_after_secs: u64,
    },
    /// Right password, and the user has TOTP: no session yet. The second step
    /// ([`MfaVerifyUseCase`](super::mfa::MfaVerifyUseCase)) takes this token and a code.
    #[error("a second factor is required")]
    MfaRequired {
        /// The single-use token of the second step (5 minutes, 5 wrong codes).
        mfa_token: OpaqueSecret,
    },
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
    #[shaku(inject)]
    lockouts: Arc<dyn LockoutStore>,
    /// Refresh-token and session lifetimes (default: [`SessionPolicy::default`]).
    #[shaku(default)]
    policy: SessionPolicy,
    /// When failed logins lock an account (default: [`LockoutPolicy::default`];
    /// [`LockoutPolicy::disabled`]: never).
    #[shaku(default)]
    lockout: LockoutPolicy,
}

/// Logs a user in. Implemented by [`LoginHandler`]; the HTTP layer and embedders call it through this trait.
pub trait LoginUseCase: shaku::Interface {
    /// Finds the user (a unit that only reads), refuses at once if the account is locked (no
    /// hash is spent), counts the attempt, checks the password (outside any transaction; an
    /// unknown email is checked against a dummy hash so both failures take the same time),
    /// then stores a new session with its first refresh token and signs an access token. A
    /// right password clears the account's failed-login count.
    ///
    /// # Errors
    /// See [`LoginError`].
    fn handle(&self, command: LoginCommand) -> Result<LoginOutcome, LoginError>;
}

impl LoginHandler {
    /// Counts this attempt on `user`'s account before its password is checked; refuses a
    /// locked account. `Ok(true)` when the attempt was counted (lockout on).
    fn admit(&self, user: &User) -> Result<bool, LoginError> {
        if !self.lockout.is_enabled() {
            return Ok(false);
        }
        match self.lockouts.admit(user.id, &self.lockout, self.clock.now())? {
            LoginAdmission::Locked { retry_after_secs } => {
                tracing::info!(user_id = %user.id, retry_after_secs, "login refused: account locked");
                Err(LoginError::Locked { retry_after_secs })
            }
            LoginAdmission::Admitted { record } => {
                if record.locked_until.is_some() {
                    tracing::warn!(user_id = %user.id, failures = record.failures, "account locked after failed logins");
                }
                Ok(true)
            }
        }
    }

    /// Checks `password` against `user`'s hash (a missing password, or a user without one,
    /// against the dummy hash).
    /// An attempt that was counted and could not be checked at all is taken back.
    fn verify(&self, user: &User, password: Option<&PlainPassword>, counted: bool) -> Result<bool, LoginError> {
        let checked = match (password, &user.password) {
            (Some(password), Some(hash)) => self.hasher.verify(password, hash),
            // No password typed that could be right, or none set (a user made through a
            // provider): the same time is spent, and the answer is the same.
            _ => self.hasher.verify_dummy().map(|()| false),
        };
        match checked {
            Ok(matches) => Ok(matches),
            Err(error) => {
                if counted && let Err(undo) = self.lockouts.withdraw(user.id, &self.lockout) {
                    tracing::warn!(user_id = %user.id, error = %undo, "could not take back a login attempt");
                }
                Err(error.into())
            }
        }
    }
}

impl LoginUseCase for LoginHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "login"))]
    fn handle(&self, command: LoginCommand) -> Result<LoginOutcome, LoginError> {
        let email = Email::parse(&command.email).ok();
        let password = PlainPassword::parse(command.password.expose()).ok();
        let user = match &email {
            Some(email) => {
                let mut unit = self.units.single_read()?;
                let user = unit.users().find_by_email(email)?;
                unit.commit()?;
                user
            }
            None => None,
        };
        let Some(user) = user else {
            self.hasher.verify_dummy()?;
            return Err(LoginError::InvalidCredentials);
        };
        let counted = self.admit(&user)?;
        if !self.verify(&user, password.as_ref(), counted)? {
            tracing::info!(user_id = %user.id, "login failed: wrong password");
            return Err(LoginError::InvalidCredentials);
        }
        if !user.can_authenticate() {
            if counted {
                self.lockouts.clear(user.id)?;
            }
            return Err(LoginError::AccountDisabled);
        }

        let now = self.clock.now();
        let methods = AuthMethods::only(AuthMethod::Password);
        match after_first_factor(&*self.units, &*self.tokens, &self.policy, &user, methods, command.metadata, now)? {
            FirstFactorOutcome::Session(tokens) => {
                if counted {
                    self.lockouts.clear(user.id)?;
                }
                Ok(*tokens)
            }
            // A right password is no failed attempt, but only the finished sign-in clears the
            // account's earlier failures: the attempt is taken back, the count kept.
            FirstFactorOutcome::SecondStep(mfa_token) => {
                if counted {
                    self.lockouts.withdraw(user.id, &self.lockout)?;
                }
                Err(LoginError::MfaRequired { mfa_token })
            }
        }
    }
}
