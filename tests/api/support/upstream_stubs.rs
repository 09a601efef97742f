//! In-process stand-ins for upstream sign-in providers, for the end-to-end tests of "sign in
//! with a provider" (Portcullis is the OAuth client):
//!
//! - [`GitHubStub`]: GitHub's OAuth app flow (`/login/oauth/authorize`,
//!   `/login/oauth/access_token`) and the two REST calls a sign-in makes (`/user`,
//!   `/user/emails` under [`GitHubStub::api_base_url`]).
//! - [`OidcStub`]: a minimal OpenID Connect provider (discovery, JWKS, authorize, token,
//!   userinfo) that signs RS256 ID tokens and can be told to misbehave ([`Fault`]).
//! - [`FacebookStub`]: Facebook Login (`/dialog/oauth`, `/oauth/access_token`) and the Graph
//!   API's `/me` under [`FacebookStub::graph_base_url`].
//!
//! Each stub is an actix-web server on `127.0.0.1:0` spawned on the test's tokio runtime; its
//! state sits behind an `Arc<Mutex<..>>` that the test changes through the stub's methods.
//! Each auto-approves every valid authorization request as the configured person, require PKCE
//! (`S256`), issue single-use codes, answer `400` (plain text, no redirect) to a malformed
//! authorization request, and stop when dropped.

// A stand-in offers more knobs than any one test turns.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use uuid::Uuid;

/// The S256 PKCE challenge of `verifier`: base64url-no-pad(SHA-256(verifier)) (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// What the stubs share
// ---------------------------------------------------------------------------------------------

/// A running stub server: its base URL and the handle that stops it (on drop).
struct Running {
    base_url: String,
    handle: ServerHandle,
}

impl Running {
    /// Binds `127.0.0.1:0` with one worker and spawns the server on the current tokio runtime.
    fn start(configure: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static) -> Self {
        let server = HttpServer::new(move || App::new().configure(configure.clone()))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .expect("a stub binds 127.0.0.1:0");
        let port = server.addrs().first().expect("a bound stub has an address").port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Running { base_url: format!("http://127.0.0.1:{port}"), handle }
    }

    async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the future only awaits its completion.
        drop(self.handle.stop(false));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fresh random value with a recognisable prefix.
fn random(prefix: &str) -> String {
    format!("{prefix}{}", Uuid::new_v4().simple())
}

/// A form body (`application/x-www-form-urlencoded`) as a map; a repeated key keeps its last value.
fn parse_form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The credentials of an `Authorization` header with this scheme (case-insensitive).
fn authorization<'r>(request: &'r HttpRequest, scheme: &str) -> Option<&'r str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, credentials) = value.trim().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| credentials.trim())
}

/// The client's id and secret: from `Authorization: Basic` (each half form-urlencoded, RFC 6749
/// §2.3.1) if present, else from the body's `client_id` and `client_secret`.
fn client_credentials(request: &HttpRequest, form: &HashMap<String, String>) -> Option<(String, String)> {
    if let Some(encoded) = authorization(request, "basic") {
        let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        let unescape = |part: &str| {
            url::form_urlencoded::parse(format!("v={part}").as_bytes()).next().map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((form.get("client_id")?.clone(), form.get("client_secret")?.clone()))
}

/// Why `verifier` does not answer `challenge` (RFC 7636 §4.1, §4.6), or `None` if it does.
fn pkce_mismatch(verifier: Option<&String>, challenge: &str) -> Option<&'static str> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    match verifier {
        None => Some("code_verifier is missing"),
        Some(v) if !(43..=128).contains(&v.len()) || !v.bytes().all(unreserved) => {
            Some("code_verifier is not 43 to 128 unreserved characters")
        }
        Some(v) if pkce_challenge(v) != challenge => Some("code_verifier does not match the code_challenge"),
        Some(_) => None,
    }
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().content_type("text/plain; charset=utf-8").body(message.to_owned())
}

/// The parts of an authorization request both stubs check the same way.
struct AuthorizeRequest {
    /// `redirect_uri` exactly as sent (the token request must repeat it byte for byte).
    redirect_uri: String,
    redirect: Url,
    challenge: String,
}

/// Checks `client_id`, `redirect_uri` (an absolute URL) and PKCE (`S256`, a 43-character challenge).
fn check_authorize(query: &HashMap<String, String>, client_id: &str) -> Result<AuthorizeRequest, HttpResponse> {
    let param = |name: &str| query.get(name).map(String::as_str);
    if param("client_id") != Some(client_id) {
        return Err(bad_request("unknown client_id"));
    }
    let redirect_uri = param("redirect_uri").ok_or_else(|| bad_request("redirect_uri is missing"))?;
    let redirect = Url::parse(redirect_uri).map_err(|_| bad_request("redirect_uri is not an absolute URL"))?;
    if param("code_challenge_method") != Some("S256") {
        return Err(bad_request("code_challenge_method must be S256"));
    }
    let challenge = param("code_challenge")
        .filter(|c| c.len() == 43)
        .ok_or_else(|| bad_request("code_challenge is missing or not 43 characters"))?;
    Ok(AuthorizeRequest { redirect_uri: redirect_uri.to_owned(), redirect, challenge: challenge.to_owned() })
}

/// `302` to `redirect` with `params` appended to its query.
fn redirect_with(mut redirect: Url, params: &[(&str, String)]) -> HttpResponse {
    redirect.query_pairs_mut().extend_pairs(params);
    HttpResponse::Found().insert_header((header::LOCATION, redirect.as_str())).finish()
}

// ---------------------------------------------------------------------------------------------
// GitHub
// ---------------------------------------------------------------------------------------------

/// One address of a [`GitHubPerson`], as `GET /user/emails` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubEmail {
    /// The address.
    pub email: String,
    /// Whether it is the account's primary address.
    pub primary: bool,
    /// Whether GitHub has verified it.
    pub verified: bool,
}

/// The GitHub account the stub signs in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHubPerson {
    /// The numeric account id (stable; the login can change).
    pub id: u64,
    /// The login (user name).
    pub login: String,
    /// The display name, if set.
    pub name: Option<String>,
    /// The avatar URL, if any.
    pub avatar_url: Option<String>,
    /// The account's addresses, in the order `/user/emails` lists them.
    pub emails: Vec<GitHubEmail>,
}

impl Default for GitHubPerson {
    /// `octocat` (id 583231) with one primary, verified address.
    fn default() -> Self {
        GitHubPerson {
            id: 583231,
            login: "octocat".to_owned(),
            name: Some("The Octocat".to_owned()),
            avatar_url: Some("https://avatars.githubusercontent.com/u/583231?v=4".to_owned()),
            emails: vec![GitHubEmail { email: "octocat@example.com".to_owned(), primary: true, verified: true }],
        }
    }
}

struct GitHubGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    person: GitHubPerson,
}

