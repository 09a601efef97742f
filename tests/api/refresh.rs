//! `POST /api/auth/refresh`: rotation, reuse grace, family revocation.

use std::time::Duration;

use portcullis::config::Config;

use crate::login::{assert_login_cookies, assert_token_response};
use crate::support::*;

fn assert_unauthorized_challenge(response: &TestResponse, code: &str) {
    assert_problem(response, 401, code);
    let challenge = response.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "a 401 carries WWW-Authenticate: Bearer, got {challenge:?}");
}

backend_tests!(rotates_all_three_cookies_and_the_new_access_token_works, |app| async move {
    let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let before = browser.jar.clone();
    let before_claims = jwt::parts(&browser.access_token()).1;

    let response = browser.refresh().await; // no X-CSRF-Token: refresh needs none
    response.assert_status(200);
    assert_no_store(&response);
    assert_eq!(assert_token_response(&response, 900), user);
    assert_login_cookies(&response, app.config());
    for name in ["access_token", "refresh_token", "csrf_token"] {
        assert_ne!(before.get(name), browser.cookie(name), "{name} is rotated");
    }
    let claims = jwt::verify(&app, &browser.access_token()).await;
    assert_eq!(claims["sid"], before_claims["sid"], "a refresh stays in the same session");
    assert_ne!(claims["jti"], before_claims["jti"]);

    let response = browser.current_user().await;
    response.assert_status(200);
    assert_eq!(response.json(), user);

    // and the rotated refresh token refreshes again
    browser.refresh().await.assert_status(200);
});

backend_tests!(without_a_refresh_cookie_is_401_unauthorized, |app| async move {
    let response = app.browser().refresh().await;
    assert_unauthorized_challenge(&response, "unauthorized");
    assert!(response.set_cookie_names().iter().all(|name| name != "access_token"));
});

backend_tests!(an_unknown_refresh_token_is_401_unauthorized, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let forged = "A".repeat(43);
    let response = browser.with_refresh_token(&forged).refresh().await;
    assert_unauthorized_challenge(&response, "unauthorized");
    let response = browser.with_refresh_token("not a token at all").refresh().await;
    assert_unauthorized_challenge(&response, "unauthorized");
});

backend_tests!(a_used_token_works_once_more_within_the_grace_window, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let old = browser.refresh_token();
    browser.refresh().await.assert_status(200);

    // a second tab presents the token the first one just used
    let mut other_tab = browser.with_refresh_token(&old);
    let response = other_tab.refresh().await;
    response.assert_status(200);
    assert_token_response(&response, 900);
    assert_login_cookies(&response, app.config());
    other_tab.current_user().await.assert_status(200);

    // the session is not ended: the newest token of the first tab still refreshes
    browser.refresh().await.assert_status(200);
});

backend_tests!(
    a_used_token_after_the_grace_window_revokes_the_whole_session,
    config = |config| Config { refresh_grace_secs: 0, ..config },
    |app| async move {
        let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
        let old = browser.refresh_token();
        browser.refresh().await.assert_status(200);
        let newest = browser.refresh_token();
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let response = browser.with_refresh_token(&old).refresh().await;
        assert_unauthorized_challenge(&response, "session_revoked");

        let response = browser.with_refresh_token(&newest).refresh().await;
        assert_eq!(response.code(), 401, "the newest token of a revoked session stops working: {}", response.text());
        let code = response.json()["code"].as_str().unwrap_or_default().to_owned();
        assert!(["session_revoked", "unauthorized"].contains(&code.as_str()), "code {code}");
        assert_unauthorized_challenge(&response, &code);

        // another session of the same user is untouched
        app.login("ada@example.com", PASSWORD).await.refresh().await.assert_status(200);
    }
);
