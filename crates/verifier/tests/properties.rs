//! Property tests (proptest) of `portcullis-verifier` as another service runs it: a
//! `Verifier` whose JWKS comes from a tiny HTTP server on the loopback (one key, fetched
//! once), and its actix-web extractor `AuthenticatedUser` on `TestRequest`s.
//!
//! - Arbitrary text presented as a token, and three base64url parts of arbitrary bytes or
//!   arbitrary JSON headers, are refused (`Invalid` or `UnknownKey`), never a panic, never
//!   accepted, never a key fetch.
//! - A token signed with the served key verifies to exactly the claims signed (round trip);
//!   the same token with any single byte changed, cut or extended is refused.
//! - The header is checked: only `alg` `EdDSA` with the served `kid` is accepted even under a
//!   good signature; another `kid` is `UnknownKey`.
//! - The extractor takes the token from `Authorization: Bearer` (any case, any padding),
//!   else from the `access_token` cookie; a bad bearer token is `401` even beside a good
//!   cookie; no token is `401 unauthorized`.
//!
//! Every block runs at most 256 cases.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::test::TestRequest;
use actix_web::{FromRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer;
use portcullis_verifier::{AuthenticatedUser, Claims, Verifier, VerifierConfig, VerifierError};
use proptest::prelude::*;
use serde_json::{Value, json};

const ISSUER: &str = "http://auth.test";
const AUDIENCE: &str = "portcullis";
const KID: &str = "served-key";

/// `cases` cases; failures are printed, not written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn signing_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[11; 32])
}

/// Serves the JWKS of [`signing_key`] on the loopback to at most 16 connections, then stops.
fn serve_jwks() -> String {
    let x = URL_SAFE_NO_PAD.encode(signing_key().verifying_key().to_bytes());
    let body = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": KID, "alg": "EdDSA", "use": "sig"}]})
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds the loopback");
    let address = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{address}/.well-known/jwks.json")
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: Arc<Verifier>,
}

/// One runtime and one verifier for the whole file, its keys fetched once up front; an
/// unknown `kid` never makes it fetch again (the re-fetch interval is an hour).
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        let verifier = Verifier::new(VerifierConfig {
            min_refetch_interval: Duration::from_secs(3600),
            ..VerifierConfig::new(serve_jwks(), ISSUER, AUDIENCE)
        });
        runtime.block_on(verifier.refresh()).expect("fetches the JWKS");
        Fixture { runtime, verifier: Arc::new(verifier) }
    })
}

fn verify(token: &str) -> Result<Claims, VerifierError> {
    let fixture = fixture();
    fixture.runtime.block_on(fixture.verifier.verify(token))
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

/// Text of up to a few KB: short arbitrary text, or a piece of it repeated.
fn long_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![text(200), (text(40), 1..=max / 40).prop_map(|(piece, times)| piece.repeat(times))]
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

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(name: String, email: String, roles: Vec<String>, extra: serde_json::Map<String, Value>) -> Claims {
    Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: uuid::Uuid::new_v4().to_string(),
        sid: uuid::Uuid::new_v4().to_string(),
        exp: now() + 900,
        iat: now(),
        nbf: now(),
        jti: uuid::Uuid::new_v4().simple().to_string(),
        name,
        email,
        avatar_url: None,
        roles,
        email_verified: true,
        created_at: 1_700_000_000,
        extra,
    }
}

/// The claims of a plain user, made once for the file (valid 15 minutes).
fn plain_claims() -> Claims {
    static CLAIMS: OnceLock<Claims> = OnceLock::new();
    CLAIMS
        .get_or_init(|| claims("Ada".into(), "ada@example.com".into(), vec!["user".into()], serde_json::Map::new()))
        .clone()
}

/// A token as Portcullis signs it (`portcullis_jwt::sign`, the served key and `kid`).
fn token_for(claims: &Claims) -> String {
    portcullis_jwt::sign(claims, &portcullis_jwt::SigningKey::new(KID, signing_key())).expect("signs")
}

/// `header` and `claims` (JSON) signed with the served key in the compact form.
fn signed_raw(header: &[u8], claims: &[u8]) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = signing_key().sign(message.as_bytes());
    format!("{message}.{}", b64(&signature.to_bytes()))
}

