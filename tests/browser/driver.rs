//! A small layer over fantoccini: one `chromedriver` per test, browsers (WebDriver sessions,
//! each with its own cookie jar) on a test server, and waits that poll instead of sleeping.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, PoisonError};

use crate::support::TestApp;

/// How long a wait polls before the test fails.
const WAIT: Duration = Duration::from_secs(10);

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci.eq_ignore_ascii_case("true"))
}

fn binary(variable: &str, default: &str) -> Option<PathBuf> {
    let path =
        std::env::var(variable).ok().filter(|p| !p.is_empty()).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// A running `chromedriver` and the Chromium it starts. Dropping it (also when a test
/// panics) kills chromedriver's process group — the browsers with it — then removes the
/// browsers' profiles.
pub struct Chromium {
    driver: Child,
    port: u16,
    binary: PathBuf,
    profiles: Mutex<Vec<tempdir::Profile>>,
}

mod tempdir {
    /// A fresh `--user-data-dir`, removed on drop.
    pub struct Profile(pub std::path::PathBuf);

    impl Drop for Profile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Chromium {
    /// Starts `chromedriver` on a free port; `None` (loudly) when Chromium is not installed,
    /// a panic under `CI=true`.
    pub async fn start() -> Option<Self> {
        // Two TLS back ends are linked in; pick one for fantoccini's (unused, plain-HTTP) client.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chromium = binary("PORTCULLIS_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = binary("PORTCULLIS_CHROMEDRIVER", "/usr/bin/chromedriver");
        let (Some(binary), Some(chromedriver)) = (chromium, chromedriver) else {
            let message = "Chromium or chromedriver is missing (apt-get install chromium chromium-driver)";
            assert!(!ci(), "{message}, and CI=true");
            crate::support::skipped::skipped(
                "Chromium",
                "chromium or chromedriver is missing",
                "Install them: apt-get install chromium chromium-driver.",
            );
            return None;
        };
        let port = crate::support::cli::free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the Chromium processes it starts join it, so they can be
            // stopped together even when a test panics before closing its browsers.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(Self { driver, port, binary, profiles: Mutex::new(Vec::new()) })
    }

    /// A new headless browser window of `width`×`height` with its own profile, on `app`.
    pub async fn browser(&self, app: &TestApp, width: u32, height: u32) -> Browser {
        self.browser_at(app.url(), width, height).await
    }

    /// As [`Chromium::browser`], addressing the server as `base` (`http://localhost:PORT`
    /// where WebAuthn needs a name rather than an IP address).
    pub async fn browser_at(&self, base: String, width: u32, height: u32) -> Browser {
        let profile = std::env::temp_dir().join(format!("portcullis-chromium-{}", uuid::Uuid::new_v4().simple()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": self.binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={width},{height}"),
                ],
            }),
        );
        let client = ClientBuilder::rustls()
            .expect("a WebDriver client")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session");
        client.set_window_size(width, height).await.expect("sizes the window");
        self.profiles.lock().unwrap_or_else(PoisonError::into_inner).push(tempdir::Profile(profile));
        Browser { client, base }
    }

    /// Stops chromedriver (and with it every browser it started).
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        self.profiles.get_mut().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// One browser window on the test server.
pub struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    /// The WebDriver session, for commands this wrapper does not have (the WebAuthn ones).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` on the server.
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    /// Opens the absolute `url` (a link from a mail); it must be on the server.
    pub async fn goto_url(&self, url: &str) {
        assert!(url.starts_with(&format!("{}/", self.base)), "{url} points at the test server {}", self.base);
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Reloads the page.
    pub async fn reload(&self) {
        self.client.refresh().await.expect("reloads");
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.client.current_url().await.expect("a URL").to_string()
    }

    /// Waits until `css` matches an element; returns it.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                return element;
            }
            self.fail_after(started, &format!("no element matches {css}")).await;
        }
    }

    /// Waits until `css` is displayed.
    pub async fn wait_visible(&self, css: &str) {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return;
            }
            self.fail_after(started, &format!("{css} is not displayed")).await;
        }
    }

    /// Waits until `css` is displayed and its text contains `needle` (any text for "").
    pub async fn wait_for_text(&self, css: &str, needle: &str) {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                let shown = element.is_displayed().await.unwrap_or(false);
                let text = element.text().await.unwrap_or_default();
                if shown && !text.is_empty() && text.contains(needle) {
                    return;
                }
            }
            self.fail_after(started, &format!("{css} does not show {needle:?}")).await;
        }
    }

    /// Waits until `css` matches exactly `count` elements.
    pub async fn wait_for_count(&self, css: &str, count: usize) {
        let started = Instant::now();
        loop {
            if self.client.find_all(Locator::Css(css)).await.is_ok_and(|found| found.len() == count) {
                return;
            }
            self.fail_after(started, &format!("{css} does not match {count} elements")).await;
        }
    }

    /// Waits until the page's path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        let started = Instant::now();
        loop {
            if self.client.current_url().await.is_ok_and(|url| url.path() == path) {
                return;
            }
            self.fail_after(started, &format!("the page did not reach {path}")).await;
        }
    }

    async fn fail_after(&self, started: Instant, what: &str) {
        if started.elapsed() > WAIT {
            let url = self.url().await;
            self.screenshot("failure").await;
            panic!("after {WAIT:?}: {what} (at {url}; screenshot target/screenshots/failure.png)");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    /// Types `text` into the input `css` after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.wait_for(css).await;
        element.clear().await.unwrap_or_else(|e| panic!("clear {css}: {e}"));
        element.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks `css` once it is displayed.
    pub async fn click(&self, css: &str) {
        self.wait_visible(css).await;
        let element = self.wait_for(css).await;
        element.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// The text of `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap_or_default()
    }

    /// Attribute `name` of `css`.
    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(css).await.attr(name).await.unwrap_or_default()
    }

    /// Runs `script` in the page and returns its value.
    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.expect("the script runs")
    }

    /// The status of a `fetch` the page makes with its cookies, with or without the
    /// `X-CSRF-Token` header copied from the `csrf_token` cookie.
    pub async fn fetch_status(&self, method: &str, path: &str, with_csrf: bool) -> u16 {
        let script = r#"
            const [method, path, withCsrf, done] = arguments;
            const headers = {'Content-Type': 'application/json'};
            if (withCsrf) {
                const pair = document.cookie.split(';').map(c => c.trim()).find(c => c.startsWith('csrf_token='));
                headers['X-CSRF-Token'] = pair ? decodeURIComponent(pair.slice('csrf_token='.length)) : '';
            }
            const body = method === 'PATCH' ? JSON.stringify({name: 'Fetched Name'}) : undefined;
            fetch(path, {method, headers, body, credentials: 'same-origin'})
                .then(r => done(r.status), () => done(0));
        "#;
        let value = self
            .client
            .execute_async(script, vec![json!(method), json!(path), json!(with_csrf)])
            .await
            .expect("the fetch runs");
        value.as_u64().and_then(|status| u16::try_from(status).ok()).unwrap_or(0)
    }

    /// Saves a screenshot as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let Ok(png) = self.client.screenshot().await else { return };
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }

    /// With `PORTCULLIS_UPDATE_SCREENSHOTS=1`, saves a screenshot for the README as
    /// `docs/screenshots/<name>.png`.
    pub async fn save_readme_screenshot(&self, name: &str) {
        if std::env::var("PORTCULLIS_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let png = self.client.screenshot().await.expect("a screenshot");
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join("screenshots");
            std::fs::create_dir_all(&dir).expect("docs/screenshots");
            std::fs::write(dir.join(format!("{name}.png")), png).expect("writes the screenshot");
        }
    }

    /// Opens `path` in a new tab of the same browser (same cookies) and switches to it;
    /// returns the handle of the tab it came from.
    pub async fn open_tab(&self, path: &str) -> fantoccini::wd::WindowHandle {
        let previous = self.client.window().await.expect("the current window");
        let tab = self.client.new_window(true).await.expect("a new tab");
        self.client.switch_to_window(tab.handle).await.expect("switches to the tab");
        self.goto(path).await;
        previous
    }

    /// Switches to the tab `handle`.
    pub async fn switch_to(&self, handle: fantoccini::wd::WindowHandle) {
        self.client.switch_to_window(handle).await.expect("switches tabs");
    }

    /// Whether the browser holds cookie `name` for this site (HttpOnly ones included).
    pub async fn has_cookie(&self, name: &str) -> bool {
        self.client.get_named_cookie(name).await.is_ok_and(|cookie| !cookie.value().is_empty())
    }

    /// `(Secure, HttpOnly)` of cookie `name`, if the browser holds it.
    pub async fn cookie_flags(&self, name: &str) -> Option<(bool, bool)> {
        let cookie = self.client.get_named_cookie(name).await.ok()?;
        Some((cookie.secure().unwrap_or(false), cookie.http_only().unwrap_or(false)))
    }

    /// Drops cookie `name` (as a browser does when it expires).
    pub async fn delete_cookie(&self, name: &str) {
        self.client.delete_cookie(name).await.unwrap_or_else(|e| panic!("delete cookie {name}: {e}"));
    }

    /// Starts recording whether the element `css` ever gets the `disabled` attribute (read it
    /// with [`Browser::was_disabled`]); the page must not be left in between.
    pub async fn watch_disabled(&self, css: &str) {
        self.wait_for(css).await;
        let script = r#"
            const [css] = arguments;
            const element = document.querySelector(css);
            window.__portcullisSawDisabled = false;
            new MutationObserver(() => {
                if (element.disabled) { window.__portcullisSawDisabled = true; }
            }).observe(element, {attributes: true, attributeFilter: ['disabled']});
        "#;
        self.client.execute(script, vec![json!(css)]).await.expect("the observer installs");
    }

    /// Whether the element watched with [`Browser::watch_disabled`] was disabled at some point.
    pub async fn was_disabled(&self) -> bool {
        self.script("return window.__portcullisSawDisabled === true;").await.as_bool().unwrap_or(false)
    }

    /// The handle of the current tab.
    pub async fn current_tab(&self) -> fantoccini::wd::WindowHandle {
        self.client.window().await.expect("the current window")
    }

    /// Ends the session (closes the window).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
