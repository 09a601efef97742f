//! A fully read HTTP answer, easy to assert on.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::cookies::SetCookie;

/// Status, headers and body of one answer, plus the request's method and path.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The request's method.
    pub method: reqwest::Method,
    /// The request's path.
    pub path: String,
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// Sends `request` and reads the whole answer.
    pub async fn read(request: reqwest::RequestBuilder) -> Self {
        let (client, request) = request.build_split();
        let request = request.expect("the request builds");
        let method = request.method().clone();
        let path = request.url().path().to_owned();
        let response =
            client.execute(request).await.unwrap_or_else(|error| panic!("{method} {path} got no answer: {error}"));
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_else(|error| panic!("{method} {path}: body unreadable: {error}"));
        Self { method, path, status, headers, body: body.to_vec() }
    }

    /// The status as a number.
    pub fn code(&self) -> u16 {
        self.status.as_u16()
    }

    /// Header `name` as text (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap_or_else(|_| panic!("header {name} is not text")))
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|value| value.to_str().unwrap_or_default().to_owned()).collect()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!("{} {}: body is not JSON ({error}): {}", self.method, self.path, self.text())
        })
    }

    /// Asserts the status, showing the body when it differs.
    pub fn assert_status(&self, expected: u16) -> &Self {
        assert_eq!(
            self.code(),
            expected,
            "{} {} answered {} (expected {expected}); body: {}",
            self.method,
            self.path,
            self.status,
            self.text()
        );
        self
    }

    /// Every `Set-Cookie`, parsed.
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        self.header_all("set-cookie")
            .iter()
            .map(|raw| SetCookie::parse(raw).unwrap_or_else(|| panic!("unparsable Set-Cookie: {raw:?}")))
            .collect()
    }

    /// The `Set-Cookie` for `name` (panics when absent or repeated).
    pub fn set_cookie(&self, name: &str) -> SetCookie {
        let mut matching: Vec<SetCookie> = self.set_cookies().into_iter().filter(|c| c.name == name).collect();
        assert_eq!(
            matching.len(),
            1,
            "{} {}: expected one Set-Cookie for {name}, got {:?}",
            self.method,
            self.path,
            self.header_all("set-cookie")
        );
        matching.remove(0)
    }

    /// Names of the cookies set, sorted.
    pub fn set_cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.set_cookies().into_iter().map(|c| c.name).collect();
        names.sort();
        names
    }
}
