//! `/api/auth/passkeys/*`: register, list, rename and remove passkeys; sign in with one.
//! Options and credentials are the WebAuthn JSON forms (`parseCreationOptionsFromJSON`,
//! `toJSON()`); every ceremony is stored server-side for five minutes and finished once.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::{PasskeySignInCommand, RegisterPasskeyCommand, StartedCeremony, ValidationErrors};
use portcullis_domain::{OpaqueSecret, Passkey, PasskeyId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::body::JsonObject;
use crate::client_ip::session_metadata;
use crate::dto::{SessionBody, rfc3339};
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// A started ceremony.
#[derive(Serialize, ToSchema)]
pub struct CeremonyBody {
    /// Names the ceremony at its finish (five minutes, once).
    pub challenge_id: String,
    /// The options for `navigator.credentials.create`/`get`, in the WebAuthn JSON form
    /// (`PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON`).
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
}

impl From<StartedCeremony> for CeremonyBody {
    fn from(started: StartedCeremony) -> Self {
        Self { challenge_id: started.challenge_id.expose().to_owned(), public_key: started.options }
    }
}

/// A registered passkey.
#[derive(Serialize, ToSchema)]
pub struct PasskeyBody {
    /// Its id.
    pub passkey_id: String,
    /// Its name.
    pub name: String,
    /// When it was registered (RFC 3339 UTC).
    pub created_at: String,
    /// When it last signed in; `null` until then.
    pub last_used_at: Option<String>,
}

impl From<&Passkey> for PasskeyBody {
    fn from(passkey: &Passkey) -> Self {
        Self {
            passkey_id: passkey.id.to_string(),
            name: passkey.name.as_str().to_owned(),
            created_at: rfc3339(passkey.created_at),
            last_used_at: passkey.last_used_at.map(rfc3339),
        }
    }
}

/// Body of `POST /api/auth/passkeys/register/finish`.
#[derive(Deserialize, ToSchema)]
pub struct RegisterFinishRequest {
    /// From the start.
    pub challenge_id: String,
    /// What to call it: 1..=64 characters after trimming, no control characters; "Passkey"
    /// when absent, null or blank.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// `PublicKeyCredential.toJSON()` of `navigator.credentials.create`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Body of `PATCH /api/auth/passkeys/{id}`.
#[derive(Deserialize, ToSchema)]
pub struct RenamePasskeyRequest {
    /// The new name: 1..=64 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
}

/// Body of `POST /api/auth/passkeys/login/finish`.
#[derive(Deserialize, ToSchema)]
pub struct LoginFinishRequest {
    /// From the start.
    pub challenge_id: String,
    /// `PublicKeyCredential.toJSON()` of `navigator.credentials.get`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// The `challenge_id` and `credential` fields of a finish, or `422` naming what is missing.
fn finish_fields(body: &JsonObject, errors: &mut ValidationErrors) -> Option<(OpaqueSecret, serde_json::Value)> {
    let challenge_id = body.required_string("challenge_id", errors);
    let credential = body.required_object("credential", errors);
    Some((OpaqueSecret::presented(challenge_id?), credential?))
}

/// A passkey id from the path; an unparsable one names no passkey of anyone's.
fn passkey_id(path: &str) -> Result<PasskeyId, ApiError> {
    path.parse().map_err(|_| ApiError::not_found())
}

/// Start registering a passkey for the caller.
#[utoipa::path(post, path = "/api/auth/passkeys/register/start", tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Creation options: discoverable (`residentKey: required`), user verification required, the caller's passkeys in `excludeCredentials`", body = CeremonyBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key: people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are off (the public URL's host is an IP address), or the account is gone", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn register_start(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.passkeys);
    let user_id = auth.claims.user.user_id;
    let started = crate::blocking::run(move || handler.start_registration(user_id)).await??;
    Ok(HttpResponse::Ok().json(CeremonyBody::from(started)))
}

/// Finish registering: the authenticator's answer is checked and the passkey stored.
#[utoipa::path(post, path = "/api/auth/passkeys/register/finish", tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = RegisterFinishRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The passkey", body = PasskeyBody),
        (status = 400, description = "invalid_token: any failed check (attestation, origin, RP id hash, challenge, user verification, a spent or unknown challenge_id, a credential registered already); or malformed_body", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn register_finish(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let fields = finish_fields(&body, &mut errors);
    let name = body.optional_string("name", &mut errors).flatten();
    let Some((challenge_id, credential)) = fields.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let command = RegisterPasskeyCommand { user_id: auth.claims.user.user_id, challenge_id, name, credential };
    let handler = Arc::clone(&state.use_cases.passkeys);
    let passkey = crate::blocking::run(move || handler.finish_registration(command)).await??;
    Ok(HttpResponse::Created().json(PasskeyBody::from(&passkey)))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/api/auth/passkeys", tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's passkeys", body = [PasskeyBody]),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: an API key (people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn list(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.passkeys);
    if !handler.enabled() {
        return Err(ApiError::not_found());
    }
    let user_id = auth.claims.user.user_id;
    let passkeys = crate::blocking::run(move || handler.list(user_id)).await??;
    Ok(HttpResponse::Ok().json(passkeys.iter().map(PasskeyBody::from).collect::<Vec<_>>()))
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/api/auth/passkeys/{id}", tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "The passkey_id")),
    request_body(content = RenamePasskeyRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The renamed passkey", body = PasskeyBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: not the caller's passkey, or passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn rename(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let id = passkey_id(&path)?;
    let mut errors = ValidationErrors::new();
    let Some(name) = body.required_string("name", &mut errors) else { return Err(ApiError::validation(errors)) };
    let handler = Arc::clone(&state.use_cases.passkeys);
    let user_id = auth.claims.user.user_id;
    let passkey = crate::blocking::run(move || handler.rename(user_id, id, &name)).await??;
    Ok(HttpResponse::Ok().json(PasskeyBody::from(&passkey)))
}

/// Remove one of the caller's passkeys, never their last way in.
#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "passkeys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "The passkey_id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: not the caller's passkey, or passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_sign_in_method: it is the account's only way in", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = passkey_id(&path)?;
    let handler = Arc::clone(&state.use_cases.passkeys);
    let user_id = auth.claims.user.user_id;
    crate::blocking::run(move || handler.delete(user_id, id)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Start signing in with a passkey: no email is asked (discoverable credentials).
#[utoipa::path(post, path = "/api/auth/passkeys/login/start", tag = "passkeys",
    responses(
        (status = 200, description = "Request options: user verification required, no `allowCredentials`", body = CeremonyBody),
        (status = 404, description = "not_found: passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn login_start(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.passkey_sign_in);
    let started = crate::blocking::run(move || handler.start()).await??;
    Ok(HttpResponse::Ok().json(CeremonyBody::from(started)))
}

/// Finish signing in with a passkey: exactly as login answers; no TOTP step follows.
#[utoipa::path(post, path = "/api/auth/passkeys/login/finish", tag = "passkeys",
    request_body(content = LoginFinishRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in: the three cookies and `{user, expires_in}` as login; `amr` is `[\"hwk\", \"mfa\"]`", body = SessionBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, description = "invalid_credentials: any failed check (unknown credential, bad signature, wrong origin or RP id hash, user verification missing, a spent or unknown challenge_id, a counter that went backwards)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, response = crate::error_responses::AccountDisabled),
        (status = 404, description = "not_found: passkeys are off", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn login_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let Some((challenge_id, credential)) = finish_fields(&body, &mut errors) else {
        return Err(ApiError::validation(errors));
    };
    let command = PasskeySignInCommand {
        challenge_id,
        credential,
        metadata: session_metadata(&req, &state.settings.trusted_proxies),
    };
    let handler = Arc::clone(&state.use_cases.passkey_sign_in);
    let outcome = crate::blocking::run(move || handler.finish(command)).await?;
    state.metrics.login(outcome.is_ok());
    Ok(super::auth::session_response_with(&state, &outcome?, |_| {}))
}
