//! What every end-to-end test stands on: a real server on `127.0.0.1:0` over a fresh
//! database of its own (SQLite or PostgreSQL), an HTTP client, a cookie jar that parses
//! `Set-Cookie` itself (so cookie attributes can be asserted), and problem+json checks.
//!
//! Write a behaviour once with [`backend_tests!`]; it runs on both backends.

pub mod cli;
pub mod cookies;
pub mod database;
pub mod http;
pub mod jwt;
pub mod mail;
pub mod oidc;
pub mod problem;
#[path = "../../support/skipped.rs"]
pub mod skipped;
pub mod smtp;
pub mod soft_authenticator;
pub mod totp;
pub mod upstream_stubs;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use portcullis::config::Config;
use portcullis::server::RunningServer;
use reqwest::Method;
use serde_json::{Value, json};

pub use cookies::{CookieJar, SetCookie};
pub use database::{Backend, TestDatabase};
pub use http::TestResponse;
pub use problem::{assert_no_store, assert_problem, assert_validation};

/// A password every strength estimator accepts; tests sign up with it.
pub const PASSWORD: &str = "Trellis-Quartz-Harbor-48";

/// The keys of a `UserInfo`, exactly: nothing more (no hash, no token), nothing less.
pub const USER_INFO_KEYS: [&str; 7] =
    ["avatar_url", "created_at", "email", "email_verified", "name", "roles", "user_id"];

/// Writes one behaviour test that runs on SQLite and on PostgreSQL.
///
/// ```ignore
/// backend_tests!(name, |app| async move { /* app: TestApp */ });
/// backend_tests!(name, config = |c| Config { refresh_grace_secs: 0, ..c }, |app| async move { .. });
/// backend_tests!(name, database_only, |db| async move { /* db: Arc<TestDatabase>, no server */ });
/// ```
/// Each expands to `mod name { fn sqlite(); fn postgres(); }`, so `cargo test postgres`
/// runs only the PostgreSQL half.
macro_rules! backend_tests {
    ($name:ident, config = $configure:expr, $test:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run($crate::support::Backend::Sqlite, $configure, $test).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::run($crate::support::Backend::Postgres, $configure, $test).await;
            }
        }
    };
    ($name:ident, database_only, $test:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::support::run_with_database($crate::support::Backend::Sqlite, $test).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::support::run_with_database($crate::support::Backend::Postgres, $test).await;
            }
        }
    };
    ($name:ident, $test:expr $(,)?) => {
        backend_tests!($name, config = |config| config, $test);
    };
}

/// Makes a fresh database on `backend`, starts a server on it with `configure(test config)`,
/// runs `test`, then stops the server and removes the database — also when `test` panics.
/// Returns at once (the test passes, loudly skipped) when PostgreSQL is unreachable outside CI.
pub async fn run<C, F, Fut>(backend: Backend, configure: C, test: F)
where
    C: FnOnce(Config) -> Config,
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::create(backend) else { return };
    let database = Arc::new(database);
    let config = configure(database.config());
    let app = TestApp::start(config, Arc::clone(&database)).await;
    let outcome = tokio::spawn(test(app.clone())).await;
    app.stop().await;
    drop(app);
    database.remove();
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

/// Makes a fresh database on `backend` (no server), runs `test`, removes the database.
pub async fn run_with_database<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Arc<TestDatabase>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::create(backend) else { return };
    let database = Arc::new(database);
    let outcome = tokio::spawn(test(Arc::clone(&database))).await;
    database.remove();
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test task failed: {error}"),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running Portcullis on a test database, and a client for it. Cheap to clone.
#[derive(Clone)]
pub struct TestApp {
    inner: Arc<AppInner>,
}

struct AppInner {
    config: Config,
    database: Arc<TestDatabase>,
    server: Mutex<Option<RunningServer>>,
    url: Mutex<String>,
    client: reqwest::Client,
}

