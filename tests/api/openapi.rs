//! `GET /api/openapi.json` describes every route the server serves, and nothing it doesn't.

use portcullis_api::body::MAX_BODY_BYTES;
use portcullis_api::routes::oauth::MFA_OTP_GRANT;
use portcullis_domain::{
    ApiKeyName, AvatarUrl, Email, MAX_PASSKEY_NAME_CHARS, MAX_SCOPE_CHARS, MAX_SCOPES, PasskeyName, PlainPassword,
    Role, Scope, Scopes, UserName,
};
use reqwest::Method;
use serde_json::Value;

/// Every (method, path) the server registers. A route added to the server but not here
/// fails `every_listed_route_is_served`; one missing from the document fails the other test.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/current-user"),
    ("patch", "/api/auth/current-user"),
    ("delete", "/api/auth/current-user"),
    ("post", "/api/auth/password/change"),
    ("post", "/api/auth/password/forgot"),
    ("post", "/api/auth/password/reset"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/email/resend"),
    ("post", "/api/auth/api-keys"),
    ("get", "/api/auth/api-keys"),
    ("delete", "/api/auth/api-keys/{id}"),
    ("post", "/api/auth/introspect"),
    ("get", "/api/admin/users"),
    ("get", "/api/admin/users/{id}"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("get", "/api/auth/sessions"),
    ("delete", "/api/auth/sessions/{id}"),
    ("post", "/api/auth/logout-all"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/revoke"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/api/openapi.json"),
    ("get", "/metrics"),
    ("get", "/docs"),
    ("get", "/api/auth/providers"),
    ("get", "/api/auth/oauth/{provider}/authorize"),
    ("get", "/api/auth/oauth/{provider}/callback"),
    ("get", "/api/auth/identities"),
    ("post", "/api/auth/identities/{provider}"),
    ("delete", "/api/auth/identities/{provider}"),
    ("get", "/api/auth/methods"),
    ("post", "/api/auth/mfa/totp"),
    ("delete", "/api/auth/mfa/totp"),
    ("post", "/api/auth/mfa/totp/confirm"),
    ("post", "/api/auth/mfa/recovery-codes"),
    ("post", "/api/auth/mfa/verify"),
    ("delete", "/api/admin/users/{id}/mfa"),
    ("get", "/api/auth/passkeys"),
    ("post", "/api/auth/passkeys/register/start"),
    ("post", "/api/auth/passkeys/register/finish"),
    ("post", "/api/auth/passkeys/login/start"),
    ("post", "/api/auth/passkeys/login/finish"),
    ("patch", "/api/auth/passkeys/{id}"),
    ("delete", "/api/auth/passkeys/{id}"),
];

backend_tests!(document_lists_exactly_the_served_routes, |app| async move {
    let response = app.get("/api/openapi.json").await;
    response.assert_status(200);
    let document = response.json();
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "OpenAPI 3.1: {}", document["openapi"]);
    let paths = document["paths"].as_object().expect("paths object");
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|method| ["get", "post", "put", "patch", "delete"].contains(&method.as_str()))
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ROUTES.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    expected.sort();
    assert_eq!(documented, expected);
    for (method, path) in ROUTES {
        let operation = &paths[*path][*method];
        assert!(operation["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has responses");
    }
    assert!(document["components"]["schemas"]["UserInfoBody"].is_object());
    assert!(document["components"]["schemas"]["Problem"].is_object());
});

backend_tests!(every_listed_route_is_served, |app| async move {
    for (method, path) in ROUTES {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let response = app.send(app.request(method.clone(), path)).await;
        assert_ne!(response.code(), 405, "{method} {path} allows {method}");
        if response.code() == 404 {
            // The handler's own 404 (no provider `{provider}`): the path exists when another
            // method on it is told which ones it has.
            let other = app.send(app.request(Method::PUT, path)).await;
            assert_eq!(other.code(), 405, "{method} {path} is served (404 from its handler, 405 for PUT)");
            assert!(other.header("allow").is_some_and(|allow| allow.contains(method.as_str())), "{method} {path}");
        }
    }
    // And something unlisted is not.
    app.get("/api/auth/unlisted").await.assert_status(404);
});

backend_tests!(docs_is_a_browsable_reference_served_from_the_binary, |app| async move {
    let redirect = app.get("/docs").await;
    redirect.assert_status(308);
    assert_eq!(redirect.header("location"), Some("/docs/"));
    let page = app.get("/docs/").await;
    page.assert_status(200);
    assert!(
        page.header("content-type").is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.header("content-type")
    );
    let html = page.text();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet is local: no CDN, nothing fetched at run time.
    for reference in html.split(['"', '\'']).filter(|part| part.ends_with(".js") || part.ends_with(".css")) {
        assert!(!reference.contains("://"), "{reference} is not served by Portcullis");
        let asset = app.get(&format!("/docs/{}", reference.trim_start_matches("./"))).await;
        asset.assert_status(200);
    }
    let initializer = app.get("/docs/swagger-initializer.js").await;
    initializer.assert_status(200);
    assert!(initializer.text().contains("/api/openapi.json"), "{}", initializer.text());
});

