//! `/api/auth/token` and `/api/auth/revoke`: the OAuth 2.0 style endpoints for API clients.
//!
//! Parameters come as `application/x-www-form-urlencoded` or as a JSON object. Clients are
//! public: `client_id`, `scope` and any other unknown parameter are ignored, and no client
//! secret is asked for. Every error of these two endpoints is in the RFC 6749 §5 shape,
//! `{"error": "...", "error_description": "..."}`, never problem+json.

mod error;
mod params;
mod schema;

pub use error::{OAuthError, OAuthErrorBody, oauth_error_for_login, oauth_error_for_mfa, oauth_error_for_refresh};
pub use params::OAuthParams;
pub(crate) use params::TOO_LARGE;
pub use schema::{RevokeRequest, TokenRequest, TokenResponse};

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::{
    IssuedTokens, LoginCommand, LogoutCommand, MfaVerifyCommand, RefreshCommand, VerifyAccessToken,
};
use portcullis_domain::{OpaqueSecret, RefreshTokenSecret, SecretString};

use crate::client_ip::session_metadata;
use crate::state::AppState;

use error::{no_store, oauth_error_for_logout};

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/api/auth/token";
/// The revocation endpoint's path.
pub const REVOKE_PATH: &str = "/api/auth/revoke";

/// Whether `path` is one of the OAuth endpoints, whose errors are in the RFC 6749 §5 shape.
pub fn is_oauth_path(path: &str) -> bool {
    path == TOKEN_PATH || path == REVOKE_PATH
}

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

/// The grant that finishes a password grant answered `mfa_required`.
pub const MFA_OTP_GRANT: &str = "urn:portcullis:grant-type:mfa-otp";

/// Issue tokens to an API client: `grant_type=password` (a login; counts toward the
/// lockout like one; a user with TOTP gets `400 mfa_required` with an `mfa_token`),
/// `grant_type=urn:portcullis:grant-type:mfa-otp` (`mfa_token` and `otp`: the second step), or
/// `grant_type=refresh_token` (a rotation, same rules as `/api/auth/refresh`). Errors are
/// RFC 6749 §5, never problem+json.
#[utoipa::path(post, path = "/api/auth/token", tag = "oauth",
    request_body(description = "grant_type=password&username=<email>&password=…, grant_type=urn:portcullis:grant-type:mfa-otp&mfa_token=…&otp=…, or grant_type=refresh_token&refresh_token=…",
        content(
            (TokenRequest = "application/x-www-form-urlencoded"),
            (TokenRequest = "application/json"),
        )),
    responses(
        (status = 200, description = "Tokens issued (Cache-Control: no-store, Pragma: no-cache)", body = TokenResponse),
        (status = 400, description = "invalid_request (missing, repeated or malformed parameters; another content type; a body over 64 KiB; malformed JSON), unsupported_grant_type, invalid_grant (wrong credentials, a disabled account, an unknown, expired or revoked refresh token, or a reused one after the grace window, which also ends the session; a wrong or spent otp or a dead mfa_token), or mfa_required (the password was right and the user has TOTP: the body has `mfa_token` for the MFA grant)", body = OAuthErrorBody),
        (status = 403, description = "csrf_failed: sent from a browser page of an origin that is not allowed", body = OAuthErrorBody),
        (status = 408, description = "invalid_request: the body did not arrive within PORTCULLIS_BODY_TIMEOUT_SECS", body = OAuthErrorBody),
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
        MFA_OTP_GRANT => {
            let mfa_token = params.required("mfa_token")?;
            let code = params.required("otp")?;
            let command = MfaVerifyCommand {
                mfa_token: OpaqueSecret::presented(mfa_token),
                code,
                metadata: session_metadata(&req, &state.settings.trusted_proxies),
            };
            let handler = Arc::clone(&state.use_cases.mfa_verify);
            let outcome = crate::blocking::run(move || handler.verify(command)).await?;
            if outcome.is_ok() {
                state.metrics.login(true);
            }
            outcome.map_err(oauth_error_for_mfa)?
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
        (status = 408, description = "invalid_request: the body did not arrive within PORTCULLIS_BODY_TIMEOUT_SECS", body = OAuthErrorBody),
        (status = 500, description = "server_error", body = OAuthErrorBody),
        (status = 503, description = "temporarily_unavailable", body = OAuthErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
pub async fn revoke(state: web::Data<AppState>, params: OAuthParams) -> Result<HttpResponse, OAuthError> {
    let token = params.required("token")?;
    let verifier = &*state.use_cases.verify_access_token;
    let session_id = verifier.handle(VerifyAccessToken { access_token: &token }).ok().map(|claims| claims.session_id);
    let command = LogoutCommand { refresh_token: Some(RefreshTokenSecret::presented(token)), session_id };
    let handler = Arc::clone(&state.use_cases.logout);
    crate::blocking::run(move || handler.handle(command)).await?.map_err(oauth_error_for_logout)?;
    let mut response = HttpResponse::Ok();
    no_store(&mut response);
    Ok(response.finish())
}
