//! Property tests (proptest) of what the HTTP API parses off the network, through its public
//! extractors and functions on `actix_web::test::TestRequest`s (no app state, no database):
//!
//! - `extractors::bearer_token`: the `Authorization` header (any bytes a header may carry);
//! - `extractors::check_csrf`: the `csrf_token` cookie against `X-CSRF-Token` (and any
//!   `Cookie` header);
//! - `body::JsonObject`: a JSON request body (content type, size limit, well-formedness, an
//!   object) and its typed field getters;
//! - `routes::oauth::OAuthParams`: the token and revoke endpoints' form or JSON parameters
//!   (absent, empty, repeated, not a string; content type; size limit);
//! - `client_ip`: `X-Forwarded-For` behind trusted proxies, the trusted-proxy list, and the
//!   per-client rate-limit key.
//!
//! Properties: nothing panics on arbitrary input; every refusal is the contract's error
//! (status and code, never a 500); what is accepted is what was sent. Every block runs at
//! most 256 cases.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use actix_web::web::Bytes;
use actix_web::{FromRequest, ResponseError};
use ipnet::IpNet;
use portcullis_api::body::{JsonObject, MAX_BODY_BYTES};
use portcullis_api::client_ip::{client_ip, parse_trusted_proxies, rate_limit_key};
use portcullis_api::extractors::{CSRF_HEADER, bearer_token, check_csrf};
use portcullis_api::problem::ApiError;
use portcullis_api::routes::oauth::{OAuthError, OAuthParams};
use portcullis_application::ValidationErrors;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// `cases` cases; failures are printed, not written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Runs a future of the actix extractors (they need actix's runtime for the body deadline).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}

/// The bytes a header value may hold: tab, visible ASCII and space, obs-text.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        1 => Just(b'\t'),
        8 => 0x20u8..=0x7e,
        1 => 0x80u8..=0xff,
    ];
    proptest::collection::vec(byte, 0..=max)
}

fn header_value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).expect("only bytes a header value may hold")
}

/// Arbitrary text, biased towards characters that break parsers.
fn text(max: usize) -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => any::<char>(),
        4 => proptest::char::range(' ', '~'),
        1 => proptest::sample::select(vec!['\u{0}', '\n', '&', '=', '+', '%', ';', '"', '\\', '\u{feff}', 'é']),
    ];
    proptest::collection::vec(c, 0..=max).prop_map(String::from_iter)
}

// ----- Authorization: Bearer -----------------------------------------------------------------

/// A token as clients send it: visible ASCII without spaces.
fn token() -> impl Strategy<Value = String> {
    "[!-~]{1,200}"
}

/// `bearer` in any letter case.
fn bearer_scheme() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), 6).prop_map(|upper| {
        "bearer".chars().zip(upper).map(|(c, up)| if up { c.to_ascii_uppercase() } else { c }).collect()
    })
}

