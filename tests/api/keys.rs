//! Signing-key rotation without restarts: `portcullis keys rotate` on one instance's
//! database; every instance accepts the new key at once and keeps accepting the old one.

use crate::support::jwt::{jwks_keys, parts};
use crate::support::*;

fn kid(token: &str) -> String {
    parts(token).0["kid"].as_str().expect("a kid").to_owned()
}

backend_tests!(a_rotated_key_is_accepted_everywhere_without_restart, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let old_token = browser.access_token();
    let old_kid = kid(&old_token);

    let output = cli::run(cli::command(app.database(), &["keys", "rotate"]), "").await;
    assert!(output.status.success(), "{}", cli::describe(&output));

    // An instance started after the rotation signs with the new key.
    let other = app.another_instance().await;
    let new_token = other.login("ada@example.com", PASSWORD).await.access_token();
    let new_kid = kid(&new_token);
    assert_ne!(new_kid, old_kid);

    // The first instance has not re-read its keys yet, yet accepts the new kid at once…
    let me = app.get_bearer("/api/auth/current-user", &new_token).await;
    me.assert_status(200);
    assert_eq!(me.json()["email"], "ada@example.com");
    // …lists both keys from then on, and signs with the new one.
    let kids: Vec<String> = jwks_keys(&app).await.iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect();
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
    assert_eq!(kid(&app.login("ada@example.com", PASSWORD).await.access_token()), new_kid);

    // Tokens of the old key stay valid on both instances until they expire.
    app.get_bearer("/api/auth/current-user", &old_token).await.assert_status(200);
    other.get_bearer("/api/auth/current-user", &old_token).await.assert_status(200);
    other.stop().await;
});

backend_tests!(an_unknown_kid_is_refused_after_rereading_the_keys, |app| async move {
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.access_token();
    let (mut header, _) = parts(&token);
    header["kid"] = serde_json::json!("no-such-key");
    let forged = jwt::with_header(&token, &header);
    let response = app.get_bearer("/api/auth/current-user", &forged).await;
    assert_problem(&response, 401, "unauthorized");
    // A burst of them is refused just the same (the re-read is throttled, not repeated).
    for _ in 0..5 {
        assert_problem(&app.get_bearer("/api/auth/current-user", &forged).await, 401, "unauthorized");
    }
    app.get_bearer("/api/auth/current-user", &token).await.assert_status(200);
});
