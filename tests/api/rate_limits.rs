//! Abuse limits: the per-IP limit on the sensitive endpoints (each its own bucket, counted in
//! the database across instances, `X-Forwarded-For` only from trusted proxies) and the
//! per-account lockout after failed logins.

use std::time::Duration;

use portcullis::config::Config;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Asserts a `429 rate_limited` problem with a `Retry-After` of 1..=`max` seconds; returns it.
fn assert_rate_limited(response: &TestResponse, max: u64) -> u64 {
    assert_problem(response, 429, "rate_limited");
    retry_after(response, max)
}

/// The `Retry-After` header as whole seconds, asserted within 1..=`max`.
fn retry_after(response: &TestResponse, max: u64) -> u64 {
    let header = response.header("retry-after").unwrap_or_else(|| {
        panic!(
            "{} {} ({}) carries Retry-After: {:?}",
            response.method, response.path, response.status, response.headers
        )
    });
    let seconds: u64 = header.parse().unwrap_or_else(|_| panic!("Retry-After {header:?} is whole seconds"));
    assert!((1..=max).contains(&seconds), "Retry-After {seconds} is within 1..={max}");
    seconds
}

/// `POST path` with a JSON body, from a client behind `X-Forwarded-For: forwarded_for`.
async fn post_from(app: &TestApp, path: &str, forwarded_for: &str, body: &Value) -> TestResponse {
    app.send(app.request(Method::POST, path).header("X-Forwarded-For", forwarded_for).json(body)).await
}

fn signup_body(email: &str) -> Value {
    json!({"name": "Ada", "email": email, "password": PASSWORD})
}

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

backend_tests!(
    the_request_after_the_limit_is_429_with_retry_after,
    config = |c| Config { rate_limit_per_minute: 3, ..c },
    |app| async move {
        for n in 0..3 {
            app.signup_raw(&signup_body(&unique_email(&format!("ada{n}")))).await.assert_status(201);
        }
        let refused = app.signup_raw(&signup_body(&unique_email("ada"))).await;
        // Three a minute: the next one is due 20 s after the burst.
        assert_rate_limited(&refused, 20);
        assert!(refused.text().contains("try again"), "{}", refused.text());

        let email = unique_email("bob");
        let mut browser = app.browser();
        for _ in 0..3 {
            let response = browser.login(&email, PASSWORD).await;
            assert_problem(&response, 401, "invalid_credentials");
        }
        assert_rate_limited(&browser.login(&email, PASSWORD).await, 20);
        // Endpoints that are not limited are not affected.
        app.get("/health/live").await.assert_status(200);
        assert_problem(&browser.refresh().await, 401, "unauthorized");
    }
);

backend_tests!(
    each_endpoint_has_its_own_bucket,
    config = |c| Config { rate_limit_per_minute: 2, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup_raw(&signup_body(&email)).await.assert_status(201);
        app.signup_raw(&signup_body(&unique_email("bob"))).await.assert_status(201);
        assert_rate_limited(&app.signup_raw(&signup_body(&unique_email("eve"))).await, 30);

        // Login still has its whole burst.
        app.login(&email, PASSWORD).await;
        app.login(&email, PASSWORD).await;
        assert_rate_limited(&app.browser().login(&email, PASSWORD).await, 30);

        // Password forgot and reset are limited by path, each on its own.
        for path in ["/api/auth/password/forgot", "/api/auth/password/reset"] {
            for _ in 0..2 {
                let response = app.post_json(path, &json!({"email": email})).await;
                assert_ne!(response.code(), 429, "{path}: {}", response.text());
            }
            assert_rate_limited(&app.post_json(path, &json!({"email": email})).await, 30);
        }
    }
);

backend_tests!(
    the_token_endpoint_answers_429_in_the_oauth_shape,
    config = |c| Config { rate_limit_per_minute: 2, ..c },
    |app| async move {
        let form = [("grant_type", "password"), ("username", "nobody@example.com"), ("password", "Wrong-Password-1")];
        for _ in 0..2 {
            let response = app.send(app.request(Method::POST, "/api/auth/token").form(&form)).await;
            assert_ne!(response.code(), 429, "{}", response.text());
        }
        let refused = app.send(app.request(Method::POST, "/api/auth/token").form(&form)).await;
        refused.assert_status(429);
        retry_after(&refused, 30);
        assert_no_store(&refused);
        let body = refused.json();
        assert_eq!(body["error"], "rate_limited", "{body}");
        assert!(body["error_description"].is_string(), "{body}");
        assert!(body.get("code").is_none() && body.get("status").is_none(), "not problem+json: {body}");
        assert!(refused.header("content-type").unwrap_or_default().starts_with("application/json"));
    }
);

