//! The WebAuthn relying party, by webauthn-rs: the RP id is the public URL's host (a name,
//! `localhost` included), the one expected origin is the public URL, user verification is
//! required everywhere, and every credential is a discoverable passkey.
//!
//! What it keeps between a ceremony's start and finish (webauthn-rs's registration and
//! authentication state) and of each key (its `Passkey`) is serialised as JSON, so that the
//! database holds it and any instance can finish what another began.

use std::sync::Arc;
use std::time::Duration;

use portcullis_application::ports::{
    CeremonyRefusal, CeremonyStart, PasskeyHolder, PasskeyRelyingParty, PortError, RegisteredKey, VerifiedAssertion,
};
use portcullis_domain::{CredentialId, PASSKEY_CEREMONY_SECONDS, PasskeyRecord, UserId};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shaku::Component;
use url::{Host, Url};
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Why passkeys are off for a public URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasskeysOff {
    /// The host is an IP address: a relying party id must be a domain name.
    #[error(
        "passkeys are off: the public URL's host {0} is an IP address, and a WebAuthn relying party id must be a name (use e.g. http://localhost:8080)"
    )]
    IpAddress(String),
    /// The URL has no host, or webauthn-rs refused it as an origin.
    #[error("passkeys are off: the public URL {0} cannot be a WebAuthn origin")]
    Unusable(String),
}

/// The relying party of one public URL, or none (passkeys off).
#[derive(Clone, Default)]
pub struct RelyingPartyConfig {
    webauthn: Option<Arc<Webauthn>>,
}

impl std::fmt::Debug for RelyingPartyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingPartyConfig").field("enabled", &self.webauthn.is_some()).finish()
    }
}

impl RelyingPartyConfig {
    /// The relying party for `public_url`: RP id its host, origin the URL itself.
    ///
    /// # Errors
    /// [`PasskeysOff`] when the host is an IP address or not usable as an origin.
    pub fn for_public_url(public_url: &Url) -> Result<Self, PasskeysOff> {
        let rp_id = match public_url.host() {
            Some(Host::Domain(name)) => name.to_owned(),
            Some(Host::Ipv4(address)) => return Err(PasskeysOff::IpAddress(address.to_string())),
            Some(Host::Ipv6(address)) => return Err(PasskeysOff::IpAddress(address.to_string())),
            None => return Err(PasskeysOff::Unusable(public_url.to_string())),
        };
        let unusable = |_| PasskeysOff::Unusable(public_url.to_string());
        let webauthn = WebauthnBuilder::new(&rp_id, public_url)
            .map_err(unusable)?
            .rp_name(&rp_id)
            .timeout(Duration::from_secs(PASSKEY_CEREMONY_SECONDS.unsigned_abs()))
            .build()
            .map_err(unusable)?;
        Ok(Self { webauthn: Some(Arc::new(webauthn)) })
    }

    /// No relying party: every passkey endpoint answers `404`.
    pub fn off() -> Self {
        Self::default()
    }

    /// Whether passkeys are on.
    pub fn is_enabled(&self) -> bool {
        self.webauthn.is_some()
    }
}

/// [`PasskeyRelyingParty`] by webauthn-rs.
#[derive(Component)]
#[shaku(interface = PasskeyRelyingParty)]
pub struct WebauthnRelyingParty {
    /// The relying party, or none when passkeys are off.
    #[shaku(default)]
    config: RelyingPartyConfig,
}

