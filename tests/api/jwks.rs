//! `GET /.well-known/jwks.json` and the access token's form: EdDSA, `kid`, every claim.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use portcullis::config::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

backend_tests!(publishes_ed25519_public_keys_only, |app| async move {
    let response = app.get("/.well-known/jwks.json").await;
    response.assert_status(200);
    assert!(response.header("content-type").unwrap_or_default().contains("json"));
    let cache_control = response.header("cache-control").unwrap_or_default();
    assert!(!cache_control.contains("no-store"), "the JWKS is cacheable, got Cache-Control {cache_control:?}");
    let keys = jwt::jwks_keys(&app).await;
    assert!(!keys.is_empty(), "at least one key");
    for key in &keys {
        assert_eq!(
            (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
            (&json!("OKP"), &json!("Ed25519"), &json!("EdDSA"), &json!("sig")),
            "{key}"
        );
        assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()), "{key}");
        let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap_or_default()).expect("x is base64url");
        assert_eq!(x.len(), 32, "an Ed25519 public key is 32 bytes");
        assert!(key.get("d").is_none(), "the JWKS never holds the private key: {key}");
    }
});

backend_tests!(a_login_token_verifies_against_the_jwks_with_every_claim, |app| async move {
    let (user, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let (header, _) = jwt::parts(&token);
    assert_eq!(header["alg"], "EdDSA");
    let kid = header["kid"].as_str().expect("kid is set");
    assert!(jwt::jwks_keys(&app).await.iter().any(|key| key["kid"] == kid), "kid {kid} is in the JWKS");

    let claims = jwt::verify(&app, &token).await;
    assert_eq!(claims["iss"], "http://localhost:8080", "iss is the public URL without a trailing slash");
    assert_eq!(claims["aud"], "portcullis");
    assert_eq!(claims["sub"], user["user_id"]);
    let sid = claims["sid"].as_str().expect("sid is a string");
    uuid::Uuid::parse_str(sid).unwrap_or_else(|_| panic!("sid {sid} is a UUID"));
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    for claim in ["name", "email", "avatar_url", "roles", "email_verified"] {
        assert_eq!(claims[claim], user[claim], "claim {claim}");
    }
    let created_at = assert_rfc3339_utc_seconds(user["created_at"].as_str().unwrap_or_default());
    assert_eq!(claims["created_at"], json!(created_at.timestamp()), "created_at claim is the Unix time");
    let (iat, nbf, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["nbf"].as_i64().expect("nbf"),
        claims["exp"].as_i64().expect("exp"),
    );
    let now = chrono::Utc::now().timestamp();
    assert!((now - 60..=now + 5).contains(&iat), "iat {iat} is now ({now})");
    assert!(nbf <= iat + 5, "nbf {nbf} is not after iat {iat}");
    assert_eq!(exp - iat, 900, "15-minute lifetime");

    let second = app.login("ada@example.com", PASSWORD).await;
    let other = jwt::verify(&app, &second.access_token()).await;
    assert_ne!(other["jti"], claims["jti"], "jti is unique");
});

backend_tests!(
    iss_and_aud_follow_the_configuration,
    config = |config| Config {
        public_url: url::Url::parse("https://auth.example.com/").expect("a URL"),
        audience: "billing-api".into(),
        access_ttl_secs: 300,
        ..config
    },
    |app| async move {
        let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
        let claims = jwt::verify(&app, &browser.access_token()).await;
        assert_eq!(claims["iss"], "https://auth.example.com");
        assert_eq!(claims["aud"], "billing-api");
        assert_eq!(claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default(), 300);
    }
);

backend_tests!(forged_tokens_are_rejected, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let (header, claims) = jwt::parts(&token);
    app.get_bearer("/api/auth/current-user", &token).await.assert_status(200);

    let mut admin_claims = claims.clone();
    admin_claims["roles"] = json!(["user", "admin"]);
    let mut unknown_kid = header.clone();
    unknown_kid["kid"] = json!("not-a-known-kid");
    let none_header = json!({"alg": "none", "typ": "JWT", "kid": header["kid"]});
    let alg_none =
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(none_header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));

    let keys = jwt::jwks_keys(&app).await;
    let x = keys[0]["x"].as_str().expect("x").to_owned();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = header["kid"].as_str().map(str::to_owned);
    let hmac_with_public_key =
        |secret: &[u8]| jsonwebtoken::encode(&hs_header, &claims, &EncodingKey::from_secret(secret)).expect("encodes");
    let x_bytes = URL_SAFE_NO_PAD.decode(&x).expect("x decodes");

    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(chrono::Utc::now().timestamp() - 3600);

    for (what, forged) in [
        ("tampered payload", jwt::with_claims(&token, &admin_claims)),
        ("tampered exp", jwt::with_claims(&token, &expired_claims)),
        ("unknown kid", jwt::with_header(&token, &unknown_kid)),
        ("alg none", alg_none),
        ("HS256 keyed with the public key (text)", hmac_with_public_key(x.as_bytes())),
        ("HS256 keyed with the public key (bytes)", hmac_with_public_key(&x_bytes)),
        ("signature cut off", token.rsplit_once('.').map(|(head, _)| format!("{head}.")).unwrap_or_default()),
    ] {
        let response = app.get_bearer("/api/auth/current-user", &forged).await;
        assert_eq!(response.code(), 401, "{what} is rejected: {}", response.text());
        let body: Value = response.json();
        let code = body["code"].as_str().unwrap_or_default();
        assert!(["unauthorized", "token_expired"].contains(&code), "{what}: {body}");
        assert_problem(&response, 401, code);
        let request =
            app.request(Method::PATCH, "/api/auth/current-user").bearer_auth(&forged).json(&json!({"name": "Mallory"}));
        assert_eq!(app.send(request).await.code(), 401, "{what} cannot PATCH");
    }
    assert_eq!(app.get_bearer("/api/auth/current-user", &token).await.json()["name"], "Ada");
});

backend_tests!(openid_configuration_points_at_the_keys_and_endpoints, |app| async move {
    let response = app.get("/.well-known/openid-configuration").await;
    response.assert_status(200);
    let body = response.json();
    let issuer = crate::support::jwt::expected_issuer(&app);
    assert_eq!(body["issuer"], issuer.as_str());
    assert_eq!(body["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(body["token_endpoint"], format!("{issuer}/api/auth/token"));
    assert_eq!(body["revocation_endpoint"], format!("{issuer}/api/auth/revoke"));
    assert_eq!(body["id_token_signing_alg_values_supported"], serde_json::json!(["EdDSA"]));
    // The issuer it names is the one in the tokens.
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let (_, claims) = crate::support::jwt::parts(&browser.access_token());
    assert_eq!(claims["iss"], body["issuer"]);
});
