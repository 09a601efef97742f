//! Keys persist in the database: tokens survive a restart.

use crate::support::*;

backend_tests!(a_token_issued_before_a_restart_still_verifies_after_it, |app| async move {
    let (user, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let kids_before: Vec<serde_json::Value> = jwt::jwks_keys(&app).await.iter().map(|key| key["kid"].clone()).collect();

    app.restart().await;

    let kids_after: Vec<serde_json::Value> = jwt::jwks_keys(&app).await.iter().map(|key| key["kid"].clone()).collect();
    assert_eq!(kids_after, kids_before, "the same signing key after a restart");
    jwt::verify(&app, &token).await;

    let response = app.get_bearer("/api/auth/current-user", &token).await;
    response.assert_status(200);
    assert_eq!(response.json(), user);

    // sessions persist too: the refresh cookie from before the restart still refreshes
    let mut browser = browser;
    browser.refresh().await.assert_status(200);
    browser.current_user().await.assert_status(200);
    app.login("ada@example.com", PASSWORD).await;
});

backend_tests!(
    instances_started_together_on_a_fresh_database_all_come_up_with_one_key,
    database_only,
    |database| async move {
        let config = database.config();
        let start = || TestApp::start(config.clone(), std::sync::Arc::clone(&database));
        let (a, b, c, d) = tokio::join!(start(), start(), start(), start());
        let apps = [a, b, c, d];
        let mut documents = Vec::new();
        for app in &apps {
            let jwks = app.get("/.well-known/jwks.json").await;
            jwks.assert_status(200);
            documents.push(jwks.json());
        }
        assert_eq!(documents[0]["keys"].as_array().map(Vec::len), Some(1), "exactly one signing key: {}", documents[0]);
        assert!(documents.iter().all(|document| *document == documents[0]), "every instance publishes the same JWKS");
        // A token from one instance verifies on every other.
        let (_, browser) = apps[0].signed_in("Ada", "ada@example.com").await;
        for app in &apps[1..] {
            app.get_bearer("/api/auth/current-user", &browser.access_token()).await.assert_status(200);
        }
        for app in &apps {
            app.stop().await;
        }
    }
);
