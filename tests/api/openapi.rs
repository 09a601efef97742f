//! `GET /api/openapi.json` describes every route the server serves, and nothing it doesn't.

use reqwest::Method;

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
