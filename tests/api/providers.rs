//! Sign-in with upstream providers, end to end: a real OpenID Connect provider (panva's
//! `oidc-provider`, run by `node`), a GitHub-shaped provider and a misbehaving OpenID Connect
//! provider (in-process stubs), a real server, HTTP all the way.

use std::collections::BTreeMap;
use std::sync::Arc;

use portcullis::config::Config;
use portcullis_service::providers_config::read_providers;
use serde_json::{Value, json};

use crate::support::oidc::{OidcAccount, OidcClient, OidcProvider};
use crate::support::upstream_stubs::{
    FacebookPerson, FacebookStub, Fault, GitHubEmail, GitHubPerson, GitHubStub, OidcPerson, OidcStub,
};
use crate::support::*;

const CLIENT_ID: &str = "portcullis-test";
const CLIENT_SECRET: &str = "test-client-secret-1";

/// Where the server's public URL (the test default) sends a provider's callback.
fn redirect_uri(provider: &str) -> String {
    format!("http://localhost:8080/api/auth/oauth/{provider}/callback")
}

/// `config` with the providers of `pairs` (`PORTCULLIS_PROVIDERS`, `PORTCULLIS_PROVIDER_X_*`).
fn with_providers(config: Config, pairs: &[(&str, &str)]) -> Config {
    let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let providers = read_providers(None, &env);
    assert!(providers.problems.is_empty(), "{:?}", providers.problems);
    Config { providers, ..config }
}

fn oidc_config(config: Config, id: &str, issuer: &str) -> Config {
    let upper = id.to_uppercase();
    with_providers(
        config,
        &[
            ("PORTCULLIS_PROVIDERS", id),
            (&format!("PORTCULLIS_PROVIDER_{upper}_KIND"), "oidc"),
            (&format!("PORTCULLIS_PROVIDER_{upper}_ISSUER"), issuer),
            (&format!("PORTCULLIS_PROVIDER_{upper}_CLIENT_ID"), CLIENT_ID),
            (&format!("PORTCULLIS_PROVIDER_{upper}_CLIENT_SECRET"), CLIENT_SECRET),
        ],
    )
}

fn alice() -> OidcAccount {
    OidcAccount {
        sub: "alice".into(),
        email: Some("alice@corp.example".into()),
        email_verified: true,
        name: Some("Alice Corp".into()),
        ..OidcAccount::default()
    }
}

/// `oidc-provider` with client `corp` and Alice, and a server signing in through it.
async fn corp_app(database: Arc<TestDatabase>) -> Option<(TestApp, OidcProvider)> {
    let client = OidcClient {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: redirect_uri("corp"),
    };
    let provider = OidcProvider::start(&[client], &[alice()]).await?;
    let config = oidc_config(database.config(), "corp", &provider.issuer);
    Some((TestApp::start(config, database).await, provider))
}

