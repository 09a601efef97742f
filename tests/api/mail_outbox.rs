//! The mail drills: mail written with the change that causes it survives an SMTP outage, a
//! `kill -9` and a second instance working the same outbox, and is delivered once; mail that
//! cannot be delivered for `PORTCULLIS_MAIL_RETRY_SECS` is given up on and counted; with an
//! encryption key the waiting messages are sealed.

use std::sync::Arc;
use std::time::Duration;

use portcullis::config::Config;
use serde_json::json;

use crate::support::cli::{ServerProcess, free_port};
use crate::support::smtp::{Received, SmtpSink};
use crate::support::*;

/// The value of `series` in Prometheus text (0 when absent).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.trim().parse().unwrap_or(0.0))
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    response.assert_status(200);
    response.text()
}

/// Waits (at most `timeout`) until `series` on `app` reaches at least `value`.
async fn wait_for_metric(app: &TestApp, series: &str, value: f64, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let text = metrics(app).await;
        if sample(&text, series) >= value {
            return text;
        }
        assert!(std::time::Instant::now() < deadline, "{series} ≥ {value} within {timeout:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many of `received` went to `address`.
fn count_to(received: &[Received], address: &str) -> usize {
    received.iter().filter(|mail| mail.to.iter().any(|to| to.eq_ignore_ascii_case(address))).count()
}

backend_tests!(mail_waits_through_an_smtp_outage_and_each_goes_out_once, database_only, |database| async move {
    // Nobody listens on the mail port yet: the outage.
    let port = free_port();
    let config = Config { smtp_url: Some(SmtpSink::url_for(port)), ..database.config() };
    let app = TestApp::start(config.clone(), Arc::clone(&database)).await;
    // A second instance works the same outbox.
    let other = app.another_instance().await;
    let people: Vec<String> = (0..4).map(|i| unique_email(&format!("outage{i}"))).collect();
    for (i, email) in people.iter().enumerate() {
        let instance = if i % 2 == 0 { &app } else { &other };
        instance
            .post_json("/api/auth/signup", &json!({"name": "Ada", "email": email, "password": PASSWORD}))
            .await
            .assert_status(201);
    }
    app.post_json("/api/auth/password/forgot", &json!({"email": people[0]})).await.assert_status(202);

    // Tried, failed, kept: five mails wait, and the first retries were counted.
    let text = wait_for_metric(&app, "portcullis_mail_retried_total", 1.0, Duration::from_secs(15)).await;
    assert_eq!(sample(&text, "portcullis_mail_sent_total"), 0.0, "{text}");
    let text = wait_for_metric(&app, "portcullis_mail_queue_depth", 5.0, Duration::from_secs(5)).await;
    assert_eq!(sample(&text, "portcullis_mail_failed_total"), 0.0, "nothing given up: {text}");
    assert!(sample(&text, "portcullis_mail_oldest_age_seconds") >= 0.0, "{text}");

    // The mail server comes back: everything goes out, each mail once, from whichever instance.
    let sink = SmtpSink::start_on(port);
    let received = sink.wait_for(5, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received_later = sink.received();
    assert_eq!(received_later.len(), 5, "no mail twice: {received_later:?}");
    assert_eq!(count_to(&received, &people[0]), 2, "the verification and the reset mail");
    for email in &people[1..] {
        assert_eq!(count_to(&received, email), 1, "one verification mail to {email}");
    }
    let reset = received.iter().find(|mail| mail.subject == "Reset your password").expect("the reset mail arrived");
    assert!(reset.text.contains("/reset-password?token="), "{}", reset.text);
    // Each instance counts what it sent; the outbox is empty for both.
    let (mine, theirs) = (metrics(&app).await, metrics(&other).await);
    let sent = sample(&mine, "portcullis_mail_sent_total") + sample(&theirs, "portcullis_mail_sent_total");
    assert_eq!(sent, 5.0, "{mine}\n{theirs}");
    other.stop().await;
    app.stop().await;
});

backend_tests!(
    mail_waiting_when_the_process_is_killed_goes_out_after_a_restart,
    database_only,
    |database| async move {
        let port = free_port();
        let env = [("PORTCULLIS_SMTP_URL", SmtpSink::url_for(port))];
        let server = ServerProcess::start(&database, &env).await;
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let people: Vec<String> = (0..5).map(|i| unique_email(&format!("killed{i}"))).collect();
        for email in &people {
            let response = client
                .post(format!("{}/api/auth/signup", server.url))
                .json(&json!({"name": "Ada", "email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), 201);
        }
        // kill -9 while the five mails wait for the mail server.
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.kill();

        let sink = SmtpSink::start_on(port);
        let server = ServerProcess::start(&database, &env).await;
        let received = sink.wait_for(5, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(sink.received().len(), 5, "each mail once: {:?}", sink.received());
        for email in &people {
            assert_eq!(count_to(&received, email), 1, "{email} got their verification mail");
            // The users survived the crash too.
            let login = client
                .post(format!("{}/api/auth/login", server.url))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .expect("an answer");
            assert_eq!(login.status(), 200, "{email} can log in");
        }
        server.kill();
    }
);

backend_tests!(mail_undeliverable_for_the_retry_window_is_given_up_and_counted, database_only, |database| async move {
    let config = Config { smtp_url: Some(SmtpSink::url_for(free_port())), mail_retry_secs: 2, ..database.config() };
    let app = TestApp::start(config, Arc::clone(&database)).await;
    app.signup("Ada", &unique_email("ada")).await;
    let text = wait_for_metric(&app, "portcullis_mail_failed_total", 1.0, Duration::from_secs(20)).await;
    assert_eq!(sample(&text, "portcullis_mail_sent_total"), 0.0, "{text}");
    let statuses = database.texts("SELECT status AS value FROM mail_outbox");
    assert_eq!(statuses, ["failed"]);
    let messages = database.texts("SELECT message AS value FROM mail_outbox");
    assert_eq!(messages, [""], "the message (with its link) is not kept once given up on");
    app.stop().await;
});

backend_tests!(
    waiting_mail_is_sealed_with_the_encryption_key,
    config = |config| Config {
        smtp_url: Some(SmtpSink::url_for(free_port())),
        encryption_key: Some(portcullis_domain::SecretString::new("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")),
        ..config
    },
    |app| async move {
        let email = unique_email("ada");
        app.signup("Ada", &email).await;
        let messages = app.database().texts("SELECT message AS value FROM mail_outbox");
        assert_eq!(messages.len(), 1);
        assert!(messages[0].starts_with("sealed:v1:"), "{}", messages[0]);
        assert!(!messages[0].contains(&email) && !messages[0].contains("verify-email"), "{}", messages[0]);
    }
);
