//! `portcullis-verifier` against a running Portcullis (SQLite in a temp file).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use portcullis::config::Config;
use portcullis::server::{RunningServer, spawn};
use portcullis_verifier::{AuthenticatedUser, Verifier, VerifierConfig, VerifierError};
use serde_json::{Value, json};

const PASSWORD: &str = "Trellis-Quartz-Harbor-48";
const ISSUER: &str = "http://localhost:8080";

struct TempDb(std::path::PathBuf);

impl TempDb {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("portcullis-verifier-{}.db", uuid::Uuid::new_v4().simple())))
    }

    fn config(&self) -> Config {
        Config {
            database_url: format!("sqlite://{}", self.0.display()),
            bind: "127.0.0.1:0".into(),
            bcrypt_cost: portcullis::config::BcryptCost::MIN,
            rate_limit_per_minute: 0,
            // Signup mails go next to the throw-away database, never into the source tree.
            mail_dir: self.0.with_extension("mail").display().to_string(),
            ..Config::default()
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
        let _ = std::fs::remove_dir_all(self.0.with_extension("mail"));
    }
}

fn verifier_for(server: &RunningServer, audience: &str, min_refetch: Duration) -> Verifier {
    Verifier::new(VerifierConfig {
        min_refetch_interval: min_refetch,
        ..VerifierConfig::new(format!("{}/.well-known/jwks.json", server.url()), ISSUER, audience)
    })
}

