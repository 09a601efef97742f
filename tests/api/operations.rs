//! Operations: `GET /metrics` (Prometheus text, per server instance) and `X-Request-Id`.

use portcullis::config::Config;
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// The value of the sample `name{labels}` in a Prometheus text answer (labels in the order the
/// exporter writes them, which is alphabetical), `0` when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.trim().parse().unwrap_or_else(|_| panic!("{series} has a number: {value}")))
}

async fn scrape(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    response.assert_status(200);
    response.text()
}

const METRIC_NAMES: [&str; 15] = [
    "portcullis_http_requests_total",
    "portcullis_http_request_duration_seconds",
    "portcullis_logins_total",
    "portcullis_refreshes_total",
    "portcullis_refresh_reuse_detections_total",
    "portcullis_rate_limited_requests_total",
    "portcullis_hashing_queue_depth",
    "portcullis_db_pool_connections",
    "portcullis_db_pool_idle_connections",
    "portcullis_build_info",
    "portcullis_mail_sent_total",
    "portcullis_mail_failed_total",
    "portcullis_mail_queue_depth",
    "portcullis_mail_retried_total",
    "portcullis_mail_oldest_age_seconds",
];

backend_tests!(metrics_answers_prometheus_text_with_every_metric, |app| async move {
    // Something in every labelled family, so each one is written out.
    app.get("/health/live").await.assert_status(200);
    let email = unique_email("ada");
    let (_, mut browser) = app.signed_in("Ada", &email).await;
    browser.refresh().await.assert_status(200);
    crate::support::mail::wait_for_mail(&app.mail_dir(), &email, 0).await;
    let response = app.get("/metrics").await;
    response.assert_status(200);
    let content_type = response.header("content-type").expect("a content type");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text();
    for name in METRIC_NAMES {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} is exposed:\n{text}");
    }
    assert!(text.contains("# TYPE portcullis_http_request_duration_seconds histogram"), "{text}");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(sample(&text, &format!("portcullis_build_info{{version=\"{version}\"}}")), 1.0, "{text}");
    assert!(sample(&text, "portcullis_db_pool_connections") >= 1.0, "{text}");
    assert_eq!(sample(&text, "portcullis_refreshes_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "portcullis_mail_sent_total"), 1.0, "the verification mail: {text}");
    assert_eq!(sample(&text, "portcullis_mail_failed_total"), 0.0, "{text}");
});

backend_tests!(request_counter_rises_by_route_pattern_not_raw_path, |app| async move {
    let series = r#"portcullis_http_requests_total{method="GET",route="/health/live",status="200"}"#;
    let before = sample(&scrape(&app).await, series);
    for _ in 0..3 {
        app.get("/health/live").await.assert_status(200);
    }
    let text = scrape(&app).await;
    assert_eq!(sample(&text, series) - before, 3.0, "{text}");
    let histogram = r#"portcullis_http_request_duration_seconds_count{method="GET",route="/health/live",status="200"}"#;
    assert!(sample(&text, histogram) >= 3.0, "{text}");

    // Ids in the path are not labels: the pattern is.
    let (_, mut browser) = app.signed_in("Ada", &unique_email("ada")).await;
    let ids: Vec<String> = (0..2).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for id in &ids {
        let request = browser.request(Method::DELETE, &format!("/api/auth/sessions/{id}"));
        browser.send(request).await;
    }
    app.get("/no/such/path/12345").await.assert_status(404);
    let text = scrape(&app).await;
    assert!(text.contains(r#"route="/api/auth/sessions/{id}""#), "{text}");
    assert!(ids.iter().all(|id| !text.contains(id.as_str())) && !text.contains("12345"), "no raw paths:\n{text}");
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
});

backend_tests!(login_counters_move_and_are_per_server, |app| async move {
    let email = unique_email("ada");
    app.signup("Ada", &email).await;
    app.login(&email, PASSWORD).await;
    app.browser().login(&email, "Wrong-Password-1").await.assert_status(401);
    app.browser().login(&email, "Wrong-Password-2").await.assert_status(401);
    let form = [("grant_type", "password"), ("username", email.as_str()), ("password", PASSWORD)];
    app.send(app.request(Method::POST, "/api/auth/token").form(&form)).await.assert_status(200);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, r#"portcullis_logins_total{result="succeeded"}"#), 2.0, "{text}");
    assert_eq!(sample(&text, r#"portcullis_logins_total{result="failed"}"#), 2.0, "{text}");

    // Another instance in the same process has its own counts.
    let other = app.another_instance().await;
    let other_text = scrape(&other).await;
    other.stop().await;
    assert_eq!(sample(&other_text, r#"portcullis_logins_total{result="succeeded"}"#), 0.0, "{other_text}");
});

backend_tests!(refresh_reuse_is_counted, config = |c| Config { refresh_grace_secs: 0, ..c }, |app| async move {
    let (_, mut browser) = app.signed_in("Ada", &unique_email("ada")).await;
    let old = browser.refresh_token();
    browser.refresh().await.assert_status(200);
    let mut thief = browser.with_refresh_token(&old);
    thief.refresh().await.assert_status(401);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "portcullis_refreshes_total"), 1.0, "{text}");
    assert_eq!(sample(&text, "portcullis_refresh_reuse_detections_total"), 1.0, "{text}");
});

backend_tests!(
    rate_limited_requests_are_counted,
    config = |c| Config { rate_limit_per_minute: 1, ..c },
    |app| async move {
        let body = json!({"email": "nobody@example.com", "password": "Wrong-Password-1"});
        app.post_json("/api/auth/login", &body).await.assert_status(401);
        app.post_json("/api/auth/login", &body).await.assert_status(429);
        let text = scrape(&app).await;
        assert_eq!(sample(&text, r#"portcullis_rate_limited_requests_total{route="/api/auth/login"}"#), 1.0, "{text}");
        let series = r#"portcullis_http_requests_total{method="POST",route="/api/auth/login",status="429"}"#;
        assert_eq!(sample(&text, series), 1.0, "{text}");
    }
);

backend_tests!(every_response_carries_a_request_id, |app| async move {
    // Generated: a UUID v4, different each time, also on errors.
    let first = app.get("/health/live").await;
    let second = app.get("/no/such/path").await;
    second.assert_status(404);
    let ids: Vec<String> = [&first, &second]
        .iter()
        .map(|response| response.header("x-request-id").expect("X-Request-Id on every response").to_owned())
        .collect();
    for id in &ids {
        let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("{id} is a UUID"));
        assert_eq!(parsed.get_version_num(), 4, "{id}");
    }
    assert_ne!(ids[0], ids[1]);

    // A sane incoming id is echoed.
    let sent = "edge-proxy.42_abc-DEF";
    let echoed = app.send(app.request(Method::GET, "/health/live").header("X-Request-Id", sent)).await;
    assert_eq!(echoed.header("x-request-id"), Some(sent));

    // Anything else is replaced.
    for bad in ["has space", "semi;colon", &"a".repeat(129), "<script>"] {
        let response = app.send(app.request(Method::GET, "/health/live").header("X-Request-Id", bad)).await;
        let id = response.header("x-request-id").expect("X-Request-Id");
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{bad:?} replaced by a UUID, got {id}");
    }
});
