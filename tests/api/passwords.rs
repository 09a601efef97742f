//! Password change, forgot and reset; deleting the account.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, assert_problem, assert_validation, mail, unique_email};

const NEW_PASSWORD: &str = "Lantern-Meadow-Copper-93";

backend_tests!(change_password_ends_every_other_session, |app| async move {
    let email = unique_email("change");
    let (_, mut here) = app.signed_in("Cho", &email).await;
    let mut elsewhere = app.login(&email, PASSWORD).await;

    let path = "/api/auth/password/change";
    let wrong = here
        .send_csrf(
            Method::POST,
            path,
            Some(&json!({"current_password": "not-it-at-all", "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_problem(&wrong, 403, "invalid_credentials");
    let weak = here
        .send_csrf(Method::POST, path, Some(&json!({"current_password": PASSWORD, "new_password": "password123"})))
        .await;
    let body = assert_problem(&weak, 422, "weak_password");
    assert_eq!(body["errors"][0]["field"], "new_password");
    let missing = here.send_csrf(Method::POST, path, Some(&json!({"current_password": PASSWORD}))).await;
    assert_validation(&missing, &[("new_password", "required")]);
    // Cookie callers need the CSRF header.
    here.post_json(path, &json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})).await.assert_status(403);

    here.send_csrf(Method::POST, path, Some(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})))
        .await
        .assert_status(204);

    // This session lives on; the other one is over.
    here.refresh().await.assert_status(200);
    elsewhere.refresh().await.assert_status(401);
    assert_problem(&app.browser().login(&email, PASSWORD).await, 401, "invalid_credentials");
    app.login(&email, NEW_PASSWORD).await;
});

backend_tests!(forgot_and_reset_by_the_mailed_link, |app| async move {
    let email = unique_email("forgot");
    let (_, mut browser) = app.signed_in("Faye", &email).await;
    mail::wait_for_mail(&app.mail_dir(), &email, 0).await; // the verification mail
    let before = 1;

    let response = app.post_json("/api/auth/password/forgot", &json!({"email": email.to_uppercase()})).await;
    response.assert_status(202);
    let token = app.mailed_token(&email, before, "/reset-password").await;

    let weak = app.post_json("/api/auth/password/reset", &json!({"token": token, "new_password": "password123"})).await;
    assert_problem(&weak, 422, "weak_password");
    app.post_json("/api/auth/password/reset", &json!({"token": token, "new_password": NEW_PASSWORD}))
        .await
        .assert_status(204);

    // Every session ended; the old password is gone; the token is single-use.
    browser.refresh().await.assert_status(401);
    assert_problem(&app.browser().login(&email, PASSWORD).await, 401, "invalid_credentials");
    let mut fresh = app.login(&email, NEW_PASSWORD).await;
    assert_eq!(fresh.current_user().await.json()["email_verified"], true, "reading the mail proved the address");
    let again = app.post_json("/api/auth/password/reset", &json!({"token": token, "new_password": PASSWORD})).await;
    assert_problem(&again, 400, "invalid_token");
});

backend_tests!(a_newer_reset_link_replaces_the_older, |app| async move {
    let email = unique_email("twice");
    app.signup("Tom", &email).await;
    mail::wait_for_mail(&app.mail_dir(), &email, 0).await; // the verification mail
    let before = 1;
    app.post_json("/api/auth/password/forgot", &json!({"email": email})).await.assert_status(202);
    let first = app.mailed_token(&email, before, "/reset-password").await;
    app.post_json("/api/auth/password/forgot", &json!({"email": email})).await.assert_status(202);
    let second = app.mailed_token(&email, before + 1, "/reset-password").await;
    assert_ne!(first, second);
    let old = app.post_json("/api/auth/password/reset", &json!({"token": first, "new_password": NEW_PASSWORD})).await;
    assert_problem(&old, 400, "invalid_token");
    app.post_json("/api/auth/password/reset", &json!({"token": second, "new_password": NEW_PASSWORD}))
        .await
        .assert_status(204);
});