/// A JSON object meant as a header: `alg`, `kid` and `typ` of any kind, maybe absent.
fn header_json() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        proptest::sample::select(vec!["EdDSA", "none", "HS256", "RS256", "ES256", "eddsa", "Ed25519", ""])
            .prop_map(|a| json!(a)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(Value::Null),
    ];
    let kid = prop_oneof![Just(json!(KID)), text(10).prop_map(|k| json!(k)), any::<bool>().prop_map(|b| json!(b))];
    (proptest::option::of(alg), proptest::option::of(kid), any::<bool>()).prop_map(|(alg, kid, typ)| {
        let mut header = serde_json::Map::new();
        if typ {
            header.insert("typ".into(), json!("JWT"));
        }
        for (name, value) in [("alg", alg), ("kid", kid)] {
            if let Some(value) = value {
                header.insert(name.to_owned(), value);
            }
        }
        Value::Object(header)
    })
}

fn is_refusal(result: &Result<Claims, VerifierError>) -> bool {
    matches!(result, Err(VerifierError::Invalid | VerifierError::UnknownKey))
}

proptest! {
    #![proptest_config(config(256))]
    #[test]
    fn arbitrary_text_is_refused_without_a_key_fetch(raw in prop_oneof![
        long_text(4000),
        (text(100), text(100), text(100)).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        "[A-Za-z0-9_.-]{0,400}",
    ]) {
        let result = verify(&raw);
        prop_assert!(is_refusal(&result), "{:?}", result);
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
        let result = verify(&format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature)));
        prop_assert!(is_refusal(&result), "{:?}", result);
    }

    #[test]
    fn a_signed_token_cut_or_extended_is_refused(
        cut in 1..200usize,
        extra in text(10).prop_filter("not empty", |s| !s.is_empty()),
    ) {
        let token = token_for(&plain_claims());
        let cut = cut.min(token.len() - 1);
        prop_assert!(is_refusal(&verify(&token[..token.len() - cut])));
        let appended = format!("{token}{extra}");
        prop_assert!(is_refusal(&verify(&appended)));
        let prepended = format!("{extra}{token}");
        prop_assert!(is_refusal(&verify(&prepended)));
    }

    #[test]
    fn a_signature_with_stray_trailing_bits_is_refused(bits in 1..16usize) {
        let token = token_for(&plain_claims());
        let changed = with_trailing_bits(&token, bits);
        prop_assert_ne!(&changed, &token);
        prop_assert_eq!(verify(&changed), Err(VerifierError::Invalid));
    }

    #[test]
    fn only_an_eddsa_header_naming_the_served_key_is_accepted(header in header_json()) {
        let claims = plain_claims();
        let token = signed_raw(header.to_string().as_bytes(), &serde_json::to_vec(&claims).expect("JSON"));
        let result = verify(&token);
        match (header.get("alg").and_then(Value::as_str), header.get("kid")) {
            (Some("EdDSA"), Some(Value::String(kid))) if kid == KID => prop_assert_eq!(result, Ok(claims)),
            (Some("EdDSA"), Some(Value::String(_))) => prop_assert_eq!(result, Err(VerifierError::UnknownKey)),
            _ => prop_assert_eq!(result, Err(VerifierError::Invalid), "{}", header),
        }
    }

}

proptest! {
    // Each case verifies a signature in full (milliseconds in a debug build): fewer cases.
    #![proptest_config(config(64))]
    #[test]
    fn signed_tokens_verify_to_the_claims_signed(
        name in text(60),
        email in text(60),
        roles in proptest::collection::vec(text(12), 0..4),
        extra in proptest::collection::btree_map("[a-z]{1,8}".prop_filter("not a standard claim", |k| {
            !["iss", "aud", "sub", "sid", "exp", "iat", "nbf", "jti", "name", "email", "avatar_url", "roles",
              "email_verified", "created_at"].contains(&k.as_str())
        }), text(20).prop_map(Value::String), 0..3),
    ) {
        let claims = claims(name, email, roles, extra.into_iter().collect());
        let token = token_for(&claims);
        prop_assert_eq!(verify(&token), Ok(claims.clone()));
        // Again, from the verified-token cache.
        prop_assert_eq!(verify(&token), Ok(claims));
    }

    #[test]
    fn a_signed_token_with_any_one_byte_changed_is_refused(at in any::<usize>(), byte in any::<u8>()) {
        let token = token_for(&plain_claims());
        prop_assert!(verify(&token).is_ok());
        let mut bytes = token.clone().into_bytes();
        let at = at % bytes.len();
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        let result = verify(&changed);
        prop_assert!(is_refusal(&result), "{:?} for byte {} of {:?}", result, at, token);
    }

}