backend_tests!(error_responses_are_problems_and_every_body_documents_its_limits, |app| async move {
    let document = app.get("/api/openapi.json").await.json();
    let shared = document["components"]["responses"].as_object().expect("shared error responses");
    for (name, response) in shared {
        assert!(response["content"]["application/problem+json"].is_object(), "{name} is a problem+json response");
    }
    for (method, path) in ROUTES {
        let operation = &document["paths"][*path][*method];
        for (status, response) in operation["responses"].as_object().expect("responses") {
            if let Some(reference) = response["$ref"].as_str() {
                let name = reference.strip_prefix("#/components/responses/").expect("a response reference");
                assert!(shared.contains_key(name), "{method} {path} {status}: {reference} resolves");
            }
        }
        // Every operation that reads a body says what a too-large one gets: 413, or for the
        // OAuth endpoints (errors in the RFC 6749 shape) 400 invalid_request.
        if operation["requestBody"].is_object() {
            let oauth = ["/api/auth/token", "/api/auth/revoke"].contains(path);
            let documented = if oauth {
                operation["responses"]["400"]["description"].as_str().is_some_and(|text| text.contains("64 KiB"))
            } else {
                operation["responses"]["413"].is_object()
            };
            assert!(documented, "{method} {path} documents what a body over the limit gets");
            assert!(operation["responses"]["408"].is_object(), "{method} {path} documents what a stalled body gets");
        }
    }
});

/// Every operation whose handler reads a body (`JsonObject`, or the OAuth parameters): each
/// must have a `requestBody` in the document, and nothing else may.
const BODY_OPERATIONS: &[(&str, &str)] = &[
    ("post", "/api/auth/signup"),
    ("post", "/api/auth/login"),
    ("patch", "/api/auth/current-user"),
    ("delete", "/api/auth/current-user"),
    ("post", "/api/auth/password/change"),
    ("post", "/api/auth/password/forgot"),
    ("post", "/api/auth/password/reset"),
    ("post", "/api/auth/email/verify"),
    ("post", "/api/auth/api-keys"),
    ("post", "/api/auth/introspect"),
    ("patch", "/api/admin/users/{id}"),
    ("post", "/api/auth/token"),
    ("post", "/api/auth/revoke"),
    ("post", "/api/auth/identities/{provider}"),
    ("post", "/api/auth/mfa/totp/confirm"),
    ("delete", "/api/auth/mfa/totp"),
    ("post", "/api/auth/mfa/recovery-codes"),
    ("post", "/api/auth/mfa/verify"),
    ("post", "/api/auth/passkeys/register/finish"),
    ("patch", "/api/auth/passkeys/{id}"),
    ("post", "/api/auth/passkeys/login/finish"),
];

/// The OAuth endpoints answer a body over the limit `400 invalid_request` (API.md), not 413.
const OAUTH_PATHS: &[&str] = &["/api/auth/token", "/api/auth/revoke"];

/// Every (method, path, operation) of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let paths = document["paths"].as_object().expect("paths object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .filter(|(method, _)| ["get", "post", "put", "patch", "delete"].contains(&method.as_str()))
                .map(move |(method, operation)| (method.clone(), path.clone(), operation.clone()))
        })
        .collect()
}