fn internal(error: impl std::fmt::Display) -> PortError {
    PortError::internal("passkeys", error.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(internal)
}

fn stored<T: DeserializeOwned>(json: &str, what: &str) -> Result<T, CeremonyRefusal> {
    // The database holds only what this adapter wrote: a failure is a corrupt row.
    serde_json::from_str(json).map_err(|error| CeremonyRefusal::Failed(format!("stored {what} unreadable: {error}")))
}

fn presented<T: DeserializeOwned>(credential: &serde_json::Value) -> Result<T, CeremonyRefusal> {
    T::deserialize(credential).map_err(|error| CeremonyRefusal::Malformed(error.to_string()))
}

impl WebauthnRelyingParty {
    fn webauthn(&self) -> Result<&Webauthn, PortError> {
        self.config.webauthn.as_deref().ok_or_else(|| internal("passkeys are off"))
    }

    fn webauthn_or_refuse(&self) -> Result<&Webauthn, CeremonyRefusal> {
        self.config.webauthn.as_deref().ok_or_else(|| CeremonyRefusal::Failed("passkeys are off".to_owned()))
    }
}

/// The options as the browser takes them, with `residentKey: "required"` (webauthn-rs's
/// passkey registration asks only for "discouraged"; passkeys are discoverable by definition).
fn require_resident_key(mut options: serde_json::Value) -> serde_json::Value {
    if let Some(selection) = options.get_mut("authenticatorSelection").and_then(serde_json::Value::as_object_mut) {
        selection.insert("residentKey".to_owned(), serde_json::Value::from("required"));
        selection.insert("requireResidentKey".to_owned(), serde_json::Value::from(true));
    }
    options
}

impl PasskeyRelyingParty for WebauthnRelyingParty {
    fn is_enabled(&self) -> bool {
        self.config.is_enabled()
    }

    fn start_registration(
        &self,
        holder: &PasskeyHolder<'_>,
        exclude: &[CredentialId],
    ) -> Result<CeremonyStart, PortError> {
        let exclude: Vec<CredentialID> =
            exclude.iter().filter_map(CredentialId::to_bytes).map(CredentialID::from).collect();
        let (challenge, state) = self
            .webauthn()?
            .start_passkey_registration(holder.user_id.as_uuid(), holder.name, holder.display_name, Some(exclude))
            .map_err(internal)?;
        let options = serde_json::to_value(&challenge.public_key).map_err(internal)?;
        Ok(CeremonyStart { options: require_resident_key(options), state: to_json(&state)? })
    }

    fn finish_registration(
        &self,
        state: &str,
        credential: &serde_json::Value,
    ) -> Result<RegisteredKey, CeremonyRefusal> {
        let state: PasskeyRegistration = stored(state, "registration")?;
        let answer: RegisterPublicKeyCredential = presented(credential)?;
        let passkey = self
            .webauthn_or_refuse()?
            .finish_passkey_registration(&answer, &state)
            .map_err(|error| CeremonyRefusal::Failed(error.to_string()))?;
        let record = serde_json::to_string(&passkey).map_err(|error| CeremonyRefusal::Failed(error.to_string()))?;
        Ok(RegisteredKey {
            credential_id: CredentialId::from_bytes(passkey.cred_id().as_ref()),
            record: PasskeyRecord::new(record),
        })
    }

    fn start_sign_in(&self) -> Result<CeremonyStart, PortError> {
        let (challenge, state) = self.webauthn()?.start_discoverable_authentication().map_err(internal)?;
        let options = serde_json::to_value(&challenge.public_key).map_err(internal)?;
        Ok(CeremonyStart { options, state: to_json(&state)? })
    }

    fn identify(&self, credential: &serde_json::Value) -> Result<(UserId, CredentialId), CeremonyRefusal> {
        let answer: PublicKeyCredential = presented(credential)?;
        let (user, credential_id) = self
            .webauthn_or_refuse()?
            .identify_discoverable_authentication(&answer)
            .map_err(|error| CeremonyRefusal::Malformed(error.to_string()))?;
        Ok((UserId::from_uuid(user), CredentialId::from_bytes(credential_id)))
    }

    fn finish_sign_in(
        &self,
        state: &str,
        credential: &serde_json::Value,
        record: &PasskeyRecord,
    ) -> Result<VerifiedAssertion, CeremonyRefusal> {
        let state: DiscoverableAuthentication = stored(state, "authentication")?;
        let mut passkey: Passkey = stored(record.as_str(), "passkey")?;
        let answer: PublicKeyCredential = presented(credential)?;
        let result = self
            .webauthn_or_refuse()?
            .finish_discoverable_authentication(&answer, state, &[DiscoverableKey::from(&passkey)])
            .map_err(|error| CeremonyRefusal::Failed(error.to_string()))?;
        if !result.user_verified() {
            return Err(CeremonyRefusal::Failed("the authenticator did not verify the user".to_owned()));
        }
        let updated_record = match passkey.update_credential(&result) {
            Some(true) => Some(PasskeyRecord::new(
                serde_json::to_string(&passkey).map_err(|error| CeremonyRefusal::Failed(error.to_string()))?,
            )),
            _ => None,
        };
        Ok(VerifiedAssertion { updated_record, sign_count: result.counter() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("a URL")
    }

    #[test]
    fn the_rp_id_is_the_public_urls_host_which_must_be_a_name() {
        assert!(RelyingPartyConfig::for_public_url(&url("http://localhost:8080")).expect("localhost").is_enabled());
        assert!(RelyingPartyConfig::for_public_url(&url("https://auth.example.com")).expect("a name").is_enabled());
        assert!(matches!(
            RelyingPartyConfig::for_public_url(&url("http://127.0.0.1:8080")),
            Err(PasskeysOff::IpAddress(address)) if address == "127.0.0.1"
        ));
        assert!(matches!(
            RelyingPartyConfig::for_public_url(&url("http://[::1]:8080")),
            Err(PasskeysOff::IpAddress(_))
        ));
        assert!(!RelyingPartyConfig::off().is_enabled());
    }

    #[test]
    fn registration_options_require_a_resident_key_and_user_verification() {
        let party = WebauthnRelyingParty {
            config: RelyingPartyConfig::for_public_url(&url("http://localhost:8080")).expect("localhost"),
        };
        let holder = PasskeyHolder { user_id: UserId::generate(), name: "ada@example.com", display_name: "Ada" };
        let excluded = CredentialId::from_bytes(&[1, 2, 3]);
        let start = party.start_registration(&holder, std::slice::from_ref(&excluded)).expect("options");
        let selection = &start.options["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(start.options["rp"]["id"], "localhost");
        assert_eq!(start.options["excludeCredentials"][0]["id"], excluded.as_str());
        let sign_in = party.start_sign_in().expect("options");
        assert_eq!(sign_in.options["userVerification"], "required");
        assert!(sign_in.options.get("allowCredentials").is_none_or(|list| list.as_array().is_some_and(Vec::is_empty)));
    }

    #[test]
    fn garbage_is_refused_as_malformed_not_a_panic() {
        let party = WebauthnRelyingParty {
            config: RelyingPartyConfig::for_public_url(&url("http://localhost:8080")).expect("localhost"),
        };
        assert!(matches!(party.identify(&serde_json::json!({"id": 1})), Err(CeremonyRefusal::Malformed(_))));
        let start = party.start_sign_in().expect("options");
        let refused = party.finish_sign_in(&start.state, &serde_json::json!([]), &PasskeyRecord::new("{}"));
        assert!(refused.is_err());
    }
}
