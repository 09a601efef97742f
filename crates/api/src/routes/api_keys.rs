//! `/api/auth/api-keys`: keys for the caller's own services. Managing keys needs the user's
//! login; a key can never manage keys.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use portcullis_application::ValidationErrors;
use portcullis_application::commands::api_keys::CreateApiKeyCommand;
use portcullis_domain::ApiKey;

use crate::body::JsonObject;
use crate::dto::{ApiKeyBody, CreatedApiKeyBody, rfc3339};
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

impl From<&ApiKey> for ApiKeyBody {
    fn from(key: &ApiKey) -> Self {
        Self {
            api_key_id: key.id.to_string(),
            name: key.name.as_str().to_owned(),
            prefix: key.prefix.clone(),
            scopes: key.scopes.names(),
            created_at: rfc3339(key.created_at),
            expires_at: key.expires_at.map(rfc3339),
            last_used_at: key.last_used_at.map(rfc3339),
        }
    }
}

/// Create a key. The answer holds the whole key, shown this once.
#[utoipa::path(post, path = "/api/auth/api-keys", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    request_body(content = crate::dto::CreateApiKeyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; `key` is shown only in this answer", body = CreatedApiKeyBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key cannot manage keys)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed (`name`, `scopes`, `expires_at` — which must be a future RFC 3339 time)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let name = body.required_string("name", &mut errors);
    let scopes = body.optional_string_list("scopes", &mut errors);
    let expires_at = match body.optional_string("expires_at", &mut errors).flatten() {
        Some(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(time) => Some(time.with_timezone(&Utc)),
            Err(_) => {
                errors.add("expires_at", "invalid", "expires_at must be an RFC 3339 time");
                None
            }
        },
        None => None,
    };
    let command =
        CreateApiKeyCommand { user_id: auth.claims.user.user_id, name: name.unwrap_or_default(), scopes, expires_at };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let handler = Arc::clone(&state.use_cases.api_keys);
    let created = crate::blocking::run(move || handler.create(command)).await??;
    let key = ApiKeyBody::from(&created.key);
    Ok(HttpResponse::Created().json(CreatedApiKeyBody {
        api_key_id: key.api_key_id,
        name: key.name,
        key: created.secret.expose().to_owned(),
        prefix: key.prefix,
        scopes: key.scopes,
        created_at: key.created_at,
        expires_at: key.expires_at,
    }))
}

/// The caller's keys, oldest first, never with the secret.
#[utoipa::path(get, path = "/api/auth/api-keys", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's keys", body = [ApiKeyBody]),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden (an API key cannot manage keys)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn list(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.api_keys);
    let user_id = auth.claims.user.user_id;
    let keys = crate::blocking::run(move || handler.list(user_id)).await??;
    Ok(HttpResponse::Ok().json(keys.iter().map(ApiKeyBody::from).collect::<Vec<_>>()))
}

/// Revoke one of the caller's keys; it is refused at once.
#[utoipa::path(delete, path = "/api/auth/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key cannot manage keys)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such key of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key_id = id.parse().map_err(|_| ApiError::not_found())?;
    let handler = Arc::clone(&state.use_cases.api_keys);
    let user_id = auth.claims.user.user_id;
    crate::blocking::run(move || handler.delete(user_id, key_id)).await??;
    Ok(HttpResponse::NoContent().finish())
}