backend_tests!(every_operation_that_reads_a_body_documents_413_and_408, |app| async move {
    let document = app.get("/api/openapi.json").await.json();
    let mut with_body: Vec<(String, String)> = Vec::new();
    for (method, path, operation) in operations(&document) {
        if !operation["requestBody"].is_object() {
            continue;
        }
        with_body.push((method.clone(), path.clone()));
        let responses = &operation["responses"];
        if OAUTH_PATHS.contains(&path.as_str()) {
            // The RFC 6749 shape: a too-large body is a 400 invalid_request, a stalled one 408.
            assert!(
                responses["400"]["description"].as_str().is_some_and(|text| text.contains("64 KiB")),
                "{method} {path}: 400 names the 64 KiB limit"
            );
            assert!(responses.get("413").is_none(), "{method} {path} never answers 413");
            for status in ["400", "408"] {
                let schema = &responses[status]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/OAuthErrorBody", "{method} {path} {status}");
            }
        } else {
            assert_eq!(
                responses["413"]["$ref"], "#/components/responses/PayloadTooLarge",
                "{method} {path} documents 413 payload_too_large"
            );
            assert_eq!(
                responses["408"]["$ref"], "#/components/responses/RequestTimeout",
                "{method} {path} documents 408 request_timeout"
            );
        }
    }
    with_body.sort();
    let mut expected: Vec<(String, String)> =
        BODY_OPERATIONS.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect();
    expected.sort();
    assert_eq!(with_body, expected, "the operations with a requestBody are those whose handlers read one");

    // And the server answers as documented: an operation that needs no credential reads the
    // body at once (one that needs one checks the credential first).
    let too_large = format!("{{\"name\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    for (method, path) in BODY_OPERATIONS {
        let needs_credential = document["paths"][*path][*method]["security"].is_array();
        let request = app
            .request(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"), path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(too_large.clone());
        let response = app.send(request).await;
        match response.code() {
            401 if needs_credential => {}
            413 => assert_eq!(response.json()["code"], "payload_too_large", "{method} {path}"),
            400 if OAUTH_PATHS.contains(path) => {
                let body = response.json();
                assert_eq!(body["error"], "invalid_request", "{method} {path}");
                assert!(body["error_description"].as_str().is_some_and(|text| text.contains("64 KiB")), "{body}");
            }
            other => panic!("{method} {path}: a body over 64 KiB got {other}: {}", response.text()),
        }
    }
});

/// The property `field` of the component schema `schema`.
fn property<'a>(document: &'a Value, schema: &str, field: &str) -> &'a Value {
    let property = &document["components"]["schemas"][schema]["properties"][field];
    assert!(property.is_object(), "{schema}.{field} is documented");
    property
}

/// Whether `schema` lists `field` as required.
fn is_required(document: &Value, schema: &str, field: &str) -> bool {
    document["components"]["schemas"][schema]["required"]
        .as_array()
        .is_some_and(|required| required.iter().any(|name| name == field))
}

/// Asserts `minLength`/`maxLength` of a property (`None`: absent).
fn assert_lengths(property: &Value, min: Option<usize>, max: Option<usize>, what: &str) {
    assert_eq!(property["minLength"].as_u64(), min.map(|n| n as u64), "{what} minLength: {property}");
    assert_eq!(property["maxLength"].as_u64(), max.map(|n| n as u64), "{what} maxLength: {property}");
}

/// The `pattern` of a name: no control characters, anything else (spaces too) allowed.
const NO_CONTROL_CHARACTERS: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

