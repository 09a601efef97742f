//! The general rules of API.md: content types, body size, malformed JSON, unknown paths,
//! wrong methods, problem+json everywhere, `Cache-Control: no-store` on `/api/**`.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    app.request(method, path).header(reqwest::header::CONTENT_TYPE, content_type).body(body)
}

backend_tests!(a_json_endpoint_refuses_other_content_types_with_415, |app| async move {
    let signup = json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD}).to_string();
    for (path, content_type) in [
        ("/api/auth/signup", "text/plain"),
        ("/api/auth/signup", "application/x-www-form-urlencoded"),
        ("/api/auth/login", "text/plain"),
    ] {
        let response = app.send(raw(&app, Method::POST, path, content_type, signup.clone())).await;
        assert_problem(&response, 415, "unsupported_media_type");
    }
    let response = app.send(app.request(Method::POST, "/api/auth/signup").body(signup.clone())).await;
    assert_problem(&response, 415, "unsupported_media_type");

    // JSON with a charset parameter is JSON
    let response =
        app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json; charset=utf-8", signup)).await;
    response.assert_status(201);
});

backend_tests!(a_body_over_64_kib_is_413, |app| async move {
    let body = json!({"name": "x".repeat(65 * 1024), "email": "ada@example.com", "password": PASSWORD}).to_string();
    assert!(body.len() > 64 * 1024);
    let response = app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json", body)).await;
    assert_problem(&response, 413, "payload_too_large");

    // just under the limit is read, and then judged on its content
    let body = json!({"name": "x".repeat(60 * 1024), "email": "ada@example.com", "password": PASSWORD}).to_string();
    assert!(body.len() < 64 * 1024);
    let response = app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json", body)).await;
    assert_validation(&response, &[("name", "too_long")]);
});

backend_tests!(malformed_json_is_400_malformed_body, |app| async move {
    for body in ["{\"name\": \"Ada\",", "not json", "{\"name\": \"Ada\"} trailing", ""] {
        let response = app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json", body)).await;
        assert_problem(&response, 400, "malformed_body");
    }
    let response = app.send(raw(&app, Method::POST, "/api/auth/login", "application/json", "{")).await;
    assert_problem(&response, 400, "malformed_body");
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let request = app
        .request(Method::PATCH, "/api/auth/current-user")
        .bearer_auth(browser.access_token())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("{\"name\":");
    assert_problem(&app.send(request).await, 400, "malformed_body");
});

backend_tests!(a_field_given_twice_is_400_malformed_body, |app| async move {
    // Which one would count? A proxy may read the first, serde the last: neither is taken.
    let body = r#"{"name": "Ada", "email": "ada@example.com", "email": "eve@example.com", "password": "x"}"#;
    let response = app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json", body)).await;
    assert_problem(&response, 400, "malformed_body");
    assert_eq!(response.json()["detail"], "The member \"email\" appears more than once.");
    assert!(app.database().texts("SELECT email AS value FROM users").is_empty(), "nobody signed up");
    // Repeats inside a nested value are the value's business, not a field given twice.
    let body = r#"{"name": "Ada", "email": "ada@example.com", "password": "Trellis-Quartz-Harbor-48"}"#;
    let response = app.send(raw(&app, Method::POST, "/api/auth/signup", "application/json", body)).await;
    response.assert_status(201);
});

backend_tests!(an_unknown_path_is_404_not_found, |app| async move {
    for path in ["/api/auth/nope", "/api/nope", "/no-such-page"] {
        let response = app.get(path).await;
        assert_problem(&response, 404, "not_found");
    }
    let response = app.post_json("/api/auth/signup/extra", &json!({})).await;
    assert_problem(&response, 404, "not_found");
});