backend_tests!(zero_turns_the_limit_off, config = |c| Config { rate_limit_per_minute: 0, ..c }, |app| async move {
    let email = unique_email("ada");
    app.signup("Ada", &email).await;
    for _ in 0..15 {
        let response = app.signup_raw(&signup_body(&email)).await;
        assert_problem(&response, 409, "email_taken");
    }
    for _ in 0..15 {
        app.login(&email, PASSWORD).await;
    }
});

backend_tests!(
    a_trusted_proxys_forwarded_for_tells_clients_apart,
    config = |c| Config { rate_limit_per_minute: 2, trusted_proxies: vec!["127.0.0.1/32".into()], ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let first = "203.0.113.10";
        let second = "198.51.100.20";
        for _ in 0..2 {
            post_from(&app, "/api/auth/login", first, &login_body(&email, PASSWORD)).await.assert_status(200);
        }
        assert_rate_limited(&post_from(&app, "/api/auth/login", first, &login_body(&email, PASSWORD)).await, 30);
        // A forged entry left of the one our proxy appended changes nothing.
        let forged = format!("192.0.2.99, {first}");
        assert_rate_limited(&post_from(&app, "/api/auth/login", &forged, &login_body(&email, PASSWORD)).await, 30);

        // Another client behind the same proxy has its own bucket, and its sessions show its address.
        let mut browser = app.browser();
        let request = browser
            .request(Method::POST, "/api/auth/login")
            .header("X-Forwarded-For", second)
            .json(&login_body(&email, PASSWORD));
        browser.send(request).await.assert_status(200);
        let sessions = browser.get("/api/auth/sessions").await;
        sessions.assert_status(200);
        let ips: Vec<String> = sessions
            .json()
            .as_array()
            .expect("a list")
            .iter()
            .map(|session| session["ip"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(ips.iter().any(|ip| ip == second), "sessions keep the client's address: {ips:?}");
        assert!(ips.iter().all(|ip| ip == first || ip == second), "never the proxy's: {ips:?}");
    }
);

backend_tests!(
    an_untrusted_peers_forwarded_for_is_ignored,
    config = |c| Config { rate_limit_per_minute: 2, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        post_from(&app, "/api/auth/login", "203.0.113.1", &login_body(&email, PASSWORD)).await.assert_status(200);
        post_from(&app, "/api/auth/login", "203.0.113.2", &login_body(&email, PASSWORD)).await.assert_status(200);
        let refused = post_from(&app, "/api/auth/login", "203.0.113.3", &login_body(&email, PASSWORD)).await;
        assert_rate_limited(&refused, 30);
    }
);

backend_tests!(sessions_record_the_peer_when_it_is_not_a_trusted_proxy, |app| async move {
    let email = unique_email("ada");
    app.signup("Ada", &email).await;
    let mut browser = app.browser();
    let request = browser
        .request(Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", "203.0.113.1")
        .json(&login_body(&email, PASSWORD));
    browser.send(request).await.assert_status(200);
    let sessions = browser.get("/api/auth/sessions").await.json();
    assert_eq!(sessions[0]["ip"], "127.0.0.1", "{sessions}");
});

backend_tests!(
    an_account_is_locked_after_the_threshold_even_for_the_right_password,
    config = |c| Config { lockout_threshold: 3, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let mut browser = app.browser();
        for _ in 0..3 {
            assert_problem(&browser.login(&email, "Not-The-Password-91").await, 401, "invalid_credentials");
        }
        let locked = browser.login(&email, PASSWORD).await;
        let seconds = assert_rate_limited(&locked, 900);
        assert!(seconds > 850, "the lock lasts PORTCULLIS_LOCKOUT_SECS (900): {seconds}");
        assert!(locked.set_cookies().is_empty(), "no cookies for a locked account");
        // An unknown email is never locked: it stays a plain 401.
        let unknown = unique_email("nobody");
        for _ in 0..5 {
            assert_problem(&browser.login(&unknown, PASSWORD).await, 401, "invalid_credentials");
        }
        // Another account is not affected.
        let other = unique_email("bob");
        app.signup("Bob", &other).await;
        app.login(&other, PASSWORD).await;
    }
);

backend_tests!(
    a_success_before_the_threshold_resets_the_count,
    config = |c| Config { lockout_threshold: 3, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let mut browser = app.browser();
        for _ in 0..3 {
            for _ in 0..2 {
                assert_problem(&browser.login(&email, "Not-The-Password-91").await, 401, "invalid_credentials");
            }
            app.login(&email, PASSWORD).await;
        }
    }
);

backend_tests!(
    the_lock_runs_out_after_lockout_secs,
    config = |c| Config { lockout_threshold: 2, lockout_secs: 2, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let mut browser = app.browser();
        for _ in 0..2 {
            assert_problem(&browser.login(&email, "Not-The-Password-91").await, 401, "invalid_credentials");
        }
        // Two seconds: a margin for a slow machine between the lock and this attempt.
        assert_rate_limited(&browser.login(&email, PASSWORD).await, 2);
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        app.login(&email, PASSWORD).await;
    }
);

backend_tests!(
    the_password_grant_counts_toward_the_lockout,
    config = |c| Config { lockout_threshold: 2, ..c },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let wrong = [("grant_type", "password"), ("username", email.as_str()), ("password", "Not-The-Password-91")];
        let right = [("grant_type", "password"), ("username", email.as_str()), ("password", PASSWORD)];
        for _ in 0..2 {
            let response = app.send(app.request(Method::POST, "/api/auth/token").form(&wrong)).await;
            response.assert_status(400);
            assert_eq!(response.json()["error"], "invalid_grant");
        }
        let locked = app.send(app.request(Method::POST, "/api/auth/token").form(&right)).await;
        locked.assert_status(429);
        assert_eq!(locked.json()["error"], "rate_limited", "{}", locked.text());
        retry_after(&locked, 900);
        // The browser login of the same account is locked too.
        assert_rate_limited(&app.browser().login(&email, PASSWORD).await, 900);
    }
);

backend_tests!(
    limits_hold_across_instances_on_one_database,
    config = |c| Config { rate_limit_per_minute: 3, lockout_threshold: 2, ..c },
    |app| async move {
        let other = app.another_instance().await;
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        other.signup_raw(&signup_body(&unique_email("bob"))).await.assert_status(201);
        app.signup_raw(&signup_body(&unique_email("eve"))).await.assert_status(201);
        assert_rate_limited(&other.signup_raw(&signup_body(&unique_email("mal"))).await, 20);
        assert_rate_limited(&app.signup_raw(&signup_body(&unique_email("mal"))).await, 20);

        // Failed logins on both instances add up to one lockout (within the login bucket's 3).
        assert_problem(&app.browser().login(&email, "Not-The-Password-91").await, 401, "invalid_credentials");
        assert_problem(&other.browser().login(&email, "Not-The-Password-91").await, 401, "invalid_credentials");
        let locked = app.browser().login(&email, PASSWORD).await;
        assert!(assert_rate_limited(&locked, 900) > 20, "the account's lock, not the per-IP limit");
        other.stop().await;
    }
);

backend_tests!(
    concurrent_requests_from_one_ip_get_exactly_the_burst,
    config = |c| Config { rate_limit_per_minute: 5, ..c },
    |app| async move {
        let other = app.another_instance().await;
        let requests = (0..16).map(|n| {
            let target = if n % 2 == 0 { app.clone() } else { other.clone() };
            async move { target.post_json("/api/auth/password/forgot", &json!({"email": "ada@example.com"})).await }
        });
        let responses = futures_join_all(requests).await;
        let refused = responses.iter().filter(|r| r.code() == 429).count();
        assert_eq!(
            refused,
            11,
            "exactly 5 of 16 concurrent requests pass: {:?}",
            responses.iter().map(TestResponse::code).collect::<Vec<_>>()
        );
        other.stop().await;
    }
);

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(handles.len());
    for handle in handles {
        outputs.push(handle.await.expect("the request task ends"));
    }
    outputs
}