fn spaces() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(vec![' ', '\t']), 0..3).prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn bearer_parsing_never_panics_and_accepts_only_bearer_tokens(bytes in header_bytes(300)) {
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, header_value(&bytes))).to_http_request();
        match bearer_token(&req) {
            None => prop_assert!(false, "a present header is never absent"),
            Some(Ok(token)) => {
                let text = std::str::from_utf8(&bytes).expect("an accepted header is text");
                let (scheme, rest) = text.trim().split_once(' ').expect("scheme and token");
                prop_assert!(scheme.eq_ignore_ascii_case("bearer"));
                prop_assert_eq!(token.as_str(), rest.trim());
                prop_assert!(!token.is_empty());
            }
            Some(Err(())) => {
                let shaped = std::str::from_utf8(&bytes).ok().and_then(|t| t.trim().split_once(' ')).is_some_and(
                    |(scheme, rest)| scheme.eq_ignore_ascii_case("bearer") && !rest.trim().is_empty(),
                );
                prop_assert!(!shaped, "{:?} refused", String::from_utf8_lossy(&bytes));
            }
        }
    }

    #[test]
    fn well_formed_bearer_headers_give_their_token(
        scheme in bearer_scheme(),
        token in token(),
        before in spaces(),
        between in " {1,3}",
        after in spaces(),
    ) {
        let value = format!("{before}{scheme}{between}{token}{after}");
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, value)).to_http_request();
        prop_assert_eq!(bearer_token(&req), Some(Ok(token)));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_refused_and_no_header_is_none(
        scheme in "[A-Za-z]{1,10}".prop_filter("not bearer", |s| !s.eq_ignore_ascii_case("bearer")),
        token in token(),
        bearer in bearer_scheme(),
        blank in spaces(),
    ) {
        let other = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("{scheme} {token}")))
            .to_http_request();
        prop_assert_eq!(bearer_token(&other), Some(Err(())));
        let empty = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("{bearer} {blank}")))
            .to_http_request();
        prop_assert_eq!(bearer_token(&empty), Some(Err(())));
        let glued = TestRequest::default()
            .insert_header((header::AUTHORIZATION, format!("{bearer}{token}")))
            .to_http_request();
        prop_assert_eq!(bearer_token(&glued), Some(Err(())));
        prop_assert_eq!(bearer_token(&TestRequest::default().to_http_request()), None);
    }

    #[test]
    fn non_utf8_authorization_headers_are_refused(
        scheme in bearer_scheme(),
        token in "[!-~]{0,20}",
        high in proptest::collection::vec(0x80u8..=0xff, 1..4),
    ) {
        let mut bytes = format!("{scheme} {token}").into_bytes();
        bytes.extend(high);
        let req = TestRequest::default().insert_header((header::AUTHORIZATION, header_value(&bytes))).to_http_request();
        prop_assert_eq!(bearer_token(&req), Some(Err(())));
    }
}

// ----- CSRF double submit ------------------------------------------------------------------------

/// A cookie value as browsers keep it (RFC 6265 cookie-octets) but `%`: actix reads cookie
/// values percent-decoded, so `%41` would be compared as `A` (the server's CSRF tokens are
/// base64url and never hold a `%`).
fn cookie_value() -> impl Strategy<Value = String> {
    "[!#$&-+\\--:<-\\[\\]-~]{1,64}"
}

fn csrf_request(cookie: Option<&str>, header: Option<&str>) -> actix_web::HttpRequest {
    let mut req = TestRequest::post();
    if let Some(cookie) = cookie {
        req = req.insert_header((header::COOKIE, format!("other=1; csrf_token={cookie}")));
    }
    if let Some(header) = header {
        req = req.insert_header((CSRF_HEADER, header));
    }
    req.to_http_request()
}

fn csrf_code(result: Result<(), ApiError>) -> Option<(StatusCode, &'static str)> {
    result.err().map(|e| (e.status_code(), e.code()))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn csrf_passes_exactly_when_the_header_equals_the_cookie(
        cookie in cookie_value(),
        header in prop_oneof![cookie_value(), "[!-~]{0,64}"],
        same in any::<bool>(),
    ) {
        let header = if same { cookie.clone() } else { header };
        let result = check_csrf(&csrf_request(Some(&cookie), Some(&header)));
        if header == cookie {
            prop_assert!(result.is_ok());
        } else {
            prop_assert_eq!(csrf_code(result), Some((StatusCode::FORBIDDEN, "csrf_failed")));
        }
        // No cookie, or no header: refused.
        prop_assert_eq!(
            csrf_code(check_csrf(&csrf_request(None, Some(&cookie)))),
            Some((StatusCode::FORBIDDEN, "csrf_failed"))
        );
        prop_assert_eq!(
            csrf_code(check_csrf(&csrf_request(Some(&cookie), None))),
            Some((StatusCode::FORBIDDEN, "csrf_failed"))
        );
    }

    #[test]
    fn any_cookie_header_gives_a_csrf_answer_never_a_panic(cookie in header_bytes(300), header in header_bytes(80)) {
        let req = TestRequest::post()
            .insert_header((header::COOKIE, header_value(&cookie)))
            .insert_header((CSRF_HEADER, header_value(&header)))
            .to_http_request();
        if let Err(error) = check_csrf(&req) {
            prop_assert_eq!((error.status_code(), error.code()), (StatusCode::FORBIDDEN, "csrf_failed"));
        }
    }

    #[test]
    fn an_empty_csrf_cookie_never_passes(header in "[!-~]{0,20}") {
        let result = check_csrf(&csrf_request(Some(""), Some(&header)));
        prop_assert_eq!(csrf_code(result), Some((StatusCode::FORBIDDEN, "csrf_failed")));
    }
}

