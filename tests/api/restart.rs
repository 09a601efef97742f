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
