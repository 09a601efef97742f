//! The crash drill: `portcullis serve` killed with SIGKILL in the middle of a bounded load of
//! signups and refresh-token rotations, then started again on the same database. Every
//! signup that was answered `201` can log in, and every refresh chain goes on from the last
//! token its client was given (a rotation whose answer the crash swallowed is a reuse within
//! the grace window, which the contract lets through).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::cli::ServerProcess;
use crate::support::*;

/// How many refresh chains rotate during the drill.
const CHAINS: usize = 6;

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client")
}

/// `POST /api/auth/token` with a form body; `None` when no answer came (the server died).
async fn token_grant(client: &reqwest::Client, base: &str, params: &[(&str, &str)]) -> Option<(u16, Value)> {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let response = client
        .post(format!("{base}/api/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.ok()?;
    Some((status, body))
}

async fn signup(client: &reqwest::Client, base: &str, email: &str) -> Option<u16> {
    let response = client
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"name": "Ada", "email": email, "password": PASSWORD}))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

backend_tests!(a_kill_9_under_load_loses_no_user_and_no_refresh_chain, database_only, |database| async move {
    let server = ServerProcess::start(&database, &[]).await;
    let client = client();
    // One user and one refresh chain per rotating client.
    let mut chains = Vec::new();
    for i in 0..CHAINS {
        let email = unique_email(&format!("chain{i}"));
        assert_eq!(signup(&client, &server.url, &email).await, Some(201));
        let (status, body) = token_grant(
            &client,
            &server.url,
            &[("grant_type", "password"), ("username", &email), ("password", PASSWORD)],
        )
        .await
        .expect("an answer");
        assert_eq!(status, 200, "{body}");
        let refresh = body["refresh_token"].as_str().expect("a refresh token").to_owned();
        chains.push(Arc::new(Mutex::new(refresh)));
    }
    let signed_up: Arc<Mutex<Vec<String>>> = Arc::default();

    // The load: every chain rotates as fast as it can, one client signs people up; each keeps
    // only what an answer confirmed, and stops at the first request that gets none.
    let base = server.url.clone();
    let mut load = Vec::new();
    for chain in &chains {
        let (chain, client, base) = (Arc::clone(chain), client.clone(), base.clone());
        load.push(tokio::spawn(async move {
            let mut rotations = 0_u32;
            loop {
                let current = lock(&chain).clone();
                let params = [("grant_type", "refresh_token"), ("refresh_token", current.as_str())];
                let Some((status, body)) = token_grant(&client, &base, &params).await else { return rotations };
                assert_eq!(status, 200, "a rotation before the crash: {body}");
                *lock(&chain) = body["refresh_token"].as_str().expect("a refresh token").to_owned();
                rotations += 1;
            }
        }));
    }
    let signups = {
        let (signed_up, client, base) = (Arc::clone(&signed_up), client.clone(), base.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let email = unique_email(&format!("load{i}"));
                match signup(&client, &base, &email).await {
                    Some(201) => lock(&signed_up).push(email),
                    Some(other) => panic!("a signup before the crash answered {other}"),
                    None => return i,
                }
            }
            0
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill();
    let mut rotations = 0;
    for task in load {
        rotations += task.await.expect("a rotating client");
    }
    signups.await.expect("the signing-up client");
    assert!(rotations > 0, "the load ran");

    let server = ServerProcess::start(&database, &[]).await;
    for (i, chain) in chains.iter().enumerate() {
        let current = lock(chain).clone();
        let (status, body) =
            token_grant(&client, &server.url, &[("grant_type", "refresh_token"), ("refresh_token", &current)])
                .await
                .expect("an answer");
        assert_eq!(status, 200, "chain {i} goes on after the crash ({rotations} rotations in all): {body}");
    }
    let emails = lock(&signed_up).clone();
    assert!(!emails.is_empty(), "signups ran during the load");
    for email in &emails {
        let response = client
            .post(format!("{}/api/auth/login", server.url))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200, "{email}, answered 201 before the crash, can log in");
    }
    server.kill();
});