struct GitHubState {
    client_id: String,
    client_secret: String,
    person: GitHubPerson,
    deny_next: bool,
    last_authorize: Option<HashMap<String, String>>,
    grants: HashMap<String, GitHubGrant>,
    tokens: HashMap<String, GitHubPerson>,
    exchanges: usize,
    successful_exchanges: usize,
}

/// GitHub's OAuth app flow and REST API, in process.
///
/// - `GET /login/oauth/authorize` auto-approves as [`GitHubStub::set_person`]'s person (or
///   redirects with `error=access_denied` after [`GitHubStub::deny_next`]). A wrong
///   `client_id`, a missing `redirect_uri` or missing PKCE answers `400`.
/// - `POST /login/oauth/access_token` answers like GitHub: JSON only if `Accept` names
///   `application/json` (else a form-urlencoded body), and every failure is a `200` with an
///   `error` member: `incorrect_client_credentials`, `redirect_uri_mismatch`, or
///   `bad_verification_code` (unknown or used code, wrong or missing `code_verifier`).
/// - `GET /api/user`, `GET /api/user/emails`: `403` (text) without a `User-Agent`, `401`
///   `{"message": "Bad credentials"}` without a valid `Bearer` / `token` authorization.
pub struct GitHubStub {
    state: Arc<Mutex<GitHubState>>,
    server: Running,
}

impl GitHubStub {
    /// Starts a stub that knows one OAuth app, `client_id` / `client_secret`, and signs in as
    /// [`GitHubPerson::default`] until told otherwise.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(GitHubState {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            person: GitHubPerson::default(),
            deny_next: false,
            last_authorize: None,
            grants: HashMap::new(),
            tokens: HashMap::new(),
            exchanges: 0,
            successful_exchanges: 0,
        }));
        let data = web::Data::from(state.clone());
        let server = Running::start(move |config| {
            config
                .app_data(data.clone())
                .route("/login/oauth/authorize", web::get().to(github_authorize))
                .route("/login/oauth/access_token", web::post().to(github_access_token))
                .route("/api/user", web::get().to(github_user))
                .route("/api/user/emails", web::get().to(github_emails));
        });
        GitHubStub { state, server }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    /// The REST API base, `<base>/api` (GitHub's `https://api.github.com`).
    pub fn api_base_url(&self) -> String {
        format!("{}/api", self.server.base_url)
    }

    /// `<base>/login/oauth/authorize`.
    pub fn authorize_url(&self) -> String {
        format!("{}/login/oauth/authorize", self.server.base_url)
    }

    /// `<base>/login/oauth/access_token`.
    pub fn token_url(&self) -> String {
        format!("{}/login/oauth/access_token", self.server.base_url)
    }

    /// The account the next authorizations approve as (tokens already issued keep theirs).
    pub fn set_person(&self, person: GitHubPerson) {
        lock(&self.state).person = person;
    }

    /// Makes the next authorization request end in `error=access_denied` (the person said no).
    pub fn deny_next(&self) {
        lock(&self.state).deny_next = true;
    }

    /// The query of the last `GET /login/oauth/authorize`, valid or not.
    pub fn last_authorize_query(&self) -> Option<HashMap<String, String>> {
        lock(&self.state).last_authorize.clone()
    }

    /// How many `POST /login/oauth/access_token` requests arrived.
    pub fn token_exchanges(&self) -> usize {
        lock(&self.state).exchanges
    }

    /// How many of them issued an access token.
    pub fn successful_token_exchanges(&self) -> usize {
        lock(&self.state).successful_exchanges
    }

    /// Stops the server now (dropping the stub stops it too, without waiting).
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

type GitHubData = web::Data<Mutex<GitHubState>>;

async fn github_authorize(state: GitHubData, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let query = query.into_inner();
    let mut state = lock(&state);
    state.last_authorize = Some(query.clone());
    let request = match check_authorize(&query, &state.client_id) {
        Ok(request) => request,
        Err(response) => return response,
    };
    let mut params = Vec::new();
    if std::mem::take(&mut state.deny_next) {
        params.push(("error", "access_denied".to_owned()));
        params.push(("error_description", "The user has denied your application access.".to_owned()));
    } else {
        let code = random("ghcode_");
        let scope = query.get("scope").map(String::as_str).unwrap_or_default();
        let grant = GitHubGrant {
            client_id: state.client_id.clone(),
            redirect_uri: request.redirect_uri,
            challenge: request.challenge,
            scope: scope.split([' ', ',']).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(","),
            person: state.person.clone(),
        };
        state.grants.insert(code.clone(), grant);
        params.push(("code", code));
    }
    if let Some(value) = query.get("state") {
        params.push(("state", value.clone()));
    }
    redirect_with(request.redirect, &params)
}

async fn github_access_token(state: GitHubData, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let outcome = {
        let mut state = lock(&state);
        state.exchanges += 1;
        let outcome = github_exchange(&mut state, &request, &form);
        state.successful_exchanges += usize::from(outcome.is_ok());
        outcome
    };
    let pairs = outcome.unwrap_or_else(|error| error);
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("application/json"));
    if wants_json {
        let body: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect();
        HttpResponse::Ok().json(body)
    } else {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        HttpResponse::Ok().content_type("application/x-www-form-urlencoded; charset=utf-8").body(body)
    }
}

