//! Refresh races and several instances on one database: parallel refreshes with one token
//! (two tabs, or a client retrying) all succeed and leave one live session; instances
//! share keys and sessions.

use portcullis::config::Config;
use tokio::task::JoinSet;

use crate::support::*;

/// Sends `count` refreshes at once with the same refresh token, spread over `apps` in turn;
/// returns the status codes and the refresh tokens handed out.
async fn refresh_storm(apps: &[TestApp], token: &str, count: usize) -> (Vec<u16>, Vec<String>) {
    let mut storm = JoinSet::new();
    for index in 0..count {
        let app = apps[index % apps.len()].clone();
        let mut browser = Browser { app, jar: CookieJar::default() }.with_refresh_token(token);
        storm.spawn(async move {
            let response = browser.refresh().await;
            (response.code(), browser.cookie("refresh_token").map(str::to_owned))
        });
    }
    let mut codes = Vec::new();
    let mut tokens = Vec::new();
    while let Some(joined) = storm.join_next().await {
        let (code, issued) = joined.expect("refresh task finished");
        codes.push(code);
        tokens.extend(issued.filter(|t| t != token));
    }
    (codes, tokens)
}

async fn session_count(browser: &mut Browser) -> usize {
    let response = browser.get("/api/auth/sessions").await;
    response.assert_status(200);
    response.json().as_array().expect("array").len()
}

backend_tests!(twenty_parallel_refreshes_all_succeed_and_leave_one_session, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.refresh_token();

    let (codes, issued) = refresh_storm(std::slice::from_ref(&app), &token, 20).await;
    assert!(codes.iter().all(|&code| code == 200), "every parallel refresh succeeds: {codes:?}");
    assert_eq!(issued.len(), 20, "each got a new refresh token");

    assert_eq!(session_count(&mut browser).await, 1, "still exactly one session");
    // Every token handed out belongs to the live session and works (once).
    for fresh in issued.iter().take(3) {
        browser.with_refresh_token(fresh).refresh().await.assert_status(200);
    }
    assert_eq!(session_count(&mut browser).await, 1);
});

backend_tests!(parallel_refreshes_across_two_instances_all_succeed, |app| async move {
    let other = app.another_instance().await;
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let token = browser.refresh_token();

    let (codes, _) = refresh_storm(&[app.clone(), other.clone()], &token, 20).await;
    assert!(codes.iter().all(|&code| code == 200), "{codes:?}");
    assert_eq!(session_count(&mut browser).await, 1);
    other.stop().await;
});

backend_tests!(
    instances_share_keys_and_sessions,
    config = |c| Config { refresh_grace_secs: 0, ..c },
    |app| async move {
        let other = app.another_instance().await;
        let (_, on_a) = app.signed_in("Ada", "ada@example.com").await;

        // A token issued by A is accepted by B (same keys, from the database).
        let me = other.get_bearer("/api/auth/current-user", &on_a.access_token()).await;
        me.assert_status(200);
        assert_eq!(me.json()["email"], "ada@example.com");

        // A refresh on B continues the session A started…
        let first = on_a.refresh_token();
        let mut on_b = Browser { app: other.clone(), jar: on_a.jar.clone() };
        on_b.refresh().await.assert_status(200);
        let second = on_b.refresh_token();
        assert_ne!(first, second);
        // …and the family is refreshed on A again.
        let mut back_on_a = on_a.with_refresh_token(&second);
        back_on_a.refresh().await.assert_status(200);
        let third = back_on_a.refresh_token();

        // Replaying a spent token on B after the grace window ends the whole family…
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_problem(&on_b.with_refresh_token(&second).refresh().await, 401, "session_revoked");
        // …so the newest token, issued by A, fails on A too.
        assert_problem(&on_a.with_refresh_token(&third).refresh().await, 401, "unauthorized");
        other.stop().await;
    }
);

backend_tests!(a_refresh_racing_a_logout_never_outlives_it, |app| async move {
    // Whichever of the two goes first, the session ends: a refresh that won hands out a
    // token of the ended session (refused afterwards), one that lost is refused at once;
    // neither ever fails with a server error.
    let (_, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    for round in 0..8 {
        let mut refresher = browser.with_refresh_token(&browser.refresh_token());
        let (refreshed, logged_out) = tokio::join!(refresher.refresh(), browser.logout());
        assert!(logged_out.code() < 300, "round {round}: logout answers {}", logged_out.code());
        match refreshed.code() {
            200 => {
                let issued = refresher.refresh_token();
                let mut late = browser.with_refresh_token(&issued);
                late.refresh().await.assert_status(401);
            }
            401 => {}
            other => panic!("round {round}: a refresh racing a logout answers {other}: {}", refreshed.text()),
        }
        browser = app.login("ada@example.com", PASSWORD).await;
        assert_eq!(session_count(&mut browser).await, 1, "round {round}: only the new login's session is left");
    }
});