/// Starts a sign-in in `browser`: the authorize endpoint's `302`, whose `Location` is returned.
async fn authorize(browser: &mut Browser, provider: &str, next: Option<&str>) -> String {
    let path = match next {
        Some(next) => format!(
            "/api/auth/oauth/{provider}/authorize?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
        None => format!("/api/auth/oauth/{provider}/authorize"),
    };
    let response = browser.get(&path).await;
    response.assert_status(302);
    let flow = response.set_cookie("oauth_flow");
    assert_eq!(flow.path(), "/api/auth/oauth");
    assert_eq!(flow.max_age(), Some(600));
    assert!(flow.has("HttpOnly") && flow.has("Secure"), "{flow:?}");
    assert_eq!(flow.value_of("SameSite"), Some("Lax"));
    response.header("location").expect("a Location").to_owned()
}

/// The provider's redirect to the callback, requested by `browser` on the real server.
async fn callback(browser: &mut Browser, provider_redirect: &str) -> TestResponse {
    let url = url::Url::parse(provider_redirect).expect("a URL");
    let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
    browser.get(&path).await
}

/// Asserts a failed callback: `303` to `/login?error={code}`, no session cookie set.
fn assert_refused(response: &TestResponse, code: &str) {
    response.assert_status(303);
    assert_eq!(response.header("location"), Some(format!("/login?error={code}").as_str()));
    for name in ["access_token", "refresh_token", "csrf_token"] {
        assert!(
            response.set_cookies().iter().all(|cookie| cookie.name != name || cookie.deletes()),
            "no {name} on a refused callback: {:?}",
            response.set_cookie_names()
        );
    }
}

/// Asserts a good sign-in callback: `303` to `next`, the three session cookies, the flow
/// cookie cleared. Returns the current user.
pub(crate) async fn assert_signed_in(browser: &mut Browser, response: &TestResponse, next: &str) -> Value {
    response.assert_status(303);
    assert_eq!(response.header("location"), Some(next));
    let mut names = response.set_cookie_names();
    names.sort();
    assert_eq!(names, ["access_token", "csrf_token", "oauth_flow", "refresh_token"]);
    assert!(response.set_cookie("oauth_flow").deletes());
    let me = browser.current_user().await;
    me.assert_status(200);
    me.json()
}

backend_tests!(oidc_sign_in_makes_a_user_then_signs_the_same_one_in, database_only, |database| async move {
    let Some((app, provider)) = corp_app(database).await else { return };
    let listed = app.get("/api/auth/providers").await;
    listed.assert_status(200);
    assert_eq!(listed.json(), json!([{"id": "corp", "name": "corp"}]));

    let mut browser = app.browser();
    let location = authorize(&mut browser, "corp", Some("/account?tab=security")).await;
    let query: BTreeMap<String, String> =
        url::Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
    assert!(location.starts_with(&provider.issuer), "{location}");
    assert_eq!(query.get("response_type").map(String::as_str), Some("code"));
    assert_eq!(query.get("client_id").map(String::as_str), Some(CLIENT_ID));
    assert_eq!(query.get("redirect_uri"), Some(&redirect_uri("corp")));
    assert_eq!(query.get("code_challenge_method").map(String::as_str), Some("S256"));
    for key in ["state", "nonce", "code_challenge", "scope"] {
        assert!(query.get(key).is_some_and(|value| value.len() >= 5), "{key} in {location}");
    }
    let back = provider.sign_in(&location, "alice").await;
    let response = callback(&mut browser, &back).await;
    let user = assert_signed_in(&mut browser, &response, "/account?tab=security").await;
    assert_eq!(user["email"], "alice@corp.example");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["name"], "Alice Corp");
    let (_, claims) = jwt::parts(&browser.access_token());
    assert_eq!(claims["amr"], json!(["fed"]));
    assert!(claims["auth_time"].as_i64().is_some_and(|t| t > 0), "{claims}");
    // A refresh keeps how and when the session signed in.
    browser.refresh().await.assert_status(200);
    let (_, refreshed) = jwt::parts(&browser.access_token());
    assert_eq!(
        (refreshed["amr"].clone(), refreshed["auth_time"].clone()),
        (json!(["fed"]), claims["auth_time"].clone())
    );

    let methods = browser.get("/api/auth/methods").await;
    methods.assert_status(200);
    let methods = methods.json();
    assert_eq!(methods["password"], false);
    assert_eq!(methods["identities"][0]["provider"], "corp");
    assert_eq!(methods["identities"][0]["subject"], "alice");
    assert_eq!((methods["totp"].clone(), methods["recovery_codes_left"].clone()), (json!(false), json!(0)));

    // The same callback again: the flow is spent.
    let replay = callback(&mut browser, &back).await;
    assert_refused(&replay, "oauth_failed");

    // A second sign-in, in another browser: the same user.
    let mut other = app.browser();
    let location = authorize(&mut other, "corp", None).await;
    let back = provider.sign_in(&location, "alice").await;
    let response = callback(&mut other, &back).await;
    let again = assert_signed_in(&mut other, &response, "/account").await;
    assert_eq!(again["user_id"], user["user_id"]);

    // Their only way in cannot go.
    let unlink = other.send_csrf(reqwest::Method::DELETE, "/api/auth/identities/corp", None).await;
    assert_problem(&unlink, 409, "last_sign_in_method");

    // No password to type: a first one is set with the new password alone (the sign-in is
    // recent), and then the password logs in too.
    let set = other
        .send_csrf(reqwest::Method::POST, "/api/auth/password/change", Some(&json!({"new_password": PASSWORD})))
        .await;
    set.assert_status(204);
    app.login("alice@corp.example", PASSWORD).await;
    other.send_csrf(reqwest::Method::DELETE, "/api/auth/identities/corp", None).await.assert_status(204);
    provider.stop().await;
    app.stop().await;
});

