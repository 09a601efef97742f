//! `/api/auth/*`: signup, login, refresh, logout, current user.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::{
    IssuedTokens, LoginCommand, LoginError, LogoutCommand, RefreshCommand, RefreshError, SignupCommand,
    UpdateProfileCommand, ValidationErrors, VerifyAccessToken,
};
use portcullis_domain::{RefreshTokenSecret, Scope, SecretString};

use crate::body::JsonObject;
use crate::client_ip::session_metadata;
use crate::cookies::{self, REFRESH_COOKIE};
use crate::dto::{SessionBody, UserInfoBody};
use crate::extractors::{AuthMethod, Caller, bearer_token};
use crate::problem::ApiError;
use crate::state::AppState;

/// Create an account.
#[utoipa::path(post, path = "/api/auth/signup", tag = "auth",
    request_body(content = crate::dto::SignupRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Account created; no cookies are set", body = UserInfoBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 409, description = "email_taken", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, description = "validation_failed (a field breaks an input rule) or weak_password (the password is common or too easy to guess; `errors` has one entry for `password` saying why)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: too many signups from this IP; `Retry-After` says when to try again", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn signup(state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let name = body.required_string("name", &mut errors);
    let email = body.required_string("email", &mut errors);
    let password = body.required_string("password", &mut errors);
    let avatar_url = body.optional_string("avatar_url", &mut errors);
    let command = SignupCommand {
        name: name.unwrap_or_default(),
        email: email.unwrap_or_default(),
        password: SecretString::new(password.unwrap_or_default()),
        avatar_url: avatar_url.flatten(),
    };
    if !errors.is_empty() {
        // Report the rules broken by the well-typed fields too: one entry per bad field.
        if let Err(rules) = command.validate() {
            errors.merge_new_fields(rules);
        }
        return Err(ApiError::validation(errors));
    }
    let handler = Arc::clone(&state.use_cases.signup);
    let user = crate::blocking::run(move || handler.handle(command)).await??;
    Ok(HttpResponse::Created().json(UserInfoBody::from(&user)))
}

/// Log in: answers the user and sets the three cookies.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body(content = crate::dto::LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in; sets access_token, refresh_token and csrf_token cookies", body = SessionBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, description = "invalid_credentials (unknown email and wrong password alike), or mfa_required (the password was right and the user has TOTP: `methods` lists `totp` and `recovery_code`, the `mfa_token` cookie is set, and `POST /api/auth/mfa/verify` finishes the sign-in)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::error_responses::AccountDisabled),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 429, description = "rate_limited: too many logins from this IP, or the account is locked after too many failed logins in a row; `Retry-After` says when to try again", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn login(req: HttpRequest, state: web::Data<AppState>, body: JsonObject) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let email = body.required_string("email", &mut errors);
    let password = body.required_string("password", &mut errors);
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::validation(errors));
    };
    let metadata = session_metadata(&req, &state.settings.trusted_proxies);
    let command = LoginCommand { email, password: SecretString::new(password), metadata };
    let handler = Arc::clone(&state.use_cases.login);
    let outcome = crate::blocking::run(move || handler.handle(command)).await?;
    record_login(&state, &outcome);
    match outcome {
        Ok(issued) => Ok(session_response(&state, &issued)),
        Err(LoginError::MfaRequired { mfa_token }) => Ok(mfa_required_response(&state, &mfa_token)),
        Err(error) => Err(error.into()),
    }
}

/// `401 mfa_required` (problem+json with `methods`) and the `mfa_token` cookie for the second step.
pub(crate) fn mfa_required_response(state: &AppState, mfa_token: &portcullis_domain::OpaqueSecret) -> HttpResponse {
    use actix_web::ResponseError;
    let mut response = ApiError::mfa_required().error_response();
    if let Err(error) = response.add_cookie(&cookies::mfa_cookie(&state.settings, mfa_token.expose())) {
        tracing::warn!(%error, "the mfa_token cookie could not be set");
    }
    response
}

/// Exchange the refresh cookie for new tokens (all three cookies rotate).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "Refreshed; all three cookies are replaced", body = SessionBody),
        (status = 401, description = "unauthorized (missing, unknown or expired refresh token) or session_revoked (reuse after the grace window)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::error_responses::AccountDisabled),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn refresh(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(token) = req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty()) else {
        return Err(ApiError::unauthorized(false));
    };
    let command = RefreshCommand { refresh_token: RefreshTokenSecret::presented(token) };
    let handler = Arc::clone(&state.use_cases.refresh);
    let outcome = crate::blocking::run(move || handler.handle(command)).await?;
    record_refresh(&state, &outcome);
    let issued = outcome?;
    Ok(session_response(&state, &issued))
}

