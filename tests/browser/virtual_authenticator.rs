//! Passkeys without a person: chromedriver's WebAuthn extension commands (W3C WebAuthn
//! §11, "WebDriver Extension") add a virtual authenticator to a browser session, so that
//! `navigator.credentials.create()` and `.get()` in the page complete on their own, and let a
//! test read, drop and re-verify what that authenticator holds.
//!
//! fantoccini has no methods for these endpoints; each goes through
//! [`fantoccini::Client::issue_cmd`] as a [`WebAuthnCommand`].

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
// fantoccini does not re-export `http`; reqwest 0.12 re-exports the same `http` 1.x `Method`.
use reqwest::Method;
use serde_json::{Value, json};
use url::Url;

/// One request to `/session/{session id}/webauthn/{path}`.
#[derive(Debug)]
struct WebAuthnCommand {
    method: Method,
    /// The part after `webauthn/`, e.g. `authenticator/{id}/credentials`.
    path: String,
    /// The JSON body, for POST.
    body: Option<Value>,
}

impl WebAuthnCommand {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Self { method, path: path.into(), body }
    }
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let session = session_id.expect("WebAuthn commands need a WebDriver session");
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (self.method.clone(), self.body.as_ref().map(Value::to_string))
    }
}

/// Sends `command`; panics with `what` and chromedriver's error when it fails.
async fn issue(client: &Client, command: WebAuthnCommand, what: &str) -> Value {
    client.issue_cmd(command).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Adds to the session a CTAP2 virtual authenticator on the `internal` transport (a platform
/// authenticator, as a phone's or a laptop's) that stores resident (discoverable) keys and
/// verifies the user: `isUserVerified`, `isUserConsenting` and `automaticPresenceSimulation`
/// are all true, so every ceremony the page starts completes without a prompt. Returns the
/// authenticator's id, for the other functions here.
pub async fn add_virtual_authenticator(client: &Client) -> String {
    let options = json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserConsenting": true,
        "isUserVerified": true,
        "automaticPresenceSimulation": true,
    });
    let id = issue(
        client,
        WebAuthnCommand::new(Method::POST, "authenticator", Some(options)),
        "add a virtual authenticator",
    )
    .await;
    id.as_str().expect("chromedriver answers with the authenticator's id as a string").to_owned()
}

/// The credentials the authenticator `authenticator_id` holds, as chromedriver returns them:
/// JSON objects with `credentialId` (base64url), `isResidentCredential`, `rpId`,
/// `userHandle` (base64url, for resident credentials), `privateKey` and `signCount`.
pub async fn credentials(client: &Client, authenticator_id: &str) -> Vec<Value> {
    let listed = issue(
        client,
        WebAuthnCommand::new(Method::GET, format!("authenticator/{authenticator_id}/credentials"), None),
        "list the virtual authenticator's credentials",
    )
    .await;
    match listed {
        Value::Array(credentials) => credentials,
        other => panic!("chromedriver lists the credentials as an array, not {other}"),
    }
}

/// Removes every credential from the authenticator `authenticator_id` (as when a person
/// deletes their passkeys from the device).
pub async fn remove_all_credentials(client: &Client, authenticator_id: &str) {
    issue(
        client,
        WebAuthnCommand::new(Method::DELETE, format!("authenticator/{authenticator_id}/credentials"), None),
        "remove the virtual authenticator's credentials",
    )
    .await;
}

/// Sets whether the authenticator `authenticator_id` reports the user as verified (the UV
/// flag): with `false`, ceremonies that require user verification fail.
pub async fn set_user_verified(client: &Client, authenticator_id: &str, verified: bool) {
    issue(
        client,
        WebAuthnCommand::new(
            Method::POST,
            format!("authenticator/{authenticator_id}/uv"),
            Some(json!({ "isUserVerified": verified })),
        ),
        "set the virtual authenticator's user verification",
    )
    .await;
}
