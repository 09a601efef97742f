//! `/api/auth/token` and `/api/auth/revoke`: the OAuth 2.0 style endpoints for API clients.
//!
//! Parameters come as `application/x-www-form-urlencoded` or as a JSON object. Clients are
//! public: `client_id`, `scope` and any other unknown parameter are ignored, and no client
//! secret is asked for. Every error of these two endpoints is in the RFC 6749 §5 shape,
//! `{"error": "...", "error_description": "..."}`, never problem+json.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, Route, web};
use portcullis_application::ports::PortError;
use portcullis_application::{
    GetCurrentUser, IssuedTokens, LoginCommand, LoginError, LogoutCommand, LogoutError, RefreshCommand, RefreshError,
};
use portcullis_domain::{RefreshTokenSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::{BodyReadError, MAX_BODY_BYTES, declared_length, read_limited};
use crate::client_ip::session_metadata;
use crate::error_mapping::RETRY_AFTER_SECS;
use crate::state::AppState;

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/api/auth/token";
/// The revocation endpoint's path.
pub const REVOKE_PATH: &str = "/api/auth/revoke";

/// Whether `path` is one of the OAuth endpoints, whose errors are in the RFC 6749 §5 shape.
pub fn is_oauth_path(path: &str) -> bool {
    path == TOKEN_PATH || path == REVOKE_PATH
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// An error of the OAuth endpoints: status, RFC 6749 §5 `error` code, a sentence, and
/// optional `Retry-After` / `Allow` headers.
#[derive(Debug, Clone)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
    allow: Option<&'static str>,
}

/// The body of an OAuth error (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_grant`, `unsupported_grant_type`, `rate_limited`,
    /// `csrf_failed`, `temporarily_unavailable` or `server_error`.
    pub error: String,
    /// A sentence for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

impl OAuthError {
    /// The sentence for people.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// An error with a status, an RFC 6749 `error` code and a description.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), retry_after: None, allow: None }
    }

    /// `400 invalid_request`: a missing, repeated or malformed parameter, or an unusable body.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `400 invalid_grant`: wrong credentials, a disabled account, or a refresh token that
    /// is unknown, expired, revoked or reused after the grace window.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// `400 unsupported_grant_type`.
    pub fn unsupported_grant_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant_type must be password or refresh_token.",
        )
    }

    /// `429 rate_limited` with `Retry-After` (seconds).
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many attempts; try again later.");
        error.retry_after = Some(retry_after.max(1));
        error
    }

    /// `403 csrf_failed`: a state change from a browser page of an origin that is not allowed.
    pub fn csrf_failed() -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf_failed", "Requests from this origin are not allowed.")
    }

    /// `503 temporarily_unavailable` with `Retry-After`.
    pub fn temporarily_unavailable(retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The service is busy or its database is unreachable; try again shortly.",
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// `500 server_error`; the cause is logged, never sent.
    pub fn server_error(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Something went wrong on our side.")
    }

    /// `405` with `Allow`, in the OAuth shape (`invalid_request`).
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::invalid_request(format!("This path allows only: {allow}."));
        error.status = StatusCode::METHOD_NOT_ALLOWED;
        error.allow = Some(allow);
        error
    }

    /// The RFC 6749 `error` code.
    pub fn error(&self) -> &'static str {
        self.error
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error, self.description)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = OAuthErrorBody { error: self.error.to_owned(), error_description: Some(self.description.clone()) };
        let mut response = HttpResponse::build(self.status);
        no_store(&mut response);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        response.json(body)
    }
}

fn no_store(response: &mut actix_web::HttpResponseBuilder) {
    response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    response.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}

impl From<PortError> for OAuthError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                OAuthError::temporarily_unavailable(RETRY_AFTER_SECS)
            }
            PortError::Internal(cause) => OAuthError::server_error(&cause),
        }
    }
}

impl From<actix_web::error::BlockingError> for OAuthError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        OAuthError::server_error(&error)
    }
}

/// A failed password grant as the token endpoint answers it. Every way a login can fail
/// because of who is asking is `invalid_grant`; a refusal to try (rate limit, lockout) is
/// `429 rate_limited` with `Retry-After`. Extend this match when `LoginError` grows.
pub fn oauth_error_for_login(error: LoginError) -> OAuthError {
    match error {
        LoginError::InvalidCredentials => OAuthError::invalid_grant("The username or password is incorrect."),
        LoginError::AccountDisabled => OAuthError::invalid_grant("This account has been disabled."),
        LoginError::Locked { retry_after_secs } => OAuthError::rate_limited(retry_after_secs),
        LoginError::Port(port) => port.into(),
    }
}

