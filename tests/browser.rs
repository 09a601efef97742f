//! The web pages in a real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven over WebDriver with fantoccini: the journeys a person makes, start to end, against a
//! real server on a fresh SQLite database. Each journey saves screenshots under
//! `target/screenshots/`.
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (or `PORTCULLIS_CHROMIUM` /
//! `PORTCULLIS_CHROMEDRIVER`) the tests say so loudly and pass — unless `CI=true`, where they
//! fail. `.ci/run` installs both with apt. `PORTCULLIS_UPDATE_SCREENSHOTS=1` also refreshes the
//! README's screenshots in `docs/screenshots/`.

#[macro_use]
#[path = "api/support/mod.rs"]
#[allow(dead_code, unused_macros, unused_imports)]
mod support;

#[path = "browser/driver.rs"]
mod driver;

#[path = "browser/virtual_authenticator.rs"]
#[allow(dead_code)]
mod virtual_authenticator;

use std::sync::Arc;

use driver::{Browser, Chromium};
use reqwest::Method;
use support::{Backend, PASSWORD, TestApp, TestDatabase, mail, unique_email};

const NEW_PASSWORD: &str = "Lantern-Meadow-Copper-93";

/// A server on a fresh SQLite database, on a port chosen up front so that its public URL
/// (the `Origin` the browser sends, and the base of mailed links) is what the browser uses.
async fn start_app() -> Option<(TestApp, Chromium)> {
    start_app_with(|config| config).await
}

async fn start_app_with(
    configure: impl FnOnce(portcullis::config::Config) -> portcullis::config::Config,
) -> Option<(TestApp, Chromium)> {
    let chromium = Chromium::start().await?;
    let database = Arc::new(TestDatabase::create(Backend::Sqlite)?);
    let port = support::cli::free_port();
    let public_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("a URL");
    let config = portcullis::config::Config {
        bind: format!("127.0.0.1:{port}"),
        allowed_origins: portcullis::config::default_origins(&public_url),
        public_url,
        ..database.config()
    };
    Some((TestApp::start(configure(config), database).await, chromium))
}

/// The absolute link to `path` (`/verify-email`, `/reset-password`) in the newest mail to
/// `address` beyond `already`, as a person would click it; it must point at the server's
/// public URL.
async fn mailed_link(app: &TestApp, address: &str, already: usize, path: &str) -> String {
    let mail = mail::wait_for_mail(&app.mail_dir(), address, already).await;
    let token = mail.token_for(path).unwrap_or_else(|| panic!("the mail has a {path} link: {}", mail.text));
    let link = format!("{}{path}?token={token}", portcullis::server::issuer(app.config()));
    assert!(mail.text.contains(&link), "the mailed link is {link}: {}", mail.text);
    link
}

async fn stop(app: TestApp, chromium: Chromium) {
    chromium.stop().await;
    app.stop().await;
    app.database().remove();
}

/// Signs up on /signup.
async fn sign_up(browser: &Browser, name: &str, email: &str, password: &str) {
    browser.goto("/signup").await;
    browser.fill("#signup-form-name", name).await;
    browser.fill("#signup-form-email", email).await;
    browser.fill("#signup-form-password", password).await;
    browser.click("#signup-form button[type=submit]").await;
}

/// Logs in on /login (with `next` if given) and waits to land on `expected`.
async fn log_in(browser: &Browser, email: &str, password: &str, path: &str, expected: &str) {
    browser.goto(path).await;
    browser.wait_for("#login-form").await;
    browser.fill("#login-form-email", email).await;
    browser.fill("#login-form-password", password).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for_path(expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_account_journey() {
    let Some((app, chromium)) = start_app().await else { return };
    let browser = chromium.browser(&app, 1280, 900).await;
    let email = unique_email("journey");

    // Sign up, then open the verification link from the mail.
    sign_up(&browser, "Journey Person", &email, PASSWORD).await;
    browser.wait_for_text("#signup-form-status", "verification link").await;
    browser.screenshot("journey-1-signed-up").await;
    browser.goto_url(&mailed_link(&app, &email, 0, "/verify-email").await).await;
    browser.wait_for_text("#verify-status", "verified").await;

    // Log in and see the account; the session cookies are Secure (http://127.0.0.1 is a
    // secure context for Chromium) and the two token cookies HttpOnly.
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;
    assert_eq!(browser.cookie_flags("access_token").await, Some((true, true)), "access_token: Secure, HttpOnly");
    assert_eq!(browser.cookie_flags("csrf_token").await.map(|(secure, _)| secure), Some(true), "csrf_token: Secure");
    browser.wait_for_text("#account-verified", "Verified").await;
    browser.wait_for_text("#account-email", &email).await;

    // Change the name.
    browser.fill("#profile-form-name", "Journey Renamed").await;
    browser.click("#profile-form button[type=submit]").await;
    browser.wait_for_text("#profile-form-status", "Saved").await;
    browser.wait_for_text("#account-name", "Journey Renamed").await;

    // A second browser (another cookie jar) logs in: two sessions, this one marked.
    let other = chromium.browser(&app, 1280, 900).await;
    log_in(&other, &email, PASSWORD, "/login", "/account").await;
    browser.reload().await;
    browser.wait_for_count("#sessions-list li.session", 2).await;
    browser.wait_for_text("#sessions-list li.session .session-current", "This device").await;
    browser.screenshot("journey-2-account").await;
    browser.save_readme_screenshot("account").await;
    // Revoke the other one (only the other one has the button): its session is over.
    browser.wait_for_count("#sessions-list li.session button.session-revoke", 1).await;
    browser.click("#sessions-list li.session button.session-revoke").await;
    browser.wait_for_count("#sessions-list li.session", 1).await;
    browser.wait_for_text("#sessions-list li.session .session-current", "This device").await;
    // Once its access cookie is gone (as when it expires), the other browser is signed out:
    // /account sends it to /login, whose silent refresh fails, so it stays there.
    other.delete_cookie("access_token").await;
    other.goto("/account").await;
    other.wait_for_path("/login").await;
    other.wait_visible("#login-form").await;
    let refreshed = other.fetch_status("POST", "/api/auth/refresh", false).await;
    assert_eq!(refreshed, 401, "the revoked browser cannot refresh");
    assert_eq!(other.script("return location.pathname;").await, "/login", "it was not let back in");
    other.screenshot("journey-2-revoked-browser").await;
    other.close().await;

    // Create an API key (profile:read, checked by default), read it once, use it from outside.
    let scope = "#api-key-form input[name=scopes][type=checkbox][value='profile:read']";
    assert_eq!(browser.script(&format!("return document.querySelector(\"{scope}\").checked;")).await, true);
    browser.fill("#api-key-form-name", "journey key").await;
    browser.click("#api-key-form button[type=submit]").await;
    browser.wait_visible("#api-key-created").await;
    let key = browser.text("#api-key-value").await;
    assert!(key.starts_with("pc_"), "{key}");
    browser.wait_for_count("#api-keys-list li.api-key", 1).await;
    let me = app.send(app.request(Method::GET, "/api/auth/current-user").header("X-API-Key", &key)).await;
    me.assert_status(200);
    assert_eq!(me.json()["name"], "Journey Renamed");
    browser.screenshot("journey-3-api-key").await;

    // Change the password, log out, log in with the new one.
    browser.fill("#password-form-current_password", PASSWORD).await;
    browser.fill("#password-form-new_password", NEW_PASSWORD).await;
    browser.click("#password-form button[type=submit]").await;
    browser.wait_for_text("#password-form-status", "Password changed").await;
    browser.click("#logout").await;
    browser.wait_for_path("/").await;
    browser.wait_for("#home-signed-out").await;
    log_in(&browser, &email, NEW_PASSWORD, "/login", "/account").await;
    browser.screenshot("journey-4-new-password").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_and_reset_the_password_from_the_mail() {
    let Some((app, chromium)) = start_app().await else { return };
    let email = unique_email("forgot");
    app.signup("Forgetful", &email).await;
    mail::wait_for_mail(&app.mail_dir(), &email, 0).await; // the verification mail
    let browser = chromium.browser(&app, 1280, 900).await;

    browser.goto("/forgot-password").await;
    browser.fill("#forgot-form-email", &email).await;
    browser.click("#forgot-form button[type=submit]").await;
    browser.wait_for_text("#forgot-form-status", "If an account exists").await;
    let link = mailed_link(&app, &email, 1, "/reset-password").await;
    browser.goto_url(&link).await;
    // A weak one is refused (said once, under the field) and leaves the link usable.
    browser.fill("#reset-form-new_password", "password123").await;
    browser.click("#reset-form button[type=submit]").await;
    assert_weak_password_said_once(&browser, "reset-form", "new_password").await;
    browser.fill("#reset-form-new_password", NEW_PASSWORD).await;
    browser.click("#reset-form button[type=submit]").await;
    browser.wait_for_text("#reset-form-status", "Password changed").await;
    browser.screenshot("reset-1-done").await;
    browser.click("#reset-login-link").await;
    log_in(&browser, &email, NEW_PASSWORD, "/login", "/account").await;

    // The link is single-use.
    browser.goto_url(&link).await;
    browser.fill("#reset-form-new_password", PASSWORD).await;
    browser.click("#reset-form button[type=submit]").await;
    browser.wait_for_text("#reset-form-error", "").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_and_weak_passwords_are_explained() {
    let Some((app, chromium)) = start_app().await else { return };
    let email = unique_email("wrong");
    app.signup("Wrong", &email).await;
    let browser = chromium.browser(&app, 1280, 900).await;

    browser.goto("/login").await;
    browser.fill("#login-form-email", &email).await;
    browser.fill("#login-form-password", "Not-The-Password-1").await;
    browser.watch_disabled("#login-form button[type=submit]").await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for_text("#login-form-error", "The email or password is incorrect.").await;
    assert!(browser.was_disabled().await, "the submit button is disabled while the request runs");
    assert_eq!(browser.attr("#login-form button[type=submit]", "disabled").await, None, "and enabled after");
    browser.screenshot("errors-1-wrong-password").await;
    browser.save_readme_screenshot("login").await;

    sign_up(&browser, "Weak", &unique_email("weak"), "password123").await;
    browser.wait_for_text("#signup-form-password-error", "").await;
    let message = browser.text("#signup-form-password-error").await;
    assert!(message.to_lowercase().contains("common"), "the weak-password message says why: {message}");
    assert_eq!(browser.attr("#signup-form-password", "aria-invalid").await.as_deref(), Some("true"));
    browser.screenshot("errors-2-weak-password").await;
    browser.close().await;
    stop(app, chromium).await;
}

/// After a `weak_password` refusal on `form`: the message under `field` says why, the page
/// shows it once (the form's own message only points at the marked field), and the input is
/// marked invalid. Returns the message.
async fn assert_weak_password_said_once(browser: &Browser, form: &str, field: &str) -> String {
    let field_error = format!("#{form}-{field}-error");
    browser.wait_for_text(&field_error, "").await;
    let message = browser.text(&field_error).await;
    assert!(message.to_lowercase().contains("common"), "the weak-password message says why: {message}");
    browser.wait_for_text(&format!("#{form}-error"), "Please correct the field marked below.").await;
    let form_message = browser.text(&format!("#{form}-error")).await;
    assert!(!form_message.contains(&message), "the form's message does not repeat the field's: {form_message}");
    let shown = browser.script("return document.getElementById('main').innerText;").await;
    let shown = shown.as_str().unwrap_or_default();
    assert_eq!(shown.matches(message.as_str()).count(), 1, "{message:?} is shown once on the page: {shown}");
    assert_eq!(browser.attr(&format!("#{form}-{field}"), "aria-invalid").await.as_deref(), Some("true"));
    assert_eq!(
        browser.script("return document.activeElement.id;").await,
        format!("{form}-{field}"),
        "the marked field has the focus"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_says_a_weak_password_is_weak_once() {
    let Some((app, chromium)) = start_app().await else { return };
    let browser = chromium.browser(&app, 1280, 900).await;
    sign_up(&browser, "Weak Once", &unique_email("weak-once"), "password123").await;
    assert_weak_password_said_once(&browser, "signup-form", "password").await;
    browser.screenshot("signup-1-weak-password").await;

    // A stronger one goes through, and the refusal's messages are gone.
    browser.fill("#signup-form-password", PASSWORD).await;
    browser.click("#signup-form button[type=submit]").await;
    browser.wait_for_text("#signup-form-status", "Account created").await;
    for slot in ["signup-form-error", "signup-form-password-error"] {
        let hidden = browser.script(&format!("return document.getElementById('{slot}').hidden;")).await;
        assert_eq!(hidden, true, "#{slot} is hidden again");
    }
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_replaces_the_form_by_a_confirmation() {
    // A provider, so that /signup also has its "Sign up with …" buttons to put away.
    let env: std::collections::BTreeMap<String, String> = [
        ("PORTCULLIS_PROVIDERS", "github"),
        ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "signup-client"),
        ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "signup-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let providers = portcullis_service::providers_config::read_providers(None, &env);
    assert!(providers.problems.is_empty(), "{:?}", providers.problems);
    let Some((app, chromium)) = start_app_with(|config| portcullis::config::Config { providers, ..config }).await
    else {
        return;
    };
    let browser = chromium.browser(&app, 1280, 900).await;
    let email = unique_email("confirmed");

    // What is visible in <main>: the "Log in" links (by id) and whether each part shows.
    let visible = r#"
        const main = document.getElementById('main');
        const shown = (css) => { const e = main.querySelector(css); return !!e && e.checkVisibility(); };
        return {
            heading: main.querySelector('h1').textContent,
            login_links: [...main.querySelectorAll('a')]
                .filter((a) => a.checkVisibility() && a.textContent.trim().toLowerCase() === 'log in')
                .map((a) => a.id || a.getAttribute('href')),
            form: shown('#signup-form'),
            providers: shown('#provider-buttons'),
            status: shown('#signup-form-status'),
            focus: document.activeElement.id,
        };
    "#;
    browser.goto("/signup").await;
    browser.wait_for_text("#provider-github", "Sign up with GitHub").await;
    let before = browser.script(visible).await;
    assert_eq!(before["form"], true, "{before}");
    assert_eq!(before["providers"], true, "{before}");
    assert_eq!(before["status"], false, "{before}");
    assert_eq!(before["login_links"], serde_json::json!(["/login"]), "one 'Log in' link before: {before}");

    sign_up(&browser, "Confirmed Person", &email, PASSWORD).await;
    browser
        .wait_for_text("#signup-form-status", &format!("Account created — we sent a verification link to {email}."))
        .await;
    let after = browser.script(visible).await;
    assert_eq!(after["heading"], "Check your email", "{after}");
    assert_eq!(after["form"], false, "the form is gone: {after}");
    assert_eq!(after["providers"], false, "the provider buttons are gone: {after}");
    assert_eq!(
        after["login_links"],
        serde_json::json!(["signup-login-link"]),
        "exactly one 'Log in' link, the confirmation's: {after}"
    );
    assert_eq!(after["focus"], "signup-login-link", "{after}");
    let main = browser.script("return document.getElementById('main').innerText;").await;
    assert!(!main.as_str().unwrap_or_default().contains("Already have an account"), "{main}");
    browser.screenshot("signup-2-confirmation").await;

    // The mail went out, and the one link goes on to log in.
    mail::wait_for_mail(&app.mail_dir(), &email, 0).await;
    browser.click("#signup-login-link").await;
    browser.wait_for_path("/login").await;
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_header_is_what_lets_a_change_through() {
    let Some((app, chromium)) = start_app().await else { return };
    let email = unique_email("csrf");
    app.signup("Csrf", &email).await;
    let browser = chromium.browser(&app, 1280, 900).await;
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;
    let without = browser.fetch_status("PATCH", "/api/auth/current-user", false).await;
    assert_eq!(without, 403, "a cookie-authenticated change without X-CSRF-Token is refused");
    let with = browser.fetch_status("PATCH", "/api/auth/current-user", true).await;
    assert_eq!(with, 200, "the same change with the header from the csrf_token cookie goes through");
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_returns_to_the_page_asked_for_and_only_on_this_site() {
    let Some((app, chromium)) = start_app().await else { return };
    let email = unique_email("next");
    app.signup("Next", &email).await;
    let browser = chromium.browser(&app, 1280, 900).await;

    browser.goto("/account").await;
    browser.wait_for_path("/login").await;
    assert!(browser.url().await.ends_with("/login?next=%2Faccount"), "{}", browser.url().await);
    browser.fill("#login-form-email", &email).await;
    browser.fill("#login-form-password", PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_for_path("/account").await;
    browser.click("#logout").await;
    browser.wait_for("#home-signed-out").await;

    log_in(&browser, &email, PASSWORD, "/login?next=//evil.example/steal", "/account").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_fit_a_phone() {
    let Some((app, chromium)) = start_app().await else { return };
    let browser = chromium.browser(&app, 390, 844).await;
    for path in ["/login", "/signup", "/forgot-password"] {
        browser.goto(path).await;
        browser.wait_for("main form").await;
        let overflow = browser.script("return document.documentElement.scrollWidth - window.innerWidth;").await;
        assert!(overflow.as_i64().is_some_and(|extra| extra <= 0), "{path} scrolls sideways by {overflow}px");
    }
    browser.goto("/login").await;
    browser.screenshot("phone-login").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_tabs_stay_signed_in_past_the_access_token_lifetime() {
    // Access tokens of 20 s: the pages refresh well before each expires, in both tabs.
    let Some((app, chromium)) =
        start_app_with(|config| portcullis::config::Config { access_ttl_secs: 20, ..config }).await
    else {
        return;
    };
    let email = unique_email("tabs");
    app.signup("Tabs", &email).await;
    let browser = chromium.browser(&app, 1280, 900).await;
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;
    let first = browser.current_tab().await;
    let second = browser.open_tab("/account").await;
    browser.wait_for_text("#account-email", &email).await;
    tokio::time::sleep(std::time::Duration::from_secs(28)).await;
    // Without the pages' refreshing, the 20-second access cookie would be gone by now.
    assert!(browser.has_cookie("access_token").await, "the access cookie was renewed in time");
    for tab in [first, second] {
        browser.switch_to(tab).await;
        browser.reload().await;
        browser.wait_for_text("#account-email", &email).await;
        browser.wait_for_count("#sessions-list li.session", 1).await;
        assert_eq!(browser.fetch_status("GET", "/api/auth/current-user", false).await, 200);
    }
    browser.screenshot("tabs-still-signed-in").await;
    browser.close().await;
    stop(app, chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_finds_and_disables_a_user() {
    let Some((app, chromium)) = start_app().await else { return };
    let output = support::cli::run(
        support::cli::command(
            app.database(),
            &["user", "create", "--email", "root@example.com", "--name", "Root", "--admin"],
        ),
        &format!("{PASSWORD}\n"),
    )
    .await;
    assert!(output.status.success(), "{}", support::cli::describe(&output));
    let member = unique_email("member");
    app.signup("Member To Disable", &member).await;
    app.signup("Someone Else", &unique_email("else")).await;

    let browser = chromium.browser(&app, 1280, 900).await;
    log_in(&browser, "root@example.com", PASSWORD, "/login?next=/admin", "/admin").await;
    browser.wait_for_count("#admin-users tr.admin-user", 3).await;
    browser.fill("#admin-search-q", "to disable").await;
    browser.click("#admin-search button[type=submit]").await;
    browser.wait_for_count("#admin-users tr.admin-user", 1).await;
    browser.click("#admin-users tr.admin-user button.admin-toggle-disabled").await;
    browser.wait_for_text("#admin-users tr.admin-user", "Disabled").await;
    browser.screenshot("admin-disabled").await;
    let login = app.browser().login(&member, PASSWORD).await;
    assert_eq!(login.code(), 403, "a disabled user cannot log in: {}", login.text());
    browser.close().await;
    stop(app, chromium).await;
}

/// Signs in at the `oidc-provider` form as `login`, unless the provider remembers the browser
/// and sends it straight back; ends when the browser is back on `path`.
async fn sign_in_at_provider(browser: &Browser, login: &str, path: &str) {
    let started = std::time::Instant::now();
    loop {
        let url = browser.url().await;
        if url.contains("/interaction/") && browser.script("return !!document.getElementById('login')").await == true {
            browser.fill("#login", login).await;
            browser.click("#submit").await;
            break;
        }
        if url.starts_with(&browser_origin(browser).await) && !url.contains("/api/auth/oauth/") {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "stuck at {url}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.wait_for_path(path).await;
}

async fn browser_origin(browser: &Browser) -> String {
    browser.script("return location.origin").await.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_with_a_provider_then_managing_it_on_the_account_page() {
    let Some(chromium) = Chromium::start().await else { return };
    let database = Arc::new(TestDatabase::create(Backend::Sqlite).expect("SQLite"));
    let port = support::cli::free_port();
    let public_url = url::Url::parse(&format!("http://127.0.0.1:{port}")).expect("a URL");
    let client = support::oidc::OidcClient {
        client_id: "pages-client".into(),
        client_secret: "pages-secret".into(),
        redirect_uri: format!("{public_url}api/auth/oauth/corp/callback"),
    };
    let alice = support::oidc::OidcAccount {
        sub: "alice".into(),
        email: Some("alice@corp.example".into()),
        email_verified: true,
        name: Some("Alice Corp".into()),
        ..Default::default()
    };
    let Some(provider) = support::oidc::OidcProvider::start(&[client], &[alice]).await else { return };
    let env: std::collections::BTreeMap<String, String> = [
        ("PORTCULLIS_PROVIDERS", "corp"),
        ("PORTCULLIS_PROVIDER_CORP_NAME", "Corp ID"),
        ("PORTCULLIS_PROVIDER_CORP_ISSUER", provider.issuer.as_str()),
        ("PORTCULLIS_PROVIDER_CORP_CLIENT_ID", "pages-client"),
        ("PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET", "pages-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let config = portcullis::config::Config {
        bind: format!("127.0.0.1:{port}"),
        allowed_origins: portcullis::config::default_origins(&public_url),
        public_url,
        providers: portcullis_service::providers_config::read_providers(None, &env),
        ..database.config()
    };
    let app = TestApp::start(config, database).await;
    let browser = chromium.browser(&app, 1280, 900).await;

    // The button on /login goes to the provider; signing in there comes back signed in.
    browser.goto("/login").await;
    browser.wait_for_text("#provider-corp", "Log in with Corp ID").await;
    browser.screenshot("providers-1-login").await;
    browser.click("#provider-corp").await;
    sign_in_at_provider(&browser, "alice", "/account").await;
    browser.wait_for_text("#account-email", "alice@corp.example").await;
    browser.wait_for_text("#account-verified", "Verified").await;

    // The provider is listed as linked; it is the only way in, so it cannot be unlinked.
    browser.wait_for("#identities-list [data-provider=corp] .identity-unlink").await;
    browser.wait_for_text("#password-heading", "Set a password").await;
    browser.click("#identities-list [data-provider=corp] .identity-unlink").await;
    browser.wait_for_text("#identities-error", "only way to sign in").await;
    browser.screenshot("providers-2-account").await;

    // With a first password set, the provider can go, and be linked again.
    browser.fill("#password-form-new_password", PASSWORD).await;
    browser.click("#password-form button[type=submit]").await;
    browser.wait_for_text("#password-form-status", "Password set").await;
    browser.click("#identities-list [data-provider=corp] .identity-unlink").await;
    browser.wait_for("#identities-list [data-provider=corp] .identity-link").await;
    browser.click("#identities-list [data-provider=corp] .identity-link").await;
    sign_in_at_provider(&browser, "alice", "/account").await;
    browser.wait_for("#identities-list [data-provider=corp] .identity-unlink").await;

    // A refused callback explains itself on /login.
    browser.goto("/login?error=account_exists").await;
    browser.wait_for_text("#login-provider-error", "link the provider on your account page").await;
    browser.close().await;
    provider.stop().await;
    chromium.stop().await;
    app.stop().await;
    app.database().remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_on_two_step_sign_in_from_the_account_page() {
    let Some((app, chromium)) = start_app().await else { return };
    let browser = chromium.browser(&app, 1280, 900).await;
    let email = unique_email("totp");
    sign_up(&browser, "Two Step", &email, PASSWORD).await;
    browser.wait_for_text("#signup-form-status", "verification link").await;
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;

    // Turn it on: a QR code and the key, then a first code from the app.
    browser.click("#totp-begin").await;
    browser.wait_visible("#totp-qr").await;
    let secret = browser.text("#totp-secret").await;
    assert!(secret.len() >= 26, "a base32 key: {secret}");
    let qr = browser.attr("#totp-qr", "src").await.unwrap_or_default();
    assert!(qr.starts_with("data:image/svg+xml;base64,"), "{qr}");
    browser.screenshot("totp-1-enroll").await;
    browser.fill("#totp-confirm-form-code", &support::totp::code(&secret, -1)).await;
    browser.click("#totp-confirm-form button[type=submit]").await;
    browser.wait_for_count("#recovery-codes-list li", 10).await;
    browser.wait_for_text("#recovery-codes-left", "10").await;
    let recovery = browser.text("#recovery-codes-list li:first-child").await;
    // To keep them: a download of the ten as text.
    let download = browser.attr("#recovery-codes-download", "href").await.unwrap_or_default();
    let encoded =
        download.strip_prefix("data:text/plain;charset=utf-8,").unwrap_or_else(|| panic!("a text file: {download}"));
    let saved: String = url::form_urlencoded::parse(format!("codes={encoded}").as_bytes())
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(saved.lines().count(), 10, "{saved}");
    assert!(saved.lines().any(|line| line == recovery), "{saved}");
    browser.screenshot("totp-2-recovery-codes").await;

    // Log out and in: the password leads to the code.
    browser.click("#logout").await;
    browser.wait_for_path("/").await;
    browser.goto("/login").await;
    browser.fill("#login-form-email", &email).await;
    browser.fill("#login-form-password", PASSWORD).await;
    browser.click("#login-form button[type=submit]").await;
    browser.wait_visible("#mfa-form").await;
    browser.fill("#mfa-form-code", "000000").await;
    browser.click("#mfa-form button[type=submit]").await;
    browser.wait_for_text("#mfa-form-error", "not valid").await;
    browser.fill("#mfa-form-code", &support::totp::code(&secret, 1)).await;
    browser.click("#mfa-form button[type=submit]").await;
    browser.wait_for_path("/account").await;
    browser.wait_for_text("#account-email", &email).await;

    // Off again, with a recovery code.
    browser.wait_visible("#totp-disable-form").await;
    browser.fill("#totp-disable-form-code", &recovery).await;
    browser.click("#totp-disable-form button[type=submit]").await;
    browser.wait_visible("#totp-begin").await;
    browser.close().await;
    stop(app, chromium).await;
}

/// A server whose public URL is `http://localhost:PORT` (WebAuthn needs a name, not an IP
/// address), and a browser addressing it so.
async fn start_passkey_app() -> Option<(TestApp, Chromium, String)> {
    let chromium = Chromium::start().await?;
    let database = Arc::new(TestDatabase::create(Backend::Sqlite)?);
    let port = support::cli::free_port();
    let base = format!("http://localhost:{port}");
    let public_url = url::Url::parse(&base).expect("a URL");
    let config = portcullis::config::Config {
        bind: format!("127.0.0.1:{port}"),
        allowed_origins: portcullis::config::default_origins(&public_url),
        public_url,
        ..database.config()
    };
    Some((TestApp::start(config, database).await, chromium, base))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_made_on_the_account_page_signs_in_on_the_login_page() {
    let Some((app, chromium, base)) = start_passkey_app().await else { return };
    let browser = chromium.browser_at(base, 1280, 900).await;
    let authenticator = virtual_authenticator::add_virtual_authenticator(browser.client()).await;
    let email = unique_email("passkey");
    sign_up(&browser, "Pass Key", &email, PASSWORD).await;
    browser.wait_for_text("#signup-form-status", "verification link").await;
    log_in(&browser, &email, PASSWORD, "/login", "/account").await;

    // Add one, named; it is listed; rename it.
    browser.wait_for_text("#passkeys-list", "No passkeys yet").await;
    browser.fill("#passkey-form-name", "Work laptop").await;
    browser.click("#passkey-form button[type=submit]").await;
    browser.wait_for_text("#passkey-form-status", "Passkey added: Work laptop").await;
    browser.wait_for_count("#passkeys-list li.passkey", 1).await;
    let held = virtual_authenticator::credentials(browser.client(), &authenticator).await;
    assert_eq!(held.len(), 1, "the authenticator holds one credential: {held:?}");
    assert_eq!(held[0]["rpId"], "localhost");
    assert_eq!(held[0]["isResidentCredential"], true, "a discoverable credential");
    browser.click("#passkeys-list .passkey-rename").await;
    browser.fill(".passkey-rename-input", "Laptop").await;
    browser.click(".passkey-rename-save").await;
    browser.wait_for_text("#passkeys-list li.passkey", "Laptop").await;
    // This device has a passkey already: a second one is refused by the browser, explained.
    browser.click("#passkey-form button[type=submit]").await;
    browser.wait_for_text("#passkey-form-error", "already holds a passkey").await;
    browser.screenshot("passkey-1-account").await;

    // Log out. With the authenticator refusing to verify the user, the autofill offer fails
    // quietly and the button explains; once it verifies again, the button signs in.
    browser.click("#logout").await;
    browser.wait_for_path("/").await;
    virtual_authenticator::set_user_verified(browser.client(), &authenticator, false).await;
    browser.goto("/login?next=/account").await;
    browser.wait_visible("#passkey-login").await;
    assert_eq!(browser.url().await.split('?').next().map(|url| url.ends_with("/login")), Some(true));
    browser.click("#passkey-login").await;
    browser.wait_for_text("#passkey-login-error", "No passkey was used").await;
    browser.screenshot("passkey-2-login-refused").await;
    virtual_authenticator::set_user_verified(browser.client(), &authenticator, true).await;
    browser.click("#passkey-login").await;
    browser.wait_for_path("/account").await;
    browser.wait_for_text("#account-email", &email).await;
    browser.wait_for_text("#passkeys-list li.passkey", "last used").await;

    // Conditional mediation: on a fresh visit to /login the browser's autofill offer signs in
    // by itself with the passkey this device holds (no email typed, no button pressed).
    browser.click("#logout").await;
    browser.wait_for_path("/").await;
    browser.goto("/login").await;
    browser.wait_for_path("/account").await;
    browser.wait_for_text("#account-email", &email).await;

    // With a password left, the passkey may go.
    browser.click("#passkeys-list .passkey-delete").await;
    browser.wait_for_text("#passkeys-list", "No passkeys yet").await;
    browser.close().await;
    stop(app, chromium).await;
}
