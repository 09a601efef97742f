//! `POST /api/auth/introspect` (RFC 7662): lets the owner's services ask whether an API key
//! or an access token is usable now, and as whom. Unlike local JWT verification it checks
//! the session, so a token whose session ended is reported inactive at once.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::commands::introspect::{
    ActiveToken, IntrospectError, IntrospectUseCase, Introspection, TokenKind,
};
use portcullis_domain::{Role, Scope};

use crate::dto::IntrospectionBody;
use crate::extractors::{Caller, reload_keys_throttled};
use crate::problem::ApiError;
use crate::routes::oauth::{OAuthError, OAuthParams, TOO_LARGE};
use crate::state::AppState;

fn is_form_or_json(req: &HttpRequest) -> bool {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .unwrap_or_default();
    media == "application/x-www-form-urlencoded" || media == "application/json" || media.ends_with("+json")
}

impl From<ActiveToken> for IntrospectionBody {
    fn from(token: ActiveToken) -> Self {
        Self {
            active: true,
            token_type: Some(match token.token_type {
                TokenKind::ApiKey => "api_key",
                TokenKind::AccessToken => "access_token",
            }),
            sub: Some(token.sub.to_string()),
            username: Some(token.username),
            scope: Some(token.scope.join(" ")),
            exp: token.exp.map(|time| time.timestamp()),
            roles: Some(token.roles),
        }
    }
}

/// Introspect an API key or an access token.
#[utoipa::path(post, path = "/api/auth/introspect", tag = "api-keys",
    security(("api_key" = []), ("bearer" = []), ("cookie" = [])),
    request_body(content(
        (crate::dto::IntrospectRequest = "application/x-www-form-urlencoded"),
        (crate::dto::IntrospectRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "`{\"active\": false}` for anything not usable now (unknown, expired, revoked, session ended, user disabled); otherwise the subject and scopes", body = IntrospectionBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, description = "unauthorized: the caller must authenticate", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 403, description = "forbidden: the caller needs an API key with scope `introspect` or role `admin`", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed: `token` is missing", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    params: Result<OAuthParams, OAuthError>,
) -> Result<HttpResponse, ApiError> {
    let allowed = match &caller {
        Caller::User(_) => caller.has_role(Role::ADMIN),
        Caller::Key(key) => {
            key.scopes.contains(Scope::INTROSPECT)
                || (key.scopes.contains(Scope::ADMIN) && caller.has_role(Role::ADMIN))
        }
    };
    if !allowed {
        return Err(ApiError::forbidden("Introspection needs an API key with scope `introspect` or role `admin`."));
    }
    if !is_form_or_json(&req) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the parameters as application/x-www-form-urlencoded or application/json.",
        ));
    }
    let params = params.map_err(|error| {
        if error.description() == TOO_LARGE {
            ApiError::new(actix_web::http::StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", TOO_LARGE)
        } else {
            ApiError::malformed_body(error.description())
        }
    })?;
    let token = params.optional("token").map_err(|error| ApiError::malformed_body(error.description()))?;
    let Some(token) = token else {
        let mut errors = portcullis_application::ValidationErrors::new();
        errors.add("token", "required", "token is required");
        return Err(ApiError::validation(errors));
    };
    let handler = Arc::clone(&state.use_cases.introspect);
    let ask =
        |handler: Arc<dyn IntrospectUseCase>, token: String| crate::blocking::run(move || handler.introspect(&token));
    let mut outcome = ask(Arc::clone(&handler), token.clone()).await?;
    if matches!(outcome, Err(IntrospectError::UnknownKey)) && reload_keys_throttled(&state).await? {
        outcome = ask(handler, token).await?;
    }
    let body = match outcome {
        Ok(Introspection::Active(active)) => IntrospectionBody::from(active),
        Ok(Introspection::Inactive) | Err(IntrospectError::UnknownKey) => IntrospectionBody::default(),
        Err(IntrospectError::Port(port)) => return Err(port.into()),
    };
    Ok(HttpResponse::Ok().json(body))
}
