//! A software passkey authenticator and the browser half of WebAuthn, for the HTTP-level tests
//! of the passkey endpoints: it answers the options the server sends (the `publicKey` member of
//! the creation / request options, as JSON with binary fields in base64url) with what the
//! browser's `PublicKeyCredential.toJSON()` gives, ready to post back.
//!
//! - Keys are ES256 (P-256, `p256`'s ECDSA with SHA-256); attestation is `"none"`.
//! - Every credential is discoverable: it keeps the options' `rp.id` and `user.id`, and each
//!   assertion carries that user handle.
//! - authenticatorData: SHA-256(rp id) | flags (UP 0x01, UV 0x04, AT 0x40 on registration; the
//!   backup bits BE/BS stay 0, as for a device-bound key) | signature counter (u32 BE) | on
//!   registration the attested credential data (zero AAGUID, id length, 32-byte random id,
//!   COSE_Key `{1: 2, 3: -7, -1: 1, -2: x, -3: y}`).
//! - The counter starts at 1 on registration and goes up by 1 with every assertion.
//! - [`Tweaks`] gets one thing wrong on purpose, for the refusal tests.
//!
//! It does not depend on webauthn-rs: it is an independent implementation of the client side.

// A test double offers more knobs than any one test turns.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::value::Value as Cbor;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// COSE algorithm identifier of ES256 (ECDSA P-256 with SHA-256).
const ES256: i64 = -7;
/// authenticatorData flag: user present.
const FLAG_UP: u8 = 0x01;
/// authenticatorData flag: user verified.
const FLAG_UV: u8 = 0x04;
/// authenticatorData flag: attested credential data included.
const FLAG_AT: u8 = 0x40;
/// Length of the credential ids it makes.
const CREDENTIAL_ID_LEN: usize = 32;

/// What to get wrong on purpose. `Tweaks::default()` is an honest, user-verifying authenticator
/// in a browser at the origin given.
#[derive(Clone, Debug, Default)]
pub struct Tweaks {
    /// This origin in clientDataJSON instead of the one given (must still be a URL, e.g.
    /// `"http://evil.example:8080"`).
    pub origin: Option<String>,
    /// The SHA-256 of this RP id in authenticatorData instead of the options' one.
    pub rp_id: Option<String>,
    /// The UV flag (bit 2) cleared; UP (bit 0) stays set.
    pub no_user_verification: bool,
    /// An assertion signature over other bytes (still a valid DER ECDSA signature by the
    /// right key). Registration has no signature ("none" attestation): `register` panics on it.
    pub bad_signature: bool,
    /// This signature counter instead of the next one. The counter the authenticator keeps
    /// becomes the larger of the two, so going backwards once does not spoil later assertions.
    pub counter: Option<u32>,
    /// This challenge in clientDataJSON instead of the options' one.
    pub challenge: Option<Vec<u8>>,
}

/// One credential the authenticator holds.
struct Credential {
    id: Vec<u8>,
    key: SigningKey,
    rp_id: String,
    user_handle: Vec<u8>,
    counter: u32,
}

/// A platform authenticator holding discoverable ES256 credentials (passkeys), in registration
/// order.
#[derive(Default)]
pub struct SoftAuthenticator {
    credentials: Vec<Credential>,
}

impl SoftAuthenticator {
    /// An authenticator with no credential yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers creation options (the `publicKey` JSON) as a browser at `origin` (e.g.
    /// `"http://localhost:8080"`) would: makes a new ES256 key pair and a random 32-byte
    /// credential id, keeps it as a discoverable credential for the options' `rp.id` (or the
    /// origin's host when absent) and `user.id`, and returns the registration response JSON
    /// (`id`, `rawId`, `type`, `response.{clientDataJSON, attestationObject, transports}`,
    /// `authenticatorAttachment`, `clientExtensionResults`), "none" attestation, counter 1.
    ///
    /// The credential is kept whatever the tweaks (an authenticator never learns whether the
    /// server accepted it), so after a refused registration `assert` picks the refused one:
    /// use [`assert_with`](Self::assert_with) for an earlier credential. `excludeCredentials`
    /// is not honoured (tests read it from the options themselves).
    ///
    /// Panics when the options do not offer ES256 or are malformed, or on `tweaks.bad_signature`.
    pub fn register(&mut self, public_key: &Value, origin: &str, tweaks: &Tweaks) -> Value {
        assert!(!tweaks.bad_signature, "a \"none\" attestation has no signature to spoil");
        let challenge = b64_field(public_key, "/challenge");
        let rp_id = match public_key.pointer("/rp/id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => origin_host(origin),
        };
        let user_handle = b64_field(public_key, "/user/id");
        let offers_es256 = public_key
            .get("pubKeyCredParams")
            .and_then(Value::as_array)
            .expect("creation options have pubKeyCredParams")
            .iter()
            .any(|param| param.get("alg").and_then(Value::as_i64) == Some(ES256));
        assert!(offers_es256, "the soft authenticator makes ES256 keys only, and the options do not offer ES256");

        let key = SigningKey::random(&mut OsRng);
        let mut id = vec![0u8; CREDENTIAL_ID_LEN];
        OsRng.fill_bytes(&mut id);
        let counter = tweaks.counter.unwrap_or(1);

        let mut auth_data =
            authenticator_data(tweaks.rp_id.as_deref().unwrap_or(&rp_id), FLAG_UP | FLAG_AT | uv_flag(tweaks), counter);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        let id_len = u16::try_from(id.len()).expect("a credential id fits a u16 length");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cbor_bytes(&cose_key(&key)));

