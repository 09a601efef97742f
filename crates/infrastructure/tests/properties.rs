//! Property tests (proptest) of the server's access-token checks: `JwtTokenService` over a key
//! ring made in memory (no database), as every request's `Authorization: Bearer` and
//! `access_token` cookie reach it.
//!
//! - Arbitrary text or bytes presented as a token, and tokens of three base64url parts
//!   holding arbitrary bytes or arbitrary JSON headers, are refused with an error, never a
//!   panic and never accepted.
//! - A token it issued verifies, carrying the user, session and sign-in methods it was
//!   issued for, whatever their text (round trip).
//! - A valid token with any single byte changed is refused.
//! - The header is checked: only `alg` `EdDSA` with a `kid` of the ring is accepted, even
//!   when the signature over the header is good; an unknown `kid` is `UnknownKey`.
//! - Re-signed claims with the wrong `iss`/`aud` or not yet valid are `Invalid`, expired
//!   ones `Expired`.
//!
//! Every block runs at most 256 cases.

use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::Signer;
use portcullis_application::ports::{AccessClaims, TokenService, TokenVerifyError};
use portcullis_domain::{AuthMethod, AuthMethods, SessionAuth, SessionId, UserId, UserInfo};
use portcullis_infrastructure::tokens::{JwtTokenService, KeyRing, TokenSettings};
use portcullis_jwt::VerifyingKeys;
use proptest::prelude::*;
use serde_json::{Value, json};

const ISSUER: &str = "http://auth.test";
const AUDIENCE: &str = "portcullis";
const KID: &str = "key-1";

/// `cases` cases; failures are printed, not written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

/// One token service for the file (a verification costs milliseconds in a debug build, so
/// the tokens it verified once are answered from its cache, as in production).
fn service() -> &'static JwtTokenService {
    static SERVICE: OnceLock<JwtTokenService> = OnceLock::new();
    SERVICE.get_or_init(new_service)
}

/// A token service whose ring holds one key, `KID`.
fn new_service() -> JwtTokenService {
    let key = signing_key();
    let mut verifying = VerifyingKeys::new();
    verifying.insert(KID, &key.verifying_key().to_bytes()).expect("a public key");
    let ring = KeyRing { current: portcullis_jwt::SigningKey::new(KID, key), verifying, jwks: String::new() };
    JwtTokenService::new(
        Arc::new(RwLock::new(Arc::new(ring))),
        TokenSettings { issuer: ISSUER.into(), audience: AUDIENCE.into(), access_ttl: Duration::minutes(15) },
    )
}

fn user(name: String, email: String, avatar_url: Option<String>, roles: Vec<String>) -> UserInfo {
    UserInfo {
        user_id: UserId::generate(),
        name,
        email,
        avatar_url,
        roles,
        email_verified: true,
        created_at: DateTime::from_timestamp(1_700_000_000, 0).expect("a time"),
    }
}

fn session(methods: AuthMethods) -> SessionAuth {
    SessionAuth {
        session_id: SessionId::generate(),
        auth_time: DateTime::from_timestamp(Utc::now().timestamp() - 60, 0).expect("a time"),
        methods,
    }
}

/// A token the service issued for a plain user (once for the file; valid 15 minutes).
fn valid_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        let user = user("Ada".into(), "ada@example.com".into(), None, vec!["user".into()]);
        let issued = service()
            .issue_access_token(&user, &session(AuthMethods::only(AuthMethod::Password)), Utc::now())
            .expect("issues");
        issued.token.expose().to_owned()
    })
}

/// Text of up to a few KB: short arbitrary text, or a piece of it repeated.
fn long_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![text(200), (text(40), 1..=max / 40).prop_map(|(piece, times)| piece.repeat(times))]
}

/// `header` and `claims` (JSON) signed with `key` in the compact form.
fn signed(header: &[u8], claims: &[u8], key: &ed25519_dalek::SigningKey) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let signature = key.sign(message.as_bytes());
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// The claims of a token the service issued, as JSON.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a payload part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `token` with the low `bits` (1..16) of its signature's last character set: the four bits
/// past the 512 of an Ed25519 signature, which a lenient decoder would ignore.
fn with_trailing_bits(token: &str, bits: usize) -> String {
    let (message, signature) = token.rsplit_once('.').expect("three parts");
    assert_eq!(signature.len(), 86, "an Ed25519 signature in base64url");
    let last = signature.as_bytes()[85];
    let index = BASE64URL.iter().position(|&c| c == last).expect("base64url");
    let changed = char::from(BASE64URL[(index & 0b11_0000) | bits]);
    format!("{message}.{}{changed}", &signature[..85])
}

