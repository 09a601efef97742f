//! `/api/auth/mfa/*`: TOTP on and off, recovery codes, and the second step of a sign-in.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::{MfaVerifyCommand, ValidationErrors};
use portcullis_domain::{OpaqueSecret, RecoveryCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonObject;
use crate::client_ip::session_metadata;
use crate::cookies::{self, MFA_COOKIE};
use crate::dto::SessionBody;
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// A pending TOTP secret.
#[derive(Serialize, ToSchema)]
pub struct TotpEnrollmentBody {
    /// The secret, base32, to type into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/…` with the secret, issuer, `algorithm=SHA1`, `digits=6`, `period=30`.
    pub otpauth_url: String,
    /// The same URL as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Ten recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Each works once instead of a TOTP code.
    pub recovery_codes: Vec<String>,
}

/// A body holding one code.
#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A TOTP code (6 digits) or, where allowed, a recovery code.
    pub code: String,
}

/// Body of `POST /api/auth/mfa/verify`.
#[derive(Deserialize, ToSchema)]
pub struct MfaVerifyRequest {
    /// The second-step token, when not sent as the `mfa_token` cookie (API clients).
    pub mfa_token: Option<String>,
    /// A TOTP code or a recovery code.
    pub code: String,
}

fn codes_body(codes: &[RecoveryCode]) -> RecoveryCodesBody {
    RecoveryCodesBody { recovery_codes: codes.iter().map(|code| code.expose().to_owned()).collect() }
}

/// The `code` field of `body`, or `422` naming it.
fn required_code(body: &JsonObject) -> Result<String, ApiError> {
    let mut errors = ValidationErrors::new();
    let code = body.required_string("code", &mut errors);
    code.ok_or_else(|| ApiError::validation(errors))
}

/// The SVG QR code of `text`.
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|error| ApiError::internal(&error))?;
    Ok(code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
}

/// Begin turning TOTP on: a pending secret (again: a new one).
#[utoipa::path(post, path = "/api/auth/mfa/totp", tag = "mfa",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "A pending secret; TOTP is on only after `/api/auth/mfa/totp/confirm`", body = TotpEnrollmentBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key: people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict: TOTP is already on", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn begin_totp(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.second_factor);
    let user_id = auth.claims.user.user_id;
    let enrollment = crate::blocking::run(move || handler.begin_totp(user_id)).await??;
    let qr_svg = qr_svg(enrollment.otpauth_url.expose())?;
    Ok(HttpResponse::Ok().json(TotpEnrollmentBody {
        secret: enrollment.secret.expose().to_owned(),
        otpauth_url: enrollment.otpauth_url.expose().to_owned(),
        qr_svg,
    }))
}

/// Turn TOTP on with a first code: every other session ends; the recovery codes are shown once.
#[utoipa::path(post, path = "/api/auth/mfa/totp/confirm", tag = "mfa",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = CodeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "TOTP is on; ten recovery codes, stored only as hashes", body = RecoveryCodesBody),
        (status = 400, description = "invalid_code, or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "conflict: no pending secret (begin first), or TOTP is already on", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let code = required_code(&body)?;
    let handler = Arc::clone(&state.use_cases.second_factor);
    let (user_id, session_id) = (auth.claims.user.user_id, auth.claims.session_id);
    let codes = crate::blocking::run(move || handler.confirm_totp(user_id, session_id, &code)).await??;
    Ok(HttpResponse::Ok().json(codes_body(&codes)))
}

/// Turn TOTP off with a TOTP or recovery code; the recovery codes go too.
#[utoipa::path(delete, path = "/api/auth/mfa/totp", tag = "mfa",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = CodeRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 400, description = "invalid_code, or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: TOTP is not on", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn disable_totp(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let code = required_code(&body)?;
    let handler = Arc::clone(&state.use_cases.second_factor);
    let user_id = auth.claims.user.user_id;
    crate::blocking::run(move || handler.disable_totp(user_id, &code)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Ten new recovery codes after a TOTP or recovery code; the old ones stop working.
#[utoipa::path(post, path = "/api/auth/mfa/recovery-codes", tag = "mfa",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = CodeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "New recovery codes, shown this once", body = RecoveryCodesBody),
        (status = 400, description = "invalid_code, or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: TOTP is not on", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn new_recovery_codes(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let code = required_code(&body)?;
    let handler = Arc::clone(&state.use_cases.second_factor);
    let user_id = auth.claims.user.user_id;
    let codes = crate::blocking::run(move || handler.new_recovery_codes(user_id, &code)).await??;
    Ok(HttpResponse::Ok().json(codes_body(&codes)))
}

/// Finish a sign-in with the second factor: exactly as login answers.
#[utoipa::path(post, path = "/api/auth/mfa/verify", tag = "mfa",
    request_body(content = MfaVerifyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in: the three cookies and `{user, expires_in}` as login; `amr` has `otp` and `mfa`; the `mfa_token` cookie is cleared", body = SessionBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, description = "invalid_code (wrong or spent; counts toward the token's five and the account lockout), or unauthorized (no, a spent, an expired or a dead mfa_token)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::error_responses::AccountDisabled),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn verify(req: HttpRequest, state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let code = body.required_string("code", &mut errors);
    let from_body = body.optional_string("mfa_token", &mut errors).flatten();
    let Some(code) = code else { return Err(ApiError::validation(errors)) };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let from_cookie = req.cookie(MFA_COOKIE).map(|cookie| cookie.value().to_owned());
    let Some(mfa_token) = from_body.or(from_cookie).filter(|token| !token.is_empty()) else {
        return Err(ApiError::unauthorized(false));
    };
    let command = MfaVerifyCommand {
        mfa_token: OpaqueSecret::presented(mfa_token),
        code,
        metadata: session_metadata(&req, &state.settings.trusted_proxies),
    };
    let handler = Arc::clone(&state.use_cases.mfa_verify);
    let issued = crate::blocking::run(move || handler.verify(command)).await??;
    state.metrics.login(true);
    Ok(super::auth::session_response_with(&state, &issued, |response| cookies::clear_mfa(response, &state.settings)))
}