type Pairs = Vec<(&'static str, String)>;

/// The token response's members, or the error's (GitHub answers both with `200`).
fn github_exchange(
    state: &mut GitHubState,
    request: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<Pairs, Pairs> {
    let fail = |error: &str, description: &str| {
        vec![
            ("error", error.to_owned()),
            ("error_description", description.to_owned()),
            (
                "error_uri",
                "https://docs.github.com/apps/troubleshooting-oauth-app-access-token-request-errors".to_owned(),
            ),
        ]
    };
    match client_credentials(request, form) {
        Some((id, secret)) if id == state.client_id && secret == state.client_secret => {}
        _ => {
            return Err(fail(
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            ));
        }
    }
    // Single use: a code is gone once presented with the right client credentials.
    let Some(grant) = form.get("code").and_then(|code| state.grants.remove(code)) else {
        return Err(fail("bad_verification_code", "The code passed is incorrect or expired."));
    };
    if grant.client_id != state.client_id {
        return Err(fail("bad_verification_code", "The code was issued to another client."));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(fail("redirect_uri_mismatch", "The redirect_uri does not match the authorization request's."));
    }
    if let Some(why) = pkce_mismatch(form.get("code_verifier"), &grant.challenge) {
        return Err(fail("bad_verification_code", why));
    }
    let token = random("gho_");
    state.tokens.insert(token.clone(), grant.person);
    Ok(vec![("access_token", token), ("token_type", "bearer".to_owned()), ("scope", grant.scope)])
}

/// The person an API request's token belongs to, or GitHub's `403` / `401`.
fn github_api_person(state: &Mutex<GitHubState>, request: &HttpRequest) -> Result<GitHubPerson, HttpResponse> {
    if request.headers().get(header::USER_AGENT).is_none_or(|agent| agent.is_empty()) {
        return Err(HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body(
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header \
             (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).\n",
        ));
    }
    let token = authorization(request, "bearer").or_else(|| authorization(request, "token"));
    token.and_then(|token| lock(state).tokens.get(token).cloned()).ok_or_else(|| {
        HttpResponse::Unauthorized().json(
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        )
    })
}

async fn github_user(state: GitHubData, request: HttpRequest) -> HttpResponse {
    match github_api_person(&state, &request) {
        Ok(person) => HttpResponse::Ok().json(json!({
            "id": person.id,
            "login": person.login,
            "name": person.name,
            "avatar_url": person.avatar_url,
            "email": null,
            "type": "User",
        })),
        Err(response) => response,
    }
}

async fn github_emails(state: GitHubData, request: HttpRequest) -> HttpResponse {
    match github_api_person(&state, &request) {
        Ok(person) => {
            let emails: Vec<Value> = person
                .emails
                .iter()
                .map(|e| json!({"email": e.email, "primary": e.primary, "verified": e.verified, "visibility": null}))
                .collect();
            HttpResponse::Ok().json(emails)
        }
        Err(response) => response,
    }
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect
// ---------------------------------------------------------------------------------------------

/// The account the OIDC stub signs in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcPerson {
    /// The subject identifier (`sub`).
    pub sub: String,
    /// The address, if the provider shares one (`email`; `email_verified` is left out with it).
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// The display name (`name`), if any.
    pub name: Option<String>,
}

impl Default for OidcPerson {
    /// `sub` `oidc-subject-1`, Ada Lovelace with a verified address.
    fn default() -> Self {
        OidcPerson {
            sub: "oidc-subject-1".to_owned(),
            email: Some("ada@example.com".to_owned()),
            email_verified: true,
            name: Some("Ada Lovelace".to_owned()),
        }
    }
}

/// How the OIDC stub's token endpoint misbehaves, from [`OidcStub::set_fault`] until set back
/// to [`Fault::None`]. Everything else about the response stays correct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// A correct ID token.
    #[default]
    None,
    /// `nonce` is not the one the authorization request sent.
    WrongNonce,
    /// `aud` is another client (`another-client`).
    WrongAudience,
    /// `iss` is `https://impostor.example.com`.
    WrongIssuer,
    /// `iat` 15 minutes ago, `exp` 10 minutes ago.
    Expired,
    /// Signed by a key not in the JWKS, under the current signing key's `kid`.
    BadSignature,
    /// Signed by a key not in the JWKS under a `kid` that never appears there, however often
    /// it is re-read.
    UnknownKid,
    /// The token endpoint sleeps 30 s before answering (normally).
    Hang,
    /// The token endpoint answers `302` to `<base>/moved/<id>`, which (if followed, by any
    /// method) answers the real token response and counts in [`OidcStub::redirect_follows`].
    Redirect,
    /// The token endpoint answers the real token response padded with 2 MiB of spaces (valid
    /// JSON, but more than a client should read).
    HugeBody,
}

/// The kid of the `n`th signing key (0 = the first).
fn kid(n: usize) -> String {
    format!("stub-rsa-{n}")
}

struct SigningKey {
    kid: String,
    key: EncodingKey,
    /// The public half as a JWK (`kty`, `n`, `e`, `alg`, `kid`, `use`).
    jwk: Value,
}

/// A PKCS#1 PEM's DER as an RS256 encoding key.
fn rsa_key(pem: &str) -> EncodingKey {
    let base64: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    EncodingKey::from_rsa_der(&STANDARD.decode(base64.trim()).expect("the embedded RSA test key is base64"))
}

impl SigningKey {
    fn new(n: usize) -> Self {
        let key = rsa_key(RSA_KEYS[n % RSA_KEYS.len()]);
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).expect("the embedded test key is an RSA key");
        jwk.common.key_id = Some(kid(n));
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        SigningKey { kid: kid(n), key, jwk: serde_json::to_value(jwk).expect("a JWK serialises") }
    }
}

fn sign(key: &EncodingKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("the stub signs an ID token")
}

struct OidcGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    person: OidcPerson,
}

#[derive(Default)]
struct OidcCounters {
    discovery: usize,
    jwks: usize,
    token: usize,
    userinfo: usize,
    redirect_follows: usize,
}

struct OidcState {
    base_url: String,
    client_id: String,
    client_secret: String,
    issuer: Option<String>,
    iss_param: Option<String>,
    person: OidcPerson,
    fault: Fault,
    deny_next: bool,
    keys: Vec<SigningKey>,
    rogue: EncodingKey,
    last_authorize: Option<HashMap<String, String>>,
    grants: HashMap<String, OidcGrant>,
    access_tokens: HashMap<String, OidcPerson>,
    moved: HashMap<String, Value>,
    counters: OidcCounters,
}

impl OidcState {
    fn issuer(&self) -> String {
        self.issuer.clone().unwrap_or_else(|| self.base_url.clone())
    }

    fn current_key(&self) -> &SigningKey {
        self.keys.last().expect("the OIDC stub has a signing key")
    }

    /// The ID token for `grant`, with the configured fault applied.
    fn id_token(&self, grant: &OidcGrant) -> String {
        let now = chrono::Utc::now().timestamp();
        let (iat, exp) = if self.fault == Fault::Expired { (now - 900, now - 600) } else { (now, now + 300) };
        let iss =
            if self.fault == Fault::WrongIssuer { "https://impostor.example.com".to_owned() } else { self.issuer() };
        let aud =
            if self.fault == Fault::WrongAudience { "another-client".to_owned() } else { grant.client_id.clone() };
        let mut claims = json!({"iss": iss, "sub": grant.person.sub, "aud": aud, "iat": iat, "exp": exp});
        let nonce = if self.fault == Fault::WrongNonce { Some(random("wrong-nonce-")) } else { grant.nonce.clone() };
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        person_claims(&mut claims, &grant.person);
        let current = self.current_key();
        match self.fault {
            Fault::BadSignature => sign(&self.rogue, &current.kid, &claims),
            Fault::UnknownKid => sign(&self.rogue, "stub-rsa-unknown", &claims),
            _ => sign(&current.key, &current.kid, &claims),
        }
    }
}

/// Adds `email`, `email_verified` (only with an address) and `name` to `claims`.
fn person_claims(claims: &mut Value, person: &OidcPerson) {
    if let Some(email) = &person.email {
        claims["email"] = json!(email);
        claims["email_verified"] = json!(person.email_verified);
    }
    if let Some(name) = &person.name {
        claims["name"] = json!(name);
    }
}

/// A minimal OpenID Connect provider, in process, that signs RS256 ID tokens.
///
/// Endpoints: `/.well-known/openid-configuration`, `/jwks`, `/authorize`, `/token`,
/// `/userinfo`. The token endpoint takes `client_secret_basic` or `client_secret_post` and
/// answers errors the RFC 6749 way: `401 {"error": "invalid_client"}`, `400` with
/// `unsupported_grant_type` or `invalid_grant` (unknown or used code, `redirect_uri` or
/// `code_verifier` mismatch). `Cache-Control: no-store` is on token responses.
pub struct OidcStub {
    state: Arc<Mutex<OidcState>>,
    server: Running,
}