// ----- The actix extractor ------------------------------------------------------------------------

/// What the extractor answers: the claims, or the status and `code` of its problem answer.
fn extract(req: TestRequest) -> Result<Claims, (StatusCode, String)> {
    let fixture = fixture();
    let req = req.app_data(web::Data::from(Arc::clone(&fixture.verifier))).to_http_request();
    let future = AuthenticatedUser::extract(&req);
    match fixture.runtime.block_on(future) {
        Ok(user) => Ok(user.into_claims()),
        Err(error) => {
            let response = error.error_response();
            let status = response.status();
            let body = fixture.runtime.block_on(actix_web::body::to_bytes(response.into_body())).unwrap_or_default();
            let code = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            Err((status, code))
        }
    }
}

/// `bearer` in any letter case.
fn bearer_scheme() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), 6).prop_map(|upper| {
        "bearer".chars().zip(upper).map(|(c, up)| if up { c.to_ascii_uppercase() } else { c }).collect()
    })
}

fn unauthorized() -> Result<Claims, (StatusCode, String)> {
    Err((StatusCode::UNAUTHORIZED, "unauthorized".to_owned()))
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn the_extractor_reads_bearer_then_the_cookie(
        scheme in bearer_scheme(),
        before in " {0,2}",
        between in " {1,3}",
        after in " {0,2}",
        garbage in "[!-~]{1,60}",
        other_scheme in "[A-Za-z]{1,8}".prop_filter("not bearer", |s| !s.eq_ignore_ascii_case("bearer")),
    ) {
        let claims = plain_claims();
        let token = token_for(&claims);
        let bearer = |value: &str| TestRequest::default().insert_header((header::AUTHORIZATION, value.to_owned()));

        prop_assert_eq!(extract(bearer(&format!("{before}{scheme}{between}{token}{after}"))), Ok(claims.clone()));
        let cookie = TestRequest::default().cookie(Cookie::new("access_token", token.clone()));
        prop_assert_eq!(extract(cookie), Ok(claims.clone()));
        // A bearer token comes first: a bad one is refused even beside a good cookie.
        let both = bearer(&format!("{scheme} {garbage}")).cookie(Cookie::new("access_token", token.clone()));
        prop_assert_eq!(extract(both), unauthorized());
        // Another scheme is not a bearer token: the cookie is read, or nothing is presented.
        let basic = bearer(&format!("{other_scheme} {token}"));
        prop_assert_eq!(extract(basic.cookie(Cookie::new("access_token", token.clone()))), Ok(claims));
        prop_assert_eq!(extract(bearer(&format!("{other_scheme} {token}"))), unauthorized());
        prop_assert_eq!(extract(TestRequest::default()), unauthorized());
        prop_assert_eq!(extract(TestRequest::default().cookie(Cookie::new("access_token", ""))), unauthorized());
    }

    #[test]
    fn any_authorization_or_cookie_header_gives_a_401_or_the_user(
        authorization in proptest::option::of(
            proptest::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff], 0..200),
        ),
        cookie in proptest::option::of("[ -~]{0,200}"),
    ) {
        let mut req = TestRequest::default();
        if let Some(bytes) = &authorization {
            let value = header::HeaderValue::from_bytes(bytes).expect("a header value");
            req = req.insert_header((header::AUTHORIZATION, value));
        }
        if let Some(cookie) = &cookie {
            req = req.insert_header((header::COOKIE, cookie.as_str()));
        }
        match extract(req) {
            Ok(claims) => prop_assert!(false, "accepted {:?}", claims),
            Err((status, code)) => {
                prop_assert_eq!(status, StatusCode::UNAUTHORIZED);
                prop_assert_eq!(code, "unauthorized");
            }
        }
    }
}
