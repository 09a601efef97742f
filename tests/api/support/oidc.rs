//! A real OpenID Connect provider for the end-to-end tests: panva's `oidc-provider` (npm)
//! behind `tests/support/oidc-provider/server.mjs`, one `node` process per test on
//! `127.0.0.1:0`, and a person's walk through its sign-in form ([`OidcProvider::sign_in`]).
//!
//! Needs Node.js (20.18+ or 22+) and `npm ci --prefix tests/support/oidc-provider`. Without
//! them [`OidcProvider::start`] returns `None` (loudly) — or panics under `CI=true`.
//!
//! The provider: authorization code flow only, PKCE (S256) required, clients authenticate
//! with `client_secret_basic` (registered) or `client_secret_post` (oidc-provider accepts
//! both for such a client), scopes `openid email profile`, the scope claims (`email`,
//! `email_verified`, `name`, `picture`) in the ID token as well as from userinfo, ID tokens
//! signed RS256 with a key made at start, no refresh tokens, no consent screen.

// Not every test uses every helper.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use url::Url;

/// How to install the provider, for the messages.
const INSTALL: &str = "npm ci --prefix tests/support/oidc-provider";

/// How long `node` may take to print its `ISSUER` line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The most redirects [`OidcProvider::sign_in`] follows in one go.
const MAX_REDIRECTS: usize = 10;

/// How much of the provider's stderr is kept (the newest part).
const LOG_LIMIT: usize = 256 * 1024;

/// A client (relying party) registered at the provider.
#[derive(Clone, Debug)]
pub struct OidcClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Its one registered `redirect_uri`.
    pub redirect_uri: String,
}

/// A person with an account at the provider; they sign in by typing `sub`.
#[derive(Clone, Debug, Default)]
pub struct OidcAccount {
    /// The account id: the `sub` claim, and what is typed into the sign-in form.
    pub sub: String,
    /// The `email` claim (absent when `None`).
    pub email: Option<String>,
    /// The `email_verified` claim (sent whenever `email` is).
    pub email_verified: bool,
    /// The `name` claim (absent when `None`).
    pub name: Option<String>,
    /// The `picture` claim, a URL (absent when `None`).
    pub picture: Option<String>,
}

impl OidcAccount {
    /// The account as `server.mjs` reads it: its claims other than `sub`, `None`s left out.
    fn claims(&self) -> Value {
        let mut claims = Map::new();
        if let Some(email) = &self.email {
            claims.insert("email".into(), json!(email));
            claims.insert("email_verified".into(), json!(self.email_verified));
        }
        if let Some(name) = &self.name {
            claims.insert("name".into(), json!(name));
        }
        if let Some(picture) = &self.picture {
            claims.insert("picture".into(), json!(picture));
        }
        Value::Object(claims)
    }
}