/// Arbitrary text, biased towards characters that break parsers.
fn text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => any::<char>(),
        4 => proptest::char::range(' ', '~'),
        2 => proptest::sample::select(vec!['.', '-', '_', '=', '+', '/', '{', '}', '"', '\u{0}', 'é']),
    ];
    proptest::collection::vec(c, 0..=max).prop_map(String::from_iter)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JSON object meant as a header: `alg`, `kid` and `typ` of any kind, maybe absent.
fn header_json() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        proptest::sample::select(vec![
            "EdDSA", "none", "None", "HS256", "RS256", "ES256", "eddsa", "EDDSA", "Ed25519", ""
        ])
        .prop_map(|a| json!(a)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(Value::Null),
    ];
    let kid = prop_oneof![Just(json!(KID)), text(10).prop_map(|k| json!(k)), any::<bool>().prop_map(|b| json!(b))];
    let typ = prop_oneof![Just(json!("JWT")), Just(json!("at+jwt")), text(5).prop_map(|t| json!(t))];
    (proptest::option::of(alg), proptest::option::of(kid), proptest::option::of(typ)).prop_map(|(alg, kid, typ)| {
        let mut header = serde_json::Map::new();
        for (name, value) in [("typ", typ), ("alg", alg), ("kid", kid)] {
            if let Some(value) = value {
                header.insert(name.to_owned(), value);
            }
        }
        Value::Object(header)
    })
}

proptest! {
    #![proptest_config(config(256))]
    #[test]
    fn arbitrary_text_is_never_a_token(raw in prop_oneof![
        long_text(4000),
        (text(100), text(100), text(100)).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        "[A-Za-z0-9_.-]{0,400}",
    ]) {
        prop_assert!(service().verify_access_token(&raw).is_err());
    }

    #[test]
    fn three_base64url_parts_of_arbitrary_bytes_are_refused(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        signature in proptest::collection::vec(any::<u8>(), 0..100),
        json_header in header_json(),
        use_json in any::<bool>(),
    ) {
        let header = if use_json { json_header.to_string().into_bytes() } else { header };
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        let result = service().verify_access_token(&token).map(|_| ());
        prop_assert!(matches!(result, Err(TokenVerifyError::Invalid | TokenVerifyError::UnknownKey)), "{:?}", result);
    }

    #[test]
    fn a_valid_token_cut_or_extended_is_refused(
        cut in 1..200usize,
        extra in text(10).prop_filter("not empty", |s| !s.is_empty()),
    ) {
        let service = service();
        let token = valid_token().to_owned();
        let cut = cut.min(token.len() - 1);
        prop_assert!(service.verify_access_token(&token[..token.len() - cut]).is_err());
        let appended = format!("{token}{extra}");
        prop_assert!(service.verify_access_token(&appended).is_err());
        let prepended = format!("{extra}{token}");
        prop_assert!(service.verify_access_token(&prepended).is_err());
    }

    #[test]
    fn a_signature_with_stray_trailing_bits_is_refused(bits in 1..16usize) {
        let token = valid_token();
        let changed = with_trailing_bits(token, bits);
        prop_assert_ne!(&changed, token);
        prop_assert_eq!(service().verify_access_token(&changed).map(|_| ()), Err(TokenVerifyError::Invalid));
    }

    #[test]
    fn only_an_eddsa_header_naming_a_known_key_is_accepted(header in header_json()) {
        let service = service();
        let claims = claims_of(valid_token());
        // Signed with the ring's own key: only the header can be wrong.
        let token = signed(header.to_string().as_bytes(), claims.to_string().as_bytes(), &signing_key());
        let result = service.verify_access_token(&token).map(|_| ());
        match (header.get("alg").and_then(Value::as_str), header.get("kid")) {
            (Some("EdDSA"), Some(Value::String(kid))) if kid == KID => {
                let typ_ok = header.get("typ").is_none_or(Value::is_string);
                prop_assert_eq!(result.is_ok(), typ_ok, "{}: {:?}", header, result);
            }
            (Some("EdDSA"), Some(Value::String(_))) => {
                let typ_ok = header.get("typ").is_none_or(Value::is_string);
                let expected = if typ_ok { TokenVerifyError::UnknownKey } else { TokenVerifyError::Invalid };
                prop_assert_eq!(result, Err(expected), "{}", header);
            }
            _ => prop_assert_eq!(result, Err(TokenVerifyError::Invalid), "{}", header),
        }
    }

}

