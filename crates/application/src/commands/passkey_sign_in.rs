//! Signing in with a passkey: a discoverable ceremony (no email asked), finished once on any
//! instance. A passkey that verified its user is two factors (`amr` `hwk`, `mfa`): no TOTP
//! step follows.

use std::sync::Arc;

use portcullis_domain::{AuthMethod, AuthMethods, CeremonyPurpose, OpaqueSecret, PasskeyCeremony, SessionMetadata};
use shaku::Component;

use super::passkeys::StartedCeremony;
use super::{IssuedTokens, SessionPolicy, start_session};
use crate::ports::{Clock, PasskeyRelyingParty, PasskeyUse, PortError, TokenService, UnitOfWorkFactory};

/// The finish of a passkey sign-in.
#[derive(Clone, Debug)]
pub struct PasskeySignInCommand {
    /// From the start.
    pub challenge_id: OpaqueSecret,
    /// The browser's `PublicKeyCredential.toJSON()`.
    pub credential: serde_json::Value,
    /// Where the request comes from, kept with the session.
    pub metadata: SessionMetadata,
}

/// Why a passkey sign-in did not start a session.
#[derive(Debug, thiserror::Error)]
pub enum PasskeySignInError {
    /// Passkeys are off: `404 not_found`.
    #[error("passkeys are not available")]
    Disabled,
    /// Any failed check (`401 invalid_credentials`): unknown credential, bad signature, wrong
    /// origin or RP id hash, user verification missing, a spent or unknown `challenge_id`, a
    /// signature counter that did not go up.
    #[error("the passkey was not accepted")]
    InvalidCredentials,
    /// The passkey is good but the account is disabled.
    #[error("the account is disabled")]
    AccountDisabled,
    /// Storage or signing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles passkey sign-in.
#[derive(Component)]
#[shaku(interface = PasskeySignInUseCase)]
pub struct PasskeySignInHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    relying_party: Arc<dyn PasskeyRelyingParty>,
    /// Refresh-token and session lifetimes.
    #[shaku(default)]
    policy: SessionPolicy,
}

/// Passkey sign-in. Implemented by [`PasskeySignInHandler`].
pub trait PasskeySignInUseCase: shaku::Interface {
    /// Starts a discoverable sign-in ceremony.
    ///
    /// # Errors
    /// [`PasskeySignInError::Disabled`]; `Port`.
    fn start(&self) -> Result<StartedCeremony, PasskeySignInError>;

    /// Checks the authenticator's answer and starts the session. The ceremony is spent
    /// whatever the outcome.
    ///
    /// # Errors
    /// See [`PasskeySignInError`].
    fn finish(&self, command: PasskeySignInCommand) -> Result<IssuedTokens, PasskeySignInError>;
}

impl PasskeySignInUseCase for PasskeySignInHandler {
    fn start(&self) -> Result<StartedCeremony, PasskeySignInError> {
        if !self.relying_party.is_enabled() {
            return Err(PasskeySignInError::Disabled);
        }
        let start = self.relying_party.start_sign_in()?;
        let challenge_id = self.tokens.generate_secret();
        let ceremony = PasskeyCeremony::start(&challenge_id, CeremonyPurpose::SignIn, start.state, self.clock.now());
        let mut unit = self.units.begin()?;
        unit.passkeys().add_ceremony(&ceremony)?;
        unit.commit()?;
        Ok(StartedCeremony { challenge_id, options: start.options })
    }

    fn finish(&self, command: PasskeySignInCommand) -> Result<IssuedTokens, PasskeySignInError> {
        if !self.relying_party.is_enabled() {
            return Err(PasskeySignInError::Disabled);
        }
        let now = self.clock.now();
        let refused = |reason: &dyn std::fmt::Display| {
            tracing::info!(%reason, "passkey sign-in refused");
            PasskeySignInError::InvalidCredentials
        };
        let ceremony = {
            let mut unit = self.units.begin()?;
            let ceremony = unit.passkeys().take_ceremony(&command.challenge_id.hash())?;
            unit.commit()?;
            ceremony
        };
        let Some(ceremony) = ceremony.filter(|ceremony| ceremony.signs_in(now)) else {
            return Err(refused(&"no such ceremony"));
        };
        let (user_id, credential_id) =
            self.relying_party.identify(&command.credential).map_err(|refusal| refused(&refusal))?;
        let (passkey, user) = {
            let mut unit = self.units.begin_read()?;
            let passkey = unit.passkeys().by_credential_id(&credential_id)?;
            let user = unit.users().find_by_id(user_id)?;
            unit.commit()?;
            match (passkey, user) {
                (Some(passkey), Some(user)) if passkey.user_id == user.id => (passkey, user),
                _ => return Err(refused(&"unknown credential")),
            }
        };
        let verified = self
            .relying_party
            .finish_sign_in(&ceremony.state, &command.credential, &passkey.record)
            .map_err(|refusal| refused(&refusal))?;
        let change = PasskeyUse {
            id: passkey.id,
            previous_count: passkey.sign_count,
            sign_count: verified.sign_count,
            record: verified.updated_record.as_ref(),
            at: now,
        };
        let mut unit = self.units.begin()?;
        if !unit.passkeys().record_use(&change)? {
            return Err(refused(&"another sign-in with the same passkey came first"));
        }
        unit.commit()?;
        if !user.can_authenticate() {
            return Err(PasskeySignInError::AccountDisabled);
        }
        let methods = AuthMethods::only(AuthMethod::HardwareKey);
        Ok(start_session(&*self.units, &*self.tokens, &self.policy, &user, methods, command.metadata, now)?)
    }
}