// ----- JSON bodies ------------------------------------------------------------------------------

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        text(20).prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(text(8), inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    proptest::collection::btree_map(
        prop_oneof![
            proptest::sample::select(vec!["name".to_owned(), "email".to_owned(), "roles".to_owned()]),
            text(10)
        ],
        json_value(),
        0..6,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// What the extractor answers, as (status, code) on refusal.
fn extract_json(content_type: Option<&str>, body: Vec<u8>) -> Result<JsonObject, (StatusCode, &'static str)> {
    let mut req = TestRequest::post().set_payload(body);
    if let Some(content_type) = content_type {
        req = req.insert_header((header::CONTENT_TYPE, content_type));
    }
    let (req, mut payload) = req.to_http_parts();
    block_on(JsonObject::from_request(&req, &mut payload)).map_err(|e| (e.status_code(), e.code()))
}

/// `body` as a stream of `chunk`-byte pieces, with no declared length.
fn chunked(body: &[u8], chunk: usize) -> Payload {
    let pieces: Vec<Result<Bytes, PayloadError>> =
        body.chunks(chunk).map(|piece| Ok(Bytes::copy_from_slice(piece))).collect();
    let stream: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(futures_util::stream::iter(pieces));
    Payload::from(stream)
}

/// Whether a `Content-Type` names JSON: `application/json` or `application/*+json`.
fn names_json(content_type: &str) -> bool {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_json_body_is_an_object_or_the_contracts_error(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2000),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        json_object().prop_map(|m| Value::Object(m).to_string().into_bytes()),
    ]) {
        let expected = serde_json::from_slice::<Value>(&body);
        match extract_json(Some("application/json"), body) {
            Ok(_) => prop_assert!(matches!(expected, Ok(Value::Object(_)))),
            Err((StatusCode::BAD_REQUEST, "malformed_body")) => prop_assert!(expected.is_err()),
            Err((StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")) => {
                prop_assert!(matches!(expected, Ok(ref v) if !v.is_object()));
            }
            Err(other) => prop_assert!(false, "unexpected answer {:?}", other),
        }
    }

    #[test]
    fn the_content_type_decides_before_the_body_is_read(
        content_type in prop_oneof![
            "[ -~]{0,40}",
            proptest::sample::select(vec![
                "application/json".to_owned(), "Application/JSON; charset=utf-8".to_owned(),
                " application/merge-patch+json ".to_owned(), "application/problem+json;x=y".to_owned(),
                "text/json".to_owned(), "application/jsonx".to_owned(), "application/x-www-form-urlencoded".to_owned(),
                "json".to_owned(), "application/+json".to_owned(),
            ]),
        ],
        object in json_object(),
    ) {
        let body = Value::Object(object).to_string().into_bytes();
        let result = extract_json(Some(&content_type), body);
        if names_json(&content_type) {
            prop_assert!(result.is_ok(), "{:?}: {:?}", content_type, result.err());
        } else {
            prop_assert_eq!(result.err(), Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")));
        }
    }

    #[test]
    fn bodies_over_64_kib_are_refused_declared_or_not(
        extra in 1..2000usize,
        declared in any::<bool>(),
        chunk in 1000..30_000usize,
        json in any::<bool>(),
    ) {
        // A JSON string of the right size, so only its size is wrong.
        let body = format!("\"{}\"", "a".repeat(MAX_BODY_BYTES - 2 + extra)).into_bytes();
        let req = TestRequest::post().insert_header((header::CONTENT_TYPE, "application/json"));
        let (req, mut payload) = if declared {
            req.set_payload(body).to_http_parts()
        } else {
            // Chunked: no Content-Length, the size is found while reading.
            (req.to_http_request(), chunked(&body, chunk))
        };
        let result = block_on(JsonObject::from_request(&req, &mut payload)).map_err(|e| (e.status_code(), e.code()));
        prop_assert_eq!(result.err(), Some((StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")));
        // A body of exactly the limit is read.
        let at_limit = format!("{{\"a\":\"{}\"}}", "b".repeat(MAX_BODY_BYTES - 8)).into_bytes();
        prop_assert_eq!(at_limit.len(), MAX_BODY_BYTES);
        let content_type = if json { "application/json" } else { "application/vnd.api+json" };
        prop_assert!(extract_json(Some(content_type), at_limit).is_ok());
    }

    #[test]
    fn typed_getters_take_their_type_and_record_the_rest(object in json_object(), field in prop_oneof![
        proptest::sample::select(vec!["name".to_owned(), "email".to_owned(), "roles".to_owned()]),
        text(10),
    ]) {
        let body = Value::Object(object).to_string().into_bytes();
        // What was sent, as JSON reads it back (floats may move by one unit in the last place).
        let object: Map<String, Value> = serde_json::from_slice(&body).expect("JSON");
        let parsed = extract_json(Some("application/json"), body).expect("an object");
        let value = object.get(&field);
        let codes = |errors: &ValidationErrors| -> Vec<(String, String)> {
            errors.errors().iter().map(|e| (e.field.clone(), e.code.clone())).collect()
        };

        let mut errors = ValidationErrors::new();
        let got = parsed.required_string(&field, &mut errors);
        match value {
            Some(Value::String(s)) => prop_assert_eq!((got, codes(&errors)), (Some(s.clone()), vec![])),
            None | Some(Value::Null) => {
                prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "required".into())]));
            }
            Some(_) => prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "invalid_type".into())])),
        }

        let mut errors = ValidationErrors::new();
        let got = parsed.optional_string(&field, &mut errors);
        match value {
            None => prop_assert_eq!((got, codes(&errors)), (None, vec![])),
            Some(Value::Null) => prop_assert_eq!((got, codes(&errors)), (Some(None), vec![])),
            Some(Value::String(s)) => prop_assert_eq!((got, codes(&errors)), (Some(Some(s.clone())), vec![])),
            Some(_) => prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "invalid_type".into())])),
        }

        let mut errors = ValidationErrors::new();
        let got = parsed.optional_bool(&field, &mut errors);
        match value {
            None => prop_assert_eq!((got, codes(&errors)), (None, vec![])),
            Some(Value::Bool(b)) => prop_assert_eq!((got, codes(&errors)), (Some(*b), vec![])),
            Some(_) => prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "invalid_type".into())])),
        }

        let mut errors = ValidationErrors::new();
        let got = parsed.optional_string_list(&field, &mut errors);
        match value {
            None | Some(Value::Null) => prop_assert_eq!((got, codes(&errors)), (None, vec![])),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                let strings: Vec<String> = items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
                prop_assert_eq!((got, codes(&errors)), (Some(strings), vec![]));
            }
            Some(_) => prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "invalid_type".into())])),
        }

        let mut errors = ValidationErrors::new();
        let got = parsed.required_object(&field, &mut errors);
        match value {
            Some(v @ Value::Object(_)) => prop_assert_eq!((got, codes(&errors)), (Some(v.clone()), vec![])),
            None | Some(Value::Null) => {
                prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "required".into())]));
            }
            Some(_) => prop_assert_eq!((got, codes(&errors)), (None, vec![(field.clone(), "invalid_type".into())])),
        }
    }
}

