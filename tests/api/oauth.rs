//! `POST /api/auth/token` and `POST /api/auth/revoke`: the OAuth 2.0 style endpoints for API
//! clients, form-encoded or JSON, with errors only in the RFC 6749 §5 shape.

use std::time::Duration;

use portcullis::config::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

const TOKEN: &str = "/api/auth/token";
const REVOKE: &str = "/api/auth/revoke";

/// `POST path` with `params` form-encoded.
async fn post_form(app: &TestApp, path: &str, params: &[(&str, &str)]) -> TestResponse {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    app.send(app.request(Method::POST, path).header("content-type", "application/x-www-form-urlencoded").body(body))
        .await
}

/// `POST path` with a raw body of `content_type`.
async fn post_raw(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> TestResponse {
    let request = app.request(Method::POST, path).body(body);
    let request = match content_type {
        Some(content_type) => request.header("content-type", content_type),
        None => request,
    };
    app.send(request).await
}

/// Asserts an RFC 6749 §5 error: `status`, `{"error": error, "error_description"?}`,
/// `application/json` (never problem+json), `Cache-Control: no-store`, `Pragma: no-cache`.
fn assert_oauth_error(response: &TestResponse, status: u16, error: &str) -> Value {
    let what = format!("{} {}", response.method, response.path);
    response.assert_status(status);
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: OAuth errors are application/json, got {content_type:?}"
    );
    let body = response.json();
    assert_eq!(body["error"], json!(error), "{what}: {body}");
    let object = body.as_object().expect("an object");
    assert!(
        object.keys().all(|key| ["error", "error_description", "error_uri"].contains(&key.as_str())),
        "{what}: only RFC 6749 §5 fields, never problem+json: {body}"
    );
    assert!(body.get("error_description").is_none_or(Value::is_string), "{what}: {body}");
    assert_no_store(response);
    assert_eq!(response.header("pragma"), Some("no-cache"), "{what}");
    let lower = response.text().to_lowercase();
    for marker in ["panicked", "diesel", "sqlstate", "$2b$", "r2d2"] {
        assert!(!lower.contains(marker), "{what}: the error leaks internals: {body}");
    }
    body
}

/// Asserts a token answer: exactly `{access_token, token_type: Bearer, expires_in, refresh_token}`,
/// not cached, no cookies. Returns (access token, refresh token).
fn assert_token_pair(response: &TestResponse, expires_in: u64) -> (String, String) {
    response.assert_status(200);
    let body = response.json();
    let mut keys: Vec<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["access_token", "expires_in", "refresh_token", "token_type"], "{body}");
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["expires_in"], json!(expires_in));
    assert_no_store(response);
    assert_eq!(response.header("pragma"), Some("no-cache"));
    assert!(response.set_cookies().is_empty(), "the token endpoint sets no cookies");
    let access = body["access_token"].as_str().expect("access_token").to_owned();
    let refresh = body["refresh_token"].as_str().expect("refresh_token").to_owned();
    assert_eq!(access.split('.').count(), 3, "the access token is a JWT");
    assert!(refresh.len() >= 43, "at least 256 bits of base64url: {refresh}");
    (access, refresh)
}

async fn password_grant(app: &TestApp, email: &str) -> (String, String) {
    let response =
        post_form(app, TOKEN, &[("grant_type", "password"), ("username", email), ("password", PASSWORD)]).await;
    assert_token_pair(&response, 900)
}