backend_tests!(a_callback_needs_the_browser_and_state_of_its_flow, database_only, |database| async move {
    let Some((app, provider)) = corp_app(database).await else { return };
    // Another browser (no oauth_flow cookie) presents the callback.
    let mut starter = app.browser();
    let location = authorize(&mut starter, "corp", None).await;
    let back = provider.sign_in(&location, "alice").await;
    assert_refused(&callback(&mut app.browser(), &back).await, "oauth_failed");
    // …which spent the flow: the right browser is refused too.
    assert_refused(&callback(&mut starter, &back).await, "oauth_failed");

    // A state that names no flow.
    let mut browser = app.browser();
    let location = authorize(&mut browser, "corp", None).await;
    let back = provider.sign_in(&location, "alice").await;
    let mut forged = url::Url::parse(&back).expect("a URL");
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" { format!("{v}x") } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_refused(&callback(&mut browser, forged.as_str()).await, "oauth_failed");

    // The person said no.
    let mut browser = app.browser();
    let location = authorize(&mut browser, "corp", None).await;
    let state = url::Url::parse(&location)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .into_owned();
    let declined = browser.get(&format!("/api/auth/oauth/corp/callback?error=access_denied&state={state}")).await;
    assert_refused(&declined, "oauth_denied");

    // An unknown provider.
    let unknown = app.get("/api/auth/oauth/nope/authorize").await;
    assert_problem(&unknown, 404, "not_found");
    provider.stop().await;
    app.stop().await;
});

