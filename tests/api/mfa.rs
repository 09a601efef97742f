//! TOTP and recovery codes, end to end: turning TOTP on and off, the second step after a
//! password (cookie and token endpoint) and after a provider, single-use codes, the five-wrong
//! limit. Codes come from `totp-lite`, an implementation the product does not use.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

pub use crate::support::totp::code;

/// Turns TOTP on for the browser's user, confirming with the code `confirm_offset` steps away;
/// returns the secret, the recovery codes and the code that confirmed (spent now).
pub async fn turn_on(browser: &mut Browser, confirm_offset: i64) -> (String, Vec<String>, String) {
    let begun = browser.send_csrf(Method::POST, "/api/auth/mfa/totp", None).await;
    begun.assert_status(200);
    let body = begun.json();
    let secret = body["secret"].as_str().expect("a secret").to_owned();
    let url = body["otpauth_url"].as_str().expect("a URL");
    assert!(url.starts_with("otpauth://totp/") && url.contains(&format!("secret={secret}")), "{url}");
    for part in ["issuer=", "algorithm=SHA1", "digits=6", "period=30"] {
        assert!(url.contains(part), "{part} in {url}");
    }
    assert!(body["qr_svg"].as_str().is_some_and(|svg| svg.contains("<svg")), "an SVG QR code");
    let confirming = code(&secret, confirm_offset);
    let confirmed =
        browser.send_csrf(Method::POST, "/api/auth/mfa/totp/confirm", Some(&json!({"code": confirming}))).await;
    confirmed.assert_status(200);
    let codes: Vec<String> = confirmed.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes, confirming)
}

/// A password login that must stop at the second step; returns the browser holding `mfa_token`.
async fn login_to_second_step(app: &TestApp, email: &str) -> Browser {
    let mut browser = app.browser();
    let response = browser.login(email, PASSWORD).await;
    let body = assert_problem(&response, 401, "mfa_required");
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(response.set_cookie_names(), ["mfa_token"], "no session yet");
    let cookie = response.set_cookie("mfa_token");
    assert_eq!((cookie.path(), cookie.max_age()), ("/api/auth", Some(300)));
    assert_eq!(cookie.value_of("SameSite"), Some("Strict"));
    assert!(cookie.has("HttpOnly"));
    browser
}

async fn verify(browser: &mut Browser, code: &str) -> TestResponse {
    browser.post_json("/api/auth/mfa/verify", &json!({"code": code})).await
}

fn amr(browser: &Browser) -> Value {
    jwt::parts(&browser.access_token()).1["amr"].clone()
}

backend_tests!(totp_on_makes_a_password_login_take_a_second_step, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let mut other_device = app.login("ada@example.com", PASSWORD).await;
    let wrong = browser.send_csrf(Method::POST, "/api/auth/mfa/totp/confirm", Some(&json!({"code": "000000"}))).await;
    assert_problem(&wrong, 409, "conflict");
    let (secret, recovery, spent) = turn_on(&mut browser, -1).await;
    other_device.refresh().await.assert_status(401);
    browser.refresh().await.assert_status(200);
    assert_problem(&browser.send_csrf(Method::POST, "/api/auth/mfa/totp", None).await, 409, "conflict");
    let methods = browser.get("/api/auth/methods").await.json();
    assert_eq!((methods["totp"].clone(), methods["recovery_codes_left"].clone()), (json!(true), json!(10)));

    // The password alone is not enough; the code finishes it, once.
    let mut second = login_to_second_step(&app, "ada@example.com").await;
    assert_problem(&verify(&mut second, &spent).await, 401, "invalid_code");
    let done = verify(&mut second, &code(&secret, 1)).await;
    done.assert_status(200);
    assert_eq!(done.json()["user"]["email"], "ada@example.com");
    assert_eq!(amr(&second), json!(["pwd", "otp", "mfa"]));
    assert!(done.set_cookie("mfa_token").deletes());
    assert_problem(&verify(&mut second, &code(&secret, 1)).await, 401, "unauthorized");

    // A recovery code works once.
    let mut third = login_to_second_step(&app, "ada@example.com").await;
    verify(&mut third, &recovery[0].to_uppercase()).await.assert_status(200);
    let mut fourth = login_to_second_step(&app, "ada@example.com").await;
    assert_problem(&verify(&mut fourth, &recovery[0]).await, 401, "invalid_code");
    verify(&mut fourth, &recovery[3]).await.assert_status(200);
    assert_eq!(third.get("/api/auth/methods").await.json()["recovery_codes_left"], 8);

    // New recovery codes void the old; turning TOTP off needs a code and ends the second step.
    let renewed =
        third.send_csrf(Method::POST, "/api/auth/mfa/recovery-codes", Some(&json!({"code": recovery[1]}))).await;
    renewed.assert_status(200);
    let renewed: Vec<String> = renewed.json()["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("text").to_owned())
        .collect();
    let off = third.send_csrf(Method::DELETE, "/api/auth/mfa/totp", Some(&json!({"code": recovery[2]}))).await;
    assert_problem(&off, 400, "invalid_code");
    third.send_csrf(Method::DELETE, "/api/auth/mfa/totp", Some(&json!({"code": renewed[0]}))).await.assert_status(204);
    let plain = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(amr(&plain), json!(["pwd"]));
    assert_eq!(third.get("/api/auth/methods").await.json()["totp"], false);
});