        let attestation_object = cbor_bytes(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));
        let client_data = client_data_json("webauthn.create", &challenge, origin, tweaks);

        let mut extensions = json!({});
        if public_key.pointer("/extensions/credProps").and_then(Value::as_bool) == Some(true) {
            extensions["credProps"] = json!({ "rk": true });
        }
        let response = json!({
            "id": URL_SAFE_NO_PAD.encode(&id),
            "rawId": URL_SAFE_NO_PAD.encode(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
                "attestationObject": URL_SAFE_NO_PAD.encode(&attestation_object),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": extensions,
        });
        self.credentials.push(Credential { id, key, rp_id, user_handle, counter });
        response
    }

    /// Answers request options (the `publicKey` JSON) as a browser at `origin` would, with the
    /// newest credential held for the options' `rpId` (or the origin's host when absent) — among
    /// those in `allowCredentials` when that list is not empty — and returns the assertion JSON
    /// (`id`, `rawId`, `type`, `response.{clientDataJSON, authenticatorData, signature,
    /// userHandle}`, `authenticatorAttachment`, `clientExtensionResults`). Advances the
    /// credential's counter by 1 unless `tweaks.counter` says otherwise.
    ///
    /// Panics when it holds no fitting credential or the options are malformed.
    pub fn assert(&mut self, public_key: &Value, origin: &str, tweaks: &Tweaks) -> Value {
        let rp_id = request_rp_id(public_key, origin);
        let allowed: Vec<Vec<u8>> = public_key
            .get("allowCredentials")
            .and_then(Value::as_array)
            .map(|list| list.iter().map(|descriptor| b64_field(descriptor, "/id")).collect())
            .unwrap_or_default();
        let index = self
            .credentials
            .iter()
            .rposition(|cred| cred.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&cred.id)))
            .unwrap_or_else(|| {
                panic!("the soft authenticator holds no credential for rp id {rp_id:?} that the options allow")
            });
        self.assert_with(index, public_key, origin, tweaks)
    }

    /// Like [`assert`](Self::assert), with the credential at `index` (in registration order),
    /// whatever the options' `rpId` and `allowCredentials` say.
    ///
    /// Panics when there is no credential at `index` or the options are malformed.
    pub fn assert_with(&mut self, index: usize, public_key: &Value, origin: &str, tweaks: &Tweaks) -> Value {
        let count = self.credentials.len();
        let cred = self
            .credentials
            .get_mut(index)
            .unwrap_or_else(|| panic!("no credential {index}: the soft authenticator holds {count}"));
        let counter =
            tweaks.counter.unwrap_or_else(|| cred.counter.checked_add(1).expect("the counter stays below u32::MAX"));
        cred.counter = cred.counter.max(counter);
        assertion(&cred.id, &cred.key, &cred.user_handle, counter, public_key, origin, tweaks)
    }

    /// An honest assertion by a credential that was never registered (a fresh key and a random
    /// id, counter 1, not kept) claiming `user_handle`: for the "unknown credential" refusal.
    ///
    /// Panics when the options are malformed.
    pub fn assert_unknown(&self, public_key: &Value, origin: &str, user_handle: &[u8]) -> Value {
        let key = SigningKey::random(&mut OsRng);
        let mut id = vec![0u8; CREDENTIAL_ID_LEN];
        OsRng.fill_bytes(&mut id);
        assertion(&id, &key, user_handle, 1, public_key, origin, &Tweaks::default())
    }

    /// How many credentials it holds (every `register` call adds one).
    pub fn credential_count(&self) -> usize {
        self.credentials.len()
    }

    /// The raw id of the credential at `index` (in registration order); base64url-encode it
    /// to compare with the `id` of a response or a credential id the server lists.
    ///
    /// Panics when there is no credential at `index`.
    pub fn credential_id(&self, index: usize) -> &[u8] {
        &self.credentials.get(index).unwrap_or_else(|| panic!("no credential {index}")).id
    }

    /// The signature counter of the credential at `index`: the last one it used.
    ///
    /// Panics when there is no credential at `index`.
    pub fn counter(&self, index: usize) -> u32 {
        self.credentials.get(index).unwrap_or_else(|| panic!("no credential {index}")).counter
    }
}