async fn refresh_grant(app: &TestApp, refresh_token: &str) -> TestResponse {
    post_form(app, TOKEN, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

backend_tests!(password_grant_form_encoded_issues_a_bearer_pair, |app| async move {
    let user = app.signup("Ada", "ada@example.com").await;
    let response = post_form(
        &app,
        TOKEN,
        &[
            ("grant_type", "password"),
            ("username", "Ada@Example.com"),
            ("password", PASSWORD),
            ("client_id", "my-cli"),
            ("scope", "openid profile"),
        ],
    )
    .await;
    let (access, _) = assert_token_pair(&response, 900);
    let claims = jwt::verify(&app, &access).await;
    assert_eq!(claims["sub"], user["user_id"]);

    let response = app.get_bearer("/api/auth/current-user", &access).await;
    response.assert_status(200);
    assert_eq!(response.json(), user);
});

backend_tests!(password_grant_json_issues_a_bearer_pair, |app| async move {
    let user = app.signup("Ada", "ada@example.com").await;
    let response = app
        .post_json(
            TOKEN,
            &json!({"grant_type": "password", "username": "ada@example.com", "password": PASSWORD, "client_id": "x", "scope": 7}),
        )
        .await;
    let (access, refresh) = assert_token_pair(&response, 900);
    app.get_bearer("/api/auth/current-user", &access).await.assert_status(200);

    // a session like a login's, listed with the client's user agent
    let response = app.get_bearer("/api/auth/sessions", &access).await;
    response.assert_status(200);
    let sessions = response.json();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    assert_eq!(sessions[0]["current"], json!(true));

    // the refresh grant in JSON too
    let response = app.post_json(TOKEN, &json!({"grant_type": "refresh_token", "refresh_token": refresh})).await;
    let (access, _) = assert_token_pair(&response, 900);
    let response = app.get_bearer("/api/auth/current-user", &access).await;
    response.assert_status(200);
    assert_eq!(response.json(), user);
});

backend_tests!(
    refresh_grant_rotates_and_a_reuse_after_grace_ends_the_session,
    config = |c| Config { refresh_grace_secs: 0, ..c },
    |app| async move {
        app.signup("Ada", "ada@example.com").await;
        let (access, first) = password_grant(&app, "ada@example.com").await;
        let sid = jwt::parts(&access).1["sid"].clone();

        let (access, second) = assert_token_pair(&refresh_grant(&app, &first).await, 900);
        assert_ne!(first, second, "the refresh token rotates");
        assert_eq!(jwt::parts(&access).1["sid"], sid, "same session");
        let (_, newest) = assert_token_pair(&refresh_grant(&app, &second).await, 900);
        tokio::time::sleep(Duration::from_millis(1100)).await;

        // the spent token after the grace window: invalid_grant, and the session is over
        assert_oauth_error(&refresh_grant(&app, &first).await, 400, "invalid_grant");
        assert_oauth_error(&refresh_grant(&app, &newest).await, 400, "invalid_grant");

        // another session of the same user is untouched
        let (_, other) = password_grant(&app, "ada@example.com").await;
        assert_token_pair(&refresh_grant(&app, &other).await, 900);
    }
);

backend_tests!(refresh_grant_reuse_within_grace_works_and_keeps_the_session, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let (_, first) = password_grant(&app, "ada@example.com").await;
    let (_, second) = assert_token_pair(&refresh_grant(&app, &first).await, 900);
    assert_token_pair(&refresh_grant(&app, &first).await, 900);
    assert_token_pair(&refresh_grant(&app, &second).await, 900);
});

backend_tests!(refresh_grant_accepts_the_refresh_cookie_of_a_browser_login, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let (access, _) = assert_token_pair(&refresh_grant(&app, &browser.refresh_token()).await, 900);
    app.get_bearer("/api/auth/current-user", &access).await.assert_status(200);
});

backend_tests!(wrong_credentials_and_unknown_refresh_tokens_are_invalid_grant, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let wrong = post_form(
        &app,
        TOKEN,
        &[("grant_type", "password"), ("username", "ada@example.com"), ("password", "Wrong-Password-123")],
    )
    .await;
    let wrong = assert_oauth_error(&wrong, 400, "invalid_grant");
    let unknown = post_form(
        &app,
        TOKEN,
        &[("grant_type", "password"), ("username", "nobody@example.com"), ("password", PASSWORD)],
    )
    .await;
    let unknown = assert_oauth_error(&unknown, 400, "invalid_grant");
    assert_eq!(wrong, unknown, "an unknown user and a wrong password are told apart by nothing");
    let not_an_email =
        post_form(&app, TOKEN, &[("grant_type", "password"), ("username", "ada"), ("password", PASSWORD)]).await;
    assert_oauth_error(&not_an_email, 400, "invalid_grant");

    assert_oauth_error(&refresh_grant(&app, &"A".repeat(43)).await, 400, "invalid_grant");
    assert_oauth_error(&refresh_grant(&app, "not a token").await, 400, "invalid_grant");
});

backend_tests!(unsupported_grant_types_and_missing_parameters, |app| async move {
    let response = post_form(&app, TOKEN, &[("grant_type", "client_credentials"), ("client_id", "x")]).await;
    assert_oauth_error(&response, 400, "unsupported_grant_type");
    let response = app.post_json(TOKEN, &json!({"grant_type": "authorization_code", "code": "abc"})).await;
    assert_oauth_error(&response, 400, "unsupported_grant_type");

    for params in [
        &[][..],
        &[("username", "ada@example.com"), ("password", PASSWORD)][..],
        &[("grant_type", "")][..],
        &[("grant_type", "password"), ("username", "ada@example.com")][..],
        &[("grant_type", "password"), ("password", PASSWORD)][..],
        &[("grant_type", "password"), ("username", "ada@example.com"), ("password", "")][..],
        &[("grant_type", "refresh_token")][..],
        &[("grant_type", "refresh_token"), ("refresh_token", "a"), ("refresh_token", "b")][..],
        &[("grant_type", "password"), ("grant_type", "refresh_token")][..],
    ] {
        let response = post_form(&app, TOKEN, params).await;
        assert_oauth_error(&response, 400, "invalid_request");
    }
    for body in [
        json!({}),
        json!({"grant_type": 1}),
        json!({"grant_type": "password", "username": "ada@example.com", "password": 12345678}),
        json!({"grant_type": "refresh_token", "refresh_token": null}),
        json!(["grant_type", "password"]),
        json!("grant_type=password"),
    ] {
        let response = app.post_json(TOKEN, &body).await;
        assert_oauth_error(&response, 400, "invalid_request");
    }
});

