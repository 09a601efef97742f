//! Passkeys over HTTP, with a software authenticator written for these tests (it shares no
//! code with the product's webauthn-rs): register, list, rename, remove, sign in; every
//! refusal the contract names; the last way in; a ceremony finished on another instance;
//! passkeys off when the public URL's host is an IP address.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::soft_authenticator::{SoftAuthenticator, Tweaks};
use crate::support::*;

/// The origin the browser sees: the test server's public URL.
fn origin(app: &TestApp) -> String {
    app.config().public_url.origin().ascii_serialization()
}

/// Starts a registration for the browser's user; answers `(challenge_id, publicKey)`.
async fn register_start(browser: &mut Browser) -> (String, Value) {
    let started = browser.send_csrf(Method::POST, "/api/auth/passkeys/register/start", None).await;
    started.assert_status(200);
    let body = started.json();
    (body["challenge_id"].as_str().expect("a challenge_id").to_owned(), body["publicKey"].clone())
}

async fn register_finish(browser: &mut Browser, body: &Value) -> TestResponse {
    browser.send_csrf(Method::POST, "/api/auth/passkeys/register/finish", Some(body)).await
}

/// Registers a passkey named `name` on `authenticator` for the browser's user.
async fn register(app: &TestApp, browser: &mut Browser, authenticator: &mut SoftAuthenticator, name: &str) -> Value {
    let (challenge_id, options) = register_start(browser).await;
    let credential = authenticator.register(&options, &origin(app), &Tweaks::default());
    let finished =
        register_finish(browser, &json!({"challenge_id": challenge_id, "name": name, "credential": credential})).await;
    finished.assert_status(201);
    finished.json()
}

/// Starts a passkey sign-in (no session needed); answers `(challenge_id, publicKey)`.
async fn login_start(app: &TestApp) -> (String, Value) {
    let started = app.post_json("/api/auth/passkeys/login/start", &json!({})).await;
    started.assert_status(200);
    let body = started.json();
    (body["challenge_id"].as_str().expect("a challenge_id").to_owned(), body["publicKey"].clone())
}

async fn login_finish(browser: &mut Browser, challenge_id: &str, credential: &Value) -> TestResponse {
    browser
        .post_json("/api/auth/passkeys/login/finish", &json!({"challenge_id": challenge_id, "credential": credential}))
        .await
}

/// One passkey sign-in with `tweaks` on the authenticator's newest credential.
async fn sign_in(app: &TestApp, authenticator: &mut SoftAuthenticator, tweaks: &Tweaks) -> (Browser, TestResponse) {
    let (challenge_id, options) = login_start(app).await;
    let credential = authenticator.assert(&options, &origin(app), tweaks);
    let mut browser = app.browser();
    let response = login_finish(&mut browser, &challenge_id, &credential).await;
    (browser, response)
}

/// A refused sign-in: `401 invalid_credentials`, and no cookie of any kind.
fn assert_refused(response: &TestResponse) {
    assert_problem(response, 401, "invalid_credentials");
    assert!(response.set_cookie_names().is_empty(), "no session: {:?}", response.set_cookie_names());
}

fn amr(browser: &Browser) -> Value {
    jwt::parts(&browser.access_token()).1["amr"].clone()
}

