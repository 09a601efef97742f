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

backend_tests!(
    five_processes_started_at_once_on_a_fresh_database_share_one_key,
    database_only,
    |database| async move {
        // As a rolling deploy of replicas onto a new database: five `portcullis serve` at once,
        // behind one public address (so one issuer).
        let shared = [("PORTCULLIS_PUBLIC_URL", "https://auth.example.com".to_owned())];
        let mut servers: Vec<_> =
            (0..5).map(|_| crate::support::cli::ServerProcess::spawn(&database, &shared)).collect();
        for server in &mut servers {
            server.wait_until_ready().await;
        }
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut documents = Vec::new();
        for server in &servers {
            let jwks = client.get(format!("{}/.well-known/jwks.json", server.url)).send().await.expect("an answer");
            assert_eq!(jwks.status(), 200);
            documents.push(jwks.json::<serde_json::Value>().await.expect("JSON"));
        }
        assert_eq!(documents[0]["keys"].as_array().map(Vec::len), Some(1), "one signing key: {}", documents[0]);
        assert!(documents.iter().all(|document| *document == documents[0]), "the same JWKS everywhere: {documents:?}");
        // Each instance's token verifies on every other one.
        for (i, issuer) in servers.iter().enumerate() {
            let email = unique_email(&format!("replica{i}"));
            let signup = client
                .post(format!("{}/api/auth/signup", issuer.url))
                .json(&serde_json::json!({"name": "Ada", "email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("an answer");
            assert_eq!(signup.status(), 201);
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("grant_type", "password"), ("username", email.as_str()), ("password", PASSWORD)])
                .finish();
            let grant = client
                .post(format!("{}/api/auth/token", issuer.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(grant.status(), 200);
            let token = grant.json::<serde_json::Value>().await.expect("JSON")["access_token"]
                .as_str()
                .expect("an access token")
                .to_owned();
            for verifier in &servers {
                let me = client
                    .get(format!("{}/api/auth/current-user", verifier.url))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("an answer");
                assert_eq!(me.status(), 200, "instance {i}'s token on {}", verifier.url);
            }
        }
    }
);