fn accounts_json(accounts: &[OidcAccount]) -> Value {
    Value::Object(accounts.iter().map(|account| (account.sub.clone(), account.claims())).collect())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The provider cannot run: `None` with a loud warning, or a panic under `CI=true`.
fn unavailable(reason: &str) -> Option<OidcProvider> {
    if in_ci() {
        panic!(
            "the OpenID Connect test provider cannot run ({reason}) and CI=true: the OIDC tests must run. \
             Install Node.js (20.18+ or 22+) and run `{INSTALL}`."
        );
    }
    super::skipped::skipped(
        "the OpenID Connect test provider",
        reason,
        &format!("Install Node.js (20.18+ or 22+) and run `{INSTALL}`."),
    );
    None
}

/// A running `oidc-provider` (a `node` child process, killed when this is dropped).
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`, no trailing slash: what discovery reports as `issuer`.
    pub issuer: String,
    // std's Child, killed in `Drop`: the crate's tokio has no "process" feature.
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    http: reqwest::Client,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One answer from the provider, read whole.
struct Answer {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// Where following redirects ended.
enum Landing {
    /// A page at the provider that is no redirect.
    Page { url: Url, answer: Answer },
    /// A redirect away from the provider, not followed.
    Away(String),
}

impl OidcProvider {
    /// Starts the provider with `clients` registered and `accounts` known, and waits (at most
    /// 20 s) until it listens. `None` (with a loud warning) when Node.js or the npm packages
    /// are missing; under `CI=true` that panics instead.
    pub async fn start(clients: &[OidcClient], accounts: &[OidcAccount]) -> Option<OidcProvider> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oidc-provider");
        // Installing is `.ci/run`'s job (or the developer's): a test installs nothing.
        if !dir.join("node_modules/oidc-provider").is_dir() {
            return unavailable(&format!("{} has no node_modules/oidc-provider", dir.display()));
        }
        let clients: Vec<Value> = clients
            .iter()
            .map(|client| {
                json!({
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                    "redirect_uris": [client.redirect_uri],
                })
            })
            .collect();
        let spawned = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("OIDC_PORT", "0")
            .env("OIDC_CLIENTS", Value::Array(clients).to_string())
            .env("OIDC_ACCOUNTS", accounts_json(accounts).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return unavailable("`node` is not on the PATH");
            }
            Err(error) => panic!("`node server.mjs` did not start in {}: {error}", dir.display()),
        };

        // stderr: drained into `log` (the newest LOG_LIMIT bytes), so node never blocks on it.
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut log = lock(&sink);
                log.push_str(&line);
                log.push('\n');
                if log.len() > LOG_LIMIT {
                    let mut cut = log.len() - LOG_LIMIT / 2;
                    while !log.is_char_boundary(cut) {
                        cut += 1;
                    }
                    log.drain(..cut);
                }
            }
        });
        // stdout: the one `ISSUER ...` line, then drained too.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (issuer_tx, issuer_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut issuer_tx = Some(issuer_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let (Some(issuer), Some(tx)) = (line.strip_prefix("ISSUER "), issuer_tx.take()) {
                    let _ = tx.send(issuer.trim().to_owned());
                }
            }
        });

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client builds");
        // From here on a panic kills the child (Drop).
        let mut provider = OidcProvider { issuer: String::new(), child: Some(child), log, http };
        match tokio::time::timeout(START_TIMEOUT, issuer_rx).await {
            Ok(Ok(issuer)) => provider.issuer = issuer,
            Ok(Err(_)) => {
                // stdout closed without the line: node exited. Let the stderr drain catch up.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let status = provider.child.as_mut().and_then(|child| child.try_wait().ok().flatten());
                panic!(
                    "the OpenID Connect test provider exited before listening ({}); \
                     is Node.js 20.18+ and `{INSTALL}` in place?\n--- its stderr ---\n{}",
                    status.map_or_else(|| "still running".to_owned(), |status| status.to_string()),
                    provider.log()
                );
            }
            Err(_) => panic!(
                "the OpenID Connect test provider printed no ISSUER line within {} s\n--- its stderr ---\n{}",
                START_TIMEOUT.as_secs(),
                provider.log()
            ),
        }
        Some(provider)
    }

    /// What the provider wrote to stderr so far (the newest part): a line per request, and
    /// its errors.
    pub fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// Adds `account`, or replaces the one with its `sub` (`POST /__test/accounts`).
    pub async fn add_account(&self, account: &OidcAccount) {
        let url = format!("{}/__test/accounts", self.issuer);
        let response = self
            .http
            .post(&url)
            .json(&accounts_json(std::slice::from_ref(account)))
            .send()
            .await
            .unwrap_or_else(|error| panic!("POST {url} failed: {error}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::NO_CONTENT, "POST {url} answered {status}: {}", excerpt(&body));
    }

    /// Signs `login` (an account's `sub`) in the way their browser would, with a cookie jar
    /// of its own: GETs `authorize_url` (the provider's authorization endpoint with the
    /// client's request), follows the redirects to the sign-in form, submits it, follows the
    /// redirects while they stay at the provider, and returns the first `Location` that leads
    /// elsewhere — the client's `redirect_uri` with `code`, `state` and `iss` — without
    /// requesting it. No consent screen: signing in grants the requested scopes.
    ///
    /// Panics (with the status and the start of the body) on anything else: an error page, a
    /// redirect away before the form (such as `redirect_uri?error=...`), an unknown account.
    pub async fn sign_in(&self, authorize_url: &str, login: &str) -> String {
        let mut jar = BTreeMap::new();
        let start =
            Url::parse(authorize_url).unwrap_or_else(|error| panic!("authorize URL {authorize_url:?}: {error}"));
        let issuer = Url::parse(&self.issuer).expect("the issuer is a URL");
        assert_eq!(start.origin(), issuer.origin(), "the authorize URL {authorize_url} is not at {}", self.issuer);

        // 1. The authorization request, on to the sign-in form.
        let answer = self.send(&mut jar, Method::GET, &start, None).await;
        let (form_url, form) = match self.follow(&mut jar, start, answer).await {
            Landing::Page { url, answer } if answer.status == StatusCode::OK && answer.body.contains("login-form") => {
                (url, answer.body)
            }
            Landing::Page { url, answer } => {
                self.fail(&format!("GET {url} (after the authorization request) is not the sign-in form"), &answer)
            }
            Landing::Away(location) => panic!(
                "the provider sent the browser to {location} before the sign-in form (an error for the client?)\n\
                 --- provider log ---\n{}",
                self.log()
            ),
        };

        // 2. The form: <form id="login-form" method="post" action="/interaction/UID/login">.
        let action = form_action(&form).unwrap_or_else(|| panic!("no action on the sign-in form:\n{}", excerpt(&form)));
        let action = form_url.join(&action).unwrap_or_else(|error| panic!("form action {action:?}: {error}"));
        let body = url::form_urlencoded::Serializer::new(String::new()).append_pair("login", login).finish();
        let answer = self.send(&mut jar, Method::POST, &action, Some(body)).await;
        if answer.status == StatusCode::OK {
            self.fail(&format!("signing in as {login:?} failed (unknown account?): POST {action}"), &answer);
        }

        // 3. The provider's resume endpoint, on to the client.
        match self.follow(&mut jar, action.clone(), answer).await {
            Landing::Away(location) => location,
            Landing::Page { url, answer } => {
                self.fail(&format!("after signing in as {login:?} the browser stopped at {url}"), &answer)
            }
        }
    }

    /// Stops the provider (kills `node` and waits for it).
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = tokio::task::spawn_blocking(move || child.wait()).await;
        }
    }

    /// Follows the redirects in `answer` (to `url`) while they stay at the provider.
    async fn follow(&self, jar: &mut BTreeMap<String, String>, mut url: Url, mut answer: Answer) -> Landing {
        let issuer = Url::parse(&self.issuer).expect("the issuer is a URL").origin();
        for _ in 0..MAX_REDIRECTS {
            let Some(location) = answer.location.clone().filter(|_| answer.status.is_redirection()) else {
                return Landing::Page { url, answer };
            };
            let next = url.join(&location).unwrap_or_else(|error| panic!("Location {location:?} from {url}: {error}"));
            if next.origin() != issuer {
                return Landing::Away(if Url::parse(&location).is_ok() { location } else { next.into() });
            }
            answer = self.send(jar, Method::GET, &next, None).await;
            url = next;
        }
        self.fail(&format!("more than {MAX_REDIRECTS} redirects at the provider, the last to {url}"), &answer)
    }

    /// Sends one request with the jar's cookies (and a form `body`), keeps the cookies it
    /// sets, and reads the whole answer.
    async fn send(
        &self,
        jar: &mut BTreeMap<String, String>,
        method: Method,
        url: &Url,
        body: Option<String>,
    ) -> Answer {
        let mut request = self.http.request(method.clone(), url.clone());
        if !jar.is_empty() {
            let cookies: Vec<String> = jar.iter().map(|(name, value)| format!("{name}={value}")).collect();
            request = request.header(COOKIE, cookies.join("; "));
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
        }
        let response = request.send().await.unwrap_or_else(|error| panic!("{method} {url} failed: {error}"));
        for header in response.headers().get_all(SET_COOKIE) {
            store_cookie(jar, &String::from_utf8_lossy(header.as_bytes()));
        }
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = response.text().await.unwrap_or_else(|error| panic!("{method} {url}: reading the body: {error}"));
        Answer { status, location, body }
    }

    fn fail(&self, what: &str, answer: &Answer) -> ! {
        panic!(
            "{what}: status {}{}\n--- body ---\n{}\n--- provider log ---\n{}",
            answer.status,
            answer.location.as_ref().map(|location| format!(", Location {location}")).unwrap_or_default(),
            excerpt(&answer.body),
            self.log()
        )
    }
}

/// Keeps `name=value` from one `Set-Cookie` header; an empty or expired one deletes the name.
/// (A flat jar: the provider's cookie names differ, so paths can be ignored.)
fn store_cookie(jar: &mut BTreeMap<String, String>, header: &str) {
    let mut parts = header.split(';').map(str::trim);
    let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else { return };
    let expired = parts.any(|attribute| {
        let attribute = attribute.to_ascii_lowercase();
        attribute == "max-age=0" || (attribute.starts_with("expires=") && attribute.contains("1970"))
    });
    if value.is_empty() || expired {
        jar.remove(name.trim());
    } else {
        jar.insert(name.trim().to_owned(), value.to_owned());
    }
}

/// The `action` of `<form id="login-form" ...>` in `html`.
fn form_action(html: &str) -> Option<String> {
    let form = &html[html.find("id=\"login-form\"")?..];
    let form = &form[..form.find('>')?];
    let start = form.find("action=\"")? + "action=\"".len();
    let end = start + form[start..].find('"')?;
    Some(form[start..end].replace("&amp;", "&"))
}

/// The start of `body`, for messages.
fn excerpt(body: &str) -> String {
    match body.char_indices().nth(800) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_owned(),
    }
}