backend_tests!(five_wrong_codes_kill_the_second_step_and_count_toward_the_lockout, |app| async move {
    let (_, mut browser) = app.signed_in("Eve", "eve@example.com").await;
    let (_, recovery, _) = turn_on(&mut browser, -1).await;
    let mut second = login_to_second_step(&app, "eve@example.com").await;
    for _ in 0..5 {
        assert_problem(&verify(&mut second, "123456").await, 401, "invalid_code");
    }
    assert_problem(&verify(&mut second, &recovery[0]).await, 401, "unauthorized");
    // The five wrong codes were five failed attempts on the account (threshold 5): locked.
    assert_problem(&app.browser().login("eve@example.com", PASSWORD).await, 429, "rate_limited");
});

backend_tests!(the_token_endpoint_answers_mfa_required_and_takes_the_mfa_grant, |app| async move {
    let (_, mut browser) = app.signed_in("Bob", "bob@example.com").await;
    let (secret, _, _) = turn_on(&mut browser, -1).await;
    let token = |form: Vec<(&'static str, String)>| {
        let request = app.request(Method::POST, "/api/auth/token").form(&form);
        app.send(request)
    };
    let first = token(vec![
        ("grant_type", "password".into()),
        ("username", "bob@example.com".into()),
        ("password", PASSWORD.into()),
    ])
    .await;
    first.assert_status(400);
    assert_eq!(first.json()["error"], "mfa_required");
    let mfa_token = first.json()["mfa_token"].as_str().expect("an mfa_token").to_owned();
    let grant = |otp: String| {
        vec![
            ("grant_type", "urn:portcullis:grant-type:mfa-otp".to_owned()),
            ("mfa_token", mfa_token.clone()),
            ("otp", otp),
        ]
    };
    let wrong = token(grant("111111".into())).await;
    assert_eq!((wrong.code(), wrong.json()["error"].clone()), (400, json!("invalid_grant")));
    let issued = token(grant(code(&secret, 0))).await;
    issued.assert_status(200);
    let access = issued.json()["access_token"].as_str().expect("a token").to_owned();
    assert_eq!(jwt::parts(&access).1["amr"], json!(["pwd", "otp", "mfa"]));
    let spent = token(grant(code(&secret, 1))).await;
    assert_eq!((spent.code(), spent.json()["error"].clone()), (400, json!("invalid_grant")), "the mfa_token is spent");
});

backend_tests!(totp_endpoints_need_a_person_with_csrf_and_verify_needs_a_token, |app| async move {
    let (_, mut browser) = app.signed_in("Cy", "cy@example.com").await;
    assert_problem(&browser.post("/api/auth/mfa/totp").await, 403, "csrf_failed");
    assert_problem(&app.send(app.request(Method::POST, "/api/auth/mfa/totp")).await, 401, "unauthorized");
    let off = browser.send_csrf(Method::DELETE, "/api/auth/mfa/totp", Some(&json!({"code": "123456"}))).await;
    assert_problem(&off, 404, "not_found");
    assert_problem(&app.post_json("/api/auth/mfa/verify", &json!({"code": "123456"})).await, 401, "unauthorized");
    let forged = app.post_json("/api/auth/mfa/verify", &json!({"code": "123456", "mfa_token": "forged"})).await;
    assert_problem(&forged, 401, "unauthorized");
    assert_validation(&app.post_json("/api/auth/mfa/verify", &json!({})).await, &[("code", "required")]);
});

backend_tests!(an_admin_resets_a_user_who_lost_every_factor, database_only, |database| async move {
    cli::make_admin(&database).await;
    let app = TestApp::start(database.config(), database).await;
    let (user, mut browser) = app.signed_in("Lost", "lost@example.com").await;
    turn_on(&mut browser, -1).await;
    login_to_second_step(&app, "lost@example.com").await;
    let mut admin = app.login("root@example.com", PASSWORD).await;
    let path = format!("/api/admin/users/{}/mfa", user["user_id"].as_str().expect("an id"));
    assert_problem(&browser.send_csrf(Method::DELETE, &path, None).await, 403, "forbidden");
    admin.send_csrf(Method::DELETE, &path, None).await.assert_status(204);
    browser.refresh().await.assert_status(401);
    let plain = app.login("lost@example.com", PASSWORD).await;
    assert_eq!(amr(&plain), json!(["pwd"]));
    assert_problem(
        &admin.send_csrf(Method::DELETE, "/api/admin/users/00000000-0000-0000-0000-000000000000/mfa", None).await,
        404,
        "not_found",
    );
    app.stop().await;
});

backend_tests!(admin_requires_mfa_refuses_a_one_factor_session, database_only, |database| async move {
    cli::make_admin(&database).await;
    let app =
        TestApp::start(portcullis::config::Config { admin_requires_mfa: true, ..database.config() }, database).await;
    let mut admin = app.login("root@example.com", PASSWORD).await;
    assert_problem(&admin.get("/api/admin/users").await, 403, "mfa_required");
    let (secret, _, _) = turn_on(&mut admin, -1).await;
    let mut second = login_to_second_step(&app, "root@example.com").await;
    verify(&mut second, &code(&secret, 1)).await.assert_status(200);
    second.get("/api/admin/users").await.assert_status(200);
    app.stop().await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_step_started_on_one_instance_finishes_on_another() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else { return };
    let database = std::sync::Arc::new(database);
    let first = TestApp::start(database.config(), std::sync::Arc::clone(&database)).await;
    let (_, mut browser) = first.signed_in("Multi", "multi@example.com").await;
    let (secret, _, _) = turn_on(&mut browser, -1).await;
    let second_step = login_to_second_step(&first, "multi@example.com").await;
    let other = first.another_instance().await;
    let mut moved = Browser { app: other.clone(), jar: second_step.jar.clone() };
    verify(&mut moved, &code(&secret, 1)).await.assert_status(200);
    assert_eq!(amr(&moved), json!(["pwd", "otp", "mfa"]));
    other.stop().await;
    first.stop().await;
    database.remove();
}