async fn signup(server: &RunningServer, email: &str) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth/signup", server.url()))
        .json(&json!({"name": "Ada", "email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("signup request");
    assert!(response.status().is_success(), "signup: {}", response.status());
}

async fn token(server: &RunningServer, email: &str) -> String {
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth/token", server.url()))
        .json(&json!({"grant_type": "password", "username": email, "password": PASSWORD}))
        .send()
        .await
        .expect("token request");
    assert!(response.status().is_success(), "token: {}", response.status());
    let body: Value = response.json().await.expect("token body");
    body["access_token"].as_str().expect("access_token").to_owned()
}

/// The `kid` of a token's header, read without the verifier.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().expect("header part");
    let header: Value = serde_json::from_slice(&base64_decode(header)).expect("header JSON");
    header["kid"].as_str().expect("kid").to_owned()
}

/// Minimal base64url (no padding) decoder, so the test needs no base64 crate.
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in text.bytes() {
        let value = ALPHABET.iter().position(|&c| c == byte).expect("base64url character");
        bits = (bits << 6) | u32::try_from(value).expect("small");
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(u8::try_from((bits >> count) & 0xff).expect("byte"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifies_real_tokens_and_refuses_bad_ones() {
    let db = TempDb::new();
    let server = spawn(db.config()).await.expect("server starts");
    signup(&server, "ada@example.com").await;
    let token = token(&server, "ada@example.com").await;

    let verifier = verifier_for(&server, "portcullis", Duration::from_secs(5));
    let claims = verifier.verify(&token).await.expect("a fresh token verifies");
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(claims.name, "Ada");
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, "portcullis");
    assert!(!claims.sub.is_empty() && !claims.sid.is_empty());
    assert!(claims.exp > claims.iat);
    assert_eq!(verifier.cached_kids(), vec![kid_of(&token)]);

    // Tampered payload: flip one character of the claims.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let payload = &mut parts[1];
    let last = payload.pop().expect("payload");
    payload.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(verifier.verify(&parts.join(".")).await, Err(VerifierError::Invalid));
    // Tampered signature.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    assert_eq!(verifier.verify(&parts.join(".")).await, Err(VerifierError::Invalid));
    // Garbage and alg none.
    assert_eq!(verifier.verify("not a token").await, Err(VerifierError::Invalid));
    let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", token.split('.').nth(1).expect("payload"));
    assert_eq!(verifier.verify(&none).await, Err(VerifierError::Invalid));

    // Wrong audience, wrong issuer.
    let other = verifier_for(&server, "another-service", Duration::from_secs(5));
    assert_eq!(other.verify(&token).await, Err(VerifierError::Invalid));
    let wrong_issuer = Verifier::new(VerifierConfig::new(
        format!("{}/.well-known/jwks.json", server.url()),
        "https://evil.example",
        "portcullis",
    ));
    assert_eq!(wrong_issuer.verify(&token).await, Err(VerifierError::Invalid));

    server.stop().await;

    // Keys stay cached after Portcullis goes away; a verifier that never had them is unavailable.
    assert!(verifier.verify(&token).await.is_ok());
    let unreachable = Verifier::new(VerifierConfig::new("http://127.0.0.1:9/jwks.json", ISSUER, "portcullis"));
    assert!(matches!(unreachable.verify(&token).await, Err(VerifierError::KeysUnavailable(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_with_one_refetch() {
    let db = TempDb::new();
    let first = spawn(db.config()).await.expect("server starts");
    signup(&first, "grace@example.com").await;
    let old_token = token(&first, "grace@example.com").await;

    let verifier = verifier_for(&first, "portcullis", Duration::from_millis(300));
    verifier.verify(&old_token).await.expect("old token verifies");
    let old_kid = kid_of(&old_token);

    // Rotate in the database, then start a second instance on it: it signs with the new key.
    let config = db.config();
    let new_kid =
        tokio::task::spawn_blocking(move || portcullis_service::rotate_signing_key(&config).expect("rotation"))
            .await
            .expect("rotation task");
    let second = spawn(db.config()).await.expect("second server starts");
    let new_token = token(&second, "grace@example.com").await;
    assert_eq!(kid_of(&new_token), new_kid);
    assert_ne!(new_kid, old_kid);

    // The first instance learns the new key when a token names it (its unknown-kid path);
    // the verifier, pointed at the first instance, then takes it with one re-fetch.
    let current_user = reqwest::Client::new()
        .get(format!("{}/api/auth/current-user", first.url()))
        .bearer_auth(&new_token)
        .send()
        .await
        .expect("current-user request");
    assert!(current_user.status().is_success(), "current-user: {}", current_user.status());
    tokio::time::sleep(Duration::from_millis(350)).await;
    let claims = verifier.verify(&new_token).await.expect("the new key is fetched on its unknown kid");
    assert_eq!(claims.email, "grace@example.com");
    assert!(verifier.cached_kids().contains(&new_kid));
    // The old key is still published: old tokens stay valid until they expire.
    verifier.verify(&old_token).await.expect("old token still verifies");

    first.stop().await;
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let db = TempDb::new();
    let first = spawn(db.config()).await.expect("server starts");
    signup(&first, "lin@example.com").await;
    let old_token = token(&first, "lin@example.com").await;
    let verifier = verifier_for(&first, "portcullis", Duration::from_secs(3600));
    verifier.verify(&old_token).await.expect("old token verifies");

    // The verifier points at the second instance, which knows the rotated key.
    let config = db.config();
    tokio::task::spawn_blocking(move || portcullis_service::rotate_signing_key(&config).expect("rotation"))
        .await
        .expect("rotation task");
    let second = spawn(db.config()).await.expect("second server starts");
    let new_token = token(&second, "lin@example.com").await;
    let verifier2 = verifier_for(&second, "portcullis", Duration::from_secs(3600));
    verifier2.verify(&old_token).await.expect("first fetch has both keys");
    verifier2.verify(&new_token).await.expect("new token verifies from the cache");

    // The first verifier fetched within the hour: an unknown kid does not make it fetch again.
    assert_eq!(verifier.verify(&new_token).await, Err(VerifierError::UnknownKey));
    assert_eq!(verifier.cached_kids().len(), 1);
    // An explicit refresh ignores the interval.
    first.stop().await;
    let verifier3 = verifier_for(&second, "portcullis", Duration::from_secs(3600));
    verifier3.refresh().await.expect("refresh");
    assert_eq!(verifier3.cached_kids().len(), 2);
    second.stop().await;
}

async fn me(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"sub": user.user_id(), "roles": user.roles(), "email": user.claims().email}))
}

async fn admin(user: AuthenticatedUser) -> Result<HttpResponse, VerifierError> {
    user.require_role("admin")?;
    Ok(HttpResponse::Ok().finish())
}

#[actix_web::test]
async fn actix_extractor_and_role_check() {
    let db = TempDb::new();
    let server = spawn(db.config()).await.expect("server starts");
    signup(&server, "kay@example.com").await;
    let token = token(&server, "kay@example.com").await;
    let verifier = web::Data::new(verifier_for(&server, "portcullis", Duration::from_secs(5)));
    let app = test::init_service(
        App::new().app_data(verifier).route("/me", web::get().to(me)).route("/admin", web::get().to(admin)),
    )
    .await;

    // No token: 401 problem+json with a Bearer challenge.
    let response = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers().get("www-authenticate").expect("challenge"), "Bearer");
    assert_eq!(response.headers().get("content-type").expect("content type"), "application/problem+json");
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "unauthorized");
    assert_eq!(body["status"], 401);
    assert_eq!(body["type"], "about:blank");
    assert!(body["title"].is_string() && body["detail"].is_string());

    // A bad token: 401 too.
    let request = test::TestRequest::get().uri("/me").insert_header(("Authorization", "Bearer nope")).to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers().get("www-authenticate").expect("challenge").to_str().expect("ascii").starts_with("Bearer")
    );

    // Bearer: 200 with the claims.
    let request =
        test::TestRequest::get().uri("/me").insert_header(("Authorization", format!("Bearer {token}"))).to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["email"], "kay@example.com");
    assert!(body["roles"].is_array());

    // Cookie: 200 too.
    let request = test::TestRequest::get()
        .uri("/me")
        .cookie(actix_web::cookie::Cookie::new("access_token", token.clone()))
        .to_request();
    assert_eq!(test::call_service(&app, request).await.status(), StatusCode::OK);

    // A role the user lacks: 403 forbidden.
    let request =
        test::TestRequest::get().uri("/admin").insert_header(("Authorization", format!("Bearer {token}"))).to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "forbidden");
    assert_eq!(body["status"], 403);

    server.stop().await;
}