backend_tests!(bad_reset_requests, |app| async move {
    let garbage =
        app.post_json("/api/auth/password/reset", &json!({"token": "nope", "new_password": NEW_PASSWORD})).await;
    assert_problem(&garbage, 400, "invalid_token");
    let missing = app.post_json("/api/auth/password/reset", &json!({"token": "nope"})).await;
    assert_validation(&missing, &[("new_password", "required")]);
    let bad_email = app.post_json("/api/auth/password/forgot", &json!({"email": "not an email"})).await;
    assert_problem(&bad_email, 422, "validation_failed");
});

backend_tests!(forgot_password_does_not_tell_who_has_an_account, |app| async move {
    let known = unique_email("known");
    app.signup("Kim", &known).await;
    let unknown = unique_email("unknown");

    let mut timings = Vec::new();
    for email in [&known, &unknown] {
        let mut elapsed = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let response = app.post_json("/api/auth/password/forgot", &json!({"email": email})).await;
            elapsed.push(started.elapsed());
            response.assert_status(202);
            assert_eq!(response.text(), "", "the same empty answer for everyone");
        }
        elapsed.sort();
        timings.push(elapsed[elapsed.len() / 2]);
    }
    let (known_median, unknown_median) = (timings[0], timings[1]);
    let gap = known_median.abs_diff(unknown_median);
    assert!(
        gap < Duration::from_millis(25),
        "median answer times differ by {gap:?} ({known_median:?} vs {unknown_median:?})"
    );

    // The known address got mail; the unknown one none.
    mail::wait_for_mail(&app.mail_dir(), &known, 1).await;
    mail::assert_no_new_mail(&app.mail_dir(), &unknown, 0).await;
});

backend_tests!(login_does_not_tell_who_has_an_account, |app| async move {
    let known = unique_email("who");
    app.signup("Wu", &known).await;
    let wrong_password = app.browser().login(&known, "Wrong-Password-For-Sure-1").await;
    let unknown_email = app.browser().login(&unique_email("nobody"), "Wrong-Password-For-Sure-1").await;
    let a = assert_problem(&wrong_password, 401, "invalid_credentials");
    let b = assert_problem(&unknown_email, 401, "invalid_credentials");
    assert_eq!(a, b, "the same answer for a wrong password and an unknown email");
});

backend_tests!(deleting_the_account_removes_everything_of_it, |app| async move {
    let email = unique_email("leaving");
    let (user, mut browser) = app.signed_in("Lea", &email).await;
    let created = browser.send_csrf(Method::POST, "/api/auth/api-keys", Some(&json!({"name": "ci"}))).await;
    created.assert_status(201);
    let key = created.json()["key"].as_str().expect("key").to_owned();

    let wrong =
        browser.send_csrf(Method::DELETE, "/api/auth/current-user", Some(&json!({"password": "nope-nope-nope"}))).await;
    assert_problem(&wrong, 403, "invalid_credentials");
    let access = browser.access_token();
    let refresh = browser.refresh_token();
    let response =
        browser.send_csrf(Method::DELETE, "/api/auth/current-user", Some(&json!({"password": PASSWORD}))).await;
    response.assert_status(204);
    assert!(response.set_cookie("access_token").value.is_empty(), "cookies are cleared");

    assert_problem(&app.browser().login(&email, PASSWORD).await, 401, "invalid_credentials");
    browser.with_refresh_token(&refresh).refresh().await.assert_status(401);
    let by_key = app.send(app.request(Method::GET, "/api/auth/current-user").header("X-API-Key", &key)).await;
    assert_problem(&by_key, 401, "unauthorized");
    // The still-valid access token cannot change what no longer exists.
    let patch = app
        .send(app.request(Method::PATCH, "/api/auth/current-user").bearer_auth(&access).json(&json!({"name": "Ghost"})))
        .await;
    assert_problem(&patch, 404, "not_found");
    // And the address is free again.
    let again = app.signup("Lea again", &email).await;
    assert_ne!(again["user_id"], user["user_id"]);
});