backend_tests!(a_passkey_is_registered_listed_renamed_and_signs_in_without_an_email, |app| async move {
    let (user, mut browser) = app.signed_in("Ada", "ada@example.com").await;
    let mut authenticator = SoftAuthenticator::new();
    let (_, options) = register_start(&mut browser).await;
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(options["user"]["name"], "ada@example.com");
    assert!(options["challenge"].as_str().is_some_and(|challenge| challenge.len() >= 22), "a random challenge");
    assert!(options["excludeCredentials"].as_array().is_none_or(Vec::is_empty), "nothing to exclude yet");

    let passkey = register(&app, &mut browser, &mut authenticator, "  Laptop  ").await;
    assert_eq!(passkey["name"], "Laptop");
    assert_eq!(passkey["last_used_at"], Value::Null);
    assert_rfc3339_utc_seconds(passkey["created_at"].as_str().expect("a time"));
    let id = passkey["passkey_id"].as_str().expect("an id").to_owned();

    // The next registration excludes it; the list and the methods show it.
    let (_, again) = register_start(&mut browser).await;
    let excluded: Vec<&str> =
        again["excludeCredentials"].as_array().expect("a list").iter().filter_map(|c| c["id"].as_str()).collect();
    assert_eq!(excluded.len(), 1);
    let listed = browser.get("/api/auth/passkeys").await;
    listed.assert_status(200);
    assert_eq!(listed.json(), json!([passkey]));
    let methods = browser.get("/api/auth/methods").await.json();
    assert_eq!(methods["passkeys"][0]["passkey_id"], id.as_str());

    // A sign-in names no one: the options allow any discoverable credential.
    let (challenge_id, request) = login_start(&app).await;
    assert_eq!(request["rpId"], "localhost");
    assert_eq!(request["userVerification"], "required");
    assert!(request["allowCredentials"].as_array().is_none_or(Vec::is_empty), "no allowCredentials");
    let credential = authenticator.assert(&request, &origin(&app), &Tweaks::default());
    let mut signed_in = app.browser();
    let response = login_finish(&mut signed_in, &challenge_id, &credential).await;
    response.assert_status(200);
    assert_eq!(response.json()["user"]["user_id"], user["user_id"]);
    assert_eq!(amr(&signed_in), json!(["hwk", "mfa"]), "a user-verifying passkey is two factors");
    let first_auth_time = jwt::parts(&signed_in.access_token()).1["auth_time"].clone();
    assert!(first_auth_time.is_i64());
    signed_in.refresh().await.assert_status(200);
    assert_eq!(amr(&signed_in), json!(["hwk", "mfa"]), "kept by refresh");
    assert_eq!(jwt::parts(&signed_in.access_token()).1["auth_time"], first_auth_time);

    // The same answer again: the ceremony is spent.
    assert_refused(&login_finish(&mut app.browser(), &challenge_id, &credential).await);

    let listed = signed_in.get("/api/auth/passkeys").await.json();
    assert!(listed[0]["last_used_at"].is_string(), "the sign-in is recorded: {listed}");
    let renamed =
        signed_in.send_csrf(Method::PATCH, &format!("/api/auth/passkeys/{id}"), Some(&json!({"name": "Phone"}))).await;
    renamed.assert_status(200);
    assert_eq!(renamed.json()["name"], "Phone");
    let too_long = signed_in
        .send_csrf(Method::PATCH, &format!("/api/auth/passkeys/{id}"), Some(&json!({"name": "x".repeat(65)})))
        .await;
    assert_problem(&too_long, 422, "validation_failed");

    // With a password left, the passkey may go; then it signs no one in.
    signed_in.send_csrf(Method::DELETE, &format!("/api/auth/passkeys/{id}"), None).await.assert_status(204);
    assert!(signed_in.get("/api/auth/passkeys").await.json().as_array().is_some_and(Vec::is_empty));
    assert_refused(&sign_in(&app, &mut authenticator, &Tweaks::default()).await.1);
    let gone = signed_in.send_csrf(Method::DELETE, &format!("/api/auth/passkeys/{id}"), None).await;
    assert_problem(&gone, 404, "not_found");
});

backend_tests!(every_failed_registration_check_is_400_invalid_token, |app| async move {
    let (_, mut browser) = app.signed_in("Bob", "bob@example.com").await;
    let mut authenticator = SoftAuthenticator::new();
    let origin = origin(&app);
    let refusals = [
        ("wrong origin", Tweaks { origin: Some("http://evil.example:8080".into()), ..Tweaks::default() }),
        ("wrong RP id", Tweaks { rp_id: Some("evil.example".into()), ..Tweaks::default() }),
        ("no user verification", Tweaks { no_user_verification: true, ..Tweaks::default() }),
        ("another challenge", Tweaks { challenge: Some(vec![7; 32]), ..Tweaks::default() }),
    ];
    for (what, tweaks) in refusals {
        let (challenge_id, options) = register_start(&mut browser).await;
        let credential = authenticator.register(&options, &origin, &tweaks);
        let refused =
            register_finish(&mut browser, &json!({"challenge_id": challenge_id, "credential": credential})).await;
        assert_eq!(refused.status, 400, "{what}: {}", refused.text());
        assert_problem(&refused, 400, "invalid_token");
    }
    // Garbage where the credential goes; an unknown challenge_id; a spent one.
    let (challenge_id, options) = register_start(&mut browser).await;
    let garbage = register_finish(&mut browser, &json!({"challenge_id": challenge_id, "credential": {"id": 5}})).await;
    assert_problem(&garbage, 400, "invalid_token");
    let credential = authenticator.register(&options, &origin, &Tweaks::default());
    let spent = register_finish(&mut browser, &json!({"challenge_id": challenge_id, "credential": credential})).await;
    assert_problem(&spent, 400, "invalid_token");
    let unknown = register_finish(&mut browser, &json!({"challenge_id": "nope", "credential": credential})).await;
    assert_problem(&unknown, 400, "invalid_token");
    let missing = register_finish(&mut browser, &json!({"challenge_id": "nope"})).await;
    assert_eq!(assert_problem(&missing, 422, "validation_failed")["errors"][0]["field"], "credential");

    // Another user's ceremony cannot be finished by this one.
    let (_, mut other) = app.signed_in("Eve", "eve@example.com").await;
    let (challenge_id, options) = register_start(&mut other).await;
    let credential = authenticator.register(&options, &origin, &Tweaks::default());
    let stolen = register_finish(&mut browser, &json!({"challenge_id": challenge_id, "credential": credential})).await;
    assert_problem(&stolen, 400, "invalid_token");

    // None of them stored anything; an honest one does, once per credential.
    assert!(browser.get("/api/auth/passkeys").await.json().as_array().is_some_and(Vec::is_empty));
    let (challenge_id, options) = register_start(&mut browser).await;
    let credential = authenticator.register(&options, &origin, &Tweaks::default());
    let body = json!({"challenge_id": challenge_id, "credential": credential});
    register_finish(&mut browser, &body).await.assert_status(201);
    assert_eq!(register_finish(&mut browser, &body).await.status, 400, "a replayed finish");
    let named = |name: &str| json!({"challenge_id": "x", "name": name, "credential": {}});
    let bad_name = register_finish(&mut browser, &named("a\u{7}b")).await;
    assert_problem(&bad_name, 422, "validation_failed");
});