backend_tests!(request_schemas_state_the_input_rules_of_the_domain, |app| async move {
    let document = app.get("/api/openapi.json").await.json();

    // Names (UserName, ApiKeyName): 1..=100 characters after trimming, no control characters.
    assert!(UserName::parse(&"é".repeat(100)).is_ok() && UserName::parse(&"é".repeat(101)).is_err());
    assert!(ApiKeyName::parse(&"é".repeat(100)).is_ok() && ApiKeyName::parse(&"é".repeat(101)).is_err());
    assert!(UserName::parse("  Ada  Lovelace ").is_ok(), "spaces are fine: the pattern must allow them");
    for (schema, field) in
        [("SignupRequest", "name"), ("UpdateProfileRequest", "name"), ("CreateApiKeyRequest", "name")]
    {
        let name = property(&document, schema, field);
        assert_lengths(name, Some(1), Some(100), &format!("{schema}.{field}"));
        assert_eq!(name["pattern"], NO_CONTROL_CHARACTERS, "{schema}.{field}");
        assert_eq!(name["type"], "string", "{schema}.{field} is a string, never null");
    }
    // Passkey names: 1..=64 after trimming, no control characters.
    let longest = "é".repeat(MAX_PASSKEY_NAME_CHARS);
    assert!(PasskeyName::parse(&longest).is_ok() && PasskeyName::parse(&format!("{longest}é")).is_err());
    for schema in ["RegisterFinishRequest", "RenamePasskeyRequest"] {
        let name = property(&document, schema, "name");
        assert_lengths(name, Some(1), Some(MAX_PASSKEY_NAME_CHARS), &format!("{schema}.name"));
        assert_eq!(name["pattern"], NO_CONTROL_CHARACTERS, "{schema}.name");
    }

    // Email: a valid address of at most 254 characters, letters of any script (so `idn-email`,
    // not the ASCII-only `email`).
    let domain = format!("{}.{}.{}.com", "a".repeat(63), "b".repeat(63), "c".repeat(63));
    let longest = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
    assert!(Email::parse(&longest).is_ok() && Email::parse(&format!("y{longest}")).is_err());
    assert!(Email::parse("jösé@exämple.com").is_ok());
    for schema in ["SignupRequest", "ForgotPasswordRequest"] {
        let email = property(&document, schema, "email");
        assert_eq!(email["format"], "idn-email", "{schema}.email");
        assert_lengths(email, None, Some(254), &format!("{schema}.email"));
    }

    // New passwords (PlainPassword): 8..=256 characters, not trimmed.
    assert!(PlainPassword::parse(&"é".repeat(8)).is_ok() && PlainPassword::parse(&"é".repeat(7)).is_err());
    assert!(PlainPassword::parse(&"é".repeat(256)).is_ok() && PlainPassword::parse(&"é".repeat(257)).is_err());
    for (schema, field) in [
        ("SignupRequest", "password"),
        ("ChangePasswordRequest", "new_password"),
        ("ResetPasswordRequest", "new_password"),
    ] {
        let password = property(&document, schema, field);
        assert_lengths(password, Some(8), Some(256), &format!("{schema}.{field}"));
        assert_eq!(password["format"], "password", "{schema}.{field}");
    }

    // Avatar URL: absolute http(s), at most 2048 characters, kept as given (so non-ASCII
    // text stays: `iri`, not the ASCII-only `uri`); null clears it.
    let prefix = "https://example.com/";
    let longest = format!("{prefix}{}", "a".repeat(2048 - prefix.len()));
    assert!(AvatarUrl::parse(&longest).is_ok() && AvatarUrl::parse(&format!("{longest}a")).is_err());
    assert!(AvatarUrl::parse("HTTPS://bücher.example/ä.png").is_ok());
    assert!(AvatarUrl::parse("ftp://example.com/a.png").is_err());
    for schema in ["SignupRequest", "UpdateProfileRequest"] {
        let avatar = property(&document, schema, "avatar_url");
        assert_lengths(avatar, None, Some(2048), &format!("{schema}.avatar_url"));
        assert_eq!(avatar["format"], "iri", "{schema}.avatar_url");
        assert_eq!(avatar["pattern"], "^[Hh][Tt][Tt][Pp][Ss]?:", "{schema}.avatar_url");
        assert_eq!(avatar["type"], serde_json::json!(["string", "null"]), "{schema}.avatar_url may be null");
    }

    // API key scopes: at most 20 distinct, each 1..=64 of [a-z0-9:._-].
    let scope = "s".repeat(MAX_SCOPE_CHARS);
    assert!(Scope::parse(&scope).is_ok() && Scope::parse(&format!("{scope}s")).is_err());
    let names: Vec<String> = (0..=MAX_SCOPES).map(|n| format!("scope-{n}")).collect();
    assert!(Scopes::parse(names[..MAX_SCOPES].iter().map(String::as_str)).is_ok());
    assert!(Scopes::parse(names.iter().map(String::as_str)).is_err());
    let scopes = property(&document, "CreateApiKeyRequest", "scopes");
    assert_eq!(scopes["maxItems"].as_u64(), Some(MAX_SCOPES as u64), "{scopes}");
    assert_lengths(&scopes["items"], Some(1), Some(MAX_SCOPE_CHARS), "a scope");
    assert_eq!(scopes["items"]["pattern"], "^[a-z0-9:._-]{1,64}$");
    assert_eq!(property(&document, "CreateApiKeyRequest", "expires_at")["format"], "date-time");

    // Roles: at least one, each 1..=32 of [a-z0-9_-]; `disabled` is a boolean, never null.
    assert!(Role::parse(&"r".repeat(32)).is_ok() && Role::parse(&"r".repeat(33)).is_err());
    let roles = property(&document, "AdminUpdateUserRequest", "roles");
    assert_eq!(roles["minItems"].as_u64(), Some(1), "{roles}");
    assert_lengths(&roles["items"], Some(1), Some(32), "a role");
    assert_eq!(roles["items"]["pattern"], "^[a-z0-9_-]{1,32}$");
    assert_eq!(property(&document, "AdminUpdateUserRequest", "disabled")["type"], "boolean");
    for (schema, field) in [("AdminUpdateUserRequest", "disabled"), ("UpdateProfileRequest", "name")] {
        assert!(!is_required(&document, schema, field), "{schema}.{field} may be left out");
    }

    // The OAuth parameters: the three grant types; an empty token is a missing one.
    let grant_type = property(&document, "TokenRequest", "grant_type")["pattern"].as_str().expect("a pattern");
    assert!(grant_type.contains(MFA_OTP_GRANT), "{grant_type}");
    for schema in ["RevokeRequest", "IntrospectRequest"] {
        assert_eq!(property(&document, schema, "token")["minLength"], 1, "{schema}.token");
    }

    // A login takes whatever it is given: a bad email or password is 401, not 422.
    for field in ["email", "password"] {
        let login = property(&document, "LoginRequest", field);
        assert_lengths(login, None, None, &format!("LoginRequest.{field}"));
        assert!(login.get("pattern").is_none() && login["format"] != "idn-email", "{login}");
    }
});
