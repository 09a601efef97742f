//! The web pages over plain HTTP: HTML with a strict CSP and `no-store`, the DOM ids the
//! browser tests and the script rely on, sign-in redirects, local assets only.

use reqwest::Method;

use crate::support::cli::{command, describe, run};
use crate::support::*;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every page, as the signed-out visitor asks for it, with its `data-page` name and the ids it
/// must hold.
const SIGNED_OUT_PAGES: [(&str, &str, &[&str]); 6] = [
    ("/", "home", &["home-signed-out", "nav-home", "nav-login", "nav-signup"]),
    (
        "/signup",
        "signup",
        &[
            "signup-form",
            "signup-form-error",
            "signup-form-name",
            "signup-form-name-error",
            "signup-form-email",
            "signup-form-email-error",
            "signup-form-password",
            "signup-form-password-error",
            "signup-form-avatar_url",
            "signup-form-avatar_url-error",
            "signup-form-status",
            "signup-login-link",
        ],
    ),
    (
        "/login?next=/account",
        "login",
        &["login-form", "login-form-error", "login-form-email", "login-form-password", "login-form-password-error"],
    ),
    (
        "/forgot-password",
        "forgot-password",
        &["forgot-form", "forgot-form-email", "forgot-form-error", "forgot-form-status"],
    ),
    (
        "/reset-password?token=abc",
        "reset-password",
        &[
            "reset-form",
            "reset-form-new_password",
            "reset-form-new_password-error",
            "reset-form-error",
            "reset-form-status",
            "reset-login-link",
        ],
    ),
    ("/verify-email?token=abc", "verify-email", &["verify-status", "verify-error"]),
];

/// The paths the pages module serves; each answers `GET` only.
const PAGE_PATHS: [&str; 9] = [
    "/",
    "/signup",
    "/login",
    "/account",
    "/forgot-password",
    "/reset-password",
    "/verify-email",
    "/admin",
    "/assets/app.js",
];

/// Asserts an HTML page with `status` and the page headers, local assets only, no inline
/// script or style, `lang="en"`, a skip link to `main#main`, and a label for every input;
/// returns its text.
fn assert_page(response: &TestResponse, status: u16) -> String {
    let what = format!("{} {}", response.method, response.path);
    response.assert_status(status);
    assert!(
        response.header("content-type").is_some_and(|t| t.starts_with("text/html")),
        "{what}: {:?}",
        response.header("content-type")
    );
    assert_eq!(response.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(response.header("cache-control"), Some("no-store"), "{what}");
    let html = response.text();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"), "{what}: {}", &html[..html.len().min(80)]);
    assert!(html.contains("<a class=\"skip\" href=\"#main\">") && html.contains("<main id=\"main\""), "{what}");
    assert!(!html.contains("style="), "{what}: no inline style attributes");
    assert!(!html.contains("<style"), "{what}: no style elements");
    for (position, _) in html.match_indices(" on") {
        let name: String = html[position + 1..].chars().take_while(char::is_ascii_lowercase).collect();
        assert!(!html[position + 1 + name.len()..].starts_with('='), "{what}: no inline event handler ({name})");
    }
    for (position, _) in html.match_indices("<script") {
        let tag = &html[position..html[position..].find('>').map_or(html.len(), |end| position + end)];
        assert!(tag.contains("src=\"/assets/"), "{what}: only local scripts: {tag}");
        assert!(html[position..].starts_with(&format!("{tag}></script>")), "{what}: no inline script body");
    }
    for (position, _) in html.match_indices("href=\"") {
        let rest = &html[position + 6..];
        let target = &rest[..rest.find('"').unwrap_or(0)];
        assert!(
            target.starts_with('/') || target.starts_with('#'),
            "{what}: links and styles stay on this site: {target}"
        );
    }
    for (position, _) in html.match_indices("<input ") {
        let tag = &html[position..position + html[position..].find('>').unwrap_or(0)];
        match attribute(tag, "id") {
            Some(id) => assert!(html.contains(&format!("<label for=\"{id}\"")), "{what}: #{id} has a label"),
            None => {
                let before = &html[..position];
                assert!(before.rfind("<label").unwrap_or(0) > before.rfind("</label>").unwrap_or(0), "{what}: {tag}");
            }
        }
    }
    html
}

/// The value of `name="…"` in a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    tag[start..].find('"').map(|end| &tag[start..start + end])
}