backend_tests!(every_failed_sign_in_check_is_401_invalid_credentials, |app| async move {
    let (user, mut browser) = app.signed_in("Cy", "cy@example.com").await;
    let mut authenticator = SoftAuthenticator::new();
    register(&app, &mut browser, &mut authenticator, "Key").await;
    let refusals = [
        ("wrong origin", Tweaks { origin: Some("http://evil.example:8080".into()), ..Tweaks::default() }),
        ("wrong RP id", Tweaks { rp_id: Some("evil.example".into()), ..Tweaks::default() }),
        ("no user verification", Tweaks { no_user_verification: true, ..Tweaks::default() }),
        ("bad signature", Tweaks { bad_signature: true, ..Tweaks::default() }),
        ("another challenge", Tweaks { challenge: Some(vec![9; 32]), ..Tweaks::default() }),
    ];
    for (what, tweaks) in refusals {
        let (_, response) = sign_in(&app, &mut authenticator, &tweaks).await;
        assert_eq!(response.status, 401, "{what}: {}", response.text());
        assert_refused(&response);
        // The refusal was that check: the same authenticator, honest, still signs in.
        sign_in(&app, &mut authenticator, &Tweaks::default()).await.1.assert_status(200);
    }

    // The counter is now past 1: one that goes backwards (or stays) is a cloned key.
    let last = authenticator.counter(0);
    for counter in [last, last - 1, 0] {
        assert_refused(
            &sign_in(&app, &mut authenticator, &Tweaks { counter: Some(counter), ..Tweaks::default() }).await.1,
        );
    }
    sign_in(&app, &mut authenticator, &Tweaks::default()).await.1.assert_status(200);

    // A key never registered, claiming the user; the same claim for a made-up user.
    let handle = uuid::Uuid::parse_str(user["user_id"].as_str().expect("an id")).expect("a uuid");
    for claimed in [handle, uuid::Uuid::new_v4()] {
        let (challenge_id, options) = login_start(&app).await;
        let credential = authenticator.assert_unknown(&options, &origin(&app), claimed.as_bytes());
        assert_refused(&login_finish(&mut app.browser(), &challenge_id, &credential).await);
    }
    // A registration ceremony is not a sign-in ceremony; garbage and unknown ids.
    let (challenge_id, options) = register_start(&mut browser).await;
    let (_, request) = login_start(&app).await;
    let mut swapped = request.clone();
    swapped["challenge"] = options["challenge"].clone();
    let credential = authenticator.assert(&swapped, &origin(&app), &Tweaks::default());
    assert_refused(&login_finish(&mut app.browser(), &challenge_id, &credential).await);
    let (challenge_id, _) = login_start(&app).await;
    assert_refused(&login_finish(&mut app.browser(), &challenge_id, &json!({"id": "AAAA"})).await);
    assert_refused(&login_finish(&mut app.browser(), "unknown", &credential).await);
    let not_an_object =
        app.post_json("/api/auth/passkeys/login/finish", &json!({"challenge_id": "x", "credential": "text"})).await;
    assert_problem(&not_an_object, 422, "validation_failed");
});

