//! Passwords: `ChangePasswordCommand` (knowing the current one), `ForgotPasswordCommand`
//! (mail a reset link) and `ResetPasswordCommand` (redeem it).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_domain::{
    AccountToken, AccountTokenPurpose, Email, OpaqueSecret, PlainPassword, SecretString, SessionAuth, User, UserId,
    WeakPassword,
};
use shaku::Component;

use super::ReauthWindow;
use crate::account_mail::{AccountMail, replace_mailed_token};
use crate::ports::{Clock, PasswordHasher, PasswordPolicy, PortError, TokenService, UnitOfWork, UnitOfWorkFactory};
use crate::validation::ValidationErrors;

/// The input field a new password is reported under.
const NEW_PASSWORD_FIELD: &str = "new_password";

/// Parses a new password under the field `new_password`.
fn parse_new_password(raw: &SecretString) -> Result<PlainPassword, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    match errors.check(NEW_PASSWORD_FIELD, PlainPassword::parse(raw.expose())) {
        Some(password) => Ok(password),
        None => Err(errors),
    }
}

/// Input of a password change by a signed-in user.
#[derive(Clone, Debug)]
pub struct ChangePasswordCommand {
    /// Who (from the verified access token).
    pub user_id: UserId,
    /// The session the request came from, as its access token says: it survives the change,
    /// every other one ends; its sign-in time decides whether a first password may be set.
    pub session: SessionAuth,
    /// The password now in use, as typed; not needed (and ignored) when the user has none.
    pub current_password: Option<SecretString>,
    /// The chosen new password.
    pub new_password: SecretString,
}

/// Why a password change failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The new password breaks the input rules (reported under `new_password`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The new password is too easy to guess; the message says why.
    #[error("weak password: {0}")]
    WeakPassword(WeakPassword),
    /// The current password is wrong.
    #[error("the current password is wrong")]
    InvalidCredentials,
    /// A user without a password sets their first one only from a session that signed in
    /// within the [`ReauthWindow`].
    #[error("a recent sign-in is needed to set a first password")]
    ReauthenticationRequired,
    /// The user no longer exists.
    #[error("user not found")]
    NotFound,
    /// Storage or hashing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`ChangePasswordCommand`].
#[derive(Component)]
#[shaku(interface = ChangePasswordUseCase)]
pub struct ChangePasswordHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    hasher: Arc<dyn PasswordHasher>,
    #[shaku(inject)]
    password_policy: Arc<dyn PasswordPolicy>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    /// How recent a sign-in must be to set a first password (default: [`ReauthWindow::default`]).
    #[shaku(default)]
    reauth: ReauthWindow,
}

/// Changes a password. Implemented by [`ChangePasswordHandler`]; the HTTP layer and embedders call it through this trait.
pub trait ChangePasswordUseCase: shaku::Interface {
    /// Validates the new password, reads the user (a unit that only reads) and checks the
    /// password against the [`PasswordPolicy`] (with the user's name and email as personal
    /// words), checks the current password — or, for a user without one (made through a
    /// provider), that the session signed in recently — and hashes the new one (both outside
    /// any transaction), then in one unit of work stores the new hash, ends every session of
    /// the user except the caller's, and deletes pending reset tokens.
    ///
    /// # Errors
    /// See [`ChangePasswordError`].
    fn handle(&self, command: ChangePasswordCommand) -> Result<(), ChangePasswordError>;
}