/// A failed refresh-token grant as the token endpoint answers it (all `invalid_grant`, but
/// a refusal to try, which is `429 rate_limited`). Extend this match when `RefreshError` grows.
pub fn oauth_error_for_refresh(error: RefreshError) -> OAuthError {
    match error {
        RefreshError::InvalidToken => OAuthError::invalid_grant("The refresh token is invalid or expired."),
        RefreshError::SessionRevoked => OAuthError::invalid_grant(
            "This refresh token was already used; the session has been ended. Please log in again.",
        ),
        RefreshError::AccountDisabled => OAuthError::invalid_grant("This account has been disabled."),
        RefreshError::Port(port) => port.into(),
    }
}

fn oauth_error_for_logout(error: LogoutError) -> OAuthError {
    match error {
        LogoutError::Port(port) => port.into(),
    }
}

/// The default service of the OAuth resources: `405` with `Allow`, in the OAuth shape.
pub fn not_allowed(allow: &'static str) -> Route {
    web::route().to(move || async move { OAuthError::method_not_allowed(allow).error_response() })
}

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
enum Param {
    Value(String),
    Repeated,
    NotAString,
}

/// The parameters of an OAuth request, from a form-encoded or JSON body (at most 64 KiB).
/// Unknown parameters are kept but never read; a parameter sent without a value counts as
/// absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct OAuthParams(HashMap<String, Param>);

enum BodyKind {
    Form,
    Json,
}

fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    let media = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?.split(';').next()?.trim().to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else if media == "application/json" || (media.starts_with("application/") && media.ends_with("+json")) {
        Some(BodyKind::Json)
    } else {
        None
    }
}

/// The description of the error for a body over 64 KiB.
pub(crate) const TOO_LARGE: &str = "The body is larger than 64 KiB.";

fn too_large() -> OAuthError {
    OAuthError::invalid_request(TOO_LARGE)
}

impl OAuthParams {
    fn from_form(body: &[u8]) -> Self {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            params
                .entry(name.into_owned())
                .and_modify(|param| *param = Param::Repeated)
                .or_insert_with(|| Param::Value(value.into_owned()));
        }
        Self(params)
    }

    fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|_| OAuthError::invalid_request("The body is not valid JSON."))?;
        let Value::Object(object) = value else {
            return Err(OAuthError::invalid_request("The body must be a JSON object."));
        };
        let params = object
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| {
                let param = match value {
                    Value::String(text) => Param::Value(text),
                    _ => Param::NotAString,
                };
                (name, param)
            })
            .collect();
        Ok(Self(params))
    }

    /// Parameter `name`: `Ok(None)` when absent or empty.
    ///
    /// # Errors
    /// `invalid_request` when it is repeated or (JSON) not a string.
    pub fn optional(&self, name: &str) -> Result<Option<String>, OAuthError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Value(value)) if value.is_empty() => Ok(None),
            Some(Param::Value(value)) => Ok(Some(value.clone())),
            Some(Param::Repeated) => Err(OAuthError::invalid_request(format!("The parameter {name} is repeated."))),
            Some(Param::NotAString) => {
                Err(OAuthError::invalid_request(format!("The parameter {name} must be a string.")))
            }
        }
    }

    /// Parameter `name`, which must be present and not empty.
    ///
    /// # Errors
    /// `invalid_request` when it is missing, empty, repeated or (JSON) not a string.
    pub fn required(&self, name: &str) -> Result<String, OAuthError> {
        self.optional(name)?.ok_or_else(|| OAuthError::invalid_request(format!("The parameter {name} is required.")))
    }
}

