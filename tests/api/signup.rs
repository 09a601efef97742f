//! `POST /api/auth/signup`.

use serde_json::{Value, json};

use crate::support::*;

backend_tests!(returns_201_and_the_user_info_without_cookies, |app| async move {
    let before = chrono::Utc::now().timestamp();
    let response = app
        .signup_raw(&json!({"name": "  Ada Lovelace ", "email": "  Ada.Lovelace@Example.COM ", "password": PASSWORD}))
        .await;
    response.assert_status(201);
    assert!(
        response.header("content-type").unwrap_or_default().starts_with("application/json"),
        "{:?}",
        response.header("content-type")
    );
    assert_no_store(&response);
    assert!(response.set_cookies().is_empty(), "signup sets no cookies: {:?}", response.header_all("set-cookie"));

    let user = response.json();
    assert_user_info(&user);
    assert_eq!(user["name"], "Ada Lovelace", "the name is trimmed");
    assert_eq!(user["email"], "ada.lovelace@example.com", "the email is trimmed and lower-cased");
    assert_eq!(user["avatar_url"], Value::Null);
    assert_eq!(user["roles"], json!(["user"]));
    assert_eq!(user["email_verified"], false);
    let created = assert_rfc3339_utc_seconds(user["created_at"].as_str().unwrap_or_default()).timestamp();
    let after = chrono::Utc::now().timestamp();
    assert!((before - 1..=after + 1).contains(&created), "created_at {created} is now ({before}..={after})");
    assert!(!response.text().contains(PASSWORD), "the body never echoes the password");
});

backend_tests!(keeps_the_avatar_url, |app| async move {
    let response = app
        .signup_raw(&json!({
            "name": "Grace", "email": unique_email("grace"), "password": PASSWORD,
            "avatar_url": "https://cdn.example.com/grace.png"
        }))
        .await;
    response.assert_status(201);
    assert_eq!(response.json()["avatar_url"], "https://cdn.example.com/grace.png");
});

backend_tests!(accepts_a_null_avatar_url_and_ignores_unknown_fields, |app| async move {
    let response = app
        .signup_raw(&json!({
            "name": "Linus", "email": unique_email("linus"), "password": PASSWORD,
            "avatar_url": null, "favourite_colour": "green", "roles": ["admin"]
        }))
        .await;
    response.assert_status(201);
    let user = response.json();
    assert_user_info(&user);
    assert_eq!(user["avatar_url"], Value::Null);
    assert_eq!(user["roles"], json!(["user"]), "a client cannot choose its roles");
});

backend_tests!(a_second_signup_with_the_same_email_is_409_email_taken, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    for email in ["ada@example.com", "ADA@Example.com", "  ada@example.com  "] {
        let response = app.signup_raw(&json!({"name": "Impostor", "email": email, "password": PASSWORD})).await;
        assert_problem(&response, 409, "email_taken");
    }
    let response = app.signup_raw(&json!({"name": "Ada", "email": "ada2@example.com", "password": PASSWORD})).await;
    response.assert_status(201);
});

backend_tests!(each_user_gets_a_distinct_v7_id, |app| async move {
    let first = app.signup("One", &unique_email("one")).await;
    let second = app.signup("Two", &unique_email("two")).await;
    assert_ne!(first["user_id"], second["user_id"]);
});

backend_tests!(passwords_are_not_truncated_at_72_bytes, |app| async move {
    let email = unique_email("long");
    let prefix = "Quartz-Harbor-".repeat(6); // 84 bytes: past bcrypt's 72-byte limit
    let password = format!("{prefix}tail-one");
    let almost = format!("{prefix}tail-two");
    let response = app.signup_raw(&json!({"name": "Long", "email": email, "password": password})).await;
    response.assert_status(201);

    let mut browser = app.browser();
    let wrong = browser.login(&email, &almost).await;
    assert_problem(&wrong, 401, "invalid_credentials");
    let right = browser.login(&email, &password).await;
    right.assert_status(200);
});

backend_tests!(a_256_character_unicode_password_works, |app| async move {
    let email = unique_email("unicode");
    let password: String = "Ünïcødé-🔐-".chars().cycle().take(256).collect();
    assert_eq!(password.chars().count(), 256);
    let response = app.signup_raw(&json!({"name": "Uni", "email": email, "password": password})).await;
    response.assert_status(201);
    app.login(&email, &password).await;
});
