//! `GET /health/live` and `GET /health/ready`.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

backend_tests!(live_and_ready_answer_200, |app| async move {
    app.get("/health/live").await.assert_status(200);
    app.get("/health/ready").await.assert_status(200);
});

/// PostgreSQL only: the database is dropped out from under the running server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_when_the_database_is_gone_postgres() {
    run(
        Backend::Postgres,
        |config| config,
        |app| async move {
            let (user, browser) = app.signed_in("Ada", "ada@example.com").await;
            app.get("/health/ready").await.assert_status(200);

            app.database().drop_database();
            let dropped = Instant::now();

            let mut last = None;
            while dropped.elapsed() < Duration::from_secs(6) {
                let asked = Instant::now();
                let response = app.get("/health/ready").await;
                assert!(asked.elapsed() <= Duration::from_secs(5), "/health/ready answers within 5 s");
                if response.code() == 503 {
                    last = Some(response);
                    break;
                }
                response.assert_status(200);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let response = last.expect("/health/ready turns 503 within ~5 s of the database being dropped");
            assert_problem(&response, 503, "unavailable");
            assert_retry_after(&response);

            // a request that needs the database answers 503 promptly instead of hanging on the pool
            let asked = Instant::now();
            let response = app.browser().login("ada@example.com", PASSWORD).await;
            assert!(asked.elapsed() <= Duration::from_secs(5), "login answers within 5 s: {:?}", asked.elapsed());
            assert_problem(&response, 503, "unavailable");
            assert_retry_after(&response);

            let asked = Instant::now();
            let response =
                app.signup_raw(&json!({"name": "Bo", "email": "bo@example.com", "password": PASSWORD})).await;
            assert!(asked.elapsed() <= Duration::from_secs(5), "signup answers within 5 s");
            assert_problem(&response, 503, "unavailable");

            // verifying an access token needs no database
            let response = app.get_bearer("/api/auth/current-user", &browser.access_token()).await;
            response.assert_status(200);
            assert_eq!(response.json(), user);
            app.get("/health/live").await.assert_status(200);
        },
    )
    .await;
}

fn assert_retry_after(response: &TestResponse) {
    let retry_after =
        response.header("retry-after").unwrap_or_else(|| panic!("{} carries Retry-After", response.status));
    assert!(retry_after.trim().parse::<u64>().is_ok(), "Retry-After is in seconds: {retry_after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_sqlite_file_is_deleted_while_serving() {
    let Some(database) = TestDatabase::create(Backend::Sqlite) else { return };
    let database = std::sync::Arc::new(database);
    let app = TestApp::start(database.config(), std::sync::Arc::clone(&database)).await;
    app.get("/health/ready").await.assert_status(200);
    let file = database.url().trim_start_matches("sqlite://").to_owned();
    std::fs::remove_file(&file).expect("the database file is there to delete");
    let started = std::time::Instant::now();
    let ready = loop {
        let ready = app.get("/health/ready").await;
        if ready.code() == 503 || started.elapsed() > std::time::Duration::from_secs(10) {
            break ready;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_problem(&ready, 503, "unavailable");
    app.stop().await;
    database.remove();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_another_process_holds_the_sqlite_database_locked() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let Some(database) = TestDatabase::create(Backend::Sqlite) else { return };
    let database = std::sync::Arc::new(database);
    let app = TestApp::start(database.config(), std::sync::Arc::clone(&database)).await;
    app.get("/health/ready").await.assert_status(200);
    // Another program takes the write lock and keeps it: commands would wait, then answer 503.
    let file = database.url().trim_start_matches("sqlite://").to_owned();
    let mut holder = diesel::SqliteConnection::establish(&file).expect("opens the file");
    holder.batch_execute("BEGIN EXCLUSIVE").expect("takes the lock");
    let started = std::time::Instant::now();
    let locked = app.get("/health/ready").await;
    assert_problem(&locked, 503, "unavailable");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "answered within the probe's wait");
    let signup =
        app.signup_raw(&serde_json::json!({"name": "Lo", "email": "lo@example.com", "password": PASSWORD})).await;
    assert_eq!(signup.code(), 503, "a command answers 503 too: {}", signup.text());
    // Released: ready again, and the pooled connections kept their usual busy timeout.
    holder.batch_execute("ROLLBACK").expect("releases the lock");
    app.get("/health/ready").await.assert_status(200);
    app.signup("Lo", "lo@example.com").await;
    app.stop().await;
    database.remove();
}