impl OidcStub {
    /// Starts a provider that knows one client, `client_id` / `client_secret`, signs in as
    /// [`OidcPerson::default`], and signs with one key (kid `stub-rsa-0`).
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(OidcState {
            base_url: String::new(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            issuer: None,
            iss_param: None,
            person: OidcPerson::default(),
            fault: Fault::None,
            deny_next: false,
            keys: vec![SigningKey::new(0)],
            rogue: rsa_key(ROGUE_RSA_KEY),
            last_authorize: None,
            grants: HashMap::new(),
            access_tokens: HashMap::new(),
            moved: HashMap::new(),
            counters: OidcCounters::default(),
        }));
        let data = web::Data::from(state.clone());
        let server = Running::start(move |config| {
            config
                .app_data(data.clone())
                .route("/.well-known/openid-configuration", web::get().to(oidc_discovery))
                .route("/jwks", web::get().to(oidc_jwks))
                .route("/authorize", web::get().to(oidc_authorize))
                .route("/token", web::post().to(oidc_token))
                .route("/userinfo", web::get().to(oidc_userinfo))
                .route("/moved/{id}", web::route().to(oidc_moved));
        });
        lock(&state).base_url = server.base_url.clone();
        OidcStub { state, server }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    /// The issuer the discovery document and the ID tokens name: the base URL unless
    /// [`OidcStub::set_issuer`] said otherwise.
    pub fn issuer(&self) -> String {
        lock(&self.state).issuer()
    }

    /// `<base>/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.server.base_url)
    }

    /// Makes the discovery document's `issuer` and the ID tokens' `iss` this value instead of
    /// the base URL (`None`: the base URL again).
    pub fn set_issuer(&self, issuer: Option<String>) {
        lock(&self.state).issuer = issuer;
    }

    /// Adds `iss=<value>` to authorization responses (RFC 9207), and sets the discovery
    /// document's `authorization_response_iss_parameter_supported`; the value may be wrong on
    /// purpose. `None` (the default): no `iss` parameter.
    pub fn set_iss_param(&self, value: Option<String>) {
        lock(&self.state).iss_param = value;
    }

    /// The account the next authorizations approve as (codes and tokens already issued keep theirs).
    pub fn set_person(&self, person: OidcPerson) {
        lock(&self.state).person = person;
    }

    /// The token endpoint's misbehaviour from now on.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.state).fault = fault;
    }

    /// Makes the next authorization request end in `error=access_denied`.
    pub fn deny_next(&self) {
        lock(&self.state).deny_next = true;
    }

    /// Adds a signing key with a new kid to the JWKS (the old ones stay) and signs with it from
    /// now on; returns the new kid. (Only a few RSA keys are embedded: after three rotations
    /// the key material repeats under new kids.)
    pub fn rotate_key(&self) -> String {
        let mut state = lock(&self.state);
        let key = SigningKey::new(state.keys.len());
        let kid = key.kid.clone();
        state.keys.push(key);
        kid
    }

    /// The kid ID tokens are signed under now (without a fault).
    pub fn current_kid(&self) -> String {
        lock(&self.state).current_key().kid.clone()
    }

    /// The query of the last `GET /authorize`, valid or not.
    pub fn last_authorize_query(&self) -> Option<HashMap<String, String>> {
        lock(&self.state).last_authorize.clone()
    }

    /// How many times the discovery document was fetched.
    pub fn discovery_fetches(&self) -> usize {
        lock(&self.state).counters.discovery
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        lock(&self.state).counters.jwks
    }

    /// How many `POST /token` requests arrived (counted on arrival, also when hanging).
    pub fn token_requests(&self) -> usize {
        lock(&self.state).counters.token
    }

    /// How many `GET /userinfo` requests arrived.
    pub fn userinfo_requests(&self) -> usize {
        lock(&self.state).counters.userinfo
    }

    /// How many requests followed a [`Fault::Redirect`] redirect.
    pub fn redirect_follows(&self) -> usize {
        lock(&self.state).counters.redirect_follows
    }

    /// Stops the server now (dropping the stub stops it too, without waiting).
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

type OidcData = web::Data<Mutex<OidcState>>;

async fn oidc_discovery(state: OidcData) -> HttpResponse {
    let mut state = lock(&state);
    state.counters.discovery += 1;
    let base = &state.base_url;
    HttpResponse::Ok().json(json!({
        "issuer": state.issuer(),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["authorization_code"],
        "scopes_supported": ["openid", "email", "profile"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "name"],
        "authorization_response_iss_parameter_supported": state.iss_param.is_some(),
    }))
}

async fn oidc_jwks(state: OidcData) -> HttpResponse {
    let mut state = lock(&state);
    state.counters.jwks += 1;
    let keys: Vec<Value> = state.keys.iter().map(|key| key.jwk.clone()).collect();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn oidc_authorize(state: OidcData, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let query = query.into_inner();
    let mut state = lock(&state);
    state.last_authorize = Some(query.clone());
    let request = match check_authorize(&query, &state.client_id) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if query.get("response_type").map(String::as_str) != Some("code") {
        return bad_request("response_type must be code");
    }
    if !query.get("scope").is_some_and(|scope| scope.split(' ').any(|s| s == "openid")) {
        return bad_request("scope must include openid");
    }
    let mut params = Vec::new();
    if std::mem::take(&mut state.deny_next) {
        params.push(("error", "access_denied".to_owned()));
    } else {
        let code = random("oidccode_");
        let grant = OidcGrant {
            client_id: state.client_id.clone(),
            redirect_uri: request.redirect_uri,
            challenge: request.challenge,
            nonce: query.get("nonce").cloned(),
            person: state.person.clone(),
        };
        state.grants.insert(code.clone(), grant);
        params.push(("code", code));
    }
    if let Some(value) = query.get("state") {
        params.push(("state", value.clone()));
    }
    if let Some(iss) = &state.iss_param {
        params.push(("iss", iss.clone()));
    }
    redirect_with(request.redirect, &params)
}

async fn oidc_token(state: OidcData, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let (response, hang) = {
        let mut state = lock(&state);
        state.counters.token += 1;
        let response = oidc_exchange(&mut state, &request, &form).unwrap_or_else(|error| error);
        (response, state.fault == Fault::Hang)
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    response
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"oidc-stub\""));
    }
    response.json(json!({"error": error, "error_description": description}))
}

