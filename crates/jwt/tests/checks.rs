//! Tokens signed here with `jsonwebtoken` (an implementation other than `portcullis_jwt::sign`)
//! are checked by `check` and by a `TokenChecker`; every refusal `check` makes, the cache
//! makes too, even after the same token's good twin was cached. And `sign` writes exactly the
//! token `jsonwebtoken` writes for the same key, header and claims.

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis_jwt::{CheckError, Expectations, TokenChecker, VerifyingKeys, check, sign};
use serde::{Deserialize, Serialize};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "http://auth.test";
const AUDIENCE: &str = "portcullis";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct TestClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    nbf: i64,
    name: String,
}

portcullis_jwt::registered_claims!(TestClaims);

fn claims() -> TestClaims {
    TestClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: "user-1".into(),
        exp: NOW + 900,
        nbf: NOW,
        name: "Ada".into(),
    }
}

fn expectations() -> Expectations {
    Expectations { issuer: ISSUER.into(), audience: AUDIENCE.into(), leeway_secs: 5 }
}

struct Key {
    kid: &'static str,
    signing: SigningKey,
}

impl Key {
    fn new(kid: &'static str, seed: u8) -> Self {
        Self { kid, signing: SigningKey::from_bytes(&[seed; 32]) }
    }

    fn sign(&self, claims: &TestClaims) -> String {
        let der = self.signing.to_pkcs8_der().unwrap();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap()
    }

    fn set(&self) -> VerifyingKeys {
        let mut keys = VerifyingKeys::new();
        keys.insert(self.kid, &self.signing.verifying_key().to_bytes()).unwrap();
        keys
    }
}

#[test]
fn sign_writes_what_jsonwebtoken_writes_and_check_accepts_it() {
    let key = Key::new("k1", 7);
    let ours = sign(&claims(), &portcullis_jwt::SigningKey::new("k1", key.signing.clone())).unwrap();
    // Ed25519 signatures are deterministic: the same header, claims and key give the same text.
    assert_eq!(ours, key.sign(&claims()));
    assert_eq!(check::<TestClaims>(&ours, &key.set(), &expectations(), NOW), Ok(claims()));
    let other = Key::new("k1", 8);
    let forged = sign(&claims(), &portcullis_jwt::SigningKey::new("k1", other.signing.clone())).unwrap();
    assert_eq!(check::<TestClaims>(&forged, &key.set(), &expectations(), NOW), Err(CheckError::Invalid));
}

#[test]
fn a_signing_key_never_shows_its_secret() {
    let key = portcullis_jwt::SigningKey::new("k1", SigningKey::from_bytes(&[9; 32]));
    let shown = format!("{key:?}");
    assert!(shown.contains("k1") && shown.contains("redacted"), "{shown}");
    assert!(!shown.contains("9, 9"), "{shown}");
}

/// Key "k1", its key set, a good token it signed, and a checker that has cached that token.
fn signed_and_cached() -> (Key, VerifyingKeys, String, TokenChecker<TestClaims>) {
    let key = Key::new("k1", 7);
    let keys = key.set();
    let token = key.sign(&claims());
    let checker = warmed(&token, &keys);
    (key, keys, token, checker)
}

/// A checker that has already accepted (and cached) `token`.
fn warmed(token: &str, keys: &VerifyingKeys) -> TokenChecker<TestClaims> {
    let checker = TokenChecker::new(expectations());
    assert_eq!(checker.check(token, keys, NOW).unwrap(), claims());
    assert_eq!(checker.cached_tokens(), 1);
    checker
}

#[test]
fn a_good_token_passes_and_is_cached_once() {
    let key = Key::new("k1", 7);
    let keys = key.set();
    let token = key.sign(&claims());
    assert_eq!(check::<TestClaims>(&token, &keys, &expectations(), NOW).unwrap(), claims());
    let checker = warmed(&token, &keys);
    assert_eq!(checker.check(&token, &keys, NOW + 10).unwrap(), claims());
    assert_eq!(checker.cached_tokens(), 1);
}

#[test]
fn a_tampered_twin_is_refused_after_the_good_token_was_cached() {
    let (key, keys, token, checker) = signed_and_cached();

    // The payload of another token (another name claimed) under the good signature.
    let forged_claims = TestClaims { name: "Mallory".into(), ..claims() };
    let forged = key.sign(&forged_claims);
    let (head, rest) = token.split_once('.').unwrap();
    let signature = rest.rsplit_once('.').unwrap().1;
    let forged_payload = forged.split('.').nth(1).unwrap();
    let spliced = format!("{head}.{forged_payload}.{signature}");
    assert_eq!(checker.check(&spliced, &keys, NOW), Err(CheckError::Invalid));

    // One character of the signature changed.
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(bytes).unwrap();
    assert_eq!(checker.check(&flipped, &keys, NOW), Err(CheckError::Invalid));

    // Trailing garbage, a fourth part, and the good one still passes.
    assert_eq!(checker.check(&format!("{token}x"), &keys, NOW), Err(CheckError::Invalid));
    assert_eq!(checker.check(&format!("{token}.x"), &keys, NOW), Err(CheckError::Invalid));
    assert!(checker.check(&token, &keys, NOW).is_ok());
    assert_eq!(checker.cached_tokens(), 1, "refused tokens are not cached");
}

