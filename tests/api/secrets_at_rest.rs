//! Secrets at rest: with `PORTCULLIS_ENCRYPTION_KEY` the signing keys' private halves and the
//! TOTP secrets are sealed in the database; an existing database moves to it in place; a key
//! rotation keeps everything readable; without the key a sealed database does not start.

use std::sync::Arc;

use base64::Engine;
use portcullis::config::Config;
use portcullis_domain::SecretString;
use reqwest::Method;

use crate::mfa::{code, turn_on};
use crate::support::*;

fn key(byte: u8) -> SecretString {
    SecretString::new(base64::engine::general_purpose::STANDARD.encode([byte; 32]))
}

fn stored_private_keys(database: &TestDatabase) -> Vec<String> {
    database.texts("SELECT private_key AS value FROM signing_keys")
}

fn stored_totp_secrets(database: &TestDatabase) -> Vec<String> {
    database.texts("SELECT secret AS value FROM totp_credentials")
}

fn all_sealed(values: &[String]) -> bool {
    !values.is_empty() && values.iter().all(|value| value.starts_with("sealed:v1:"))
}

backend_tests!(an_existing_database_is_sealed_in_place_and_keeps_working, database_only, |database| async move {
    // First without a key: the secrets are stored as they are.
    let plain = TestApp::start(database.config(), Arc::clone(&database)).await;
    let (_, mut browser) = plain.signed_in("Ada", "ada@example.com").await;
    let (secret, recovery, _) = turn_on(&mut browser, -1).await;
    let token = browser.access_token();
    assert!(!all_sealed(&stored_private_keys(&database)));
    assert_eq!(stored_totp_secrets(&database), std::slice::from_ref(&secret), "cleartext without a key");
    plain.stop().await;

    // With a key: sealed at start, and nothing changes for the users.
    let sealed_config = Config { encryption_key: Some(key(1)), ..database.config() };
    let sealed = TestApp::start(sealed_config, Arc::clone(&database)).await;
    assert!(all_sealed(&stored_private_keys(&database)), "{:?}", stored_private_keys(&database));
    let totp = stored_totp_secrets(&database);
    assert!(all_sealed(&totp) && !totp[0].contains(&secret), "{totp:?}");
    sealed.get_bearer("/api/auth/current-user", &token).await.assert_status(200);
    let mut again = sealed.browser();
    assert_problem(&again.login("ada@example.com", PASSWORD).await, 401, "mfa_required");
    let verified = again.post_json("/api/auth/mfa/verify", &serde_json::json!({"code": code(&secret, 1)})).await;
    verified.assert_status(200);
    // A new TOTP secret and a new signing key are sealed as they are written.
    again.send_csrf(Method::POST, "/api/auth/logout-all", None).await;
    sealed.stop().await;

    // A rotated key: the old one only opens; at start everything is sealed with the new one.
    let rotated_config =
        Config { encryption_key: Some(key(2)), encryption_keys_old: vec![key(1)], ..database.config() };
    let before = stored_private_keys(&database);
    let rotated = TestApp::start(rotated_config, Arc::clone(&database)).await;
    let after = stored_private_keys(&database);
    assert!(all_sealed(&after) && after != before, "sealed again with the new key");
    rotated.get_bearer("/api/auth/current-user", &token).await.assert_status(200);
    let mut third = rotated.browser();
    assert_problem(&third.login("ada@example.com", PASSWORD).await, 401, "mfa_required");
    // (the steps around now are spent: a recovery code, whose hash is not a sealed secret)
    third.post_json("/api/auth/mfa/verify", &serde_json::json!({"code": recovery[0]})).await.assert_status(200);
    let totp = stored_totp_secrets(&database);
    assert!(all_sealed(&totp) && !totp[0].contains(&secret), "{totp:?}");
    rotated.stop().await;

    // Without the key, a sealed database does not start, and says which key it needs.
    let error = portcullis::server::spawn(database.config()).await.err().expect("refuses to start");
    let message = format!("{error:#}");
    assert!(message.contains("PORTCULLIS_ENCRYPTION_KEY"), "{message}");
    assert!(!message.contains(key(2).expose()), "no key in the error: {message}");
});

backend_tests!(
    a_new_database_with_a_key_never_stores_a_secret_in_the_clear,
    config = |config| Config { encryption_key: Some(key(7)), ..config },
    |app| async move {
        let (_, mut browser) = app.signed_in("Bob", "bob@example.com").await;
        let (secret, _, _) = turn_on(&mut browser, -1).await;
        let database = app.database();
        assert!(all_sealed(&stored_private_keys(database)));
        let totp = stored_totp_secrets(database);
        assert!(all_sealed(&totp) && !totp[0].contains(&secret), "{totp:?}");
        let kid = portcullis_service::rotate_signing_key(app.config()).expect("rotates");
        let keys = stored_private_keys(database);
        assert_eq!(keys.len(), 2);
        assert!(all_sealed(&keys), "a rotated key is sealed too ({kid})");
    }
);
