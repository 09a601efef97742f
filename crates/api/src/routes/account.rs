//! The account's lifecycle: password change, forgot and reset; email verification and
//! resend; deleting the account.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use portcullis_application::ValidationErrors;
use portcullis_application::commands::delete_account::DeleteAccountCommand;
use portcullis_application::commands::email_verification::{ResendVerificationCommand, VerifyEmailCommand};
use portcullis_application::commands::passwords::{ChangePasswordCommand, ForgotPasswordCommand, ResetPasswordCommand};
use portcullis_domain::{Email, SecretString};

use crate::body::JsonObject;
use crate::cookies;
use crate::dto::UserInfoBody;
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// The required string fields of a body, all present, or `422` naming every missing one.
fn required_fields<const N: usize>(body: &JsonObject, fields: [&str; N]) -> Result<[String; N], ApiError> {
    let mut errors = ValidationErrors::new();
    let values = fields.map(|field| body.required_string(field, &mut errors));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    Ok(values.map(Option::unwrap_or_default))
}

/// Change the caller's password. Every other session of the caller ends; this one stays.
#[utoipa::path(post, path = "/api/auth/password/change", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = crate::dto::ChangePasswordRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Changed; every other session has ended"),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "invalid_credentials (the current password is wrong), reauthentication_required (no password yet and the session signed in more than PORTCULLIS_REAUTH_SECS ago), csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed (`current_password` missing for an account that has a password) or weak_password (field `new_password`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn change_password(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let current = body.optional_string("current_password", &mut errors).flatten();
    let new = body.required_string("new_password", &mut errors);
    let (false, Some(new)) = (!errors.is_empty(), new) else {
        return Err(ApiError::validation(errors));
    };
    let command = ChangePasswordCommand {
        user_id: auth.claims.user.user_id,
        session: auth.claims.session_auth(),
        current_password: current.map(SecretString::new),
        new_password: SecretString::new(new),
    };
    let handler = Arc::clone(&state.use_cases.change_password);
    crate::blocking::run(move || handler.handle(command)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password-reset mail. The answer is the same, and comes as fast, whether or not
/// the address belongs to an account: the work happens after the answer.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "account",
    request_body(content = crate::dto::ForgotPasswordRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted; if the address has an account, a reset link (valid 30 minutes) is mailed"),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed (not an email address)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 429, response = crate::error_responses::RateLimited),
    ))]
pub async fn forgot_password(state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let [email] = required_fields(&body, ["email"])?;
    let mut errors = ValidationErrors::new();
    if errors.check("email", Email::parse(&email)).is_none() {
        return Err(ApiError::validation(errors));
    }
    let handler = Arc::clone(&state.use_cases.forgot_password);
    let command = ForgotPasswordCommand { email };
    // Detached: the answer must not wait for (and so reveal) the lookup, the write or the mail.
    actix_web::rt::spawn(async move {
        match crate::blocking::run(move || handler.handle(command)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "password-reset request failed"),
            Err(error) => tracing::warn!(%error, "password-reset request did not run"),
        }
    });
    Ok(HttpResponse::Accepted().finish())
}

/// Set a new password with the token from a reset mail. Every session of the account ends.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "account",
    request_body(content = crate::dto::ResetPasswordRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "Password replaced; every session has ended; the address counts as verified"),
        (status = 400, description = "invalid_token (unknown, used or expired) or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed or weak_password (field `new_password`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn reset_password(state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let [token, new] = required_fields(&body, ["token", "new_password"])?;
    let command = ResetPasswordCommand { token: SecretString::new(token), new_password: SecretString::new(new) };
    let handler = Arc::clone(&state.use_cases.reset_password);
    crate::blocking::run(move || handler.handle(command)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm the address with the token from a verification mail. Needs no login: the link
/// may be opened on another device. Access tokens say `email_verified: true` from the next
/// refresh on.
#[utoipa::path(post, path = "/api/auth/email/verify", tag = "account",
    request_body(content = crate::dto::VerifyEmailRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Verified", body = UserInfoBody),
        (status = 400, description = "invalid_token (unknown, used or expired) or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn verify_email(state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let [token] = required_fields(&body, ["token"])?;
    let handler = Arc::clone(&state.use_cases.verify_email);
    let command = VerifyEmailCommand { token: SecretString::new(token) };
    let user = crate::blocking::run(move || handler.handle(command)).await??;
    Ok(HttpResponse::Ok().json(UserInfoBody::from(&user)))
}

/// Mail a new verification link to the caller (earlier links stop working). Nothing is sent
/// when the address is already verified; the answer is the same.
#[utoipa::path(post, path = "/api/auth/email/resend", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 202, description = "Accepted; a new link is mailed unless the address is already verified"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn resend_verification(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.resend_verification);
    let command = ResendVerificationCommand { user_id: auth.claims.user.user_id };
    crate::blocking::run(move || handler.handle(command)).await??;
    Ok(HttpResponse::Accepted().finish())
}

/// Delete the caller's account, with its sessions, API keys and pending mailed tokens. The
/// cookies are cleared. The last active admin cannot delete themself.
#[utoipa::path(delete, path = "/api/auth/current-user", tag = "account",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = crate::dto::DeleteAccountRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The account and everything of it are gone"),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "invalid_credentials (wrong password), reauthentication_required (an account without a password, from a session that signed in more than PORTCULLIS_REAUTH_SECS ago), csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 409, description = "conflict: the caller is the last active admin", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed (`password` missing for an account that has one)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn delete_account(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let password = body.optional_string("password", &mut errors).flatten();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let command = DeleteAccountCommand {
        user_id: auth.claims.user.user_id,
        session: auth.claims.session_auth(),
        password: password.map(SecretString::new),
    };
    let handler = Arc::clone(&state.use_cases.delete_account);
    crate::blocking::run(move || handler.handle(command)).await??;
    let mut response = HttpResponse::NoContent();
    cookies::clear_session(&mut response, &state.settings);
    Ok(response.finish())
}