/// End the current session and clear the cookies.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth",
    responses(
        (status = 204, description = "Session ended (or there was none); the three cookies are cleared"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn logout(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let refresh_token = req
        .cookie(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
        .map(RefreshTokenSecret::presented);
    let session_id = match bearer_token(&req) {
        Some(Ok(token)) => {
            let verifier = &*state.use_cases.verify_access_token;
            verifier.handle(VerifyAccessToken { access_token: &token }).ok().map(|claims| claims.session_id)
        }
        _ => None,
    };
    if refresh_token.is_some() || session_id.is_some() {
        let handler = Arc::clone(&state.use_cases.logout);
        crate::blocking::run(move || handler.handle(LogoutCommand { refresh_token, session_id })).await??;
    }
    let mut response = HttpResponse::NoContent();
    cookies::clear_session(&mut response, &state.settings);
    Ok(response.finish())
}

/// The caller's user object: read from the access token alone (no database), or, for an
/// API key with scope `profile:read`, the key's owner as stored now.
#[utoipa::path(get, path = "/api/auth/current-user", tag = "auth",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    responses(
        (status = 200, description = "The authenticated user", body = UserInfoBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: an API key without scope `profile:read`", body = crate::dto::Problem, content_type = "application/problem+json"),
    ))]
pub async fn current_user(caller: Caller) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::PROFILE_READ)?;
    let user = match &caller {
        Caller::User(auth) => &auth.claims.user,
        Caller::Key(key) => &key.user,
    };
    Ok(HttpResponse::Ok().json(UserInfoBody::from(user)))
}

/// Change the caller's name or avatar. Cookie callers send `X-CSRF-Token` and get a fresh
/// access cookie carrying the new data; an API key needs scope `profile:write`.
#[utoipa::path(patch, path = "/api/auth/current-user", tag = "auth",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    request_body(content = crate::dto::UpdateProfileRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated user", body = UserInfoBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key without scope `profile:write`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn update_current_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    caller.require_scope(Scope::PROFILE_WRITE)?;
    let mut errors = ValidationErrors::new();
    let name = body.optional_string("name", &mut errors);
    let avatar_url = body.optional_string("avatar_url", &mut errors);
    if name == Some(None) {
        errors.add("name", "required", "name cannot be null");
    }
    let command = UpdateProfileCommand { user_id: Some(caller.user_id()), name: name.flatten(), avatar_url };
    if !errors.is_empty() {
        if let Err(rules) = command.validate() {
            errors.merge_new_fields(rules);
        }
        return Err(ApiError::validation(errors));
    }
    let handler = Arc::clone(&state.use_cases.update_profile);
    let cookie_session = match &caller {
        Caller::User(auth) if auth.method == AuthMethod::Cookie => Some(auth.claims.session_auth()),
        _ => None,
    };
    let mut response = HttpResponse::build(StatusCode::OK);
    let user = match cookie_session {
        // A browser's cookie holds the old profile: it gets a fresh access token with the new one.
        Some(session) => {
            let (user, access) = crate::blocking::run(move || handler.handle_and_reissue(command, &session)).await??;
            cookies::set_access(&mut response, &state.settings, access.token.expose());
            user
        }
        None => crate::blocking::run(move || handler.handle(command)).await??,
    };
    Ok(response.json(UserInfoBody::from(&user)))
}

fn session_response(state: &AppState, issued: &IssuedTokens) -> HttpResponse {
    session_response_with(state, issued, |_| {})
}

/// `200 {user, expires_in}` with the three session cookies, as login answers; `more` adds to
/// the answer (another cookie).
pub(crate) fn session_response_with(
    state: &AppState,
    issued: &IssuedTokens,
    more: impl FnOnce(&mut actix_web::HttpResponseBuilder),
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    more(&mut response);
    cookies::set_session(
        &mut response,
        &state.settings,
        issued.access_token.token.expose(),
        issued.refresh_token.expose(),
    );
    response.json(SessionBody { user: UserInfoBody::from(&issued.user), expires_in: issued.access_token.expires_in })
}

/// Counts a login the application answered (a port failure is neither success nor failure).
pub(crate) fn record_login(state: &AppState, outcome: &Result<IssuedTokens, LoginError>) {
    match outcome {
        Ok(_) => state.metrics.login(true),
        Err(LoginError::Port(_) | LoginError::MfaRequired { .. }) => {}
        Err(_) => state.metrics.login(false),
    }
}

/// Counts a successful rotation, or a reuse after the grace window.
pub(crate) fn record_refresh(state: &AppState, outcome: &Result<IssuedTokens, RefreshError>) {
    match outcome {
        Ok(_) => state.metrics.refreshed(),
        Err(RefreshError::SessionRevoked) => state.metrics.refresh_reuse_detected(),
        Err(_) => {}
    }
}
