//! Signing-key rotation without restarts: `portcullis keys rotate` on one instance's
//! database; every instance accepts the new key at once and keeps accepting the old one.

use crate::support::jwt::{jwks_keys, parts};
use crate::support::*;

fn kid(token: &str) -> String {
    parts(token).0["kid"].as_str().expect("a kid").to_owned()
}

backend_tests!(a_rotated_key_is_accepted_everywhere_without_restart, |app| async move {
    // Two instances run on one database before the rotation.
    let second = app.another_instance().await;
    let (_, browser) = app.signed_in("Ada", "ada@example.com").await;
    let old_token = browser.access_token();
    let old_kid = kid(&old_token);

    let output = cli::run(cli::command(app.database(), &["keys", "rotate"]), "").await;
    assert!(output.status.success(), "{}", cli::describe(&output));

    // An instance started after the rotation signs with the new key.
    let third = app.another_instance().await;
    let new_token = third.login("ada@example.com", PASSWORD).await.access_token();
    let new_kid = kid(&new_token);
    assert_ne!(new_kid, old_kid);

    // Neither running instance has re-read its keys yet, yet both accept the new kid at once…
    for running in [&app, &second] {
        let me = running.get_bearer("/api/auth/current-user", &new_token).await;
        me.assert_status(200);
        assert_eq!(me.json()["email"], "ada@example.com");
        // …list both keys from then on, and sign with the new one.
        let kids: Vec<String> =
            jwks_keys(running).await.iter().map(|k| k["kid"].as_str().expect("kid").to_owned()).collect();
        assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
        assert_eq!(kid(&running.login("ada@example.com", PASSWORD).await.access_token()), new_kid);
        // Tokens of the old key stay valid until they expire.
        running.get_bearer("/api/auth/current-user", &old_token).await.assert_status(200);
    }
    third.get_bearer("/api/auth/current-user", &old_token).await.assert_status(200);
    second.stop().await;
    third.stop().await;
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