impl ChangePasswordUseCase for ChangePasswordHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "change_password"))]
    fn handle(&self, command: ChangePasswordCommand) -> Result<(), ChangePasswordError> {
        let new_password = parse_new_password(&command.new_password).map_err(ChangePasswordError::Validation)?;
        let user_id = command.user_id;

        let mut unit = self.units.begin_read()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(ChangePasswordError::NotFound)?;
        unit.commit()?;

        self.password_policy
            .check(&new_password, &user.name, &user.email)
            .map_err(ChangePasswordError::WeakPassword)?;
        match (&user.password, &command.current_password) {
            (Some(stored), Some(current)) => {
                // A current password that breaks the length rules cannot be the stored one.
                let matches = match PlainPassword::parse(current.expose()) {
                    Ok(current) => self.hasher.verify(&current, stored)?,
                    Err(_) => false,
                };
                if !matches {
                    tracing::info!(%user_id, "password change refused: wrong current password");
                    return Err(ChangePasswordError::InvalidCredentials);
                }
            }
            (Some(_), None) => {
                let mut errors = ValidationErrors::new();
                errors.add("current_password", "required", "current_password is required");
                return Err(ChangePasswordError::Validation(errors));
            }
            (None, _) => {
                if !command.session.is_recent(self.clock.now(), self.reauth.secs()) {
                    tracing::info!(%user_id, "first password refused: the sign-in is not recent");
                    return Err(ChangePasswordError::ReauthenticationRequired);
                }
            }
        }
        let hash = self.hasher.hash(&new_password)?;

        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let mut user = unit.users().find_by_id(user_id)?.ok_or(ChangePasswordError::NotFound)?;
        user.change_password(hash, now);
        unit.users().update(&user)?;
        let mut ended = 0_usize;
        let sessions = unit.sessions().sessions_of_user(user_id)?;
        for session in sessions {
            if session.id != command.session.session_id && unit.sessions().delete_session(session.id)? {
                ended += 1;
            }
        }
        unit.account_tokens().delete_for_user(user_id, AccountTokenPurpose::ResetPassword)?;
        unit.commit()?;
        tracing::info!(%user_id, other_sessions_ended = ended, "password changed");
        Ok(())
    }
}

/// Input of a request for a password-reset mail.
#[derive(Clone, Debug)]
pub struct ForgotPasswordCommand {
    /// The account's address, as typed.
    pub email: String,
}

/// Why a password-reset mail could not be requested. An unknown address is not an error.
#[derive(Debug, thiserror::Error)]
pub enum ForgotPasswordError {
    /// The address is malformed (reported under `email`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`ForgotPasswordCommand`].
#[derive(Component)]
#[shaku(interface = ForgotPasswordUseCase)]
pub struct ForgotPasswordHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    account_mail: Arc<dyn AccountMail>,
}

/// Mails a password-reset link. Implemented by [`ForgotPasswordHandler`]; the HTTP layer and embedders call it through this trait.
pub trait ForgotPasswordUseCase: shaku::Interface {
    /// For a known, enabled account: replaces its reset tokens with a new one (30 minutes),
    /// with the mail carrying it in the outbox, in one unit of work (delivered after the
    /// commit, retried while the mail server is away). For an
    /// unknown or disabled account nothing happens, and the answer is the same `Ok(())`, so
    /// the result does not reveal which addresses have accounts. (It takes less time,
    /// though: the HTTP layer answers without waiting for it.)
    ///
    /// # Errors
    /// See [`ForgotPasswordError`].
    fn handle(&self, command: ForgotPasswordCommand) -> Result<(), ForgotPasswordError>;
}

impl ForgotPasswordUseCase for ForgotPasswordHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "forgot_password"))]
    fn handle(&self, command: ForgotPasswordCommand) -> Result<(), ForgotPasswordError> {
        let mut errors = ValidationErrors::new();
        let email =
            errors.check("email", Email::parse(&command.email)).ok_or(ForgotPasswordError::Validation(errors))?;

        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let found = unit.users().find_by_email(&email)?;
        let user = match found {
            Some(user) if user.can_authenticate() => user,
            _ => {
                unit.commit()?;
                tracing::info!("password reset requested for an unknown or disabled account");
                return Ok(());
            }
        };
        replace_mailed_token(
            &mut *unit,
            &*self.tokens,
            &*self.account_mail,
            &user,
            AccountTokenPurpose::ResetPassword,
            now,
        )?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, "password reset requested");
        Ok(())
    }
}