backend_tests!(a_wrong_method_is_405_with_allow, |app| async move {
    for (method, path, allowed) in [
        (Method::GET, "/api/auth/signup", &["POST"][..]),
        (Method::DELETE, "/api/auth/login", &["POST"][..]),
        (Method::GET, "/api/auth/refresh", &["POST"][..]),
        (Method::GET, "/api/auth/logout", &["POST"][..]),
        (Method::PUT, "/api/auth/current-user", &["GET", "PATCH"][..]),
        (Method::POST, "/.well-known/jwks.json", &["GET"][..]),
        (Method::POST, "/health/live", &["GET"][..]),
    ] {
        let response = app.send(app.request(method.clone(), path)).await;
        assert_problem(&response, 405, "method_not_allowed");
        let allow = response.header("allow").unwrap_or_else(|| panic!("{method} {path}: 405 carries Allow"));
        let listed: Vec<String> = allow.split(',').map(|m| m.trim().to_ascii_uppercase()).collect();
        for expected in allowed {
            assert!(listed.iter().any(|m| m == expected), "{method} {path}: Allow {allow:?} lists {expected}");
        }
        assert!(!listed.iter().any(|m| m == method.as_str()), "{method} {path}: Allow {allow:?} excludes {method}");
    }
});

backend_tests!(every_api_answer_carries_no_store, |app| async move {
    let mut responses =
        vec![app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})).await];
    let mut browser = app.browser();
    responses.push(browser.login("ada@example.com", PASSWORD).await);
    responses.push(browser.current_user().await);
    responses.push(browser.patch_profile(&json!({"name": "Ada King"})).await);
    responses.push(browser.refresh().await);
    responses.push(browser.logout().await);
    responses.push(app.browser().login("ada@example.com", "Wrong-Password-77").await);
    responses.push(app.get("/api/auth/current-user").await);
    responses.push(app.get("/api/auth/nope").await);
    responses.push(app.get("/api/auth/signup").await);
    responses.push(app.signup_raw(&json!({})).await);
    for response in &responses {
        assert_no_store(response);
    }
    let codes: Vec<u16> = responses.iter().map(TestResponse::code).collect();
    assert_eq!(codes, [201, 200, 200, 200, 200, 204, 401, 401, 404, 405, 422]);
});

backend_tests!(errors_leak_no_internals, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let response = app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": PASSWORD})).await;
    let body = assert_problem(&response, 409, "email_taken");
    let text = body.to_string().to_lowercase();
    for word in ["unique", "constraint", "users_email", "duplicate key"] {
        assert!(!text.contains(word), "the conflict does not show the database's words ({word}): {body}");
    }
});

backend_tests!(security_headers_on_every_response, |app| async move {
    for path in ["/health/live", "/api/auth/current-user", "/no/such/path", "/.well-known/jwks.json"] {
        let response = app.get(path).await;
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(response.header("strict-transport-security"), None, "plain-HTTP public URL: no HSTS ({path})");
    }
});

backend_tests!(
    hsts_when_the_public_url_is_https,
    config = |c| portcullis::config::Config {
        public_url: url::Url::parse("https://auth.example.com").expect("url"),
        allowed_origins: vec!["https://auth.example.com".into()],
        ..c
    },
    |app| async move {
        let response = app.get("/health/live").await;
        let hsts = response.header("strict-transport-security").expect("HSTS header");
        assert!(hsts.starts_with("max-age="), "{hsts}");
    }
);

backend_tests!(
    a_stalled_body_gets_408_after_the_deadline,
    config = |c| portcullis::config::Config { body_timeout_secs: 1, ..c },
    |app| async move {
        let address = app.url().trim_start_matches("http://").to_owned();
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            let mut stream = std::net::TcpStream::connect(&address).expect("connects");
            stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("a timeout");
            let started = std::time::Instant::now();
            stream
                .write_all(
                    b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"email\":",
                )
                .expect("writes");
            let mut buffer = [0u8; 1024];
            let read = stream.read(&mut buffer).unwrap_or(0);
            (String::from_utf8_lossy(&buffer[..read]).into_owned(), started.elapsed())
        })
        .await
        .expect("the client ran");
        let (response, waited) = answer;
        assert!(response.starts_with("HTTP/1.1 408"), "408 for a stalled body: {response:?}");
        assert!(response.contains("request_timeout"), "{response}");
        assert!(
            waited >= std::time::Duration::from_millis(900) && waited < std::time::Duration::from_secs(8),
            "{waited:?}"
        );
    }
);
