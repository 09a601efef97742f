//! `GET` and `PATCH /api/auth/current-user`: cookie and Bearer authentication, CSRF.

use std::time::Duration;

use portcullis::config::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

fn assert_challenge(response: &TestResponse, code: &str, token_presented: bool) {
    assert_problem(response, 401, code);
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "a 401 carries WWW-Authenticate: Bearer, got {challenge:?}");
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        token_presented,
        "error=\"invalid_token\" exactly when a token was presented: {challenge:?}"
    );
}

backend_tests!(the_article_flow_by_cookie, |app| async move {
    let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let response = browser.current_user().await;
    response.assert_status(200);
    assert_no_store(&response);
    assert_eq!(response.json(), user);
});

backend_tests!(the_article_flow_by_bearer, |app| async move {
    let (user, browser) = app.signed_in("Ada", "ada@example.com").await;
    let response = app.get_bearer("/api/auth/current-user", &browser.access_token()).await;
    response.assert_status(200);
    assert_no_store(&response);
    assert_eq!(response.json(), user);
});

backend_tests!(without_credentials_is_401_unauthorized, |app| async move {
    let response = app.get("/api/auth/current-user").await;
    assert_challenge(&response, "unauthorized", false);
});

backend_tests!(a_bad_bearer_token_is_401_and_never_falls_back_to_the_cookie, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let response = app.get_bearer("/api/auth/current-user", "not.a.token").await;
    assert_challenge(&response, "unauthorized", true);

    // a valid cookie does not rescue a bad Bearer token
    let request = browser.request(Method::GET, "/api/auth/current-user").bearer_auth("not.a.token");
    let response = app.send(request).await;
    assert_challenge(&response, "unauthorized", true);
});

backend_tests!(a_bad_access_token_cookie_is_401, |app| async move {
    let mut browser = app.browser();
    browser.jar.insert("access_token", "garbage", "/");
    let response = browser.current_user().await;
    assert_challenge(&response, "unauthorized", true);
});

backend_tests!(
    an_expired_token_is_401_token_expired_and_a_refresh_recovers,
    config = |config| Config { access_ttl_secs: 1, ..config },
    |app| async move {
        let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;
        let access = browser.access_token();
        // exp = iat + 1 s; verification allows at most 5 s of leeway.
        tokio::time::sleep(Duration::from_secs(7)).await;
        let response = app.get_bearer("/api/auth/current-user", &access).await;
        assert_challenge(&response, "token_expired", true);
        let response = browser.current_user().await;
        assert_challenge(&response, "token_expired", true);

        browser.refresh().await.assert_status(200);
        let response = browser.current_user().await;
        response.assert_status(200);
        assert_eq!(response.json(), user);
    }
);

backend_tests!(patch_by_bearer_needs_no_csrf_and_updates_the_profile, |app| async move {
    let (user, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let patch = |body: Value| {
        let app = app.clone();
        let token = token.clone();
        async move { app.send(app.request(Method::PATCH, "/api/auth/current-user").bearer_auth(token).json(&body)).await }
    };

    let response = patch(json!({"name": "  Ada King  "})).await;
    response.assert_status(200);
    assert_no_store(&response);
    let updated = response.json();
    assert_user_info(&updated);
    assert_eq!(updated["name"], "Ada King");
    assert_eq!(updated["avatar_url"], Value::Null);
    assert_eq!(
        (&updated["user_id"], &updated["email"], &updated["created_at"]),
        (&user["user_id"], &user["email"], &user["created_at"])
    );

    let response = patch(json!({"avatar_url": "https://cdn.example.com/ada.png"})).await;
    response.assert_status(200);
    assert_eq!(response.json()["avatar_url"], "https://cdn.example.com/ada.png");
    assert_eq!(response.json()["name"], "Ada King", "an absent field is left alone");

    let response = patch(json!({})).await;
    response.assert_status(200);
    assert_eq!(response.json()["avatar_url"], "https://cdn.example.com/ada.png", "{{}} changes nothing");

    let response = patch(json!({"avatar_url": null})).await;
    response.assert_status(200);
    assert_eq!(response.json()["avatar_url"], Value::Null, "null clears the avatar");
    assert_eq!(response.json()["name"], "Ada King");

    // the change is stored: a new login sees it
    let mut again = app.browser();
    let response = again.login("ada@example.com", PASSWORD).await;
    response.assert_status(200);
    assert_eq!(response.json()["user"]["name"], "Ada King");
    assert_eq!(response.json()["user"]["avatar_url"], Value::Null);
});

backend_tests!(patch_by_bearer_needs_no_csrf_even_with_cookies_along, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let request = browser
        .request(Method::PATCH, "/api/auth/current-user")
        .bearer_auth(browser.access_token())
        .json(&json!({"name": "Countess"}));
    let response = app.send(request).await;
    response.assert_status(200);
    assert_eq!(response.json()["name"], "Countess");
});

backend_tests!(patch_by_cookie_needs_the_csrf_header, |app| async move {
    let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;

    let request = browser.request(Method::PATCH, "/api/auth/current-user").json(&json!({"name": "Mallory"}));
    let response = browser.send(request).await;
    assert_problem(&response, 403, "csrf_failed");

    let request = browser
        .request(Method::PATCH, "/api/auth/current-user")
        .header("X-CSRF-Token", "wrong-value")
        .json(&json!({"name": "Mallory"}));
    let response = browser.send(request).await;
    assert_problem(&response, 403, "csrf_failed");

    let response = browser.current_user().await;
    assert_eq!(response.json(), user, "a refused PATCH changes nothing");

    let access_before = browser.access_token();
    let response = browser.patch_profile(&json!({"name": "Ada King"})).await;
    response.assert_status(200);
    assert_eq!(response.json()["name"], "Ada King");
    let fresh = response.set_cookie("access_token");
    assert_ne!(fresh.value, access_before, "a PATCH by cookie sets a fresh access_token cookie");
    assert_eq!(jwt::verify(&app, &fresh.value).await["name"], "Ada King");

    let response = browser.current_user().await;
    response.assert_status(200);
    assert_eq!(response.json()["name"], "Ada King", "the following GET shows the new name");
});

backend_tests!(patch_validates_its_fields, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    for (body, expected) in [
        (json!({"name": "   "}), vec![("name", "required")]),
        (json!({"name": "x".repeat(101)}), vec![("name", "too_long")]),
        (json!({"name": "Ada\u{0007}"}), vec![("name", "invalid_characters")]),
        (json!({"name": 5}), vec![("name", "invalid_type")]),
        (json!({"avatar_url": "ftp://example.com/a.png"}), vec![("avatar_url", "invalid_scheme")]),
        (json!({"avatar_url": "not a url"}), vec![("avatar_url", "invalid")]),
        (json!({"avatar_url": 7}), vec![("avatar_url", "invalid_type")]),
        (
            json!({"name": "", "avatar_url": "javascript:alert(1)"}),
            vec![("avatar_url", "invalid_scheme"), ("name", "required")],
        ),
    ] {
        let response = browser.patch_profile(&body).await;
        assert_validation(&response, &expected);
    }
    assert_eq!(browser.current_user().await.json()["name"], "Ada");
});

backend_tests!(patch_without_credentials_is_401, |app| async move {
    let response =
        app.send(app.request(Method::PATCH, "/api/auth/current-user").json(&json!({"name": "Nobody"}))).await;
    assert_challenge(&response, "unauthorized", false);
});