fn oidc_exchange(
    state: &mut OidcState,
    request: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<HttpResponse, HttpResponse> {
    let invalid_grant = |description: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description);
    match client_credentials(request, form) {
        Some((id, secret)) if id == state.client_id && secret == state.client_secret => {}
        _ => return Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")),
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only authorization_code"));
    }
    // Single use: a code is gone once presented by the authenticated client.
    let Some(grant) = form.get("code").and_then(|code| state.grants.remove(code)) else {
        return Err(invalid_grant("the code is unknown or already used"));
    };
    if grant.client_id != state.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(invalid_grant("redirect_uri does not match the authorization request's"));
    }
    if let Some(why) = pkce_mismatch(form.get("code_verifier"), &grant.challenge) {
        return Err(invalid_grant(why));
    }
    let access_token = random("oidc_at_");
    state.access_tokens.insert(access_token.clone(), grant.person.clone());
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": state.id_token(&grant),
    });
    if state.fault == Fault::Redirect {
        let path = format!("/moved/{}", Uuid::new_v4().simple());
        let location = format!("{}{path}", state.base_url);
        state.moved.insert(path, body);
        return Ok(HttpResponse::Found().insert_header((header::LOCATION, location)).finish());
    }
    if state.fault == Fault::HugeBody {
        let padded = format!("{body}{}", " ".repeat(2 * 1024 * 1024));
        return Ok(HttpResponse::Ok().content_type("application/json").body(padded));
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body))
}