// ----- OAuth parameters (/api/auth/token, /api/auth/revoke) -------------------------------------

const FORM: &str = "application/x-www-form-urlencoded";

fn extract_params(content_type: Option<&str>, body: Vec<u8>) -> Result<OAuthParams, OAuthError> {
    let mut req = TestRequest::post().set_payload(body);
    if let Some(content_type) = content_type {
        req = req.insert_header((header::CONTENT_TYPE, content_type));
    }
    let (req, mut payload) = req.to_http_parts();
    block_on(OAuthParams::from_request(&req, &mut payload))
}

fn is_invalid_request(error: &OAuthError) -> bool {
    error.status_code() == StatusCode::BAD_REQUEST && error.error() == "invalid_request"
}

/// Parameter names: the endpoints' own and arbitrary ones.
fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(
            ["grant_type", "username", "password", "refresh_token", "mfa_token", "otp", "token", "client_id"]
                .map(str::to_owned)
                .to_vec()
        ),
        1 => text(12),
    ]
}

/// Form pairs, some names repeated.
fn form_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((param_name(), prop_oneof![Just(String::new()), text(40)]), 0..10)
}

fn form_body(pairs: &[(String, String)]) -> Vec<u8> {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    form.finish().into_bytes()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn form_parameters_are_read_back_and_repeats_are_refused(pairs in form_pairs(), probe in param_name()) {
        let params = extract_params(Some(FORM), form_body(&pairs)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, value) in &pairs {
            by_name.entry(name.as_str()).or_default().push(value.as_str());
        }
        let names: Vec<&str> = by_name.keys().copied().chain([probe.as_str()]).collect();
        for name in names {
            let optional = params.optional(name);
            let required = params.required(name);
            match by_name.get(name).map(Vec::as_slice) {
                None | Some([""]) => {
                    prop_assert_eq!(optional.map_err(|e| e.to_string()), Ok(None));
                    let error = required.expect_err("absent or empty");
                    prop_assert!(is_invalid_request(&error) && error.description().contains("required"));
                }
                Some([value]) => {
                    prop_assert_eq!(optional.map_err(|e| e.to_string()), Ok(Some((*value).to_owned())));
                    prop_assert_eq!(required.map_err(|e| e.to_string()), Ok((*value).to_owned()));
                }
                Some(_) => {
                    for error in [optional.expect_err("repeated"), required.expect_err("repeated")] {
                        prop_assert!(is_invalid_request(&error) && error.description().contains("repeated"));
                    }
                }
            }
        }
    }

    #[test]
    fn any_form_body_parses_without_panicking(
        body in proptest::collection::vec(any::<u8>(), 0..2000),
        name in param_name(),
    ) {
        let params = extract_params(Some(FORM), body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(error) = params.optional(&name) {
            prop_assert!(is_invalid_request(&error));
        }
    }

    #[test]
    fn json_parameters_must_be_strings_and_null_is_absent(object in json_object(), probe in param_name()) {
        let body = Value::Object(object.clone()).to_string().into_bytes();
        let params = extract_params(Some("application/json"), body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for name in object.keys().map(String::as_str).chain([probe.as_str()]) {
            let optional = params.optional(name);
            match object.get(name) {
                None | Some(Value::Null) => prop_assert_eq!(optional.map_err(|e| e.to_string()), Ok(None)),
                Some(Value::String(s)) if s.is_empty() => {
                    prop_assert_eq!(optional.map_err(|e| e.to_string()), Ok(None));
                }
                Some(Value::String(s)) => prop_assert_eq!(optional.map_err(|e| e.to_string()), Ok(Some(s.clone()))),
                Some(_) => {
                    let error = optional.expect_err("not a string");
                    prop_assert!(is_invalid_request(&error) && error.description().contains("must be a string"));
                }
            }
        }
    }

    #[test]
    fn any_json_parameter_body_is_parsed_or_invalid_request(body in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2000),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]) {
        let expected = serde_json::from_slice::<Value>(&body);
        match extract_params(Some("application/json"), body) {
            Ok(_) => prop_assert!(matches!(expected, Ok(Value::Object(_)))),
            Err(error) => {
                prop_assert!(is_invalid_request(&error), "{}", error);
                prop_assert!(!matches!(expected, Ok(Value::Object(_))));
            }
        }
    }

    #[test]
    fn other_content_types_and_oversized_bodies_are_invalid_requests(
        content_type in prop_oneof![
            "[ -~]{0,40}".prop_filter("neither a form nor JSON", |ct| {
                let media = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
                media != FORM && !names_json(ct)
            }).prop_map(Some),
            Just(None),
        ],
        extra in 1..2000usize,
        form in any::<bool>(),
    ) {
        let error = extract_params(content_type.as_deref(), b"grant_type=password".to_vec()).expect_err("refused");
        prop_assert!(is_invalid_request(&error), "{}", error);
        let body = if form {
            format!("grant_type={}", "a".repeat(MAX_BODY_BYTES + extra)).into_bytes()
        } else {
            json!({ "grant_type": "a".repeat(MAX_BODY_BYTES + extra) }).to_string().into_bytes()
        };
        let error = extract_params(Some(if form { FORM } else { "application/json" }), body).expect_err("too large");
        prop_assert!(is_invalid_request(&error) && error.description().contains("64 KiB"), "{}", error);
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// RFC 6749 §3.2: parameters must not be included more than once. A form refuses a
    /// repeated parameter; a JSON body with a repeated member should too, instead of
    /// silently keeping the last value (a proxy or a log may read the first).
    #[test]
    fn json_parameters_repeated_are_refused_like_form_ones(
        name in param_name(),
        first in "[a-z]{1,10}",
        second in "[a-z]{1,10}",
    ) {
        let key = Value::String(name.clone()).to_string();
        let body = format!("{{{key}:\"{first}\",{key}:\"{second}\"}}").into_bytes();
        let params = extract_params(Some("application/json"), body).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let error = params.optional(&name).expect_err("repeated");
        prop_assert!(is_invalid_request(&error) && error.description().contains("repeated"));
    }
}

// ----- Client IP, X-Forwarded-For, trusted proxies ----------------------------------------------

fn ipv4() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b)))
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4(), any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n)))]
}

