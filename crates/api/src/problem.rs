//! RFC 9457 problem details: the one shape of every error (but the OAuth endpoints').

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portcullis_application::{FieldError, ValidationErrors};
use serde::Serialize;

/// The content type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer: status, stable code, a sentence, optional per-field errors and headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    www_authenticate: Option<&'static str>,
    allow: Option<Box<str>>,
    /// Whether the body lists the second-step methods (`mfa_required`).
    second_step: bool,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldErrorBody<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    methods: Option<&'static [&'static str]>,
}

#[derive(Serialize)]
struct FieldErrorBody<'a> {
    field: &'a str,
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with a status, a stable code and a detail sentence.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: None,
            allow: None,
            second_step: false,
        }
    }

    /// `401 mfa_required` with `"methods": ["totp", "recovery_code"]`: the first factor was
    /// right and the second step is next.
    pub fn mfa_required() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "mfa_required",
            "Enter a code from your authenticator app, or a recovery code, to finish signing in.",
        );
        error.second_step = true;
        error
    }

    /// `422 validation_failed` with one entry per bad field.
    pub fn validation(errors: ValidationErrors) -> Self {
        let mut error =
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "The request has invalid fields.");
        error.errors = errors.errors().to_vec();
        error
    }

    /// `422 weak_password`: `field` holds a password that is too easy to guess; `reason`
    /// (a sentence for people) is both the detail and the one entry of `errors`.
    pub fn weak_password(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut error = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "weak_password", reason.clone());
        error.errors = vec![FieldError { field: field.to_owned(), code: "weak_password".to_owned(), message: reason }];
        error
    }

    /// `400 malformed_body`.
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_body", detail)
    }

    /// `401` for a missing (`presented = false`) or bad token; carries `WWW-Authenticate`.
    pub fn unauthorized(presented: bool) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication is required.");
        error.www_authenticate = Some(if presented { r#"Bearer error="invalid_token""# } else { "Bearer" });
        if presented {
            error.detail = "The token is invalid.".into();
        }
        error
    }

    /// `401 invalid_credentials` (with the `WWW-Authenticate` challenge every 401 carries).
    pub fn invalid_credentials() -> Self {
        Self::invalid_credentials_saying("The email or password is incorrect.")
    }

    /// `401 invalid_credentials` with its own sentence (a refused passkey).
    pub fn invalid_credentials_saying(detail: &str) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", detail);
        error.www_authenticate = Some("Bearer");
        error
    }

    /// `401 token_expired`.
    pub fn token_expired() -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, "token_expired", "The access token has expired.");
        error.www_authenticate = Some(r#"Bearer error="invalid_token", error_description="the access token expired""#);
        error
    }

    /// `401 session_revoked`.
    pub fn session_revoked() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "session_revoked",
            "This refresh token was already used; the session has been ended. Please log in again.",
        );
        error.www_authenticate = Some(r#"Bearer error="invalid_token""#);
        error
    }

    /// `403 csrf_failed`.
    pub fn csrf_failed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf_failed", detail)
    }

    /// `403 forbidden`: authenticated, but not allowed to do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// `409 conflict`: the change would break a rule about the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// `400 invalid_token`: a mailed token that is unknown, used or expired.
    pub fn invalid_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "This link is invalid, already used or expired; ask for a new one.",
        )
    }

    /// `503 unavailable` with `Retry-After`.
    pub fn unavailable(retry_after: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is busy or its database is unreachable; try again shortly.",
        );
        error.retry_after = Some(retry_after);
        error
    }

    /// `429 rate_limited` with `Retry-After` (whole seconds, at least 1): a per-IP limit or
    /// an account lockout.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let retry_after_secs = retry_after_secs.max(1);
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many attempts; try again in {retry_after_secs} seconds."),
        );
        error.retry_after = Some(retry_after_secs);
        error
    }

    /// `500 internal`; the cause is logged, never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side.")
    }

    /// `404 not_found`.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "There is nothing at this path.")
    }

    /// `405 method_not_allowed` with `Allow`.
    pub fn method_not_allowed(allow: &str) -> Self {
        let mut error =
            Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", format!("This path allows only: {allow}."));
        error.allow = Some(allow.into());
        error
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

fn title(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ProblemBody {
            kind: "about:blank",
            title: title(self.status),
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            errors: (!self.errors.is_empty()).then(|| {
                self.errors
                    .iter()
                    .map(|e| FieldErrorBody { field: &e.field, code: &e.code, message: &e.message })
                    .collect()
            }),
            methods: self.second_step.then_some(&["totp", "recovery_code"]),
        };
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if let Some(challenge) = self.www_authenticate {
            response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge)));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, &**allow));
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}
