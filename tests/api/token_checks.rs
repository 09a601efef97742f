//! Tokens signed with our own key but meant for someone else, or too old, are refused.

use std::time::Duration;

use portcullis::config::Config;

use crate::support::jwt::parts;
use crate::support::*;

backend_tests!(a_token_for_another_issuer_or_audience_is_refused, |app| async move {
    app.signup("Ada", "ada@example.com").await;
    // Instances sharing the keys but naming another issuer, or another audience.
    let other_issuer = app
        .another_instance_with(|c| Config {
            public_url: url::Url::parse("https://elsewhere.example").expect("url"),
            allowed_origins: vec!["https://elsewhere.example".into()],
            ..c
        })
        .await;
    let other_audience = app.another_instance_with(|c| Config { audience: "another-service".into(), ..c }).await;

    for (what, instance) in [("issuer", &other_issuer), ("audience", &other_audience)] {
        let token = instance.login("ada@example.com", PASSWORD).await.access_token();
        let own = app.login("ada@example.com", PASSWORD).await.access_token();
        // Same key: the signature is fine, so only the claim can be what is refused.
        assert_eq!(parts(&token).0["kid"], parts(&own).0["kid"]);
        instance.get_bearer("/api/auth/current-user", &token).await.assert_status(200);
        // Its good twin (same user, same key, our iss and aud) verified and cached here first.
        app.get_bearer("/api/auth/current-user", &own).await.assert_status(200);
        let refused = app.get_bearer("/api/auth/current-user", &token).await;
        assert_problem(&refused, 401, "unauthorized");
        assert!(refused.header("www-authenticate").is_some_and(|h| h.contains("invalid_token")), "{what}");
    }
    other_issuer.stop().await;
    other_audience.stop().await;
});

backend_tests!(
    an_expired_token_is_401_token_expired,
    config = |c| Config { access_ttl_secs: 1, ..c },
    |app| async move {
        let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
        let token = browser.access_token();
        app.get_bearer("/api/auth/current-user", &token).await.assert_status(200);
        // Past `exp` plus the 5-second leeway.
        tokio::time::sleep(Duration::from_millis(7_200)).await;
        let expired = app.get_bearer("/api/auth/current-user", &token).await;
        assert_problem(&expired, 401, "token_expired");
        assert!(
            expired.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer") && h.contains("invalid_token"))
        );
        // A refresh gets a working one again.
        browser.refresh().await.assert_status(200);
        app.get_bearer("/api/auth/current-user", &browser.access_token()).await.assert_status(200);
    }
);
