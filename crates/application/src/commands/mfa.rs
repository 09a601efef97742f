//! The second step of a sign-in: an `mfa_token` (from a correct password or a provider
//! callback) and a TOTP or recovery code start the session.

use std::sync::Arc;

use portcullis_domain::{AuthMethod, LockoutPolicy, LoginAdmission, OpaqueSecret, SessionMetadata};
use shaku::Component;

use super::second_factor::{SecondFactorError, spend_second_factor};
use super::{IssuedTokens, SessionPolicy, start_session};
use crate::ports::{Clock, LockoutStore, PortError, TokenService, UnitOfWorkFactory};

/// Input of the second step.
#[derive(Clone, Debug)]
pub struct MfaVerifyCommand {
    /// The `mfa_token` the first factor handed out.
    pub mfa_token: OpaqueSecret,
    /// A TOTP code or a recovery code, as typed.
    pub code: String,
    /// Where the request comes from, kept with the session.
    pub metadata: SessionMetadata,
}

/// Why the second step did not sign in.
#[derive(Debug, thiserror::Error)]
pub enum MfaVerifyError {
    /// The code is wrong or spent (`401 invalid_code`); it counted toward the token's five.
    #[error("the code is not valid")]
    InvalidCode,
    /// The `mfa_token` is unknown, spent, expired or past five wrong codes (`401 unauthorized`).
    #[error("the second step has expired; sign in again")]
    Expired,
    /// The account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Too many failed attempts on the account (`429`).
    #[error("the account is locked after too many failed attempts")]
    Locked {
        /// Whole seconds until the lock ends.
        retry_after_secs: u64,
    },
    /// Storage or signing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`MfaVerifyCommand`].
#[derive(Component)]
#[shaku(interface = MfaVerifyUseCase)]
pub struct MfaVerifyHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    lockouts: Arc<dyn LockoutStore>,
    /// Refresh-token and session lifetimes.
    #[shaku(default)]
    policy: SessionPolicy,
    /// The account lockout that wrong codes count toward (as failed logins).
    #[shaku(default)]
    lockout: LockoutPolicy,
}

/// The second step. Implemented by [`MfaVerifyHandler`].
pub trait MfaVerifyUseCase: shaku::Interface {
    /// Checks the code for the challenge's user. A right one spends the challenge and starts
    /// the session (`amr`: the first factor, `otp`, `mfa`) and clears the account's failed
    /// attempts; a wrong one counts on the challenge (five kill it) and on the account lockout.
    ///
    /// # Errors
    /// See [`MfaVerifyError`].
    fn verify(&self, command: MfaVerifyCommand) -> Result<IssuedTokens, MfaVerifyError>;
}

impl MfaVerifyUseCase for MfaVerifyHandler {
    fn verify(&self, command: MfaVerifyCommand) -> Result<IssuedTokens, MfaVerifyError> {
        let now = self.clock.now();
        let token_hash = command.mfa_token.hash();
        let (challenge, user) = {
            let mut unit = self.units.begin_read()?;
            let challenge =
                unit.second_factors().find_challenge(&token_hash)?.filter(|challenge| challenge.is_alive(now));
            let Some(challenge) = challenge else { return Err(MfaVerifyError::Expired) };
            let user = unit.users().find_by_id(challenge.user_id)?.ok_or(MfaVerifyError::Expired)?;
            unit.commit()?;
            (challenge, user)
        };
        if !user.can_authenticate() {
            return Err(MfaVerifyError::AccountDisabled);
        }
        // Outside any unit of work: the lockout store writes on its own (on SQLite a second
        // writer would wait for an open unit).
        if self.lockout.is_enabled()
            && let LoginAdmission::Locked { retry_after_secs } = self.lockouts.admit(user.id, &self.lockout, now)?
        {
            return Err(MfaVerifyError::Locked { retry_after_secs });
        }
        let mut unit = self.units.begin()?;
        match spend_second_factor(unit.as_mut(), user.id, &command.code, now) {
            Ok(()) => {}
            Err(SecondFactorError::Port(error)) => return Err(error.into()),
            Err(_) => {
                // The unit may have written nothing useful; count the failure on its own.
                drop(unit);
                let mut unit = self.units.begin()?;
                let failures = unit.second_factors().count_challenge_failure(&token_hash)?;
                unit.commit()?;
                tracing::info!(user_id = %user.id, failures = ?failures, "second step: wrong code");
                return Err(MfaVerifyError::InvalidCode);
            }
        }
        if !unit.second_factors().take_challenge(&token_hash)? {
            return Err(MfaVerifyError::Expired);
        }
        unit.commit()?;
        if self.lockout.is_enabled() {
            self.lockouts.clear(user.id)?;
        }
        let methods = challenge.first_factor.with(AuthMethod::OneTimeCode);
        Ok(start_session(&*self.units, &*self.tokens, &self.policy, &user, methods, command.metadata, now)?)
    }
}
