//! The RFC 6749 §5 error shape of the OAuth endpoints, and how use-case errors map to it.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portcullis_application::ports::PortError;
use portcullis_application::{LoginError, LogoutError, MfaVerifyError, RefreshError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error_mapping::RETRY_AFTER_SECS;

/// An error of the OAuth endpoints: status, RFC 6749 §5 `error` code, a sentence, and
/// optional `Retry-After` / `Allow` headers.
#[derive(Debug, Clone)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
    allow: Option<Box<str>>,
    mfa_token: Option<String>,
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
    /// With `mfa_required`: the token the MFA grant (`urn:portcullis:grant-type:mfa-otp`) takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

impl OAuthError {
    /// The sentence for people.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// An error with a status, an RFC 6749 `error` code and a description.
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), retry_after: None, allow: None, mfa_token: None }
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
            "The grant_type must be password, refresh_token or urn:portcullis:grant-type:mfa-otp.",
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
    pub fn method_not_allowed(allow: &str) -> Self {
        let mut error = Self::invalid_request(format!("This path allows only: {allow}."));
        error.status = StatusCode::METHOD_NOT_ALLOWED;
        error.allow = Some(allow.into());
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
        let body = OAuthErrorBody {
            error: self.error.to_owned(),
            error_description: Some(self.description.clone()),
            mfa_token: self.mfa_token.clone(),
        };
        let mut response = HttpResponse::build(self.status);
        no_store(&mut response);
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, &**allow));
        }
        response.json(body)
    }
}

pub(super) fn no_store(response: &mut actix_web::HttpResponseBuilder) {
    response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    response.insert_header((header::PRAGMA, HeaderValue::from_static("no-cache")));
}

impl From<PortError> for OAuthError {
    fn from(error: PortError) -> Self {
        let cause = error.detail();
        if error.is_unavailable() {
            tracing::warn!(%cause, "dependency unavailable");
            OAuthError::temporarily_unavailable(RETRY_AFTER_SECS)
        } else {
            OAuthError::server_error(&cause)
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
        LoginError::MfaRequired { mfa_token } => {
            let mut error = OAuthError::new(
                StatusCode::BAD_REQUEST,
                "mfa_required",
                "A second factor is required: send grant_type=urn:portcullis:grant-type:mfa-otp with mfa_token and otp.",
            );
            error.mfa_token = Some(mfa_token.expose().to_owned());
            error
        }
        LoginError::Port(port) => port.into(),
    }
}

/// A failed MFA grant: a wrong or spent code and a dead token are `invalid_grant`; a locked
/// account `429 rate_limited`.
pub fn oauth_error_for_mfa(error: MfaVerifyError) -> OAuthError {
    match error {
        MfaVerifyError::InvalidCode => OAuthError::invalid_grant("The one-time code is not valid."),
        MfaVerifyError::Expired => {
            OAuthError::invalid_grant("The mfa_token is unknown, spent or expired; sign in again.")
        }
        MfaVerifyError::AccountDisabled => OAuthError::invalid_grant("This account has been disabled."),
        MfaVerifyError::Locked { retry_after_secs } => OAuthError::rate_limited(retry_after_secs),
        MfaVerifyError::Port(port) => port.into(),
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

pub(super) fn oauth_error_for_logout(error: LogoutError) -> OAuthError {
    match error {
        LogoutError::Port(port) => port.into(),
    }
}
