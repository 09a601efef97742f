//! A user's passkeys: registered through a WebAuthn ceremony (started, stored for five
//! minutes, finished once on any instance), listed, renamed, removed — never the last way in.

use std::sync::Arc;

use portcullis_domain::{
    CeremonyPurpose, OpaqueSecret, Passkey, PasskeyCeremony, PasskeyId, PasskeyName, PasskeyNameError, SignInMethod,
    SignInMethods, UserId,
};
use shaku::Component;

use crate::ports::{Clock, PasskeyHolder, PasskeyRelyingParty, PortError, TokenService, UnitOfWork, UnitOfWorkFactory};

/// A started ceremony as the browser gets it.
#[derive(Clone, Debug)]
pub struct StartedCeremony {
    /// Names the ceremony at its finish; stored only as a hash.
    pub challenge_id: OpaqueSecret,
    /// The `publicKey` options, in the WebAuthn JSON form.
    pub options: serde_json::Value,
}

/// The finish of a registration.
#[derive(Clone, Debug)]
pub struct RegisterPasskeyCommand {
    /// The registering (signed-in) user.
    pub user_id: UserId,
    /// From the start.
    pub challenge_id: OpaqueSecret,
    /// What to call it; [`portcullis_domain::DEFAULT_PASSKEY_NAME`] when absent.
    pub name: Option<String>,
    /// The browser's `PublicKeyCredential.toJSON()`.
    pub credential: serde_json::Value,
}