/// An address inside 10.0.0.0/8 (the trusted proxies of these tests).
fn proxy() -> impl Strategy<Value = IpAddr> {
    any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(10, a, b, c)))
}

/// An address outside 10.0.0.0/8.
fn outside() -> impl Strategy<Value = IpAddr> {
    ip().prop_filter("not a trusted proxy", |ip| !trusted()[0].contains(&ip.to_canonical()))
}

fn trusted() -> Vec<IpNet> {
    parse_trusted_proxies(&["10.0.0.0/8".to_owned()]).expect("a CIDR")
}

/// An `X-Forwarded-For` entry for `ip`, as proxies write it (bare, with a port, bracketed).
fn hop_text(ip: IpAddr, style: u8) -> String {
    match (ip, style % 3) {
        (_, 0) => ip.to_string(),
        (IpAddr::V4(v4), _) => format!("{v4}:{}", 1000 + u16::from(style)),
        (IpAddr::V6(v6), 1) => format!("[{v6}]"),
        (IpAddr::V6(v6), _) => format!("[{v6}]:443"),
    }
}

/// Every address an `X-Forwarded-For` value names, in any of the forms proxies write.
fn addresses_in(value: &str) -> Vec<IpAddr> {
    value
        .split(',')
        .filter_map(|hop| {
            let hop = hop.trim();
            hop.parse::<IpAddr>()
                .ok()
                .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
                .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
        })
        .map(|ip| ip.to_canonical())
        .collect()
}

