//! A user's TOTP and recovery codes: enrol (a pending secret), confirm with a first code (TOTP
//! on, recovery codes shown once, other sessions ended), turn off, new recovery codes.

use std::sync::Arc;

use portcullis_domain::{
    RECOVERY_CODE_COUNT, RecoveryCode, SecondFactorCode, SecretString, SessionId, TotpCredential, TotpSecret, UserId,
};
use shaku::Component;

use crate::ports::{Clock, PortError, TokenService, UnitOfWork, UnitOfWorkFactory};

/// What enrolment answers: the pending secret, for the app.
#[derive(Clone, Debug)]
pub struct TotpEnrollment {
    /// The secret in base32, for typing in.
    pub secret: SecretString,
    /// The `otpauth://` URL, for a QR code.
    pub otpauth_url: SecretString,
}

/// Why a second-factor change was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecondFactorError {
    /// Enrolment while TOTP is active, or confirming with nothing pending (`409 conflict`).
    #[error("TOTP is already on, or there is nothing to confirm")]
    Conflict,
    /// TOTP is not on (turning it off, new recovery codes): `404 not_found`.
    #[error("TOTP is not on")]
    NotEnabled,
    /// The code is wrong, spent, or not a code (`400 invalid_code`).
    #[error("the code is not valid")]
    InvalidCode,
    /// The user no longer exists.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles the TOTP commands.
#[derive(Component)]
#[shaku(interface = SecondFactorUseCase)]
pub struct SecondFactorHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    /// The issuer shown in authenticator apps (the public URL's host; default "Portcullis").
    #[shaku(default = "Portcullis".to_owned())]
    issuer: String,
}

/// A user's TOTP and recovery codes. Implemented by [`SecondFactorHandler`].
pub trait SecondFactorUseCase: shaku::Interface {
    /// A new pending secret (replacing a pending one), labelled with the user's email.
    ///
    /// # Errors
    /// [`SecondFactorError::Conflict`] when TOTP is active.
    fn begin_totp(&self, user_id: UserId) -> Result<TotpEnrollment, SecondFactorError>;

    /// Turns the pending secret on with a first `code`, ends every session but `keep`, and
    /// answers ten fresh recovery codes (stored only as hashes).
    ///
    /// # Errors
    /// [`SecondFactorError::Conflict`] with nothing pending; `InvalidCode`.
    fn confirm_totp(
        &self,
        user_id: UserId,
        keep: SessionId,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, SecondFactorError>;

    /// Turns TOTP off after a TOTP or recovery `code`; the recovery codes go too.
    ///
    /// # Errors
    /// [`SecondFactorError::NotEnabled`]; `InvalidCode`.
    fn disable_totp(&self, user_id: UserId, code: &str) -> Result<(), SecondFactorError>;

    /// Ten new recovery codes after a TOTP or recovery `code`; the old ones stop working.
    ///
    /// # Errors
    /// [`SecondFactorError::NotEnabled`]; `InvalidCode`.
    fn new_recovery_codes(&self, user_id: UserId, code: &str) -> Result<Vec<RecoveryCode>, SecondFactorError>;

    /// Whether TOTP is on, and how many recovery codes are left.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn status(&self, user_id: UserId) -> Result<(bool, u32), PortError>;
}

impl SecondFactorHandler {
    fn fresh_recovery_codes(&self) -> Vec<RecoveryCode> {
        (0..RECOVERY_CODE_COUNT).map(|_| RecoveryCode::from_seed(&self.tokens.generate_secret())).collect()
    }
}

/// Checks `code` (TOTP or recovery) against `user_id`'s active credential and spends it.
///
/// # Errors
/// `NotEnabled` without an active credential; `InvalidCode`.
pub(crate) fn spend_second_factor(
    unit: &mut dyn UnitOfWork,
    user_id: UserId,
    code: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), SecondFactorError> {
    let credential = unit.second_factors().totp(user_id)?.filter(TotpCredential::is_active);
    let Some(credential) = credential else { return Err(SecondFactorError::NotEnabled) };
    let spent = match SecondFactorCode::parse(code) {
        Some(SecondFactorCode::Totp(code)) => match credential.matching_step(code, now) {
            Some(step) => unit.second_factors().spend_totp_step(user_id, step)?,
            None => false,
        },
        Some(SecondFactorCode::Recovery(hash)) => unit.second_factors().spend_recovery_code(user_id, &hash)?,
        None => false,
    };
    if spent { Ok(()) } else { Err(SecondFactorError::InvalidCode) }
}

impl SecondFactorUseCase for SecondFactorHandler {
    fn begin_totp(&self, user_id: UserId) -> Result<TotpEnrollment, SecondFactorError> {
        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(SecondFactorError::UserGone)?;
        if unit.second_factors().totp(user_id)?.is_some_and(|totp| totp.is_active()) {
            return Err(SecondFactorError::Conflict);
        }
        let secret = TotpSecret::from_seed(&self.tokens.generate_secret());
        let enrollment = TotpEnrollment {
            secret: secret.to_base32(),
            otpauth_url: secret.otpauth_url(&self.issuer, user.email.as_str()),
        };
        unit.second_factors().save_totp(&TotpCredential::enroll(user_id, secret, self.clock.now()))?;
        unit.commit()?;
        Ok(enrollment)
    }

    fn confirm_totp(
        &self,
        user_id: UserId,
        keep: SessionId,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, SecondFactorError> {
        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let Some(mut credential) = unit.second_factors().totp(user_id)?.filter(|totp| !totp.is_active()) else {
            return Err(SecondFactorError::Conflict);
        };
        let step = credential.matching_step(code, now).ok_or(SecondFactorError::InvalidCode)?;
        credential.confirmed_at = Some(now);
        credential.last_used_step = Some(step);
        unit.second_factors().save_totp(&credential)?;
        let codes = self.fresh_recovery_codes();
        let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
        unit.second_factors().replace_recovery_codes(user_id, &hashes)?;
        let sessions = unit.sessions().sessions_of_user(user_id)?;
        for session in sessions {
            if session.id != keep {
                unit.sessions().delete_session(session.id)?;
            }
        }
        unit.commit()?;
        tracing::info!(%user_id, "TOTP turned on");
        Ok(codes)
    }

    fn disable_totp(&self, user_id: UserId, code: &str) -> Result<(), SecondFactorError> {
        let mut unit = self.units.begin()?;
        spend_second_factor(unit.as_mut(), user_id, code, self.clock.now())?;
        unit.second_factors().delete_totp(user_id)?;
        unit.commit()?;
        tracing::info!(%user_id, "TOTP turned off");
        Ok(())
    }

    fn new_recovery_codes(&self, user_id: UserId, code: &str) -> Result<Vec<RecoveryCode>, SecondFactorError> {
        let mut unit = self.units.begin()?;
        spend_second_factor(unit.as_mut(), user_id, code, self.clock.now())?;
        let codes = self.fresh_recovery_codes();
        let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
        unit.second_factors().replace_recovery_codes(user_id, &hashes)?;
        unit.commit()?;
        tracing::info!(%user_id, "new recovery codes");
        Ok(codes)
    }

    fn status(&self, user_id: UserId) -> Result<(bool, u32), PortError> {
        let mut unit = self.units.begin_read()?;
        let active = unit.second_factors().totp(user_id)?.is_some_and(|totp| totp.is_active());
        let left = if active { unit.second_factors().recovery_codes_left(user_id)? } else { 0 };
        unit.commit()?;
        Ok((active, left))
    }
}