/// Why a passkey was not registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterPasskeyError {
    /// Passkeys are off (the public URL's host is not a name): `404 not_found`.
    #[error("passkeys are not available")]
    Disabled,
    /// The name breaks a rule (`400 validation_failed`).
    #[error("the name is not acceptable: {0}")]
    InvalidName(#[from] PasskeyNameError),
    /// Any failed check of the ceremony or the credential (`400 invalid_token`): a spent,
    /// unknown, expired or another user's `challenge_id`, attestation, origin, RP id hash,
    /// challenge, user verification, or a credential registered already.
    #[error("the passkey could not be registered")]
    Refused,
    /// The user no longer exists.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a registration could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartRegistrationError {
    /// Passkeys are off: `404 not_found`.
    #[error("passkeys are not available")]
    Disabled,
    /// The user no longer exists.
    #[error("the user no longer exists")]
    UserGone,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a passkey was not renamed or removed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasskeyError {
    /// Passkeys are off: `404 not_found`.
    #[error("passkeys are not available")]
    Disabled,
    /// The user has no passkey with that id (`404 not_found`).
    #[error("no such passkey")]
    NotFound,
    /// The new name breaks a rule (`400 validation_failed`).
    #[error("the name is not acceptable: {0}")]
    InvalidName(#[from] PasskeyNameError),
    /// It is the user's only way in (`409 last_sign_in_method`).
    #[error("the last way to sign in cannot be removed")]
    LastSignInMethod,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles a user's passkeys.
#[derive(Component)]
#[shaku(interface = PasskeysUseCase)]
pub struct PasskeysHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    relying_party: Arc<dyn PasskeyRelyingParty>,
}

/// A user's passkeys. Implemented by [`PasskeysHandler`].
pub trait PasskeysUseCase: shaku::Interface {
    /// Whether passkeys are on at all.
    fn enabled(&self) -> bool;

    /// Starts registering a passkey for `user_id`: discoverable, user verification required,
    /// their existing passkeys excluded.
    ///
    /// # Errors
    /// See [`StartRegistrationError`].
    fn start_registration(&self, user_id: UserId) -> Result<StartedCeremony, StartRegistrationError>;

    /// Finishes a registration: the ceremony is spent whatever the outcome.
    ///
    /// # Errors
    /// See [`RegisterPasskeyError`].
    fn finish_registration(&self, command: RegisterPasskeyCommand) -> Result<Passkey, RegisterPasskeyError>;

    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn list(&self, user_id: UserId) -> Result<Vec<Passkey>, PortError>;

    /// Renames one of the user's passkeys.
    ///
    /// # Errors
    /// See [`ChangePasskeyError`].
    fn rename(&self, user_id: UserId, id: PasskeyId, name: &str) -> Result<Passkey, ChangePasskeyError>;

    /// Removes one of the user's passkeys, unless it is their last way in. The user's row is
    /// written first, so two removals at once cannot together remove both of two ways in.
    ///
    /// # Errors
    /// See [`ChangePasskeyError`].
    fn delete(&self, user_id: UserId, id: PasskeyId) -> Result<(), ChangePasskeyError>;
}

/// The user's ways in, counted inside `unit`.
///
/// # Errors
/// [`PortError`] when storage fails.
pub(crate) fn sign_in_methods(
    unit: &mut dyn UnitOfWork,
    user: &portcullis_domain::User,
) -> Result<SignInMethods, PortError> {
    let identities = unit.identities().identities_of_user(user.id)?.len();
    let passkeys = unit.passkeys().of_user(user.id)?.len();
    Ok(SignInMethods { password: user.has_password(), identities, passkeys })
}

impl PasskeysUseCase for PasskeysHandler {
    fn enabled(&self) -> bool {
        self.relying_party.is_enabled()
    }

    fn start_registration(&self, user_id: UserId) -> Result<StartedCeremony, StartRegistrationError> {
        if !self.relying_party.is_enabled() {
            return Err(StartRegistrationError::Disabled);
        }
        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(StartRegistrationError::UserGone)?;
        let exclude: Vec<_> =
            unit.passkeys().of_user(user_id)?.into_iter().map(|passkey| passkey.credential_id).collect();
        let holder = PasskeyHolder { user_id, name: user.email.as_str(), display_name: user.name.as_str() };
        let start = self.relying_party.start_registration(&holder, &exclude)?;
        let challenge_id = self.tokens.generate_secret();
        let ceremony = PasskeyCeremony::start(&challenge_id, CeremonyPurpose::Registration(user_id), start.state, now);
        unit.passkeys().add_ceremony(&ceremony)?;
        unit.commit()?;
        Ok(StartedCeremony { challenge_id, options: start.options })
    }

    fn finish_registration(&self, command: RegisterPasskeyCommand) -> Result<Passkey, RegisterPasskeyError> {
        if !self.relying_party.is_enabled() {
            return Err(RegisterPasskeyError::Disabled);
        }
        let name = PasskeyName::or_default(command.name.as_deref())?;
        let now = self.clock.now();
        // Spent first, in its own unit: a failed finish burns the ceremony too.
        let ceremony = {
            let mut unit = self.units.begin()?;
            let ceremony = unit.passkeys().take_ceremony(&command.challenge_id.hash())?;
            unit.commit()?;
            ceremony
        };
        let Some(ceremony) = ceremony.filter(|ceremony| ceremony.registers_for(command.user_id, now)) else {
            tracing::info!(user_id = %command.user_id, "passkey registration refused: no such ceremony");
            return Err(RegisterPasskeyError::Refused);
        };
        let key = self.relying_party.finish_registration(&ceremony.state, &command.credential).map_err(|refusal| {
            tracing::info!(user_id = %command.user_id, reason = %refusal, "passkey registration refused");
            RegisterPasskeyError::Refused
        })?;
        let mut unit = self.units.begin()?;
        unit.users().find_by_id(command.user_id)?.ok_or(RegisterPasskeyError::UserGone)?;
        let passkey = Passkey::register(command.user_id, key.credential_id, name, key.record, now);
        if !unit.passkeys().add(&passkey)? {
            tracing::info!(user_id = %command.user_id, "passkey registration refused: credential already registered");
            return Err(RegisterPasskeyError::Refused);
        }
        unit.commit()?;
        tracing::info!(user_id = %command.user_id, passkey_id = %passkey.id, "passkey registered");
        Ok(passkey)
    }

    fn list(&self, user_id: UserId) -> Result<Vec<Passkey>, PortError> {
        let mut unit = self.units.begin_read()?;
        let passkeys = unit.passkeys().of_user(user_id)?;
        unit.commit()?;
        Ok(passkeys)
    }

    fn rename(&self, user_id: UserId, id: PasskeyId, name: &str) -> Result<Passkey, ChangePasskeyError> {
        if !self.relying_party.is_enabled() {
            return Err(ChangePasskeyError::Disabled);
        }
        let name = PasskeyName::parse(name)?;
        let mut unit = self.units.begin()?;
        if !unit.passkeys().rename(user_id, id, &name)? {
            return Err(ChangePasskeyError::NotFound);
        }
        let passkey = unit.passkeys().of_user(user_id)?.into_iter().find(|passkey| passkey.id == id);
        unit.commit()?;
        passkey.ok_or(ChangePasskeyError::NotFound)
    }

    fn delete(&self, user_id: UserId, id: PasskeyId) -> Result<(), ChangePasskeyError> {
        if !self.relying_party.is_enabled() {
            return Err(ChangePasskeyError::Disabled);
        }
        let mut unit = self.units.begin()?;
        let user = unit.users().find_by_id(user_id)?.ok_or(ChangePasskeyError::NotFound)?;
        // Locks the user's row (PostgreSQL) or the database (SQLite) until the commit.
        unit.users().update(&user)?;
        if !unit.passkeys().of_user(user_id)?.iter().any(|passkey| passkey.id == id) {
            return Err(ChangePasskeyError::NotFound);
        }
        if !sign_in_methods(unit.as_mut(), &user)?.may_remove(SignInMethod::Passkey) {
            return Err(ChangePasskeyError::LastSignInMethod);
        }
        unit.passkeys().delete(user_id, id)?;
        unit.commit()?;
        tracing::info!(%user_id, passkey_id = %id, "passkey removed");
        Ok(())
    }
}
