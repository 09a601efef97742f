//! Reading and verifying access tokens the way a resource server would: against the JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::TestApp;

/// `GET /.well-known/jwks.json`, asserted `200`; the `keys` array.
pub async fn jwks_keys(app: &TestApp) -> Vec<Value> {
    let response = app.get("/.well-known/jwks.json").await;
    response.assert_status(200);
    let body = response.json();
    body["keys"].as_array().unwrap_or_else(|| panic!("JWKS has a keys array: {body}")).clone()
}

/// The header and the claims of a JWT, decoded without checking anything.
pub fn parts(token: &str) -> (Value, Value) {
    let mut pieces = token.split('.');
    let mut decode = |what: &str| -> Value {
        let piece = pieces.next().unwrap_or_else(|| panic!("a JWT has a {what}: {token}"));
        let bytes = URL_SAFE_NO_PAD.decode(piece).unwrap_or_else(|_| panic!("JWT {what} is base64url"));
        serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JWT {what} is JSON"))
    };
    let header = decode("header");
    let claims = decode("payload");
    assert!(pieces.next().is_some() && pieces.next().is_none(), "a JWT has exactly three parts: {token}");
    (header, claims)
}

/// The issuer a server with this configuration puts in `iss`: the public URL without a trailing slash.
pub fn expected_issuer(app: &TestApp) -> String {
    app.config().public_url.as_str().trim_end_matches('/').to_owned()
}

/// Verifies `token` against the server's JWKS (EdDSA pinned, `iss`, `aud`, `exp`, `nbf`,
/// 5 s leeway) and returns its claims.
pub async fn verify(app: &TestApp, token: &str) -> Value {
    let (header, _) = parts(token);
    assert_eq!(header["alg"], "EdDSA", "access tokens are EdDSA: {header}");
    let kid = header["kid"].as_str().unwrap_or_else(|| panic!("the token header has a kid: {header}"));
    let keys = jwks_keys(app).await;
    let key = keys.iter().find(|key| key["kid"] == kid).unwrap_or_else(|| panic!("kid {kid} is in the JWKS: {keys:?}"));
    let x = key["x"].as_str().unwrap_or_else(|| panic!("an OKP key has x: {key}"));
    let decoding = DecodingKey::from_ed_components(x).expect("the JWKS x is an Ed25519 public key");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[expected_issuer(app)]);
    validation.set_audience(&[app.config().audience.clone()]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap_or_else(|error| panic!("the access token verifies against the JWKS: {error}"))
        .claims
}

/// `token` with its payload replaced by `claims` (the signature kept: a forgery).
pub fn with_claims(token: &str, claims: &Value) -> String {
    let pieces: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
    format!("{}.{payload}.{}", pieces[0], pieces[2])
}

/// `token` with its header replaced by `header` (the signature kept: a forgery).
pub fn with_header(token: &str, header: &Value) -> String {
    let pieces: Vec<&str> = token.split('.').collect();
    let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("header serialises"));
    format!("{encoded}.{}.{}", pieces[1], pieces[2])
}
