//! CORS for the allowed origins (credentials, preflight) and the `Origin` check: a state change
//! from a foreign origin that is not authenticated by Bearer or API key is `403 csrf_failed`.

use portcullis::config::Config;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

const APP_ORIGIN: &str = "https://app.example.com";
const EVIL_ORIGIN: &str = "https://evil.example.net";

fn with_app_origin(config: Config) -> Config {
    Config { allowed_origins: vec![APP_ORIGIN.into(), "http://localhost:3000".into()], ..config }
}

/// Asserts the CORS answer for an allowed `origin`.
fn assert_cors_allowed(response: &TestResponse, origin: &str) {
    let what = format!("{} {}", response.method, response.path);
    assert_eq!(response.header("access-control-allow-origin"), Some(origin), "{what}");
    assert_eq!(response.header("access-control-allow-credentials"), Some("true"), "{what}");
    assert_varies_by_origin(response);
}

fn assert_varies_by_origin(response: &TestResponse) {
    let vary = response.header_all("vary").join(",");
    assert!(
        vary.split(',').any(|name| name.trim().eq_ignore_ascii_case("origin")),
        "{} {}: Vary: Origin, got {vary:?}",
        response.method,
        response.path
    );
}

/// Asserts there is no `Access-Control-*` header at all.
fn assert_no_cors(response: &TestResponse) {
    let cors: Vec<&str> =
        response.headers.keys().map(|name| name.as_str()).filter(|name| name.starts_with("access-control-")).collect();
    assert!(cors.is_empty(), "{} {}: no CORS headers, got {cors:?}", response.method, response.path);
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> TestResponse {
    app.send(
        app.request(Method::OPTIONS, path)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type, x-csrf-token"),
    )
    .await
}

backend_tests!(allowed_origin_gets_cors_headers_with_credentials, config = with_app_origin, |app| async move {
    for path in ["/health/live", "/.well-known/jwks.json", "/api/auth/current-user", "/api/no/such/path"] {
        let response = app.send(app.request(Method::GET, path).header("origin", APP_ORIGIN)).await;
        assert_cors_allowed(&response, APP_ORIGIN);
    }
    app.signup("Ada", "ada@example.com").await;
    let response = app
        .send(
            app.request(Method::POST, "/api/auth/login")
                .header("origin", "http://localhost:3000")
                .json(&json!({"email": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    response.assert_status(200);
    assert_cors_allowed(&response, "http://localhost:3000");
    assert_eq!(response.set_cookie_names(), ["access_token", "csrf_token", "refresh_token"]);
});

backend_tests!(preflight_answers_204_with_the_routes_methods, config = with_app_origin, |app| async move {
    for (path, method, allow) in [
        ("/api/auth/current-user", "PATCH", "GET, PATCH, DELETE"),
        ("/api/auth/api-keys", "POST", "GET, POST"),
        ("/api/admin/users/0192f0b4-0000-7000-8000-000000000000", "PATCH", "GET, PATCH, DELETE"),
        ("/api/auth/password/change", "POST", "POST"),
        ("/api/auth/introspect", "POST", "POST"),
        ("/api/auth/login", "POST", "POST"),
        ("/api/auth/signup", "POST", "POST"),
        ("/api/auth/refresh", "POST", "POST"),
        ("/api/auth/logout", "POST", "POST"),
        ("/api/auth/sessions", "GET", "GET"),
        ("/api/auth/sessions/0192f0b4-0000-7000-8000-000000000000", "DELETE", "DELETE"),
        ("/api/auth/logout-all", "POST", "POST"),
        ("/api/auth/token", "POST", "POST"),
        ("/api/auth/revoke", "POST", "POST"),
        ("/.well-known/jwks.json", "GET", "GET"),
    ] {
        let response = preflight(&app, path, APP_ORIGIN, method).await;
        response.assert_status(204);
        assert!(response.body.is_empty(), "{path}: {}", response.text());
        assert_cors_allowed(&response, APP_ORIGIN);
        assert_eq!(response.header("access-control-allow-methods"), Some(allow), "{path}");
        assert_eq!(
            response.header("access-control-allow-headers"),
            Some("Content-Type, Authorization, X-CSRF-Token, X-API-Key"),
            "{path}"
        );
        assert_eq!(response.header("access-control-max-age"), Some("600"), "{path}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
    }
    // an unknown path has no preflight success
    let response = preflight(&app, "/api/auth/nothing-here", APP_ORIGIN, "POST").await;
    assert_problem(&response, 404, "not_found");
    // a plain OPTIONS (no Access-Control-Request-Method) is not a preflight: 405 as before
    let response = app.send(app.request(Method::OPTIONS, "/api/auth/login").header("origin", APP_ORIGIN)).await;
    assert_problem(&response, 405, "method_not_allowed");
});

backend_tests!(a_foreign_origin_gets_no_cors_headers, config = with_app_origin, |app| async move {
    for origin in [EVIL_ORIGIN, "https://app.example.com:8443", "http://app.example.com", "null"] {
        let response = app.send(app.request(Method::GET, "/health/live").header("origin", origin)).await;
        response.assert_status(200);
        assert_no_cors(&response);
        assert_varies_by_origin(&response);

        let response = preflight(&app, "/api/auth/current-user", origin, "PATCH").await;
        response.assert_status(204);
        assert_no_cors(&response);
    }
    // and without an Origin there are none either
    assert_no_cors(&app.get("/health/live").await);
});

backend_tests!(state_changes_from_a_foreign_origin_are_csrf_failed, config = with_app_origin, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let csrf = browser.cookie("csrf_token").expect("csrf cookie").to_owned();

    let signup = json!({"name": "Eve", "email": "eve@example.com", "password": PASSWORD});
    let response =
        app.send(app.request(Method::POST, "/api/auth/signup").header("origin", EVIL_ORIGIN).json(&signup)).await;
    assert_problem(&response, 403, "csrf_failed");
    assert_no_cors(&response);

    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let response =
        app.send(app.request(Method::POST, "/api/auth/login").header("origin", EVIL_ORIGIN).json(&login)).await;
    assert_problem(&response, 403, "csrf_failed");
    assert!(response.set_cookies().is_empty());
    let response = app.send(app.request(Method::POST, "/api/auth/login").header("origin", "null").json(&login)).await;
    assert_problem(&response, 403, "csrf_failed");

    for path in ["/api/auth/refresh", "/api/auth/logout", "/api/auth/logout-all"] {
        let request = browser.request(Method::POST, path).header("origin", EVIL_ORIGIN).header("x-csrf-token", &csrf);
        let response = browser.send(request).await;
        assert_problem(&response, 403, "csrf_failed");
        assert!(response.set_cookies().is_empty(), "{path}: nothing rotated or cleared");
    }
    let request = browser
        .request(Method::PATCH, "/api/auth/current-user")
        .header("origin", EVIL_ORIGIN)
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Mallory"}));
    assert_problem(&browser.send(request).await, 403, "csrf_failed");

    // the OAuth endpoints refuse in their own shape
    let response = app
        .send(
            app.request(Method::POST, "/api/auth/token")
                .header("origin", EVIL_ORIGIN)
                .json(&json!({"grant_type": "password", "username": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    response.assert_status(403);
    assert_eq!(response.json()["error"], json!("csrf_failed"));
    assert!(response.header("content-type").is_some_and(|t| t.starts_with("application/json")));

    // nothing happened: Eve is not signed up, Ada's session and name are as they were
    app.signup("Eve", "eve@example.com").await;
    let response = browser.current_user().await;
    response.assert_status(200);
    assert_eq!(response.json()["name"], json!("Ada"));
    browser.refresh().await.assert_status(200);
});

backend_tests!(state_changes_from_an_allowed_origin_work, config = with_app_origin, |app| async move {
    let signup = json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD});
    let response =
        app.send(app.request(Method::POST, "/api/auth/signup").header("origin", APP_ORIGIN).json(&signup)).await;
    response.assert_status(201);
    assert_cors_allowed(&response, APP_ORIGIN);

    let mut browser = app.browser();
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    let request = browser.request(Method::POST, "/api/auth/login").header("origin", APP_ORIGIN).json(&login);
    browser.send(request).await.assert_status(200);

    let request = browser.request(Method::POST, "/api/auth/refresh").header("origin", APP_ORIGIN);
    let response = browser.send(request).await;
    response.assert_status(200);
    assert_cors_allowed(&response, APP_ORIGIN);

    let csrf = browser.cookie("csrf_token").expect("csrf cookie").to_owned();
    let request = browser
        .request(Method::PATCH, "/api/auth/current-user")
        .header("origin", APP_ORIGIN)
        .header("x-csrf-token", csrf)
        .json(&json!({"name": "Ada King"}));
    browser.send(request).await.assert_status(200);

    let request = browser.request(Method::POST, "/api/auth/logout").header("origin", APP_ORIGIN);
    let response = browser.send(request).await;
    response.assert_status(204);
    assert_cors_allowed(&response, APP_ORIGIN);
    browser.refresh().await.assert_status(401);

    let response = app
        .send(
            app.request(Method::POST, "/api/auth/token")
                .header("origin", APP_ORIGIN)
                .json(&json!({"grant_type": "password", "username": "ada@example.com", "password": PASSWORD})),
        )
        .await;
    response.assert_status(200);
    assert_cors_allowed(&response, APP_ORIGIN);
});

backend_tests!(bearer_requests_from_a_foreign_origin_are_not_refused, config = with_app_origin, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let response = app
        .send(
            app.request(Method::PATCH, "/api/auth/current-user")
                .header("origin", EVIL_ORIGIN)
                .bearer_auth(&token)
                .json(&json!({"name": "Ada King"})),
        )
        .await;
    response.assert_status(200);
    assert_eq!(response.json()["name"], json!("Ada King"));
    assert_no_cors(&response);

    let response =
        app.send(app.request(Method::POST, "/api/auth/logout").header("origin", EVIL_ORIGIN).bearer_auth(&token)).await;
    response.assert_status(204);
});

backend_tests!(by_default_the_public_url_and_its_loopback_twins_are_allowed, |app| async move {
    assert_eq!(app.config().public_url.as_str(), "http://localhost:8080/");
    app.signup("Ada", "ada@example.com").await;
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    for origin in ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080"] {
        let response =
            app.send(app.request(Method::POST, "/api/auth/login").header("origin", origin).json(&login)).await;
        response.assert_status(200);
        assert_cors_allowed(&response, origin);
    }
    for origin in ["http://localhost:3000", "https://localhost:8080"] {
        let response =
            app.send(app.request(Method::POST, "/api/auth/login").header("origin", origin).json(&login)).await;
        assert_problem(&response, 403, "csrf_failed");
    }
});