async fn oidc_moved(state: OidcData, request: HttpRequest) -> HttpResponse {
    let mut state = lock(&state);
    state.counters.redirect_follows += 1;
    match state.moved.get(request.path()) {
        Some(body) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn oidc_userinfo(state: OidcData, request: HttpRequest) -> HttpResponse {
    let mut state = lock(&state);
    state.counters.userinfo += 1;
    let person = authorization(&request, "bearer").and_then(|token| state.access_tokens.get(token));
    match person {
        Some(person) => {
            let mut body = json!({"sub": person.sub});
            person_claims(&mut body, person);
            HttpResponse::Ok().json(body)
        }
        None => HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
            .json(json!({"error": "invalid_token"})),
    }
}

// ---------------------------------------------------------------------------------------------
// Test keys (RSA 2048, PKCS#1, made with `openssl genrsa -traditional 2048`; test use only)
// ---------------------------------------------------------------------------------------------

/// The signing keys, in rotation order.
const RSA_KEYS: [&str; 3] = [
    r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAvodrbA9wXr9S7E5LHtxxZns59cWgFBcBmBKQSHVvzKlwzXpr
YI1ap46nqMrDKeXfUdouFjRNVRJhX9/Vi5N25UdnaMobdG0OirUKd2BUpsoY8+VW
7O4CIn569m1k8kmy6G9XecYG3gkBhQ3PgYWZiKwWEVwCzycHFU0Nmc+v/cSba397
sWokLi2IEpV2yZQ2o6vMOMV/MBIe6m+um++cm8Bt4u5PhryW1zTeLeRtF7sPmJ+U
7t0kSK++iGn3zfQIuLxdpxD8mjHtdimSpBmc29er4pqrOUZyPYLQqdkEpsVGuztc
w8DuGG3xmFQl1a2bDpq7eucyBbak1Aq9tVZfTQIDAQABAoIBAAGA2mUG6t+HXm+Y
iGj+Gzg+CZjuhznJWtPmmeHqMd90tmCJP/63yRiVAQm7F42g+KqEIrt1DEMEQe6l
+qn6hcj2RoU2nQh8mxaW4QhemfatFehjm1RfCtJ77O2qxWAZmvt1T3JHbELOT3UC
aZDYq0S2MglhYrolWnAiDZ4ZLj3G82f1SQ/bYInQhtU/iKDPPevSsZmQ23kAAQSi
h5rpT8b63AisjHesw5Zw3Jvj10uVOXOLg7FZTGN5RceeaQY8FMBNRxfgQ+Dka7/4
nOQwIZI9eRTlEZQRtalZFj2nr2NwOyZgeynIXh3sn4WK9WtPeTeMnukprwwmtkR9
gOtY/TkCgYEA51C/zZbF2DB2308zdVRMvjK+AN69uB3zkCn8kK1qzzJIZN1RUEgd
UfQKGbUzganG/tW5sLV57QKvqwktIRKDDR4qnpR9iJ+bK/ybhhQG/k1R0aEw8Ix9
GEfomkPVO/9QPjmBGME+MsLjaPkkQcmE45eS7w5vwoQMjb7qn14cZRkCgYEA0txv
b01c3YPcWjH4q/p60zMl/JaAjbtfENlSDw5VE7U3YzHqcIVRrfyQY70xi0QcZWO9
RGMMQBpWX9Nf8+MDA++0pajuxaOgx/bNgLNIHeeGEIe+U8sAeNG2EZvaowV1sl2Y
DRqqPreIcFEnYzK9FIZ5sz9Q6T/nqNTGTz+q/lUCgYBK0bWYfCI2UUbB6E5Orxu7
kZIfmexnt1hm0w3chhs8NZlw9p0siIbjUTpLIm8si4vQNbVAURLE9M95VRiB0AkP
nyhN7t3D6Uw5qBVuAuBYNQ437hl0VRzJU8kKzNIV+/kqh1MYfLjvllYUSDHQDays
KQTfyh2gHzIoTw54yeoJUQKBgFujlYJnus5CekdwpEQJrcuP1Rh7SA9QuTYXXIRS
lELmZNXlYZ/ZMPBObWoLVTbTOQwPVrgb270YNSWcNX1G0Y6qZHYCfxLB1CRTbGhc
giEM98TDWcIM3X2kll38v/5NZyNHbcd0KTzsgo1dl6KS8H21G7r872sPbNyA7FaQ
sv2pAoGBAL4DLKGFSaNO0jJ0Hp+5pr3dD9LhkZDEEhJJJ9Wmhyifr/ZVEa28d00N
i4nOSLurt/dkOO/n+8PC4hOAEYKrkmjHyd9x2MPwlSRpZEzXrPH57F8GzusYgBwg
0ctojMJxzJYhuX3cnlKWWDb+tj7LPTA2UcDXIDcOeCEIp3W8CAdn
-----END RSA PRIVATE KEY-----",
    r"-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAqcixdkycv2SxmODzbv7xyOxtlcgUd02Y1W6CcER9a9P8ttqN
rMYLIpEWZRbVvq5QOx71XEWh0ErEBCziomBFhN+4Bqk6m9Tgv2M2THIm62DgJR7Y
y8bt6OMoSOo5Cx1wsb1zE4KWNB//xpsaxlIypxwP0uUmghj8nsjfdzdd7fCsKHUg
w28rPTQDy2MKKYpH2d4GLnAcJKmVoYmpSH2z7zG3hPjTI0osWVPCanuOvo2m3sGG
ezzFKpX6lSKeDcPY9cN11CA1RGqDzr742pILfIn2xNn6+JaelkBi00cvN0dSNspm
UDhTKoUe9p/TJRnAItOTilps5V3TlzBlXpfAgQIDAQABAoIBACrhGEyXwbimriG9
ok1kjtzfNTfwTZbp3pD8tW20JnbelYL6xHAfnj1PJjhGoZnkPTgJNA9nOJw53bJu
QZiftr79n2TzRW2IwHAllteMtt6YW1OUrE0ewwQfppNvsBNqDoWdIpyJTPUCJd9b
WdI/fTJuKGLrY6PUuqxBcAqUTaEjT5DtpwdxKIH4+m8tSKQ8XbQX10G5ynrqHY9T
N4R1KgmuhAQBIJEITLpEWtA2DjC2UO0VjwMV70pxL1DYhqj4tdXnRGkE5yQqE7aN
g6Fqm5zct3lLT2xu/0ywKBsjuIFLVsQdkvsm8B5/XM14ryHJODLLlDfnRXFL620b
IK7TMncCgYEA0LtMqp16lKU9t0mjJHC1RRMdtJyD6aWbK4EXVO3BlepodAWThBR7
qzy54sHaVl3rMe//5yDqRtJivou3/9M2ULpo1lcmVifPlriTyJa122vfEKxUXTTP
ir/AZmSb2UzqgrobJtBmvZR4bxLg2wwvguyYJ6VPOSB7nq2bEGcHkGMCgYEA0Dt/
jmAreyFQ39OQ5XVxWdkIS8rHNH0FW+3XqcZ5apr2A5aUEGgjPks1j98u98qZGtrn
o3j2g5EGm8yqP6wJC760cSkUMZSAQ1vb4xQmGn88NHVjblzcvjPhw1rd2x2xGKdg
KBwg0SJ1SO/bU3fmPbzMIRzVO6IH+S3Qiti9VssCgYEAtx5KcTf87WFWFnF0vahf
bv0JR4U0OQt/aRg0dt6qwbHG91pZAzvRDvYUgfndaX21s7bAw21d+snhtRbwUnBi
q0oOZVRJnrYIaUr+47BMVPZ62K7GyIpnNWtqCKplC6tt5UgOP+v+5nzVd2SRfbpg
CDU2ezmMmiqEKT5W1nn86c8CgYEAkq2WiF/NwQoSwddxdXBoy/VJFrpb3+lA4SSE
iZ644BMPwC9NVNFGIhcwP4vitcEMYBJaoJgQbVS25wAf3IH+TTukNyHMi7AjOU93
cFk9DeUaL4mQ5KidBY3eNZHIPRSJLuiXnylRJH+1Rg9O21jV4h8fWyPIQB0+qJNR
FrzdgkkCgYBLqezJOb67MD8qUL6SbCzr6z7oiu+wd+MyJL2JRbubuE5PKw8TKHYs
e/JzVN+8fiNw78gDGZKxQaucNnd7m4GIIZSsHuKMPNemwe68r6vt+/y0u2pzW2QY
bDOkTcC/v5rSArZm/FKXc9gXenZqs4u0jP8IKNN3wobbZfCODNk3Ew==
-----END RSA PRIVATE KEY-----",
    r"-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAk2REAIY0nxMD9KcPDsPSe0QObFvQksK75ytcLs7eazSA8E7U
NJpguDLJS+eF+w7H19K/kB3O9eHZQNhYkdbssar7QkBluCrKdH52l14TpfIyZRyF
S45Ld2J7XlcD65TU9HQp9SQSi93USyuQfd0qop6vh1o52j0qUopUpXNxzI/GoekE
kkfn89G5xhTPgNtE1g6xlK1wPsuZe9H0j9JWKmJ3FxV2dH7v68vMgLRiyq2YGS3q
qw8yGIvxj+rh0YR9N6apCK1IwAPiEJB2pYkzwA22ia9DmXIKYHmUqkJGiRzc4qJN
8lv+Hmi2ps5OlMKphzffagtyeEC4BE7yHILuWQIDAQABAoIBABYh2zg87s/oOhLV
tyQfcY7C9Gt/Cf3PsgmPcEMzGyD7/FSZcbIIcHeYYLO+K1c8q/OTmOJaJ4ayiD39
fqc/n8E6DIqxQtT5z/bYOpSWMtsbWEfolXd4AYsGxcGvzU3lxmiCvP4rkYFhKQy0
mPjdahaLP45SlRdZUe6dCQLjJ/ZwciiThLGzD21vTC2C4HSMam03cHhb+6D4sAyE
0IZ/U7jwUbo/ofZPbjyTwfIvZZMqK360SeTFPuIGLDUqyaVGWhRyvRDb0JuaRSTx
mMd25xamNN1EgdwEIbGqj5EzhQCQlk16t70bD020tJ4XQ4ce4/4Pxc4TZgQxdFvA
oMgInBECgYEAxmmfcZTuOP+qMoNCPN9dbMKr+kARjj16P1iFKvACvEXb6d5OlNDI
DsJ6yMW7OlHzCSEN0yw/OOSUBoIXwtpm7WqiV4IItoz9wtLJWqM5zYRxhsmtz0E+
CghbMv6UZS/63wyVkYEfj0kaXNmYtZvjd7y6ssjqmkMMdzigTOE3nMUCgYEAviu0
iP6oSxMXfPBHqTMX2GW/inZWN/s47L7JcZYIngWdI+C8yFsS+sIy2ebmvydkC8kt
KTwwGk+yj1I28KjQhrOHO0t3CP4dinbBG4NfOi1szWf98HfIrTxoVQjA8WV5Upzf
DO7cbpruZ3bLk3KAKe+kfAA6kdNaynr2WeEETIUCgYBBos9ME6h60pjK/QD8gie1
wvCBaJBmLZAzRGVJPvyoq7OEOjZkpGyJ9WwI3uCA+nsbmgOoyApiF7ugK4kQvI8w
GwZ5TFr1iM6plHFnund0tUuY+z60QTD0wK7qv6z3jFfBUbho2f5GuDgwXwtViKxG
//gDDNQPE/8bsW/V/usWwQKBgCNf/+pH7MhiWcks7TelQHdJnhLEpo8tVU58wv41
GY9DnhKReKyQfHxW6ZytHhlK24pxtsvn3U7XqnCMq5mi3X9hH/PAuvjaRGaAZrWW
f31T+9xNzugPcC4BgarnwPRmmuXqNneyayDMAzMN3xqjfwHOCTvj0wFTXp0xuGfJ
usH9AoGBAKGRf6g0gjMFeEycJfNySGwgr9KNpKtv1/euEPvtsORCXuK1QNv8Y3n0
7G2lKaIxrNDBiZl0LBF18wcMn+ClJ7ozu/vYpZ6RkxvEbPvGkONu1sTI1oSSXHTQ
JbjCHyvHR7bkdAeay/AasTz11Mud+C/ZI0Sn4/Qz0nVX3oGOsqJw
-----END RSA PRIVATE KEY-----",
];

/// A key that is never in the JWKS ([`Fault::BadSignature`], [`Fault::UnknownKid`]).
const ROGUE_RSA_KEY: &str = r"-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEA2hI0HOgosS0jE4WjBZWh3a67VsXM+QnKdGPrZw2OZaG2GjKD
LoF1vSIhh/G0+2mvVXlks++B3oK8LddgN9AZiDEaqWnGlA+yAtvfSxZAUYx7EeIS
ZKKAp10idJpOIHtUtsBIjmUSPTZWZJIw3R4QR6M4et+ZWb79BYO+SalV8mJxE7EY
Vt2qrQUQokYoNmByUFiEqRRZSxeZfqfTWNhZ5gLM64HfdIKCBIYdaVNAqwiWKeea
hUDwFvdd80TMxVJn4nVUtiwkBYWSMksdj7eurcyySd7Cm54EAowmFfDimVAQOSzo
xD+P3/XYpVWn+G3uO1TQ1bdcwVqHiAB/RMoFRwIDAQABAoIBAEcuSfRlk2LB6QEm
TeA0x3Ek5+GbDxz7JSp4sw4gTqq97kL+2fMELvpdebR2IS0vghvUVBqnwyxuYB5W
fwG425yo6psB+9+4f9KPEoPf736u7D0aHgbbRENdEzIcbAQOPcipWwWf2CRC6FBL
p8eFWKsJjBYPhm7U+KIkLqi8rWFARoXhC7KJtNm+4a8nfGGqT6cJko3yt64zFn6G
arCPiFVLFTgB1x8NyA1LpAPGRsuIQdEJUNGNx6amVBaFVGcVHOikktU/8rVcfquC
3nAyMx9OKrZfpZukITc+Yt0Qz33DgYbxT6c7k24eKLwETYgGXs1e3effZV6tOwh2
R698/wECgYEA71TblYc5ZimI/3DYBCLc4gFphrRbD6ADIAwTKGETM9EtC+8Baohd
NBqMu7hYoN3MGs7V1fAX7P3tsVFYNRs/Y5uLZpX2GX4t4f+DzlwZh7CTglRE6fhv
1bTr1jsbn1KjGJxV1Zzx6Ca6YZzrd5VH9ncjPmkmKuaAPdhj/R+PtYkCgYEA6UJJ
JF8unVDkF4kD7TSPCU2soJ5OYNNaHVRdaciLmaxw6buzBCJGJxqQcEAT9rWBQKdV
hv1WqgJ31aVCDOOYCwFkJPYNvIkTSLT2SvPZeCfoEv4X4kR52boySQQluQyfkpTD
qDWHi0T9J3MZ2O2Jc8vhZq//hDYnhuOtKjCpAE8CgYAIiM0fwuewFfEVss9xLlEU
GhrKO+o3X2xdGzEfsn59zYq+rzIsu1offobgNs2qRt59YjzL2TjxMYjlVtI/ao5T
HfvVl6lj9VTrhzILDMu4Q/qunhSrBznts/ro88ijYM4CFakV6ffSYHcq/e6DoCYl
ys/N7O/4fam7Ctld8F8uiQKBgQDgV9hxGvqCY6J84FLeeYZ4tDQr5xYLGju5qcKO
U0uw6aFPrC9o8m32fh4dWAPbbIZ74HTp+A66RNVsrhzwuJUrQJNI2T4s7smVTDb1
r8KhRgB3A9uEy8dGGUbz4wFFEVcIa/widBmBYUD6CEH72boxnQ2U7gEa79rkaWXL
BjIFEQKBgQDX83m40qwTXUowbGFGCnwCwbnnTRxhVdBf2noUGEt0uluXXqSismVJ
0sUaJY+k7nFX4IfE17PJXWsGaW13Uf4CO4ek/B6bWWX+ajg2HS4Jk+RefMZHjCJb
6fvQbdcTpNzJzPiZiicuU9y4+ywXSwcseLOkQASJbNDFxIl/iqLrOA==
-----END RSA PRIVATE KEY-----";

// ---------------------------------------------------------------------------------------------
// Facebook
// ---------------------------------------------------------------------------------------------

/// The Facebook account the stub signs in as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacebookPerson {
    /// The app-scoped user id (a decimal string; Graph API ids are strings).
    pub id: String,
    /// The display name, if any.
    pub name: Option<String>,
    /// The address, if the person granted `email` and has a confirmed one (Facebook shares
    /// confirmed addresses only).
    pub email: Option<String>,
    /// The profile picture's URL, if any (`picture.data.url`).
    pub picture_url: Option<String>,
}

impl Default for FacebookPerson {
    /// Fay Book (id `10150000000000001`) with an address and no picture.
    fn default() -> Self {
        FacebookPerson {
            id: "10150000000000001".to_owned(),
            name: Some("Fay Book".to_owned()),
            email: Some("fay@facebook.example".to_owned()),
            picture_url: None,
        }
    }
}

struct FacebookGrant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    person: FacebookPerson,
}

