//! Email verification: signup mails a link; opening it (on any device) verifies the address;
//! the claims say so after the next refresh; resend replaces the link.

use reqwest::Method;
use serde_json::json;

use crate::support::jwt::parts;
use crate::support::{PASSWORD, assert_problem, assert_user_info, mail, unique_email};

backend_tests!(signup_mails_a_link_that_verifies_the_address_once, |app| async move {
    let email = unique_email("verify");
    let (user, mut browser) = app.signed_in("Vera", &email).await;
    assert_eq!(user["email_verified"], false);

    let mail = mail::wait_for_mail(&app.mail_dir(), &email, 0).await;
    assert!(
        mail.subject.to_lowercase().contains("verify") || mail.subject.to_lowercase().contains("confirm"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains(&format!("{}/verify-email?token=", app.config().public_url.as_str().trim_end_matches('/'))),
        "{}",
        mail.text
    );
    let token = mail.token_for("/verify-email").expect("link");
    assert!(token.len() >= 43, "at least 256 bits: {token}");

    // No cookies, no bearer: the link may be opened on another device.
    let verified = app.post_json("/api/auth/email/verify", &json!({"token": token})).await;
    verified.assert_status(200);
    let body = verified.json();
    assert_user_info(&body);
    assert_eq!(body["email_verified"], true);
    assert_eq!(body["user_id"], user["user_id"]);

    // Single use.
    let again = app.post_json("/api/auth/email/verify", &json!({"token": token})).await;
    assert_problem(&again, 400, "invalid_token");

    // The current access token still says false (stateless); the next refresh says true.
    assert_eq!(parts(&browser.access_token()).1["email_verified"], false);
    browser.refresh().await.assert_status(200);
    assert_eq!(parts(&browser.access_token()).1["email_verified"], true);
    assert_eq!(browser.current_user().await.json()["email_verified"], true);
});

backend_tests!(bad_verification_tokens_are_invalid_token, |app| async move {
    for token in ["", "nope", &"A".repeat(43)] {
        let response = app.post_json("/api/auth/email/verify", &json!({"token": token})).await;
        assert_problem(&response, 400, "invalid_token");
    }
    let missing = app.post_json("/api/auth/email/verify", &json!({})).await;
    assert_problem(&missing, 422, "validation_failed");
});

backend_tests!(resend_replaces_the_link_and_is_quiet_once_verified, |app| async move {
    let email = unique_email("resend");
    let (_, mut browser) = app.signed_in("Rhea", &email).await;
    let first = app.mailed_token(&email, 0, "/verify-email").await;

    // Cookie callers need the CSRF header.
    browser.post("/api/auth/email/resend").await.assert_status(403);
    browser.send_csrf(Method::POST, "/api/auth/email/resend", None).await.assert_status(202);
    let second = app.mailed_token(&email, 1, "/verify-email").await;
    assert_ne!(first, second);

    assert_problem(&app.post_json("/api/auth/email/verify", &json!({"token": first})).await, 400, "invalid_token");
    app.post_json("/api/auth/email/verify", &json!({"token": second})).await.assert_status(200);

    // Already verified: still 202, but no new mail.
    let bearer = browser.access_token();
    let response = app.send(app.request(Method::POST, "/api/auth/email/resend").bearer_auth(&bearer)).await;
    response.assert_status(202);
    mail::assert_no_new_mail(&app.mail_dir(), &email, 2).await;

    // Without authentication: 401.
    app.send(app.request(Method::POST, "/api/auth/email/resend")).await.assert_status(401);
});

backend_tests!(a_verification_link_works_after_logging_out, |app| async move {
    let email = unique_email("later");
    let (_, mut browser) = app.signed_in("Lena", &email).await;
    browser.logout().await.assert_status(204);
    let token = app.mailed_token(&email, 0, "/verify-email").await;
    app.post_json("/api/auth/email/verify", &json!({"token": token})).await.assert_status(200);
    let mut again = app.login(&email, PASSWORD).await;
    assert_eq!(again.current_user().await.json()["email_verified"], true);
});
