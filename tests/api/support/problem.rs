//! Checks of the error contract: RFC 9457 problem+json with a stable `code`, and
//! `Cache-Control: no-store` on everything under `/api`.

use serde_json::Value;

use super::http::TestResponse;

/// Words that would mean an error leaked internals (SQL, a hash, a panic).
const LEAK_MARKERS: [&str; 9] =
    ["panicked", "diesel", "sqlstate", "select ", "insert into", "$2b$", "$2y$", "backtrace", "r2d2"];

/// Asserts `Cache-Control: no-store`.
pub fn assert_no_store(response: &TestResponse) {
    let cache_control = response.header("cache-control").unwrap_or_default();
    assert!(
        cache_control.split(',').any(|directive| directive.trim().eq_ignore_ascii_case("no-store")),
        "{} {} ({}) must carry Cache-Control: no-store, got {cache_control:?}",
        response.method,
        response.path,
        response.status
    );
}

/// Asserts `response` is a problem+json error with `status` and `code`; returns the body.
pub fn assert_problem(response: &TestResponse, status: u16, code: &str) -> Value {
    let what = format!("{} {}", response.method, response.path);
    assert_eq!(
        (response.code(), problem_code(response).as_deref()),
        (status, Some(code)),
        "{what}: expected {status} {code}; got {} with body {}",
        response.status,
        response.text()
    );
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{what}: errors are application/problem+json, got Content-Type {content_type:?}"
    );
    let body = response.json();
    for field in ["type", "title", "detail"] {
        assert!(body[field].is_string(), "{what}: problem field {field:?} must be a string: {body}");
    }
    assert!(!body["title"].as_str().unwrap_or_default().is_empty(), "{what}: empty title: {body}");
    assert_eq!(body["status"], Value::from(status), "{what}: body status must equal the HTTP status: {body}");
    if code != "validation_failed" && code != "weak_password" {
        assert!(body.get("errors").is_none(), "{what}: `errors` appears only for validation: {body}");
    }
    let lower = response.text().to_lowercase();
    for marker in LEAK_MARKERS {
        assert!(!lower.contains(marker), "{what}: error body leaks internals ({marker:?}): {body}");
    }
    if response.path.starts_with("/api") {
        assert_no_store(response);
    }
    body
}

fn problem_code(response: &TestResponse) -> Option<String> {
    serde_json::from_slice::<Value>(&response.body).ok()?.get("code")?.as_str().map(str::to_owned)
}

/// The `(field, code)` pairs of a validation problem, sorted.
pub fn field_errors(body: &Value) -> Vec<(String, String)> {
    let errors = body["errors"].as_array().unwrap_or_else(|| panic!("a validation problem has `errors`: {body}"));
    let mut pairs: Vec<(String, String)> = errors
        .iter()
        .map(|entry| {
            let field = entry["field"].as_str().unwrap_or_else(|| panic!("errors[].field is a string: {body}"));
            let code = entry["code"].as_str().unwrap_or_else(|| panic!("errors[].code is a string: {body}"));
            let message = entry["message"].as_str().unwrap_or_else(|| panic!("errors[].message is a string: {body}"));
            assert!(!message.is_empty(), "errors[].message is not empty: {body}");
            (field.to_owned(), code.to_owned())
        })
        .collect();
    pairs.sort();
    pairs
}

/// Asserts a `422 validation_failed` with exactly these `(field, code)` entries (any order).
pub fn assert_validation(response: &TestResponse, expected: &[(&str, &str)]) -> Value {
    let body = assert_problem(response, 422, "validation_failed");
    let mut expected: Vec<(String, String)> =
        expected.iter().map(|(field, code)| ((*field).to_owned(), (*code).to_owned())).collect();
    expected.sort();
    assert_eq!(field_errors(&body), expected, "{} {}: body {body}", response.method, response.path);
    body
}