backend_tests!(
    an_existing_account_is_not_taken_over_but_can_link_from_its_session,
    database_only,
    |database| async move {
        let Some((app, provider)) = corp_app(database).await else { return };
        let (user, mut browser) = app.signed_in("Alice", "alice@corp.example").await;
        let mut stranger = app.browser();
        let location = authorize(&mut stranger, "corp", None).await;
        let back = provider.sign_in(&location, "alice").await;
        assert_refused(&callback(&mut stranger, &back).await, "account_exists");
        // The login page explains it in words; both pages offer the provider.
        let login = app.get("/login?error=account_exists&next=/account").await;
        login.assert_status(200);
        assert!(login.text().contains("link the provider on your account page"), "{}", login.text());
        assert!(login.text().contains(r#"href="/api/auth/oauth/corp/authorize?next=%2Faccount""#), "{}", login.text());
        let signup = app.get("/signup").await;
        assert!(signup.text().contains(r#"id="provider-corp""#), "{}", signup.text());

        // Linking from the signed-in session: POST, then the provider, then back.
        let refused = browser.post_json("/api/auth/identities/corp", &json!({})).await;
        assert_problem(&refused, 403, "csrf_failed");
        let linking = browser
            .send_csrf(reqwest::Method::POST, "/api/auth/identities/corp", Some(&json!({"next": "/account"})))
            .await;
        linking.assert_status(200);
        assert!(linking.set_cookie("oauth_flow").value.len() >= 20);
        let authorize_url = linking.json()["authorize_url"].as_str().expect("a URL").to_owned();
        let back = provider.sign_in(&authorize_url, "alice").await;
        let linked = callback(&mut browser, &back).await;
        linked.assert_status(303);
        assert_eq!(linked.header("location"), Some("/account"));
        assert!(!linked.set_cookie_names().contains(&"access_token".to_owned()), "linking starts no session");
        let identities = browser.get("/api/auth/identities").await;
        identities.assert_status(200);
        assert_eq!(identities.json()[0]["provider"], "corp");
        assert_eq!(identities.json()[0]["email"], "alice@corp.example");

        // Now the provider signs Alice in.
        let mut elsewhere = app.browser();
        let location = authorize(&mut elsewhere, "corp", None).await;
        let back = provider.sign_in(&location, "alice").await;
        let response = callback(&mut elsewhere, &back).await;
        assert_eq!(assert_signed_in(&mut elsewhere, &response, "/account").await["user_id"], user["user_id"]);

        // A second link of the same provider is a conflict; with a password, unlinking is fine.
        let twice = browser.send_csrf(reqwest::Method::POST, "/api/auth/identities/corp", Some(&json!({}))).await;
        assert_problem(&twice, 409, "conflict");
        let unlink = browser.send_csrf(reqwest::Method::DELETE, "/api/auth/identities/corp", None).await;
        unlink.assert_status(204);
        let gone = browser.send_csrf(reqwest::Method::DELETE, "/api/auth/identities/corp", None).await;
        assert_problem(&gone, 404, "not_found");
        provider.stop().await;
        app.stop().await;
    }
);

/// Signs in at `provider` as `login` in a fresh browser; returns the browser and the callback's answer.
async fn provider_sign_in(app: &TestApp, provider: &OidcProvider, login: &str) -> (Browser, TestResponse) {
    let mut browser = app.browser();
    let location = authorize(&mut browser, "corp", None).await;
    let back = provider.sign_in(&location, login).await;
    let response = callback(&mut browser, &back).await;
    (browser, response)
}

backend_tests!(every_refusal_of_account_resolution_through_a_real_provider, database_only, |database| async move {
    // An admin, made on the command line, to disable a user later.
    cli::make_admin(&database).await;
    let Some((app, provider)) = corp_app(database).await else { return };
    provider
        .add_account(&OidcAccount {
            sub: "unverified".into(),
            email: Some("u@corp.example".into()),
            ..OidcAccount::default()
        })
        .await;
    provider.add_account(&OidcAccount { sub: "nomail".into(), ..OidcAccount::default() }).await;

    // No verified address: email_unverified, with or without one at all.
    assert_refused(&provider_sign_in(&app, &provider, "unverified").await.1, "email_unverified");
    assert_refused(&provider_sign_in(&app, &provider, "nomail").await.1, "email_unverified");

    // Alice's identity makes her account; Bob may not link it to his.
    let (mut alice, response) = provider_sign_in(&app, &provider, "alice").await;
    let alice_user = assert_signed_in(&mut alice, &response, "/account").await;
    let (_, mut bob) = app.signed_in("Bob", "bob@example.com").await;
    let linking = bob.send_csrf(reqwest::Method::POST, "/api/auth/identities/corp", Some(&json!({}))).await;
    linking.assert_status(200);
    let back = provider.sign_in(linking.json()["authorize_url"].as_str().expect("a URL"), "alice").await;
    assert_refused(&callback(&mut bob, &back).await, "identity_taken");
    assert_eq!(bob.get("/api/auth/identities").await.json(), json!([]));

    // Disabled by an admin: the identity no longer signs in.
    let mut admin = app.login("root@example.com", PASSWORD).await;
    let path = format!("/api/admin/users/{}", alice_user["user_id"].as_str().expect("an id"));
    admin.send_csrf(reqwest::Method::PATCH, &path, Some(&json!({"disabled": true}))).await.assert_status(200);
    assert_refused(&provider_sign_in(&app, &provider, "alice").await.1, "account_disabled");
    provider.stop().await;
    app.stop().await;
});

backend_tests!(
    verified_email_linking_signs_a_verified_account_in_through_the_provider,
    database_only,
    |database| async move {
        let client = OidcClient {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uri: redirect_uri("corp"),
        };
        let Some(provider) = OidcProvider::start(&[client], &[alice()]).await else { return };
        let config = with_providers(
            database.config(),
            &[
                ("PORTCULLIS_PROVIDERS", "corp"),
                ("PORTCULLIS_PROVIDER_CORP_ISSUER", &provider.issuer),
                ("PORTCULLIS_PROVIDER_CORP_CLIENT_ID", CLIENT_ID),
                ("PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET", CLIENT_SECRET),
                ("PORTCULLIS_PROVIDER_CORP_LINKING", "verified_email"),
            ],
        );
        let app = TestApp::start(config, database).await;
        let user = app.signup("Alice", "alice@corp.example").await;
        // Not verified locally yet: no link.
        assert_refused(&provider_sign_in(&app, &provider, "alice").await.1, "account_exists");
        let token = app.mailed_token("alice@corp.example", 0, "/verify-email").await;
        app.post_json("/api/auth/email/verify", &json!({"token": token})).await.assert_status(200);
        let (mut browser, response) = provider_sign_in(&app, &provider, "alice").await;
        assert_eq!(assert_signed_in(&mut browser, &response, "/account").await["user_id"], user["user_id"]);
        let methods = browser.get("/api/auth/methods").await.json();
        assert_eq!(
            (methods["password"].clone(), methods["identities"][0]["provider"].clone()),
            (json!(true), json!("corp"))
        );
        provider.stop().await;
        app.stop().await;
    }
);

/// A server signing in through a misbehaving OpenID Connect stub (id `stub`).
async fn stub_app(database: Arc<TestDatabase>) -> (TestApp, OidcStub) {
    let stub = OidcStub::start(CLIENT_ID, CLIENT_SECRET).await;
    let config = oidc_config(database.config(), "stub", &stub.issuer());
    (TestApp::start(config, database).await, stub)
}

/// One whole sign-in through `stub`, as a browser: authorize, the stub's auto-approval, the callback.
async fn stub_sign_in(app: &TestApp, browser: &mut Browser) -> TestResponse {
    let location = authorize(browser, "stub", None).await;
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().expect("a client");
    let approved = client.get(&location).send().await.expect("the stub answers");
    assert_eq!(approved.status().as_u16(), 302, "the stub approves");
    let back = approved.headers()["location"].to_str().expect("text").to_owned();
    let _ = app;
    callback(browser, &back).await
}

backend_tests!(bad_id_tokens_and_bad_answers_are_refused, database_only, |database| async move {
    let (app, stub) = stub_app(database).await;
    stub.set_person(OidcPerson {
        sub: "s-1".into(),
        email: Some("sam@stub.example".into()),
        email_verified: true,
        name: Some("Sam".into()),
    });
    for fault in [
        Fault::WrongNonce,
        Fault::WrongAudience,
        Fault::WrongIssuer,
        Fault::Expired,
        Fault::BadSignature,
        Fault::UnknownKid,
        Fault::Redirect,
        Fault::HugeBody,
    ] {
        stub.set_fault(fault);
        let exchanges = stub.token_requests();
        let mut browser = app.browser();
        let response = stub_sign_in(&app, &mut browser).await;
        assert_refused(&response, "oauth_failed");
        assert_eq!(stub.token_requests(), exchanges + 1, "{fault:?}: refused after the code exchange");
    }
    assert_eq!(stub.redirect_follows(), 0, "the token endpoint's redirect is not followed");

    // RFC 9207: an `iss` on the callback that is not the issuer.
    stub.set_fault(Fault::None);
    stub.set_iss_param(Some("https://impostor.example".into()));
    assert_refused(&stub_sign_in(&app, &mut app.browser()).await, "oauth_failed");
    stub.set_iss_param(Some(stub.issuer()));
    let mut browser = app.browser();
    let response = stub_sign_in(&app, &mut browser).await;
    assert_eq!(assert_signed_in(&mut browser, &response, "/account").await["email"], "sam@stub.example");

    // A rotated key: the JWKS is read again and the sign-in works.
    let fetched = stub.jwks_fetches();
    stub.rotate_key();
    let mut browser = app.browser();
    let response = stub_sign_in(&app, &mut browser).await;
    assert_signed_in(&mut browser, &response, "/account").await;
    assert_eq!(stub.jwks_fetches(), fetched + 1, "one re-read for the unknown kid");
    stub.stop().await;
    app.stop().await;
});

backend_tests!(a_hanging_provider_times_out, database_only, |database| async move {
    let (app, stub) = stub_app(database).await;
    stub.set_fault(Fault::Hang);
    let started = std::time::Instant::now();
    assert_refused(&stub_sign_in(&app, &mut app.browser()).await, "oauth_failed");
    assert!(started.elapsed() < std::time::Duration::from_secs(25), "gave up after the 10 s deadline");
    stub.stop().await;
    app.stop().await;
});

backend_tests!(an_unreachable_provider_sends_people_back_to_login, database_only, |database| async move {
    let port = cli::free_port();
    let config = oidc_config(database.config(), "gone", &format!("http://127.0.0.1:{port}"));
    let app = TestApp::start(config, database).await;
    let response = app.browser().get("/api/auth/oauth/gone/authorize").await;
    assert_refused(&response, "oauth_failed");
    assert!(response.set_cookie("oauth_flow").deletes(), "no flow cookie is left");
    app.stop().await;
});

/// A server signing in through the GitHub-shaped stub (id `github`).
pub(crate) async fn github_app(database: Arc<TestDatabase>) -> (TestApp, GitHubStub) {
    github_app_with(database, |config| config).await
}

async fn github_app_with(
    database: Arc<TestDatabase>,
    configure: impl FnOnce(Config) -> Config,
) -> (TestApp, GitHubStub) {
    let stub = GitHubStub::start(CLIENT_ID, CLIENT_SECRET).await;
    let config = with_providers(
        database.config(),
        &[
            ("PORTCULLIS_PROVIDERS", "github"),
            ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", CLIENT_ID),
            ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", CLIENT_SECRET),
            ("PORTCULLIS_PROVIDER_GITHUB_AUTHORIZE_URL", &stub.authorize_url()),
            ("PORTCULLIS_PROVIDER_GITHUB_TOKEN_URL", &stub.token_url()),
            ("PORTCULLIS_PROVIDER_GITHUB_USERINFO_URL", &stub.api_base_url()),
        ],
    );
    (TestApp::start(configure(config), database).await, stub)
}

pub(crate) async fn github_sign_in(browser: &mut Browser) -> TestResponse {
    let location = authorize(browser, "github", None).await;
    let query: BTreeMap<String, String> =
        url::Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
    assert!(!query.contains_key("nonce"), "no nonce for a non-OIDC provider");
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().expect("a client");
    let approved = client.get(&location).send().await.expect("the stub answers");
    let back = approved.headers()["location"].to_str().expect("text").to_owned();
    callback(browser, &back).await
}

backend_tests!(github_signs_in_by_its_numeric_id_and_primary_verified_address, database_only, |database| async move {
    let (app, stub) = github_app(database).await;
    stub.set_person(GitHubPerson {
        id: 4242,
        login: "octo".into(),
        name: None,
        avatar_url: Some("https://avatars.example/octo.png".into()),
        emails: vec![
            GitHubEmail { email: "octo@old.example".into(), primary: false, verified: false },
            GitHubEmail { email: "octo@example.com".into(), primary: true, verified: true },
        ],
    });
    let mut browser = app.browser();
    let response = github_sign_in(&mut browser).await;
    let user = assert_signed_in(&mut browser, &response, "/account").await;
    assert_eq!(user["email"], "octo@example.com");
    assert_eq!(user["name"], "octo", "no name: the login");
    assert_eq!(user["avatar_url"], "https://avatars.example/octo.png");
    let identities = browser.get("/api/auth/identities").await.json();
    assert_eq!(identities[0]["subject"], "4242");

    // With TOTP on, the provider is only the first factor: the callback goes to the second
    // step on /login, and the code finishes it (amr: fed, otp, mfa).
    let (secret, _, _) = crate::mfa::turn_on(&mut browser, -1).await;
    let mut returning = app.browser();
    let response = github_sign_in(&mut returning).await;
    response.assert_status(303);
    assert_eq!(response.header("location"), Some("/login?error=mfa_required&next=%2Faccount"));
    assert!(response.set_cookie("mfa_token").value.len() >= 20);
    assert!(!response.set_cookie_names().contains(&"access_token".to_owned()));
    let done = returning.post_json("/api/auth/mfa/verify", &json!({"code": crate::mfa::code(&secret, 1)})).await;
    done.assert_status(200);
    assert_eq!(jwt::parts(&returning.access_token()).1["amr"], json!(["fed", "otp", "mfa"]));

    // An unverified primary address vouches for nothing.
    stub.set_person(GitHubPerson {
        id: 7,
        login: "newbie".into(),
        name: Some("New Bie".into()),
        avatar_url: None,
        emails: vec![GitHubEmail { email: "newbie@example.com".into(), primary: true, verified: false }],
    });
    assert_refused(&github_sign_in(&mut app.browser()).await, "email_unverified");
    stub.deny_next();
    assert_refused(&github_sign_in(&mut app.browser()).await, "oauth_denied");
    stub.stop().await;
    app.stop().await;
});

backend_tests!(facebook_signs_in_by_its_id_with_its_confirmed_address, database_only, |database| async move {
    let stub = FacebookStub::start(CLIENT_ID, CLIENT_SECRET).await;
    let config = with_providers(
        database.config(),
        &[
            ("PORTCULLIS_PROVIDERS", "facebook"),
            ("PORTCULLIS_PROVIDER_FACEBOOK_CLIENT_ID", CLIENT_ID),
            ("PORTCULLIS_PROVIDER_FACEBOOK_CLIENT_SECRET", CLIENT_SECRET),
            ("PORTCULLIS_PROVIDER_FACEBOOK_AUTHORIZE_URL", &stub.authorize_url()),
            ("PORTCULLIS_PROVIDER_FACEBOOK_TOKEN_URL", &stub.token_url()),
            ("PORTCULLIS_PROVIDER_FACEBOOK_USERINFO_URL", &stub.graph_base_url()),
        ],
    );
    let app = TestApp::start(config, database).await;
    assert_eq!(app.get("/api/auth/providers").await.json(), json!([{"id": "facebook", "name": "Facebook"}]));
    stub.set_person(FacebookPerson {
        id: "10150000000000042".into(),
        name: Some("Fay Book".into()),
        email: Some("fay@facebook.example".into()),
        picture_url: Some("https://graph.example/fay.jpg".into()),
    });
    let sign_in = |mut browser: Browser| async move {
        let location = authorize(&mut browser, "facebook", None).await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("a client");
        let approved = client.get(&location).send().await.expect("the stub answers");
        let back = approved.headers()["location"].to_str().expect("text").to_owned();
        let response = callback(&mut browser, &back).await;
        (browser, response)
    };
    let (mut browser, response) = sign_in(app.browser()).await;
    let user = assert_signed_in(&mut browser, &response, "/account").await;
    assert_eq!((user["email"].clone(), user["email_verified"].clone()), (json!("fay@facebook.example"), json!(true)));
    assert_eq!(user["avatar_url"], "https://graph.example/fay.jpg");
    assert_eq!(browser.get("/api/auth/identities").await.json()[0]["subject"], "10150000000000042");
    // An account without a password is deleted with `{}` after a recent sign-in.
    let deleted = browser.send_csrf(reqwest::Method::DELETE, "/api/auth/current-user", Some(&json!({}))).await;
    deleted.assert_status(204);
    browser.refresh().await.assert_status(401);

    // No address shared: nothing vouches for one.
    stub.set_person(FacebookPerson { id: "7".into(), name: Some("No Mail".into()), email: None, picture_url: None });
    assert_refused(&sign_in(app.browser()).await.1, "email_unverified");
    stub.deny_next();
    assert_refused(&sign_in(app.browser()).await.1, "oauth_denied");
    stub.stop().await;
    app.stop().await;
});

backend_tests!(starting_flows_is_rate_limited_per_ip, database_only, |database| async move {
    let (app, stub) = github_app_with(database, |config| Config { rate_limit_per_minute: 2, ..config }).await;
    for _ in 0..2 {
        app.get("/api/auth/oauth/github/authorize").await.assert_status(302);
    }
    let limited = app.get("/api/auth/oauth/github/authorize").await;
    assert_problem(&limited, 429, "rate_limited");
    assert!(limited.header("retry-after").is_some());
    stub.stop().await;
    app.stop().await;
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_started_on_one_instance_finishes_on_another() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else { return };
    let Some((first, provider)) = corp_app(Arc::new(database)).await else { return };
    let second = first.another_instance().await;
    let mut browser = first.browser();
    let location = authorize(&mut browser, "corp", None).await;
    let back = provider.sign_in(&location, "alice").await;
    // The same browser, now talking to the second instance.
    let mut moved = Browser { app: second.clone(), jar: browser.jar.clone() };
    let response = callback(&mut moved, &back).await;
    assert_eq!(assert_signed_in(&mut moved, &response, "/account").await["email"], "alice@corp.example");
    provider.stop().await;
    second.stop().await;
    first.stop().await;
    first.database().remove();
}