fn assert_ids(html: &str, what: &str, ids: &[&str]) {
    for id in ids {
        assert!(html.contains(&format!("id=\"{id}\"")), "{what} has #{id}");
    }
}

/// Makes `root@example.com` an admin with the CLI on the running server's database and logs in.
async fn admin(app: &TestApp) -> Browser {
    let output = run(
        command(app.database(), &["user", "create", "--email", "root@example.com", "--name", "Root Admin", "--admin"]),
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(output.status.success(), "portcullis user create --admin: {}", describe(&output));
    let browser = app.login("root@example.com", PASSWORD).await;
    assert!(browser.cookie("access_token").is_some(), "the admin is logged in");
    browser
}

backend_tests!(every_page_is_html_with_its_forms, |app| async move {
    for (path, page, ids) in SIGNED_OUT_PAGES {
        let html = assert_page(&app.get(path).await, 200);
        assert!(html.contains(&format!("<body data-page=\"{page}\"")), "{path}: {html}");
        assert!(!html.contains("data-signed-in"), "{path}: nobody is signed in");
        assert_ids(&html, path, ids);
        assert!(!html.contains("id=\"nav-account\"") && !html.contains("id=\"nav-logout\""), "{path}");
        for (position, _) in html.match_indices("<form ") {
            assert!(html[position..].starts_with("<form id=\""), "{path}: every form has an id");
        }
    }
});

backend_tests!(account_and_admin_send_visitors_to_log_in, |app| async move {
    for (path, next) in [("/account", "/login?next=%2Faccount"), ("/admin", "/login?next=%2Fadmin")] {
        let response = app.get(path).await;
        response.assert_status(303);
        assert_eq!(response.header("location"), Some(next));
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
});

backend_tests!(an_access_cookie_that_does_not_verify_is_left_to_the_script, |app| async move {
    // An expired (here: unverifiable) access cookie must not bounce between the page and the
    // login page: the page is served and its script refreshes or sends the person to log in.
    let mut browser = app.browser();
    browser.jar.insert("access_token", "not.a.token", "/");
    for (path, page) in [("/account", "account"), ("/admin", "admin"), ("/", "home")] {
        let html = assert_page(&browser.get(path).await, 200);
        assert!(html.contains(&format!("<body data-page=\"{page}\" data-signed-in=\"unverified\"")), "{path}: {html}");
        assert!(html.contains("id=\"nav-login\""), "{path}: the nav shows the way in until the script knows better");
    }
});

backend_tests!(the_account_page_shows_the_signed_in_user, |app| async move {
    let (user, mut browser) = app.signed_in("Page <Person>", &unique_email("page")).await;
    let html = assert_page(&browser.get("/account").await, 200);
    assert_ids(
        &html,
        "/account",
        &[
            "account-name",
            "account-email",
            "account-verified",
            "resend-verification",
            "resend-status",
            "profile-form",
            "profile-form-name",
            "profile-form-avatar_url",
            "profile-form-error",
            "profile-form-status",
            "sessions-list",
            "logout-all",
            "password-form",
            "password-form-current_password",
            "password-form-new_password",
            "password-form-status",
            "api-key-form",
            "api-key-form-name",
            "api-key-form-status",
            "api-key-created",
            "api-key-value",
            "api-key-copy",
            "api-keys-list",
            "logout",
            "nav-account",
            "nav-logout",
        ],
    );
    assert!(html.contains("<body data-page=\"account\" data-signed-in=\"true\" data-access-expires-in=\""), "{html}");
    assert!(html.contains("Page &lt;Person&gt;") && !html.contains("Page <Person>"), "the name is escaped");
    assert!(html.contains(user["email"].as_str().expect("email")));
    assert!(html.contains(">Not verified<"));
    for scope in ["profile:read", "profile:write", "introspect"] {
        assert!(html.contains(&format!("name=\"scopes\" value=\"{scope}\"")), "a checkbox for {scope}");
    }
    assert!(html.contains("value=\"profile:read\" checked"), "profile:read is checked by default");
    assert!(!html.contains("id=\"admin-link\"") && !html.contains("id=\"nav-admin\""), "no admin links for a member");
    assert!(html.contains("<img class=\"avatar\" id=\"account-avatar\" alt=\"\""), "{html}");

    // The picture, once set, is rendered (escaped) from the re-issued access token.
    let picture = "https://example.com/a.png?size=64&shape=round";
    browser.patch_profile(&serde_json::json!({"avatar_url": picture})).await.assert_status(200);
    let html = assert_page(&browser.get("/account").await, 200);
    assert!(html.contains("src=\"https://example.com/a.png?size=64&amp;shape=round\""), "{html}");
    assert!(html.contains("value=\"https://example.com/a.png?size=64&amp;shape=round\""), "{html}");

    // Every page shows the signed-in navigation.
    for path in ["/", "/login", "/signup", "/forgot-password"] {
        let page = assert_page(&browser.get(path).await, 200);
        assert_ids(&page, path, &["nav-home", "nav-account", "nav-logout"]);
        assert!(!page.contains("id=\"nav-login\""), "{path}");
    }
    let home = assert_page(&browser.get("/").await, 200);
    assert!(
        home.contains("id=\"home-signed-in\"") && home.contains("<span id=\"home-name\">Page &lt;Person&gt;</span>")
    );

    // A member is refused the admin page, with a page that says so.
    let refused = assert_page(&browser.get("/admin").await, 403);
    assert!(refused.contains("<body data-page=\"admin\"") && !refused.contains("id=\"admin-users\""));
});

backend_tests!(an_admin_gets_the_admin_page, |app| async move {
    let mut root = admin(&app).await;
    let html = assert_page(&root.get("/admin").await, 200);
    assert_ids(
        &html,
        "/admin",
        &["admin-search", "admin-search-q", "admin-users", "admin-next", "admin-error", "nav-admin"],
    );
    let account = assert_page(&root.get("/account").await, 200);
    assert_ids(&account, "/account", &["admin-link", "nav-admin"]);
});

backend_tests!(pages_answer_get_only, |app| async move {
    for path in PAGE_PATHS {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app.send(app.request(method.clone(), path)).await;
            assert_problem(&response, 405, "method_not_allowed");
            assert_eq!(response.header("allow"), Some("GET"), "{method} {path}");
        }
    }
    assert_problem(&app.get("/login/").await, 404, "not_found");
    assert_problem(&app.get("/account/settings").await, 404, "not_found");
});

backend_tests!(assets_are_served_from_the_binary, |app| async move {
    for (path, kind) in
        [("/assets/app.css", "text/css"), ("/assets/app.js", "text/javascript"), ("/assets/icon.svg", "image/svg+xml")]
    {
        let response = app.get(path).await;
        response.assert_status(200);
        assert!(response.header("content-type").is_some_and(|t| t.starts_with(kind)), "{path}");
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(response.header("cache-control"), Some("no-cache"), "{path}");
        let etag = response.header("etag").expect("an ETag").to_owned();
        assert!(etag.starts_with('"') && etag.len() > 10, "a strong ETag: {etag}");
        let again = app.send(app.request(Method::GET, path).header("If-None-Match", &etag)).await;
        again.assert_status(304);
        assert_eq!(again.header("etag"), Some(etag.as_str()));
        let weak = app.send(app.request(Method::GET, path).header("If-None-Match", format!("W/{etag}"))).await;
        weak.assert_status(304);
        let stale = app.send(app.request(Method::GET, path).header("If-None-Match", "\"other\"")).await;
        stale.assert_status(200);
    }
    let script = app.get("/assets/app.js").await.text();
    assert!(!script.contains("://"), "the script fetches nothing elsewhere");
    assert!(!app.get("/assets/app.css").await.text().contains("@import"), "the stylesheet loads nothing else");
    for unknown in ["/assets/other.js", "/assets/app.js.map", "/assets/", "/assets/x/app.js"] {
        assert_problem(&app.get(unknown).await, 404, "not_found");
    }
});