#[derive(Default)]
struct FacebookCounters {
    exchanges: usize,
    successful_exchanges: usize,
    graph: usize,
}

struct FacebookState {
    client_id: String,
    client_secret: String,
    person: FacebookPerson,
    deny_next: bool,
    last_authorize: Option<HashMap<String, String>>,
    grants: HashMap<String, FacebookGrant>,
    /// Codes already exchanged (Facebook tells a used code from an unknown one).
    used_codes: std::collections::HashSet<String>,
    tokens: HashMap<String, FacebookPerson>,
    counters: FacebookCounters,
}

/// Facebook Login and the Graph API's `/me`, in process.
///
/// - `GET /dialog/oauth` auto-approves as [`FacebookStub::set_person`]'s person (or, after
///   [`FacebookStub::deny_next`], redirects with `error=access_denied`,
///   `error_reason=user_denied`, `error_description=Permissions error.`). A wrong `client_id`,
///   a missing `redirect_uri`, missing PKCE or a `response_type` other than `code` answers
///   `400`.
/// - `POST /oauth/access_token` takes the client's credentials in the form body (or HTTP Basic)
///   and answers `200 {"access_token", "token_type": "bearer", "expires_in"}`; every failure
///   (client credentials, `grant_type`, unknown or used code, `redirect_uri` or
///   `code_verifier` mismatch) is a Graph API error: `400 {"error": {"message", "type":
///   "OAuthException", "code": 100, "fbtrace_id"}}`.
/// - `GET /graph/me?fields=..` with `Authorization: Bearer`: the requested fields that have a
///   value (`id`, `name`, `email`, `picture`); `fields` must name `id`. A missing or unknown
///   token is `400` with Graph error code `190`.
pub struct FacebookStub {
    state: Arc<Mutex<FacebookState>>,
    server: Running,
}

