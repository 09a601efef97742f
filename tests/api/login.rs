//! `POST /api/auth/login`.

use portcullis::config::Config;
use serde_json::{Value, json};

use crate::support::*;

/// Asserts a login/refresh body: exactly `{"user": UserInfo, "expires_in": ttl}`; returns the user.
pub fn assert_token_response(response: &TestResponse, expires_in: u64) -> Value {
    let body = response.json();
    let mut keys: Vec<&str> = body.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["expires_in", "user"], "the body is exactly {{user, expires_in}}: {body}");
    assert_eq!(body["expires_in"], json!(expires_in), "{body}");
    assert_user_info(&body["user"]);
    let text = response.text();
    for cookie in response.set_cookies() {
        if cookie.value.len() >= 16 {
            assert!(!text.contains(&cookie.value), "the body never contains a token ({}): {text}", cookie.name);
        }
    }
    body["user"].clone()
}

/// Asserts the three login cookies and their attributes (API.md); returns them in name order.
pub fn assert_login_cookies(response: &TestResponse, config: &Config) -> [SetCookie; 3] {
    assert_eq!(
        response.set_cookie_names(),
        ["access_token", "csrf_token", "refresh_token"],
        "exactly the three cookies: {:?}",
        response.header_all("set-cookie")
    );
    let access = response.set_cookie("access_token");
    let csrf = response.set_cookie("csrf_token");
    let refresh = response.set_cookie("refresh_token");
    let access_ttl = i64::try_from(config.access_ttl_secs).expect("fits");
    let refresh_ttl = i64::try_from(config.refresh_ttl_secs).expect("fits");
    for (cookie, http_only, same_site, path, max_age) in [
        (&access, true, "Lax", "/", access_ttl),
        (&refresh, true, "Strict", "/api/auth", refresh_ttl),
        (&csrf, false, "Strict", "/", refresh_ttl),
    ] {
        let raw = &cookie.raw;
        assert!(!cookie.value.is_empty(), "{raw}");
        assert_eq!(cookie.has("HttpOnly"), http_only, "HttpOnly on {raw}");
        assert_eq!(
            cookie.has("Secure"),
            config.cookie_secure,
            "Secure (cookie_secure = {}) on {raw}",
            config.cookie_secure
        );
        assert_eq!(
            cookie.value_of("SameSite").map(str::to_ascii_lowercase),
            Some(same_site.to_ascii_lowercase()),
            "{raw}"
        );
        assert_eq!(cookie.value_of("Path"), Some(path), "{raw}");
        assert_eq!(cookie.max_age(), Some(max_age), "{raw}");
        assert!(!cookie.has("Domain"), "host-only cookie: {raw}");
    }
    [access, csrf, refresh]
}

backend_tests!(sets_exactly_the_three_cookies_and_answers_user_and_expires_in, |app| async move {
    let signed_up = app.signup("Ada", "ada@example.com").await;
    let mut browser = app.browser();
    let response = browser.login("ada@example.com", PASSWORD).await;
    response.assert_status(200);
    assert_no_store(&response);
    let user = assert_token_response(&response, 900);
    assert_eq!(user, signed_up, "login answers the same UserInfo as signup");
    let [access, csrf, refresh] = assert_login_cookies(&response, app.config());

    // The refresh token: opaque, base64url, at least 256 bits.
    assert!(
        refresh.value.len() >= 43 && refresh.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "refresh token is base64url of ≥ 32 bytes: {:?}",
        refresh.value
    );
    assert_eq!(access.value.split('.').count(), 3, "the access token is a JWT");
    assert_ne!(csrf.value, refresh.value);
});

backend_tests!(
    cookie_lifetimes_follow_the_configuration,
    config = |config| Config { access_ttl_secs: 600, refresh_ttl_secs: 3600, ..config },
    |app| async move {
        app.signup("Ada", "ada@example.com").await;
        let response = app.browser().login("ada@example.com", PASSWORD).await;
        response.assert_status(200);
        assert_token_response(&response, 600);
        assert_login_cookies(&response, app.config());
    }
);

backend_tests!(
    cookies_lack_secure_when_cookie_secure_is_false,
    config = |config| Config { cookie_secure: false, ..config },
    |app| async move {
        app.signup("Ada", "ada@example.com").await;
        let response = app.browser().login("ada@example.com", PASSWORD).await;
        response.assert_status(200);
        let cookies = assert_login_cookies(&response, app.config());
        assert!(cookies.iter().all(|cookie| !cookie.has("Secure")));
    }
);

backend_tests!(the_email_is_matched_case_insensitively, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    app.login("  ADA@Example.COM ", PASSWORD).await;
});

backend_tests!(every_login_is_a_new_session_with_new_cookies, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let first = app.login("ada@example.com", PASSWORD).await;
    let second = app.login("ada@example.com", PASSWORD).await;
    for name in ["access_token", "refresh_token", "csrf_token"] {
        assert_ne!(first.cookie(name), second.cookie(name), "{name} differs between logins");
    }
    let first_sid = jwt::parts(&first.access_token()).1["sid"].clone();
    let second_sid = jwt::parts(&second.access_token()).1["sid"].clone();
    assert_ne!(first_sid, second_sid, "one login = one session");
});

backend_tests!(unknown_email_and_wrong_password_answer_alike, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    let mut browser = app.browser();
    let wrong_password = browser.login("ada@example.com", "Not-The-Password-91").await;
    let unknown_email = browser.login("nobody@example.com", "Not-The-Password-91").await;
    let first = assert_problem(&wrong_password, 401, "invalid_credentials");
    let second = assert_problem(&unknown_email, 401, "invalid_credentials");
    assert_eq!(first, second, "both failures answer the same body");
    for response in [&wrong_password, &unknown_email] {
        assert!(response.set_cookies().is_empty(), "a failed login sets no cookie");
        let challenge = response.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "a 401 carries WWW-Authenticate: Bearer, got {challenge:?}");
    }
    assert!(browser.jar.names().is_empty());
});

backend_tests!(missing_fields_are_validation_failures, |app| async move {
    let response = app.post_json("/api/auth/login", &json!({})).await;
    assert_validation(&response, &[("email", "required"), ("password", "required")]);
    let response = app.post_json("/api/auth/login", &json!({"email": "ada@example.com", "password": 12345678})).await;
    assert_validation(&response, &[("password", "invalid_type")]);
});