proptest! {
    // Each case verifies a signature in full (milliseconds in a debug build): fewer cases.
    #![proptest_config(config(64))]
    #[test]
    fn issued_tokens_verify_and_carry_what_they_were_issued_for(
        name in text(60),
        email in text(60),
        avatar in proptest::option::of(text(80)),
        roles in proptest::collection::vec(text(12), 0..4),
        methods in proptest::sample::subsequence(AuthMethod::ALL.to_vec(), 0..=4),
    ) {
        let service = service();
        let methods = methods.into_iter().fold(AuthMethods::NONE, AuthMethods::with);
        let user = user(name, email, avatar, roles);
        let session = session(methods);
        let issued = service.issue_access_token(&user, &session, Utc::now()).expect("issues");
        let claims: AccessClaims = service.verify_access_token(issued.token.expose()).expect("its own token verifies");
        prop_assert_eq!(&claims.user, &user);
        prop_assert_eq!(claims.session_auth(), session);
        prop_assert_eq!(claims.expires_at, issued.expires_at);
        // A second time, from the verified-token cache: the same answer.
        let again = service.verify_access_token(issued.token.expose()).expect("still verifies");
        prop_assert_eq!(again.user, user);
        prop_assert_eq!(again.token_id, claims.token_id);
    }

    #[test]
    fn a_valid_token_with_any_one_byte_changed_is_refused(at in any::<usize>(), byte in any::<u8>()) {
        let service = service();
        let token = valid_token().to_owned();
        // Cached as good first, so the changed token must not ride on the cache.
        prop_assert!(service.verify_access_token(&token).is_ok());
        let mut bytes = token.clone().into_bytes();
        let at = at % bytes.len();
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert_ne!(&changed, &token);
        let result = service.verify_access_token(&changed).map(|_| ());
        prop_assert!(result.is_err(), "accepted {:?} (byte {} of {:?})", changed, at, token);
    }

    #[test]
    fn a_token_signed_by_another_key_is_refused(seed in any::<[u8; 32]>()) {
        prop_assume!(seed != [7; 32]);
        let service = service();
        let claims = claims_of(valid_token());
        let header = json!({"typ": "JWT", "alg": "EdDSA", "kid": KID});
        let other = ed25519_dalek::SigningKey::from_bytes(&seed);
        let forged = signed(header.to_string().as_bytes(), claims.to_string().as_bytes(), &other);
        prop_assert_eq!(service.verify_access_token(&forged).map(|_| ()), Err(TokenVerifyError::Invalid));
    }

    #[test]
    fn claims_are_checked_after_the_signature(
        issuer in text(20).prop_filter("another issuer", |s| s != ISSUER),
        audience in text(20).prop_filter("another audience", |s| s != AUDIENCE),
        past in 6..1_000_000i64,
        future in 6..1_000_000i64,
        which in 0..5u8,
    ) {
        let service = service();
        let mut claims = claims_of(valid_token());
        let now = Utc::now().timestamp();
        let expected = match which {
            0 => { claims["iss"] = json!(issuer); TokenVerifyError::Invalid }
            1 => { claims["aud"] = json!(audience); TokenVerifyError::Invalid }
            2 => { claims["aud"] = json!([AUDIENCE]); TokenVerifyError::Invalid }
            3 => { claims["exp"] = json!(now - past); TokenVerifyError::Expired }
            _ => { claims["nbf"] = json!(now + future); TokenVerifyError::Invalid }
        };
        let header = json!({"typ": "JWT", "alg": "EdDSA", "kid": KID});
        let token = signed(header.to_string().as_bytes(), claims.to_string().as_bytes(), &signing_key());
        prop_assert_eq!(service.verify_access_token(&token).map(|_| ()), Err(expected));
    }

}
