//! The web pages over plain HTTP: HTML with a strict CSP and `no-store`, the DOM ids the
//! browser tests and the script rely on, sign-in redirects, local assets only.

use reqwest::Method;

use crate::support::*;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Asserts an HTML page with the page headers; returns its text.
fn assert_page(response: &TestResponse, status: u16) -> String {
    response.assert_status(status);
    assert!(
        response.header("content-type").is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        response.header("content-type")
    );
    assert_eq!(response.header("content-security-policy"), Some(CSP));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let html = response.text();
    assert!(!html.contains("style="), "no inline style attributes");
    for (position, _) in html.match_indices("<script") {
        let tag = &html[position..html[position..].find('>').map_or(html.len(), |end| position + end)];
        assert!(tag.contains("src=\"/assets/"), "only local scripts: {tag}");
        assert!(html[position..].starts_with(&format!("{tag}></script>")), "no inline script body");
    }
    for (position, _) in html.match_indices("href=\"") {
        let rest = &html[position + 6..];
        let target = &rest[..rest.find('"').unwrap_or(0)];
        assert!(!target.contains("://"), "links and stylesheets stay on this site: {target}");
    }
    html
}

backend_tests!(every_page_is_html_with_its_forms, |app| async move {
    for (path, page, ids) in [
        ("/", "home", &["home-signed-out", "nav-login", "nav-signup"][..]),
        ("/signup", "signup", &["signup-form", "signup-form-name", "signup-form-password-error", "signup-login-link"]),
        ("/login?next=/account", "login", &["login-form", "login-form-email", "login-form-error"]),
        ("/forgot-password", "forgot-password", &["forgot-form", "forgot-form-email", "forgot-form-status"]),
        ("/reset-password?token=abc", "reset-password", &["reset-form", "reset-form-new_password", "reset-login-link"]),
        ("/verify-email?token=abc", "verify-email", &["verify-status", "verify-error"]),
    ] {
        let html = assert_page(&app.get(path).await, 200);
        assert!(html.contains(&format!("data-page=\"{page}\"")), "{path}: {html}");
        for id in ids {
            assert!(html.contains(&format!("id=\"{id}\"")), "{path} has #{id}");
        }
        let inputs = html.matches("<input ").count();
        assert!(html.matches("<label for=").count() >= inputs, "{path} labels each of its {inputs} inputs");
    }
});

backend_tests!(account_and_admin_send_visitors_to_log_in, |app| async move {
    for (path, next) in [("/account", "/login?next=%2Faccount"), ("/admin", "/login?next=%2Fadmin")] {
        let response = app.get(path).await;
        response.assert_status(303);
        assert_eq!(response.header("location"), Some(next));
    }
});

backend_tests!(the_account_page_shows_the_signed_in_user, |app| async move {
    let (user, mut browser) = app.signed_in("Page Person", &unique_email("page")).await;
    let html = assert_page(&browser.get("/account").await, 200);
    for id in [
        "account-name",
        "account-email",
        "account-verified",
        "resend-verification",
        "profile-form",
        "sessions-list",
        "logout-all",
        "password-form",
        "api-key-form",
        "api-key-created",
        "api-key-value",
        "api-key-copy",
        "api-keys-list",
        "logout",
        "nav-account",
        "nav-logout",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "/account has #{id}");
    }
    assert!(html.contains("Page Person") && html.contains(user["email"].as_str().expect("email")));
    assert!(html.contains("Not verified"));
    assert!(!html.contains("id=\"admin-link\""), "no admin link for a member");
    let home = assert_page(&browser.get("/").await, 200);
    assert!(home.contains("id=\"home-signed-in\"") && home.contains("Page Person"));
    // A member is refused the admin page.
    let admin = browser.get("/admin").await;
    assert_page(&admin, 403);
});

backend_tests!(assets_are_served_from_the_binary, |app| async move {
    for (path, kind) in [("/assets/app.css", "text/css"), ("/assets/app.js", "text/javascript")] {
        let response = app.get(path).await;
        response.assert_status(200);
        assert!(response.header("content-type").is_some_and(|t| t.starts_with(kind)), "{path}");
        let etag = response.header("etag").expect("an ETag").to_owned();
        let again = app.send(app.request(Method::GET, path).header("If-None-Match", &etag)).await;
        again.assert_status(304);
    }
    assert!(!app.get("/assets/app.js").await.text().contains("://"), "the script fetches nothing elsewhere");
    assert_problem(&app.get("/assets/other.js").await, 404, "not_found");
    assert_problem(&app.send(app.request(Method::POST, "/login")).await, 405, "method_not_allowed");
});