#[test]
fn a_cached_token_expires_on_time() {
    let (_, keys, token, checker) = signed_and_cached();
    let exp = claims().exp;
    assert!(checker.check(&token, &keys, exp + 5).is_ok(), "within the leeway");
    assert_eq!(checker.check(&token, &keys, exp + 6), Err(CheckError::Expired));
    assert_eq!(
        check::<TestClaims>(&token, &keys, &expectations(), exp + 6),
        Err(CheckError::Expired),
        "the full check agrees"
    );
}

#[test]
fn a_cached_token_is_not_valid_before_its_nbf() {
    let (_, keys, token, checker) = signed_and_cached();
    assert_eq!(checker.check(&token, &keys, NOW - 6), Err(CheckError::Invalid));
    assert!(checker.check(&token, &keys, NOW - 5).is_ok());
}

#[test]
fn wrong_issuer_or_audience_is_refused_beside_a_cached_good_twin() {
    let key = Key::new("k1", 7);
    let keys = key.set();
    let checker = warmed(&key.sign(&claims()), &keys);
    let other_issuer = key.sign(&TestClaims { iss: "http://evil.test".into(), ..claims() });
    let other_audience = key.sign(&TestClaims { aud: "billing".into(), ..claims() });
    assert_eq!(checker.check(&other_issuer, &keys, NOW), Err(CheckError::Invalid));
    assert_eq!(checker.check(&other_audience, &keys, NOW), Err(CheckError::Invalid));
}

#[test]
fn a_cached_token_whose_key_left_the_set_is_refused() {
    let old = Key::new("old", 7);
    let new = Key::new("new", 8);
    let token = old.sign(&claims());
    let checker = warmed(&token, &old.set());
    assert_eq!(checker.check(&token, &new.set(), NOW), Err(CheckError::UnknownKey));
    // Both keys known (a rotation): the old key's tokens stay valid until they expire.
    let mut both = old.set();
    both.insert(new.kid, &new.signing.verifying_key().to_bytes()).unwrap();
    assert!(checker.check(&token, &both, NOW).is_ok());
    assert!(checker.check(&new.sign(&claims()), &both, NOW).is_ok());
}

#[test]
fn a_key_under_a_wrong_kid_does_not_verify() {
    let signer = Key::new("k1", 7);
    let impostor = Key::new("k1", 9);
    let token = signer.sign(&claims());
    let checker = TokenChecker::<TestClaims>::new(expectations());
    assert_eq!(checker.check(&token, &impostor.set(), NOW), Err(CheckError::Invalid));
    assert_eq!(checker.cached_tokens(), 0);
}

#[test]
fn other_algorithms_and_missing_kids_are_refused() {
    let key = Key::new("k1", 7);
    let keys = key.set();
    let hs = jsonwebtoken::encode(
        &Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) },
        &claims(),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    assert_eq!(check::<TestClaims>(&hs, &keys, &expectations(), NOW), Err(CheckError::Invalid));

    let der = key.signing.to_pkcs8_der().unwrap();
    let no_kid =
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims(), &EncodingKey::from_ed_der(der.as_bytes()))
            .unwrap();
    assert_eq!(check::<TestClaims>(&no_kid, &keys, &expectations(), NOW), Err(CheckError::Invalid));

    // `alg: none` with an empty signature.
    let payload = key.sign(&claims()).split('.').nth(1).unwrap().to_owned();
    let none_header = base64_url(br#"{"alg":"none","kid":"k1"}"#);
    let unsigned = format!("{none_header}.{payload}.");
    assert_eq!(check::<TestClaims>(&unsigned, &keys, &expectations(), NOW), Err(CheckError::Invalid));
}

#[test]
fn a_token_missing_a_registered_claim_is_refused() {
    #[derive(Serialize)]
    struct NoExp<'a> {
        iss: &'a str,
        aud: &'a str,
        sub: &'a str,
        nbf: i64,
        name: &'a str,
    }
    let key = Key::new("k1", 7);
    let der = key.signing.to_pkcs8_der().unwrap();
    let header = Header { kid: Some("k1".into()), ..Header::new(Algorithm::EdDSA) };
    let claims = NoExp { iss: ISSUER, aud: AUDIENCE, sub: "u", nbf: NOW, name: "n" };
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes())).unwrap();
    assert_eq!(check::<TestClaims>(&token, &key.set(), &expectations(), NOW), Err(CheckError::Invalid));
}

#[test]
fn a_checker_without_a_cache_checks_in_full_each_time() {
    let key = Key::new("k1", 7);
    let keys = key.set();
    let token = key.sign(&claims());
    let checker = TokenChecker::<TestClaims>::with_cache_bytes(expectations(), 0);
    assert!(checker.check(&token, &keys, NOW).is_ok());
    assert_eq!(checker.cached_tokens(), 0);
    assert_eq!(checker.check(&token, &keys, claims().exp + 6), Err(CheckError::Expired));
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