backend_tests!(
    the_last_way_in_is_never_removed_and_an_admin_reset_takes_passkeys,
    database_only,
    |database| async move {
        let (app, _github) = crate::providers::github_app(database).await;
        let mut browser = app.browser();
        let response = crate::providers::github_sign_in(&mut browser).await;
        crate::providers::assert_signed_in(&mut browser, &response, "/account").await;
        let mut authenticator = SoftAuthenticator::new();
        let passkey = register(&app, &mut browser, &mut authenticator, "Only key").await;
        let id = passkey["passkey_id"].as_str().expect("an id").to_owned();
        // No password: the provider may go while the passkey stays, then the passkey may not.
        browser.send_csrf(Method::DELETE, "/api/auth/identities/github", None).await.assert_status(204);
        let methods = browser.get("/api/auth/methods").await.json();
        assert_eq!((methods["password"].clone(), methods["identities"].clone()), (json!(false), json!([])));
        let last = browser.send_csrf(Method::DELETE, &format!("/api/auth/passkeys/{id}"), None).await;
        assert_problem(&last, 409, "last_sign_in_method");
        let (mut by_passkey, response) = sign_in(&app, &mut authenticator, &Tweaks::default()).await;
        response.assert_status(200);
        let user_id = by_passkey.current_user().await.json()["user_id"].as_str().expect("an id").to_owned();

        // An admin's reset of the second factors takes the passkeys and every session.
        cli::make_admin(app.database()).await;
        let mut admin = app.login("root@example.com", PASSWORD).await;
        admin.send_csrf(Method::DELETE, &format!("/api/admin/users/{user_id}/mfa"), None).await.assert_status(204);
        by_passkey.refresh().await.assert_status(401);
        assert_refused(&sign_in(&app, &mut authenticator, &Tweaks::default()).await.1);
        app.stop().await;
    }
);

backend_tests!(
    passkeys_are_off_when_the_public_url_is_an_ip_address,
    config = |config| portcullis::config::Config {
        public_url: url::Url::parse("http://127.0.0.1:8080").expect("a URL"),
        ..config
    },
    |app| async move {
        let (_, mut browser) = app.signed_in("Di", "di@example.com").await;
        assert_problem(
            &browser.send_csrf(Method::POST, "/api/auth/passkeys/register/start", None).await,
            404,
            "not_found",
        );
        assert_problem(&browser.get("/api/auth/passkeys").await, 404, "not_found");
        assert_problem(&app.post_json("/api/auth/passkeys/login/start", &json!({})).await, 404, "not_found");
        let finish = json!({"challenge_id": "x", "credential": {}});
        assert_problem(&app.post_json("/api/auth/passkeys/login/finish", &finish).await, 404, "not_found");
        assert_eq!(browser.get("/api/auth/methods").await.json()["passkeys"], json!([]));
    }
);

backend_tests!(api_keys_cannot_manage_passkeys, |app| async move {
    let (_, mut browser) = app.signed_in("Kay", "kay@example.com").await;
    let created = browser.send_csrf(Method::POST, "/api/auth/api-keys", Some(&json!({"name": "ci"}))).await;
    created.assert_status(201);
    let key = created.json()["key"].as_str().expect("a key").to_owned();
    let response =
        app.send(app.request(Method::POST, "/api/auth/passkeys/register/start").header("X-API-Key", key)).await;
    assert_problem(&response, 403, "forbidden");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ceremony_started_on_one_instance_finishes_on_another() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else { return };
    let first = TestApp::start(database.config(), std::sync::Arc::new(database)).await;
    let second = first.another_instance().await;
    let (_, mut browser) = first.signed_in("Flo", "flo@example.com").await;
    let mut authenticator = SoftAuthenticator::new();
    let (challenge_id, options) = register_start(&mut browser).await;
    let credential = authenticator.register(&options, &origin(&first), &Tweaks::default());
    let mut moved = Browser { app: second.clone(), jar: browser.jar.clone() };
    register_finish(&mut moved, &json!({"challenge_id": challenge_id, "credential": credential}))
        .await
        .assert_status(201);
    let (challenge_id, request) = login_start(&second).await;
    let credential = authenticator.assert(&request, &origin(&first), &Tweaks::default());
    login_finish(&mut first.browser(), &challenge_id, &credential).await.assert_status(200);
    second.stop().await;
    first.stop().await;
    first.database().remove();
}