impl FacebookStub {
    /// Starts a stub that knows one app, `client_id` (the app id) / `client_secret` (the app
    /// secret), and signs in as [`FacebookPerson::default`] until told otherwise.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let state = Arc::new(Mutex::new(FacebookState {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            person: FacebookPerson::default(),
            deny_next: false,
            last_authorize: None,
            grants: HashMap::new(),
            used_codes: std::collections::HashSet::new(),
            tokens: HashMap::new(),
            counters: FacebookCounters::default(),
        }));
        let data = web::Data::from(state.clone());
        let server = Running::start(move |config| {
            config
                .app_data(data.clone())
                .route("/dialog/oauth", web::get().to(facebook_authorize))
                .route("/oauth/access_token", web::post().to(facebook_access_token))
                .route("/graph/me", web::get().to(facebook_me));
        });
        FacebookStub { state, server }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.server.base_url
    }

    /// `<base>/dialog/oauth` (Facebook's `https://www.facebook.com/v19.0/dialog/oauth`).
    pub fn authorize_url(&self) -> String {
        format!("{}/dialog/oauth", self.server.base_url)
    }

    /// `<base>/oauth/access_token` (`https://graph.facebook.com/v19.0/oauth/access_token`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth/access_token", self.server.base_url)
    }

    /// The Graph API base, `<base>/graph` (`https://graph.facebook.com/v19.0`); `/me` is under it.
    pub fn graph_base_url(&self) -> String {
        format!("{}/graph", self.server.base_url)
    }

    /// The account the next authorizations approve as (codes and tokens already issued keep theirs).
    pub fn set_person(&self, person: FacebookPerson) {
        lock(&self.state).person = person;
    }

    /// Makes the next authorization request end in `error=access_denied` (the person said no).
    pub fn deny_next(&self) {
        lock(&self.state).deny_next = true;
    }

    /// The query of the last `GET /dialog/oauth`, valid or not.
    pub fn last_authorize_query(&self) -> Option<HashMap<String, String>> {
        lock(&self.state).last_authorize.clone()
    }

    /// How many `POST /oauth/access_token` requests arrived.
    pub fn token_exchanges(&self) -> usize {
        lock(&self.state).counters.exchanges
    }

    /// How many of them issued an access token.
    pub fn successful_token_exchanges(&self) -> usize {
        lock(&self.state).counters.successful_exchanges
    }

    /// How many `GET /graph/me` requests arrived, answered or not.
    pub fn graph_requests(&self) -> usize {
        lock(&self.state).counters.graph
    }

    /// Stops the server now (dropping the stub stops it too, without waiting).
    pub async fn stop(&self) {
        self.server.stop().await;
    }
}

type FacebookData = web::Data<Mutex<FacebookState>>;

async fn facebook_authorize(state: FacebookData, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let query = query.into_inner();
    let mut state = lock(&state);
    state.last_authorize = Some(query.clone());
    let request = match check_authorize(&query, &state.client_id) {
        Ok(request) => request,
        Err(response) => return response,
    };
    if query.get("response_type").is_some_and(|kind| kind != "code") {
        return bad_request("response_type must be code");
    }
    let mut params = Vec::new();
    if std::mem::take(&mut state.deny_next) {
        params.push(("error", "access_denied".to_owned()));
        params.push(("error_reason", "user_denied".to_owned()));
        params.push(("error_description", "Permissions error.".to_owned()));
    } else {
        let code = random("fbcode_");
        let grant = FacebookGrant {
            client_id: state.client_id.clone(),
            redirect_uri: request.redirect_uri,
            challenge: request.challenge,
            person: state.person.clone(),
        };
        state.grants.insert(code.clone(), grant);
        params.push(("code", code));
    }
    if let Some(value) = query.get("state") {
        params.push(("state", value.clone()));
    }
    redirect_with(request.redirect, &params)
}

/// A Graph API error: `{"error": {"message", "type": "OAuthException", "code", "fbtrace_id"}}`.
fn graph_error(code: u16, message: &str) -> HttpResponse {
    let mut response = HttpResponse::BadRequest();
    if code == 190 {
        response.insert_header((
            header::WWW_AUTHENTICATE,
            format!("OAuth \"Facebook Platform\" \"invalid_token\" \"{message}\""),
        ));
    }
    response.json(json!({
        "error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": random("Stub")},
    }))
}

async fn facebook_access_token(state: FacebookData, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let form = parse_form(&body);
    let mut state = lock(&state);
    state.counters.exchanges += 1;
    match facebook_exchange(&mut state, &request, &form) {
        Ok(access_token) => {
            state.counters.successful_exchanges += 1;
            HttpResponse::Ok()
                .json(json!({"access_token": access_token, "token_type": "bearer", "expires_in": 5183944}))
        }
        Err(message) => graph_error(100, message),
    }
}

/// The access token issued, or the Graph error's message.
fn facebook_exchange(
    state: &mut FacebookState,
    request: &HttpRequest,
    form: &HashMap<String, String>,
) -> Result<String, &'static str> {
    match client_credentials(request, form) {
        Some((id, _)) if id != state.client_id => {
            return Err("Error validating application. Invalid application ID.");
        }
        Some((_, secret)) if secret == state.client_secret => {}
        _ => return Err("Error validating client secret."),
    }
    if form.get("grant_type").is_some_and(|grant_type| grant_type != "authorization_code") {
        return Err("Unsupported grant_type.");
    }
    let code = form.get("code").ok_or("Missing authorization code.")?;
    // Single use: a code is gone once presented with the right client credentials.
    let Some(grant) = state.grants.remove(code) else {
        return Err(if state.used_codes.contains(code) {
            "This authorization code has been used."
        } else {
            "Invalid verification code format."
        });
    };
    state.used_codes.insert(code.clone());
    if grant.client_id != state.client_id {
        return Err("This authorization code was issued to another app.");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return Err(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you \
             used in the OAuth dialog request",
        );
    }
    if let Some(why) = pkce_mismatch(form.get("code_verifier"), &grant.challenge) {
        return Err(why);
    }
    let token = random("EAAstub");
    state.tokens.insert(token.clone(), grant.person);
    Ok(token)
}

/// The field names of a Graph `fields` parameter, without modifiers or nested selections
/// (`picture.type(large){url}` is `picture`).
fn graph_fields(fields: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in fields.char_indices().chain([(fields.len(), ',')]) {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                let field = &fields[start..at];
                let name = field.split(['.', '{', '(']).next().unwrap_or_default().trim();
                if !name.is_empty() {
                    names.push(name);
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    names
}

async fn facebook_me(
    state: FacebookData,
    request: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let mut state = lock(&state);
    state.counters.graph += 1;
    let Some(person) = authorization(&request, "bearer").and_then(|token| state.tokens.get(token)) else {
        return graph_error(190, "Invalid OAuth access token.");
    };
    let fields = graph_fields(query.get("fields").map(String::as_str).unwrap_or_default());
    if !fields.contains(&"id") {
        return graph_error(100, "The stub needs fields to include id.");
    }
    let mut body = json!({"id": person.id});
    for field in fields {
        match field {
            "name" => {
                if let Some(name) = &person.name {
                    body["name"] = json!(name);
                }
            }
            "email" => {
                if let Some(email) = &person.email {
                    body["email"] = json!(email);
                }
            }
            "picture" => {
                if let Some(url) = &person.picture_url {
                    body["picture"] = json!({"data": {"url": url, "height": 50, "width": 50, "is_silhouette": false}});
                }
            }
            _ => {}
        }
    }
    HttpResponse::Ok().json(body)
}