/// Input of a password reset: the token from the mailed link and the new password.
#[derive(Clone, Debug)]
pub struct ResetPasswordCommand {
    /// The token, as presented.
    pub token: SecretString,
    /// The chosen new password.
    pub new_password: SecretString,
}

/// Why a password reset failed.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// The token is unknown, used, expired or not a reset token, or its account is gone or
    /// disabled. The cases are not told apart.
    #[error("invalid or expired token")]
    InvalidToken,
    /// The new password breaks the input rules (reported under `new_password`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// The new password is too easy to guess; the message says why.
    #[error("weak password: {0}")]
    WeakPassword(WeakPassword),
    /// Storage or hashing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`ResetPasswordCommand`].
#[derive(Component)]
#[shaku(interface = ResetPasswordUseCase)]
pub struct ResetPasswordHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    hasher: Arc<dyn PasswordHasher>,
    #[shaku(inject)]
    password_policy: Arc<dyn PasswordPolicy>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

/// Resets a password with a mailed token. Implemented by [`ResetPasswordHandler`]; the HTTP layer and embedders call it through this trait.
pub trait ResetPasswordUseCase: shaku::Interface {
    /// Validates the new password, looks the token up (a unit that only reads), checks the
    /// password against the [`PasswordPolicy`] for the token's user and hashes it (outside
    /// any transaction); then in one unit of work redeems the token once (compare-and-set),
    /// stores the new hash, ends every session of the user and deletes their other reset
    /// tokens.
    ///
    /// Redeeming the token also marks the address verified when the token was mailed to the
    /// address the account still has: whoever holds it proved they read mail there.
    ///
    /// # Errors
    /// See [`ResetPasswordError`].
    fn handle(&self, command: ResetPasswordCommand) -> Result<(), ResetPasswordError>;
}

impl ResetPasswordHandler {
    /// The user a redeemable reset token at `now` acts on, if it is still there and enabled,
    /// with the token.
    fn holder(
        unit: &mut dyn UnitOfWork,
        token: &OpaqueSecret,
        now: DateTime<Utc>,
    ) -> Result<(AccountToken, User), ResetPasswordError> {
        let token = unit
            .account_tokens()
            .find(&token.hash())?
            .filter(|stored| stored.is_redeemable(AccountTokenPurpose::ResetPassword, now))
            .ok_or(ResetPasswordError::InvalidToken)?;
        let user = unit
            .users()
            .find_by_id(token.user_id)?
            .filter(User::can_authenticate)
            .ok_or(ResetPasswordError::InvalidToken)?;
        Ok((token, user))
    }
}

impl ResetPasswordUseCase for ResetPasswordHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "reset_password"))]
    fn handle(&self, command: ResetPasswordCommand) -> Result<(), ResetPasswordError> {
        let new_password = parse_new_password(&command.new_password).map_err(ResetPasswordError::Validation)?;
        let secret = OpaqueSecret::presented(command.token.expose());
        let now = self.clock.now();

        let mut unit = self.units.begin_read()?;
        let (_, user) = Self::holder(&mut *unit, &secret, now)?;
        unit.commit()?;

        self.password_policy.check(&new_password, &user.name, &user.email).map_err(ResetPasswordError::WeakPassword)?;
        let hash = self.hasher.hash(&new_password)?;

        let mut unit = self.units.begin()?;
        let (token, mut user) = Self::holder(&mut *unit, &secret, now)?;
        if !unit.account_tokens().mark_used(&token.hash, now)? {
            return Err(ResetPasswordError::InvalidToken);
        }
        user.change_password(hash, now);
        if user.email.as_str() == token.email {
            user.mark_email_verified(now);
        }
        unit.users().update(&user)?;
        let ended = unit.sessions().delete_sessions_of_user(user.id)?;
        unit.account_tokens().delete_for_user(user.id, AccountTokenPurpose::ResetPassword)?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, sessions_ended = ended, "password reset with a mailed token");
        Ok(())
    }
}
