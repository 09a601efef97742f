//! `VerifyEmailCommand` (redeem a mailed verification link) and `ResendVerificationCommand`
//! (mail a fresh one).

use std::sync::Arc;

use portcullis_domain::{AccountTokenPurpose, OpaqueSecret, SecretString, UserId, UserInfo};
use shaku::Component;

use crate::account_mail::{AccountMail, replace_mailed_token};
use crate::ports::{Clock, PortError, TokenService, UnitOfWorkFactory};

/// Input of an email verification: the token from the mailed link. No authentication is
/// needed (the link may be opened on another device): the token is the proof.
#[derive(Clone, Debug)]
pub struct VerifyEmailCommand {
    /// The token, as presented.
    pub token: SecretString,
}

/// Why an email verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    /// The token is unknown, used, expired, not a verification token, or was sent to an
    /// address the account no longer has. The cases are not told apart.
    #[error("invalid or expired token")]
    InvalidToken,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`VerifyEmailCommand`].
#[derive(Component)]
#[shaku(interface = VerifyEmailUseCase)]
pub struct VerifyEmailHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

/// Confirms an address. Implemented by [`VerifyEmailHandler`]; the HTTP layer and embedders call it through this trait.
pub trait VerifyEmailUseCase: shaku::Interface {
    /// Redeems the token once (compare-and-set), marks the address it was sent to verified,
    /// and removes the user's other verification tokens, in one unit of work; returns the
    /// user as now stored.
    ///
    /// # Errors
    /// See [`VerifyEmailError`].
    fn handle(&self, command: VerifyEmailCommand) -> Result<UserInfo, VerifyEmailError>;
}

impl VerifyEmailUseCase for VerifyEmailHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "verify_email"))]
    fn handle(&self, command: VerifyEmailCommand) -> Result<UserInfo, VerifyEmailError> {
        let hash = OpaqueSecret::presented(command.token.expose()).hash();
        let now = self.clock.now();

        let mut unit = self.units.begin()?;
        let token = unit
            .account_tokens()
            .find(&hash)?
            .filter(|token| token.is_redeemable(AccountTokenPurpose::VerifyEmail, now))
            .ok_or(VerifyEmailError::InvalidToken)?;
        let mut user = unit.users().find_by_id(token.user_id)?.ok_or(VerifyEmailError::InvalidToken)?;
        if user.email.as_str() != token.email {
            return Err(VerifyEmailError::InvalidToken);
        }
        if !unit.account_tokens().mark_used(&hash, now)? {
            return Err(VerifyEmailError::InvalidToken);
        }
        user.mark_email_verified(now);
        unit.users().update(&user)?;
        unit.account_tokens().delete_for_user(user.id, AccountTokenPurpose::VerifyEmail)?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, "email address verified");
        Ok(user.info())
    }
}

/// Input of a request for a new verification mail.
#[derive(Clone, Copy, Debug)]
pub struct ResendVerificationCommand {
    /// Who asks (from the verified access token).
    pub user_id: UserId,
}

/// What a request for a new verification mail did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResendOutcome {
    /// A new token was stored and its mail handed over (or the failure to do so logged).
    Sent,
    /// The address is already verified: nothing was stored or sent.
    AlreadyVerified,
}

/// Why a new verification mail could not be requested.
#[derive(Debug, thiserror::Error)]
pub enum ResendVerificationError {
    /// The user no longer exists.
    #[error("user not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`ResendVerificationCommand`].
#[derive(Component)]
#[shaku(interface = ResendVerificationUseCase)]
pub struct ResendVerificationHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    account_mail: Arc<dyn AccountMail>,
}

/// Mails a fresh verification link. Implemented by [`ResendVerificationHandler`]; the HTTP layer and embedders call it through this trait.
pub trait ResendVerificationUseCase: shaku::Interface {
    /// Unless the address is already verified, replaces the user's verification tokens with
    /// a new one (24 hours) and puts the mail carrying it in the outbox, in one unit of
    /// work; the mail goes out after the commit (retried while the mail server is away).
    ///
    /// # Errors
    /// See [`ResendVerificationError`].
    fn handle(&self, command: ResendVerificationCommand) -> Result<ResendOutcome, ResendVerificationError>;
}

impl ResendVerificationUseCase for ResendVerificationHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "resend_verification"))]
    fn handle(&self, command: ResendVerificationCommand) -> Result<ResendOutcome, ResendVerificationError> {
        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(command.user_id)?.ok_or(ResendVerificationError::NotFound)?;
        if user.email_verified {
            unit.commit()?;
            return Ok(ResendOutcome::AlreadyVerified);
        }
        replace_mailed_token(
            &mut *unit,
            &*self.tokens,
            &*self.account_mail,
            &user,
            AccountTokenPurpose::VerifyEmail,
            now,
        )?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, "verification mail requested again");
        Ok(ResendOutcome::Sent)
    }
}