fn request_from(peer: IpAddr, forwarded: &[String]) -> actix_web::HttpRequest {
    let mut req = TestRequest::default().peer_addr(SocketAddr::new(peer, 40_000));
    for value in forwarded {
        req = req.append_header(("X-Forwarded-For", value.as_str()));
    }
    req.to_http_request()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client(
        peer in ip(),
        forwarded in proptest::collection::vec("[ -~]{0,60}", 0..3),
    ) {
        prop_assert_eq!(client_ip(&request_from(peer, &forwarded), &[]), Some(peer.to_canonical()));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards(
        peer in outside(),
        hops in proptest::collection::vec(ip(), 0..4),
    ) {
        let forwarded = vec![hops.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")];
        prop_assert_eq!(client_ip(&request_from(peer, &forwarded), &trusted()), Some(peer.to_canonical()));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client(
        forged in proptest::collection::vec("[ -+\\--~]{0,20}", 0..3),
        client in outside(),
        proxies in proptest::collection::vec(proxy(), 0..4),
        peer in proxy(),
        styles in proptest::collection::vec(any::<u8>(), 5),
        split in any::<bool>(),
    ) {
        // Left of the client is whatever it sent (never looked at); then the proxies' hops.
        let mut hops: Vec<String> = forged.clone();
        hops.push(hop_text(client, styles[0]));
        hops.extend(proxies.iter().zip(styles.iter().skip(1).cycle()).map(|(ip, s)| hop_text(*ip, *s)));
        let forwarded = if split { hops } else { vec![hops.join(", ")] };
        prop_assert_eq!(client_ip(&request_from(peer, &forwarded), &trusted()), Some(client.to_canonical()));
    }

    #[test]
    fn any_forwarded_header_gives_the_peer_or_one_of_its_addresses(
        peer in prop_oneof![proxy(), outside()],
        forwarded in proptest::collection::vec(prop_oneof![
            header_bytes(120),
            proptest::collection::vec((prop_oneof![proxy(), ip()], any::<u8>()), 0..4).prop_map(|hops| {
                hops.into_iter().map(|(ip, style)| hop_text(ip, style)).collect::<Vec<_>>().join(",").into_bytes()
            }),
        ], 0..3),
    ) {
        let mut req = TestRequest::default().peer_addr(SocketAddr::new(peer, 40_000));
        for value in &forwarded {
            req = req.append_header(("X-Forwarded-For", header_value(value)));
        }
        let got = client_ip(&req.to_http_request(), &trusted()).expect("a peer");
        let named: Vec<IpAddr> = forwarded.iter().flat_map(|v| addresses_in(&String::from_utf8_lossy(v))).collect();
        prop_assert!(got == peer.to_canonical() || named.contains(&got), "{} from {:?}", got, named);
        // A forwarded address is believed only from a trusted peer.
        if !trusted()[0].contains(&peer.to_canonical()) {
            prop_assert_eq!(got, peer.to_canonical());
        }
    }

    #[test]
    fn the_trusted_list_takes_addresses_and_cidrs_and_refuses_the_rest(
        addr in ip(),
        prefix in 0..=128u8,
        garbage in text(30).prop_filter("not an address", |s| {
            s.trim().parse::<IpAddr>().is_err() && s.trim().parse::<IpNet>().is_err()
        }),
    ) {
        let single = parse_trusted_proxies(&[format!(" {addr} ")]).expect("an address");
        prop_assert_eq!(single.len(), 1);
        prop_assert!(single[0].contains(&addr));
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let cidr = format!("{addr}/{prefix}");
        match parse_trusted_proxies(std::slice::from_ref(&cidr)) {
            Ok(nets) => {
                prop_assert!(prefix <= max);
                prop_assert!(nets[0].contains(&addr), "{} in {}", addr, nets[0]);
                prop_assert_eq!(nets[0], nets[0].trunc());
            }
            Err(message) => {
                prop_assert!(prefix > max);
                prop_assert!(message.contains(&cidr));
            }
        }
        prop_assert!(parse_trusted_proxies(&[garbage]).is_err());
    }

    #[test]
    fn ipv6_clients_share_a_rate_limit_key_per_64(
        prefix in any::<u64>(),
        a in any::<u64>(),
        b in any::<u64>(),
        other in any::<u64>(),
        v4 in any::<[u8; 4]>(),
    ) {
        let at = |high: u64, low: u64| IpAddr::V6(Ipv6Addr::from((u128::from(high) << 64) | u128::from(low)));
        let mapped = Ipv4Addr::from(v4).to_ipv6_mapped();
        // A zero prefix would hold the IPv4-mapped addresses.
        let prefix = prefix.max(1);
        prop_assert_eq!(rate_limit_key(at(prefix, a)), rate_limit_key(at(prefix, b)));
        if other != prefix {
            prop_assert_ne!(rate_limit_key(at(prefix, a)), rate_limit_key(at(other, a)));
        }
        prop_assert_eq!(rate_limit_key(IpAddr::V4(Ipv4Addr::from(v4))), Ipv4Addr::from(v4).to_string());
        prop_assert_eq!(rate_limit_key(IpAddr::V6(mapped)), Ipv4Addr::from(v4).to_string());
    }
}