/// The assertion JSON by `key` (credential `id`) for the request options `public_key`.
fn assertion(
    id: &[u8],
    key: &SigningKey,
    user_handle: &[u8],
    counter: u32,
    public_key: &Value,
    origin: &str,
    tweaks: &Tweaks,
) -> Value {
    let challenge = b64_field(public_key, "/challenge");
    let rp_id = request_rp_id(public_key, origin);
    let auth_data = authenticator_data(tweaks.rp_id.as_deref().unwrap_or(&rp_id), FLAG_UP | uv_flag(tweaks), counter);
    let client_data = client_data_json("webauthn.get", &challenge, origin, tweaks);

    // What is signed: authenticatorData || SHA-256(clientDataJSON); p256 hashes it with SHA-256.
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&Sha256::digest(&client_data));
    if tweaks.bad_signature {
        signed.push(0); // a good signature, but of other bytes
    }
    let signature: Signature = key.sign(&signed);

    json!({
        "id": URL_SAFE_NO_PAD.encode(id),
        "rawId": URL_SAFE_NO_PAD.encode(id),
        "type": "public-key",
        "response": {
            "clientDataJSON": URL_SAFE_NO_PAD.encode(&client_data),
            "authenticatorData": URL_SAFE_NO_PAD.encode(&auth_data),
            "signature": URL_SAFE_NO_PAD.encode(signature.to_der().as_bytes()),
            "userHandle": URL_SAFE_NO_PAD.encode(user_handle),
        },
        "authenticatorAttachment": "platform",
        "clientExtensionResults": {},
    })
}

/// SHA-256(rp id) | flags | counter (big-endian): the first 37 bytes of authenticatorData.
fn authenticator_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

/// The UV flag, unless the tweaks clear it.
fn uv_flag(tweaks: &Tweaks) -> u8 {
    if tweaks.no_user_verification { 0 } else { FLAG_UV }
}

/// clientDataJSON as a browser writes it (members in this order), with the tweaks' origin and
/// challenge if any.
fn client_data_json(type_: &str, challenge: &[u8], origin: &str, tweaks: &Tweaks) -> Vec<u8> {
    let challenge = URL_SAFE_NO_PAD.encode(tweaks.challenge.as_deref().unwrap_or(challenge));
    let origin = tweaks.origin.as_deref().unwrap_or(origin);
    let string = |s: &str| serde_json::to_string(s).expect("a string serialises");
    format!(
        r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
        string(type_),
        string(&challenge),
        string(origin)
    )
    .into_bytes()
}

/// The COSE_Key (RFC 9053) of the public half of `key`: EC2, ES256, P-256, x, y.
fn cose_key(key: &SigningKey) -> Cbor {
    let point = key.verifying_key().to_encoded_point(false);
    let coordinate = |c: Option<&p256::FieldBytes>| Cbor::Bytes(c.expect("an uncompressed point").to_vec());
    Cbor::Map(vec![
        (Cbor::Integer(1.into()), Cbor::Integer(2.into())),     // kty: EC2
        (Cbor::Integer(3.into()), Cbor::Integer(ES256.into())), // alg: ES256
        (Cbor::Integer((-1).into()), Cbor::Integer(1.into())),  // crv: P-256
        (Cbor::Integer((-2).into()), coordinate(point.x())),
        (Cbor::Integer((-3).into()), coordinate(point.y())),
    ])
}

/// `value` as CBOR bytes.
fn cbor_bytes(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("CBOR encodes into a Vec");
    bytes
}

/// The bytes of the base64url string at `pointer` in `json` (padding tolerated).
fn b64_field(json: &Value, pointer: &str) -> Vec<u8> {
    let text = json
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the options have a string at {pointer}: {json}"));
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap_or_else(|e| panic!("{pointer} is base64url ({e}): {text:?}"))
}

/// The request options' `rpId`, or the origin's host when absent (as a browser defaults it).
fn request_rp_id(public_key: &Value, origin: &str) -> String {
    match public_key.get("rpId").and_then(Value::as_str) {
        Some(id) => id.to_owned(),
        None => origin_host(origin),
    }
}

/// The host of an origin such as `http://localhost:8080`.
fn origin_host(origin: &str) -> String {
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let authority = authority.split('/').next().unwrap_or(authority);
    let host = match authority.strip_prefix('[') {
        Some(ipv6) => ipv6.split(']').next().unwrap_or(ipv6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    host.to_owned()
}
