//! API keys: shown once, stored as a hash, scoped, revocable; introspection of keys and
//! access tokens.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Browser, TestApp, assert_problem, assert_validation, unique_email};

async fn create_key(browser: &mut Browser, body: Value) -> Value {
    let response = browser.send_csrf(Method::POST, "/api/auth/api-keys", Some(&body)).await;
    response.assert_status(201);
    response.json()
}

async fn with_key(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> crate::support::TestResponse {
    let request = app.request(method, path).header("X-API-Key", key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    app.send(request).await
}

backend_tests!(a_key_is_shown_once_and_listed_without_its_secret, |app| async move {
    let email = unique_email("keys");
    let (user, mut browser) = app.signed_in("Kai", &email).await;
    let created = create_key(&mut browser, json!({"name": "deploy bot"})).await;
    let key = created["key"].as_str().expect("key");
    assert!(key.starts_with("pc_") && key.len() >= 46, "{key}");
    let prefix = created["prefix"].as_str().expect("prefix");
    assert!(key.starts_with(prefix) && prefix.len() < key.len(), "{prefix}");
    assert_eq!(created["scopes"], json!(["profile:read"]));
    assert_eq!(created["name"], "deploy bot");
    assert!(created["expires_at"].is_null());

    let listed = browser.get("/api/auth/api-keys").await;
    listed.assert_status(200);
    let items = listed.json();
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["api_key_id"], created["api_key_id"]);
    assert_eq!(items[0]["prefix"], prefix);
    assert!(items[0].get("key").is_none(), "never the secret again: {items}");
    assert!(!listed.text().contains(key));

    // The key authenticates as its owner.
    let me = with_key(&app, Method::GET, "/api/auth/current-user", key, None).await;
    me.assert_status(200);
    assert_eq!(me.json()["user_id"], user["user_id"]);
    let used = browser.get("/api/auth/api-keys").await.json();
    assert!(used[0]["last_used_at"].is_string(), "last use recorded: {used}");

    // Revoked: refused at once.
    let id = created["api_key_id"].as_str().expect("id");
    browser.send_csrf(Method::DELETE, &format!("/api/auth/api-keys/{id}"), None).await.assert_status(204);
    let after = with_key(&app, Method::GET, "/api/auth/current-user", key, None).await;
    assert_problem(&after, 401, "unauthorized");
    let twice = browser.send_csrf(Method::DELETE, &format!("/api/auth/api-keys/{id}"), None).await;
    assert_problem(&twice, 404, "not_found");
});

backend_tests!(scopes_limit_what_a_key_can_do, |app| async move {
    let (_, mut browser) = app.signed_in("Sam", &unique_email("scopes")).await;
    let read = create_key(&mut browser, json!({"name": "reader"})).await["key"].as_str().expect("key").to_owned();
    let write = create_key(&mut browser, json!({"name": "writer", "scopes": ["profile:write", "billing.read"]})).await
        ["key"]
        .as_str()
        .expect("key")
        .to_owned();

    let patch = json!({"name": "Samuel"});
    let refused = with_key(&app, Method::PATCH, "/api/auth/current-user", &read, Some(patch.clone())).await;
    assert_problem(&refused, 403, "forbidden");
    let changed = with_key(&app, Method::PATCH, "/api/auth/current-user", &write, Some(patch)).await;
    changed.assert_status(200);
    assert_eq!(changed.json()["name"], "Samuel");
    let cannot_read = with_key(&app, Method::GET, "/api/auth/current-user", &write, None).await;
    assert_problem(&cannot_read, 403, "forbidden");

    // What a key can never do, whatever its scopes.
    let everything = create_key(
        &mut browser,
        json!({"name": "all", "scopes": ["profile:read", "profile:write", "admin", "introspect"]}),
    )
    .await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    for (method, path, body) in [
        (Method::GET, "/api/auth/api-keys", None),
        (Method::POST, "/api/auth/api-keys", Some(json!({"name": "child"}))),
        (Method::GET, "/api/auth/sessions", None),
        (Method::POST, "/api/auth/logout-all", None),
        (Method::POST, "/api/auth/password/change", Some(json!({"current_password": "x", "new_password": "y"}))),
        (Method::DELETE, "/api/auth/current-user", Some(json!({"password": "x"}))),
        (Method::POST, "/api/auth/email/resend", None),
        (Method::GET, "/api/admin/users", None),
    ] {
        let response = with_key(&app, method.clone(), path, &everything, body).await;
        assert_problem(&response, 403, "forbidden");
    }

    // Unknown and malformed keys are 401 with the Bearer challenge.
    for key in ["pc_definitelynotakey0000000000000000000000000", "garbage"] {
        let response = with_key(&app, Method::GET, "/api/auth/current-user", key, None).await;
        assert_problem(&response, 401, "unauthorized");
        assert!(response.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")));
    }
});

backend_tests!(key_input_is_validated, |app| async move {
    let (_, mut browser) = app.signed_in("Val", &unique_email("keyval")).await;
    let path = "/api/auth/api-keys";
    let bad = browser
        .send_csrf(
            Method::POST,
            path,
            Some(&json!({"name": "", "scopes": ["Not Valid"], "expires_at": "2000-01-01T00:00:00Z"})),
        )
        .await;
    assert_validation(&bad, &[("name", "required"), ("scopes", "invalid"), ("expires_at", "in_the_past")]);
    let too_many: Vec<String> = (0..21).map(|i| format!("s{i}")).collect();
    let many = browser.send_csrf(Method::POST, path, Some(&json!({"name": "n", "scopes": too_many}))).await;
    assert_validation(&many, &[("scopes", "too_many")]);
    let typed = browser.send_csrf(Method::POST, path, Some(&json!({"name": "n", "scopes": "admin"}))).await;
    assert_validation(&typed, &[("scopes", "invalid_type")]);
    let time = browser.send_csrf(Method::POST, path, Some(&json!({"name": "n", "expires_at": "tomorrow"}))).await;
    assert_validation(&time, &[("expires_at", "invalid")]);
});

backend_tests!(an_expired_key_is_refused, |app| async move {
    let (_, mut browser) = app.signed_in("Exa", &unique_email("expiring")).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let created = create_key(&mut browser, json!({"name": "short", "expires_at": soon})).await;
    let key = created["key"].as_str().expect("key");
    assert!(created["expires_at"].is_string());
    with_key(&app, Method::GET, "/api/auth/current-user", key, None).await.assert_status(200);
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let late = with_key(&app, Method::GET, "/api/auth/current-user", key, None).await;
    assert_problem(&late, 401, "unauthorized");
});

backend_tests!(introspection_reports_keys_and_tokens, |app| async move {
    let email = unique_email("intro");
    let (user, mut browser) = app.signed_in("Ian", &email).await;
    let introspector = create_key(&mut browser, json!({"name": "gateway", "scopes": ["introspect"]})).await["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let other = create_key(&mut browser, json!({"name": "svc", "scopes": ["billing.read", "profile:read"]})).await;
    let other_key = other["key"].as_str().expect("key");

    let ask = |token: String| {
        let app = app.clone();
        let introspector = introspector.clone();
        async move {
            let request = app
                .request(Method::POST, "/api/auth/introspect")
                .header("X-API-Key", introspector)
                .form(&[("token", token)]);
            let response = app.send(request).await;
            response.assert_status(200);
            response.json()
        }
    };

    let key_info = ask(other_key.to_owned()).await;
    assert_eq!(key_info["active"], true);
    assert_eq!(key_info["token_type"], "api_key");
    assert_eq!(key_info["sub"], user["user_id"]);
    assert_eq!(key_info["username"], email);
    assert_eq!(key_info["scope"], "billing.read profile:read");

    let access = browser.access_token();
    let token_info = ask(access.clone()).await;
    assert_eq!(token_info["active"], true);
    assert_eq!(token_info["token_type"], "access_token");
    assert_eq!(token_info["sub"], user["user_id"]);
    assert!(token_info["exp"].as_i64().is_some_and(|exp| exp > chrono::Utc::now().timestamp()));

    assert_eq!(ask("garbage".to_owned()).await, json!({"active": false}));

    // JSON works too.
    let json_response = app
        .send(
            app.request(Method::POST, "/api/auth/introspect")
                .header("X-API-Key", &introspector)
                .json(&json!({"token": other_key})),
        )
        .await;
    assert_eq!(json_response.json()["active"], true);

    // The session ends: the still-unexpired access token is reported inactive at once.
    browser.logout().await.assert_status(204);
    assert_eq!(ask(access).await, json!({"active": false}));
    // A revoked key likewise.
    let id = other["api_key_id"].as_str().expect("id");
    let mut again = app.login(&email, crate::support::PASSWORD).await;
    again.send_csrf(Method::DELETE, &format!("/api/auth/api-keys/{id}"), None).await.assert_status(204);
    assert_eq!(ask(other_key.to_owned()).await, json!({"active": false}));

    // Callers without scope `introspect` or role `admin` may not ask.
    let plain = app
        .send(
            app.request(Method::POST, "/api/auth/introspect").bearer_auth(again.access_token()).form(&[("token", "x")]),
        )
        .await;
    assert_problem(&plain, 403, "forbidden");
    let anonymous = app.send(app.request(Method::POST, "/api/auth/introspect").form(&[("token", "x")])).await;
    assert_problem(&anonymous, 401, "unauthorized");
    let no_token = app
        .send(app.request(Method::POST, "/api/auth/introspect").header("X-API-Key", &introspector).form(&[("x", "y")]))
        .await;
    assert_validation(&no_token, &[("token", "required")]);
});
