//! The WebAuthn relying party: makes the options of a ceremony and checks what the
//! authenticator answered. The adapter is `portcullis-infrastructure`'s webauthn-rs one; the
//! handlers only store its opaque state and records.

use portcullis_domain::{CredentialId, PasskeyRecord, UserId};
use shaku::Interface;

use super::PortError;

/// The user a passkey is registered for, as the authenticator shows them.
#[derive(Clone, Debug)]
pub struct PasskeyHolder<'a> {
    /// The user handle (`user.id`) the authenticator keeps: the user's id.
    pub user_id: UserId,
    /// `user.name`: their email.
    pub name: &'a str,
    /// `user.displayName`: their name.
    pub display_name: &'a str,
}

/// A started ceremony: what the browser gets, and what the server keeps until the finish.
#[derive(Clone, Debug)]
pub struct CeremonyStart {
    /// The `publicKey` options, in the WebAuthn JSON form.
    pub options: serde_json::Value,
    /// The relying party's state, to store with the ceremony.
    pub state: String,
}

/// A key that passed every registration check.
#[derive(Clone, Debug)]
pub struct RegisteredKey {
    /// Its credential id.
    pub credential_id: CredentialId,
    /// What the relying party keeps of it.
    pub record: PasskeyRecord,
}

/// A sign-in that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedAssertion {
    /// The record with the new counter and flags, when it changed.
    pub updated_record: Option<PasskeyRecord>,
    /// The signature counter presented.
    pub sign_count: u32,
}

/// Why an authenticator's answer was refused. The reason is for logs; callers answer all of
/// them alike.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyRefusal {
    /// The answer could not be read (bad JSON, CBOR, base64, missing fields).
    #[error("the credential is malformed: {0}")]
    Malformed(String),
    /// A check failed: origin, RP id hash, challenge, user verification, signature, counter.
    #[error("the credential failed a check: {0}")]
    Failed(String),
}

/// A WebAuthn relying party for this service's origin.
pub trait PasskeyRelyingParty: Interface {
    /// Whether passkeys are on: the public URL's host is a name, which becomes the RP id.
    fn is_enabled(&self) -> bool;

    /// Options for registering a discoverable, user-verifying passkey for `holder`, excluding
    /// the credentials they already have.
    ///
    /// # Errors
    /// [`PortError`] when passkeys are off or the options cannot be made.
    fn start_registration(
        &self,
        holder: &PasskeyHolder<'_>,
        exclude: &[CredentialId],
    ) -> Result<CeremonyStart, PortError>;

    /// Checks a registration answer (`credential`, the browser's JSON) against the stored
    /// `state`: attestation, origin, RP id hash, challenge, user verification.
    ///
    /// # Errors
    /// [`CeremonyRefusal`] when any check fails.
    fn finish_registration(
        &self,
        state: &str,
        credential: &serde_json::Value,
    ) -> Result<RegisteredKey, CeremonyRefusal>;

    /// Options for signing in with a discoverable passkey (no `allowCredentials`).
    ///
    /// # Errors
    /// [`PortError`] when passkeys are off or the options cannot be made.
    fn start_sign_in(&self) -> Result<CeremonyStart, PortError>;

    /// The user handle and credential id a sign-in answer names (unverified: to find the key).
    ///
    /// # Errors
    /// [`CeremonyRefusal::Malformed`] when the answer names none.
    fn identify(&self, credential: &serde_json::Value) -> Result<(UserId, CredentialId), CeremonyRefusal>;

    /// Checks a sign-in answer against the stored `state` and the key's `record`: origin, RP
    /// id hash, challenge, user verification, signature, and a counter that went up.
    ///
    /// # Errors
    /// [`CeremonyRefusal`] when any check fails.
    fn finish_sign_in(
        &self,
        state: &str,
        credential: &serde_json::Value,
        record: &PasskeyRecord,
    ) -> Result<VerifiedAssertion, CeremonyRefusal>;
}