impl FromRequest for OAuthParams {
    type Error = OAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, OAuthError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = body_kind(req);
        let declared = declared_length(req);
        let payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let Some(kind) = kind else {
                return Err(OAuthError::invalid_request(
                    "Send the parameters as application/x-www-form-urlencoded or application/json.",
                ));
            };
            let body = read_limited(declared, payload).await.map_err(|error| match error {
                BodyReadError::TooLarge => too_large(),
                BodyReadError::Unreadable => OAuthError::invalid_request("The body could not be read."),
            })?;
            match kind {
                BodyKind::Form => Ok(OAuthParams::from_form(&body)),
                BodyKind::Json => OAuthParams::from_json(&body),
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// OpenAPI shapes
// ---------------------------------------------------------------------------------------

/// `POST /api/auth/token` parameters (form-encoded or JSON). Unknown parameters
/// (`client_id`, `scope`, …) are ignored.
#[derive(ToSchema)]
pub struct TokenRequest {
    /// `password` or `refresh_token`.
    pub grant_type: String,
    /// The email (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    pub password: Option<String>,
    /// The refresh token (refresh_token grant).
    pub refresh_token: Option<String>,
}

/// `POST /api/auth/revoke` parameters (form-encoded or JSON), RFC 7009.
#[derive(ToSchema)]
pub struct RevokeRequest {
    /// The refresh token to revoke (an access token ends its session too).
    pub token: String,
    /// Accepted and ignored.
    pub token_type_hint: Option<String>,
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT), sent as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The single-use refresh token for the next `refresh_token` grant.
    pub refresh_token: String,
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

fn token_response(issued: &IssuedTokens) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    response.json(TokenResponse {
        access_token: issued.access_token.token.expose().to_owned(),
        token_type: "Bearer",
        expires_in: issued.access_token.expires_in,
        refresh_token: issued.refresh_token.expose().to_owned(),
    })
}

/// Issue tokens to an API client: `grant_type=password` (a login; counts toward the
/// lockout like one) or `grant_type=refresh_token` (a rotation, same rules as
/// `/api/auth/refresh`). Errors are RFC 6749 §5, never problem+json.
#[utoipa::path(post, path = "/api/auth/token", tag = "oauth",
    request_body(description = "grant_type=password&username=<email>&password=… or grant_type=refresh_token&refresh_token=…",
        content(
            (TokenRequest = "application/x-www-form-urlencoded"),
            (TokenRequest = "application/json"),
        )),
    responses(
        (status = 200, description = "Tokens issued (Cache-Control: no-store, Pragma: no-cache)", body = TokenResponse),
        (status = 400, description = "invalid_request (missing, repeated or malformed parameters; another content type; a body over 64 KiB; malformed JSON), unsupported_grant_type, or invalid_grant (wrong credentials, a disabled account, an unknown, expired or revoked refresh token, or a reused one after the grace window, which also ends the session)", body = OAuthErrorBody),
        (status = 403, description = "csrf_failed: sent from a browser page of an origin that is not allowed", body = OAuthErrorBody),
        (status = 429, description = "rate_limited: too many token requests from this IP, or the account is locked after too many failed logins in a row", body = OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "server_error", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable", body = OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: OAuthParams,
) -> Result<HttpResponse, OAuthError> {
    let grant_type = params.required("grant_type")?;
    let issued = match grant_type.as_str() {
        "password" => {
            let username = params.optional("username")?;
            let password = params.optional("password")?;
            let (Some(email), Some(password)) = (username, password) else {
                return Err(OAuthError::invalid_request("The password grant needs username and password."));
            };
            let command = LoginCommand {
                email,
                password: SecretString::new(password),
                metadata: session_metadata(&req, &state.settings.trusted_proxies),
            };
            let handler = Arc::clone(&state.use_cases.login);
            let outcome = crate::blocking::run(move || handler.handle(command)).await?;
            super::auth::record_login(&state, &outcome);
            outcome.map_err(oauth_error_for_login)?
        }
        "refresh_token" => {
            let token = params.required("refresh_token")?;
            let command = RefreshCommand { refresh_token: RefreshTokenSecret::presented(token) };
            let handler = Arc::clone(&state.use_cases.refresh);
            let outcome = crate::blocking::run(move || handler.handle(command)).await?;
            super::auth::record_refresh(&state, &outcome);
            outcome.map_err(oauth_error_for_refresh)?
        }
        _ => return Err(OAuthError::unsupported_grant_type()),
    };
    Ok(token_response(&issued))
}

/// Revoke a refresh token (RFC 7009): its session ends. Always `200` for a token, known or
/// not; an access token ends its session too (it stays valid until it expires, as every
/// access token does).
#[utoipa::path(post, path = "/api/auth/revoke", tag = "oauth",
    request_body(description = "token=<refresh token> (token_type_hint is accepted and ignored)",
        content(
            (RevokeRequest = "application/x-www-form-urlencoded"),
            (RevokeRequest = "application/json"),
        )),
    responses(
        (status = 200, description = "Revoked, or there was nothing to revoke (empty body)"),
        (status = 400, description = "invalid_request (a missing token, another content type, a body over 64 KiB, malformed JSON)", body = OAuthErrorBody),
        (status = 403, description = "csrf_failed: sent from a browser page of an origin that is not allowed", body = OAuthErrorBody),
        (status = 500, description = "server_error", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable", body = OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn revoke(state: web::Data<AppState>, params: OAuthParams) -> Result<HttpResponse, OAuthError> {
    let token = params.required("token")?;
    let verifier = &*state.use_cases.verify_access_token;
    let session_id = verifier.handle(GetCurrentUser { access_token: &token }).ok().map(|claims| claims.session_id);
    let command = LogoutCommand { refresh_token: Some(RefreshTokenSecret::presented(token)), session_id };
    let handler = Arc::clone(&state.use_cases.logout);
    crate::blocking::run(move || handler.handle(command)).await?.map_err(oauth_error_for_logout)?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.finish())
}