impl TestApp {
    /// Starts a server with `config` (whose database is `database`).
    pub async fn start(config: Config, database: Arc<TestDatabase>) -> Self {
        let server = portcullis::server::spawn(config.clone())
            .await
            .unwrap_or_else(|error| panic!("the server did not start on {}: {error:#}", database.backend()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            // No idle keep-alive connections: a graceful stop would wait for them to time out.
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client builds");
        Self {
            inner: Arc::new(AppInner {
                config,
                database,
                url: Mutex::new(server.url()),
                server: Mutex::new(Some(server)),
                client,
            }),
        }
    }

    /// `http://127.0.0.1:PORT` of the running server (changes on [`TestApp::restart`]).
    pub fn url(&self) -> String {
        lock(&self.inner.url).clone()
    }

    /// The configuration the server was started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database under the server.
    pub fn database(&self) -> &TestDatabase {
        &self.inner.database
    }

    /// The folder the server writes its mail to.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(&self.inner.config.mail_dir)
    }

    /// Waits for the next mail to `address` (beyond the `already` it had) and returns the
    /// token of its link to `path` (`/verify-email`, `/reset-password`).
    pub async fn mailed_token(&self, address: &str, already: usize, path: &str) -> String {
        let mail = mail::wait_for_mail(&self.mail_dir(), address, already).await;
        mail.token_for(path).unwrap_or_else(|| panic!("the mail to {address} has a {path} link: {}", mail.text))
    }

    /// Another running instance on the same database and configuration (as a second replica
    /// behind a load balancer would be). Stop it with [`TestApp::stop`].
    pub async fn another_instance(&self) -> TestApp {
        TestApp::start(self.inner.config.clone(), Arc::clone(&self.inner.database)).await
    }

    /// Another running instance on the same database with a changed configuration.
    pub async fn another_instance_with(&self, configure: impl FnOnce(Config) -> Config) -> TestApp {
        TestApp::start(configure(self.inner.config.clone()), Arc::clone(&self.inner.database)).await
    }

    /// Stops the server and starts a new one with the same configuration and database.
    pub async fn restart(&self) {
        self.stop().await;
        let server = portcullis::server::spawn(self.inner.config.clone())
            .await
            .unwrap_or_else(|error| panic!("the server did not start again: {error:#}"));
        *lock(&self.inner.url) = server.url();
        *lock(&self.inner.server) = Some(server);
    }

    /// Stops the server if it runs.
    pub async fn stop(&self) {
        let server = lock(&self.inner.server).take();
        if let Some(server) = server {
            server.stop().await;
        }
    }

    /// A request to `path` on the server.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.inner.client.request(method, format!("{}{path}", self.url()))
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> TestResponse {
        TestResponse::read(request).await
    }

    /// `GET path`, no credentials.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    /// `GET path` with `Authorization: Bearer token`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> TestResponse {
        self.send(self.request(Method::GET, path).bearer_auth(token)).await
    }

    /// `POST path` with a JSON body, no credentials.
    pub async fn post_json(&self, path: &str, body: &Value) -> TestResponse {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// `POST /api/auth/signup`.
    pub async fn signup_raw(&self, body: &Value) -> TestResponse {
        self.post_json("/api/auth/signup", body).await
    }

    /// Signs `name`/`email` up with [`PASSWORD`]; asserts `201` and returns the `UserInfo`.
    pub async fn signup(&self, name: &str, email: &str) -> Value {
        let response = self.signup_raw(&json!({"name": name, "email": email, "password": PASSWORD})).await;
        response.assert_status(201);
        response.json()
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser { app: self.clone(), jar: CookieJar::default() }
    }

    /// Logs in through a new browser; asserts `200`; the browser holds the three cookies.
    pub async fn login(&self, email: &str, password: &str) -> Browser {
        let mut browser = self.browser();
        let response = browser.login(email, password).await;
        response.assert_status(200);
        browser
    }

    /// Signs a user up and logs them in; returns their `UserInfo` and the browser.
    pub async fn signed_in(&self, name: &str, email: &str) -> (Value, Browser) {
        let user = self.signup(name, email).await;
        let browser = self.login(email, PASSWORD).await;
        (user, browser)
    }
}

/// A client that keeps cookies the way a browser would (by name and path), from the
/// `Set-Cookie` headers it receives.
#[derive(Clone)]
pub struct Browser {
    /// The server.
    pub app: TestApp,
    /// The cookies it holds.
    pub jar: CookieJar,
}

impl Browser {
    /// A request to `path` carrying the cookies a browser would send there.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.app.request(method, path);
        match self.jar.header_for(path) {
            Some(cookies) => request.header(reqwest::header::COOKIE, cookies),
            None => request,
        }
    }

    /// Sends `request`, reads the answer, and stores the cookies it sets.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> TestResponse {
        let response = TestResponse::read(request).await;
        for cookie in response.set_cookies() {
            self.jar.store(&cookie);
        }
        response
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> TestResponse {
        let request = self.request(Method::GET, path);
        self.send(request).await
    }

