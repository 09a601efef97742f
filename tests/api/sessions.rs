//! `GET /api/auth/sessions`, `DELETE /api/auth/sessions/{id}`, `POST /api/auth/logout-all`.

use reqwest::Method;
use serde_json::Value;

use crate::support::*;

/// A state-changing request from `browser` with its CSRF header.
async fn with_csrf(browser: &mut Browser, method: Method, path: &str) -> TestResponse {
    let csrf = browser.cookie("csrf_token").expect("csrf cookie").to_owned();
    let request = browser.request(method, path).header("X-CSRF-Token", csrf);
    browser.send(request).await
}

fn items(response: &TestResponse) -> Vec<Value> {
    response.assert_status(200);
    response.json().as_array().expect("a JSON array").clone()
}

backend_tests!(each_login_is_a_session_and_the_current_one_is_marked, |app| async move {
    let (_, mut laptop) = app.signed_in("Ada", "ada@example.com").await;
    let phone_request = app
        .request(Method::POST, "/api/auth/login")
        .header("User-Agent", "PhoneBrowser/1.0")
        .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD}));
    let mut phone = app.browser();
    phone.send(phone_request).await.assert_status(200);

    let listed = items(&laptop.get("/api/auth/sessions").await);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(listed.iter().filter(|s| s["current"] == true).count(), 1);
    for session in &listed {
        for key in ["session_id", "created_at", "last_used_at", "expires_at", "user_agent", "ip", "current"] {
            assert!(session.get(key).is_some(), "{key} in {session}");
        }
        assert_eq!(session["ip"], "127.0.0.1");
        assert_rfc3339_utc_seconds(session["expires_at"].as_str().expect("text"));
    }
    let from_phone = items(&phone.get("/api/auth/sessions").await);
    let current_on_phone = from_phone.iter().find(|s| s["current"] == true).expect("one is current");
    assert_eq!(current_on_phone["user_agent"], "PhoneBrowser/1.0");
    assert_eq!(current_on_phone["device"], "PhoneBrowser/1.0", "an unknown browser: the header itself");

    // A browser woothee knows is named in words.
    let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let request = app
        .request(Method::POST, "/api/auth/login")
        .header("User-Agent", firefox)
        .json(&serde_json::json!({"email": "ada@example.com", "password": PASSWORD}));
    let mut desktop = app.browser();
    desktop.send(request).await.assert_status(200);
    let from_desktop = items(&desktop.get("/api/auth/sessions").await);
    let current = from_desktop.iter().find(|s| s["current"] == true).expect("one is current");
    assert_eq!(current["device"], "Firefox 133 on Windows 10");

    // Another user's list does not show Ada's sessions.
    let (_, mut other) = app.signed_in("Bob", "bob@example.com").await;
    assert_eq!(items(&other.get("/api/auth/sessions").await).len(), 1);
    // Unauthenticated: 401.
    assert_problem(&app.get("/api/auth/sessions").await, 401, "unauthorized");
});

backend_tests!(revoking_the_other_device_ends_its_refresh, |app| async move {
    let (_, mut laptop) = app.signed_in("Ada", "ada@example.com").await;
    let mut phone = app.login("ada@example.com", PASSWORD).await;
    let listed = items(&laptop.get("/api/auth/sessions").await);
    let other = listed.iter().find(|s| s["current"] == false).expect("the phone's session");
    let path = format!("/api/auth/sessions/{}", other["session_id"].as_str().expect("id"));

    // By cookie without the CSRF header: refused.
    assert_problem(&laptop.send(laptop.request(Method::DELETE, &path)).await, 403, "csrf_failed");
    with_csrf(&mut laptop, Method::DELETE, &path).await.assert_status(204);

    assert_problem(&phone.refresh().await, 401, "unauthorized");
    laptop.refresh().await.assert_status(200);
    assert_eq!(items(&laptop.get("/api/auth/sessions").await).len(), 1);
    // Gone now: 404.
    assert_problem(&with_csrf(&mut laptop, Method::DELETE, &path).await, 404, "not_found");
});

backend_tests!(another_users_session_is_not_found, |app| async move {
    let (_, mut ada) = app.signed_in("Ada", "ada@example.com").await;
    let (_, mut bob) = app.signed_in("Bob", "bob@example.com").await;
    let bobs = items(&bob.get("/api/auth/sessions").await);
    let path = format!("/api/auth/sessions/{}", bobs[0]["session_id"].as_str().expect("id"));
    assert_problem(&with_csrf(&mut ada, Method::DELETE, &path).await, 404, "not_found");
    bob.refresh().await.assert_status(200);
    // Not a UUID at all: 404 too.
    assert_problem(&with_csrf(&mut ada, Method::DELETE, "/api/auth/sessions/not-a-uuid").await, 404, "not_found");
    // By Bearer no CSRF header is needed.
    let request = app.request(Method::DELETE, &path).bearer_auth(bob.access_token());
    app.send(request).await.assert_status(204);
    assert_problem(&bob.refresh().await, 401, "unauthorized");
});

backend_tests!(logout_all_ends_every_session_and_clears_cookies, |app| async move {
    let (_, mut laptop) = app.signed_in("Ada", "ada@example.com").await;
    let mut phone = app.login("ada@example.com", PASSWORD).await;
    let (_, mut bob) = app.signed_in("Bob", "bob@example.com").await;

    assert_problem(&laptop.post("/api/auth/logout-all").await, 403, "csrf_failed");
    let response = with_csrf(&mut laptop, Method::POST, "/api/auth/logout-all").await;
    response.assert_status(204);
    for name in ["access_token", "refresh_token", "csrf_token"] {
        let cleared = response.set_cookies().into_iter().find(|c| c.name == name).expect(name);
        assert_eq!(cleared.value_of("Max-Age"), Some("0"), "{name}");
    }
    assert_problem(&phone.refresh().await, 401, "unauthorized");
    assert_problem(&laptop.with_refresh_token(&phone.refresh_token()).refresh().await, 401, "unauthorized");
    // Other users keep theirs.
    bob.refresh().await.assert_status(200);
});