backend_tests!(bad_bodies_are_invalid_request_never_problem_json, |app| async move {
    for path in [TOKEN, REVOKE] {
        let form = "grant_type=password&username=ada%40example.com&password=x&token=x";
        for content_type in [Some("text/plain"), Some("multipart/form-data; boundary=x"), Some("application/xml"), None]
        {
            let response = post_raw(&app, path, content_type, form).await;
            assert_oauth_error(&response, 400, "invalid_request");
        }
        for malformed in ["{", "{\"grant_type\": \"password\",}", "", "nul"] {
            let response = post_raw(&app, path, Some("application/json"), malformed).await;
            assert_oauth_error(&response, 400, "invalid_request");
        }
        let huge = format!("token={}&grant_type=password", "a".repeat(70 * 1024));
        let response = post_raw(&app, path, Some("application/x-www-form-urlencoded"), huge).await;
        assert_oauth_error(&response, 400, "invalid_request");
        let huge = json!({"token": "a".repeat(70 * 1024), "grant_type": "password"}).to_string();
        let response = post_raw(&app, path, Some("application/json"), huge).await;
        assert_oauth_error(&response, 400, "invalid_request");

        // a wrong method: 405 with Allow, still in the OAuth shape
        let response = app.get(path).await;
        assert_oauth_error(&response, 405, "invalid_request");
        assert_eq!(response.header("allow"), Some("POST"));
    }
});

backend_tests!(revoking_a_refresh_token_ends_its_session, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let (_, refresh) = password_grant(&app, "ada@example.com").await;
    let (_, other) = password_grant(&app, "ada@example.com").await;

    let response = post_form(&app, REVOKE, &[("token", &refresh), ("token_type_hint", "refresh_token")]).await;
    response.assert_status(200);
    assert!(response.body.is_empty(), "an empty body: {}", response.text());
    assert_no_store(&response);
    assert_oauth_error(&refresh_grant(&app, &refresh).await, 400, "invalid_grant");

    // revoking again, and in JSON, is fine; the other session lives on
    app.post_json(REVOKE, &json!({"token": refresh})).await.assert_status(200);
    assert_token_pair(&refresh_grant(&app, &other).await, 900);
});

backend_tests!(revoking_an_unknown_token_is_200, |app| async move {
    for token in ["A".repeat(43), "nonsense".to_owned(), "a.b.c".to_owned()] {
        post_form(&app, REVOKE, &[("token", &token)]).await.assert_status(200);
        app.post_json(REVOKE, &json!({"token": token, "client_id": "cli"})).await.assert_status(200);
    }
});

backend_tests!(revoking_an_access_token_ends_its_session, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let (access, refresh) = password_grant(&app, "ada@example.com").await;
    post_form(&app, REVOKE, &[("token", &access)]).await.assert_status(200);
    assert_oauth_error(&refresh_grant(&app, &refresh).await, 400, "invalid_grant");
});

backend_tests!(revoke_without_a_token_is_invalid_request, |app| async move {
    let response = post_form(&app, REVOKE, &[("token_type_hint", "refresh_token")]).await;
    assert_oauth_error(&response, 400, "invalid_request");
    let response = post_form(&app, REVOKE, &[("token", "")]).await;
    assert_oauth_error(&response, 400, "invalid_request");
    let response = post_form(&app, REVOKE, &[("token", "a"), ("token", "b")]).await;
    assert_oauth_error(&response, 400, "invalid_request");
    let response = app.post_json(REVOKE, &json!({"token": 42})).await;
    assert_oauth_error(&response, 400, "invalid_request");
    let response = app.post_json(REVOKE, &json!({})).await;
    assert_oauth_error(&response, 400, "invalid_request");
});

backend_tests!(discovery_names_the_token_and_revocation_endpoints, |app| async move {
    let response = app.get("/.well-known/openid-configuration").await;
    response.assert_status(200);
    let body = response.json();
    let issuer = body["issuer"].as_str().expect("issuer").to_owned();
    assert_eq!(body["token_endpoint"], json!(format!("{issuer}{TOKEN}")));
    assert_eq!(body["revocation_endpoint"], json!(format!("{issuer}{REVOKE}")));
});