    /// `POST path` with no body.
    pub async fn post(&mut self, path: &str) -> TestResponse {
        let request = self.request(Method::POST, path);
        self.send(request).await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&mut self, path: &str, body: &Value) -> TestResponse {
        let request = self.request(Method::POST, path).json(body);
        self.send(request).await
    }

    /// `POST /api/auth/login`.
    pub async fn login(&mut self, email: &str, password: &str) -> TestResponse {
        self.post_json("/api/auth/login", &json!({"email": email, "password": password})).await
    }

    /// `POST /api/auth/refresh`.
    pub async fn refresh(&mut self) -> TestResponse {
        self.post("/api/auth/refresh").await
    }

    /// `POST /api/auth/logout`.
    pub async fn logout(&mut self) -> TestResponse {
        self.post("/api/auth/logout").await
    }

    /// `GET /api/auth/current-user`.
    pub async fn current_user(&mut self) -> TestResponse {
        self.get("/api/auth/current-user").await
    }

    /// `PATCH /api/auth/current-user`, with `X-CSRF-Token` from the `csrf_token` cookie.
    pub async fn patch_profile(&mut self, body: &Value) -> TestResponse {
        let csrf = self.cookie("csrf_token").expect("the browser holds a csrf_token cookie").to_owned();
        let request = self.request(Method::PATCH, "/api/auth/current-user").header("X-CSRF-Token", csrf).json(body);
        self.send(request).await
    }

    /// A `method path` request carrying the cookies and `X-CSRF-Token` from the `csrf_token` cookie.
    pub fn csrf_request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let csrf = self.cookie("csrf_token").expect("the browser holds a csrf_token cookie").to_owned();
        self.request(method, path).header("X-CSRF-Token", csrf)
    }

    /// `method path` with a JSON body and the CSRF header.
    pub async fn send_csrf(&mut self, method: Method, path: &str, body: Option<&Value>) -> TestResponse {
        let request = self.csrf_request(method, path);
        let request = match body {
            Some(body) => request.json(body),
            None => request,
        };
        self.send(request).await
    }

    /// The value of cookie `name`, if held.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.jar.get(name)
    }

    /// The `access_token` cookie's value (panics when absent).
    pub fn access_token(&self) -> String {
        self.cookie("access_token").expect("the browser holds an access_token cookie").to_owned()
    }

    /// The `refresh_token` cookie's value (panics when absent).
    pub fn refresh_token(&self) -> String {
        self.cookie("refresh_token").expect("the browser holds a refresh_token cookie").to_owned()
    }

    /// A new browser holding only `refresh_token = value` (as a stolen or old cookie would be).
    pub fn with_refresh_token(&self, value: &str) -> Browser {
        let mut jar = CookieJar::default();
        jar.insert("refresh_token", value, "/api/auth");
        Browser { app: self.app.clone(), jar }
    }
}

/// A unique email address, so parallel tests never collide.
pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Asserts `value` is a `UserInfo`: exactly its keys, with well-formed values.
pub fn assert_user_info(value: &Value) {
    let object = value.as_object().unwrap_or_else(|| panic!("UserInfo is not an object: {value}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, USER_INFO_KEYS, "UserInfo must have exactly these keys: {value}");
    let id = value["user_id"].as_str().expect("user_id is a string");
    let id = uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("user_id {id} is a UUID"));
    assert_eq!(id.get_version_num(), 7, "user_id {id} is a UUID v7");
    assert!(value["name"].is_string() && value["email"].is_string(), "{value}");
    assert!(value["avatar_url"].is_null() || value["avatar_url"].is_string(), "{value}");
    assert!(value["roles"].as_array().is_some_and(|r| r.iter().all(Value::is_string)), "{value}");
    assert!(value["email_verified"].is_boolean(), "{value}");
    assert_rfc3339_utc_seconds(value["created_at"].as_str().expect("created_at is a string"));
}

/// Asserts `text` is RFC 3339 UTC with whole seconds (`2026-11-22T10:00:00Z`); returns it parsed.
pub fn assert_rfc3339_utc_seconds(text: &str) -> chrono::DateTime<chrono::Utc> {
    let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .unwrap_or_else(|_| panic!("{text:?} is not RFC 3339 UTC with whole seconds (YYYY-MM-DDTHH:MM:SSZ)"));
    assert_eq!(text.len(), 20, "{text:?} has no fraction and no offset other than Z");
    parsed.and_utc()
}
