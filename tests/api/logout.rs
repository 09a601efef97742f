//! `POST /api/auth/logout`.

use crate::support::*;

backend_tests!(answers_204_clears_the_cookies_and_ends_the_session, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let refresh = browser.refresh_token();
    let login_paths: Vec<(String, String)> =
        [("access_token", "/"), ("refresh_token", "/api/auth"), ("csrf_token", "/")]
            .iter()
            .map(|(name, path)| ((*name).to_owned(), (*path).to_owned()))
            .collect();

    let response = browser.logout().await; // no X-CSRF-Token: logout needs none
    response.assert_status(204);
    assert_no_store(&response);
    assert!(response.body.is_empty(), "204 has no body");
    assert_eq!(response.set_cookie_names(), ["access_token", "csrf_token", "refresh_token"]);
    for (name, path) in &login_paths {
        let cookie = response.set_cookie(name);
        assert_eq!(cookie.max_age(), Some(0), "{name} is cleared with Max-Age=0: {}", cookie.raw);
        assert_eq!(cookie.path(), path, "{name} is cleared on the path it was set on: {}", cookie.raw);
    }
    assert!(browser.jar.names().is_empty(), "the browser holds no cookie after logout");

    let response = browser.with_refresh_token(&refresh).refresh().await;
    assert_eq!(response.code(), 401, "the ended session's refresh token is refused: {}", response.text());
});

backend_tests!(answers_204_when_not_logged_in, |app| async move {
    let response = app.browser().logout().await;
    response.assert_status(204);
    assert_no_store(&response);
});

backend_tests!(by_bearer_ends_the_session_of_the_token_sid, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let access = browser.access_token();
    let refresh = browser.refresh_token();

    let response = app.send(app.request(reqwest::Method::POST, "/api/auth/logout").bearer_auth(&access)).await;
    response.assert_status(204);

    let response = browser.with_refresh_token(&refresh).refresh().await;
    assert_eq!(response.code(), 401, "the Bearer token's session is ended: {}", response.text());
});

backend_tests!(ends_only_the_current_session, |app| async move {
    let (_, mut laptop) = app.signed_in("Ada", "ada@example.com").await;
    let mut phone = app.login("ada@example.com", PASSWORD).await;
    laptop.logout().await.assert_status(204);
    phone.refresh().await.assert_status(200);
});

backend_tests!(the_access_token_stays_valid_until_it_expires, |app| async move {
    // Access tokens are stateless (API.md): logout stops refreshes, not an issued token.
    let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let access = browser.access_token();
    browser.logout().await.assert_status(204);
    let response = app.get_bearer("/api/auth/current-user", &access).await;
    response.assert_status(200);
    assert_eq!(response.json(), user);
});
