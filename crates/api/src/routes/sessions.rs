//! `/api/auth/sessions` and `/api/auth/logout-all`: one session per login and device.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::cookies;
use crate::dto::rfc3339;
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// One session as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct SessionItem {
    /// UUID v7.
    pub session_id: String,
    /// When the login happened (RFC 3339 UTC).
    pub created_at: String,
    /// When it was last refreshed.
    pub last_used_at: String,
    /// When it ends for good, however often it is refreshed.
    pub expires_at: String,
    /// The `User-Agent` of the login.
    pub user_agent: Option<String>,
    /// The browser and system in words, from the `User-Agent` ("Chrome 156 on Linux"); the
    /// raw header when it names no known browser; `null` without one.
    pub device: Option<String>,
    /// The client IP of the login.
    pub ip: Option<String>,
    /// Whether this is the session of the calling access token.
    pub current: bool,
}

/// The caller's live sessions, oldest first.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The caller's sessions", body = [SessionItem]),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden (an API key: sessions are the user's own)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn list(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.sessions);
    let (user_id, current) = (auth.claims.user.user_id, auth.claims.session_id);
    let views = crate::blocking::run(move || handler.list(user_id, current)).await??;
    let items: Vec<SessionItem> = views
        .into_iter()
        .map(|view| SessionItem {
            session_id: view.session.id.to_string(),
            created_at: rfc3339(view.session.created_at),
            last_used_at: rfc3339(view.session.last_used_at),
            expires_at: rfc3339(view.session.expires_at),
            device: view.session.user_agent.as_deref().map(device_name),
            user_agent: view.session.user_agent,
            ip: view.session.ip,
            current: view.current,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// End one of the caller's sessions (another device, say).
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "The session id")),
    responses(
        (status = 204, description = "The session and its refresh tokens are gone"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed (cookie callers must send X-CSRF-Token)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no such session of the caller's", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn revoke(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let session_id = id.parse().map_err(|_| ApiError::not_found())?;
    let handler = Arc::clone(&state.use_cases.sessions);
    let user_id = auth.claims.user.user_id;
    crate::blocking::run(move || handler.revoke(user_id, session_id)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// End every session of the caller, this one included; the cookies are cleared.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "sessions",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Every session ended; the three cookies are cleared"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed (cookie callers must send X-CSRF-Token)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn logout_all(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.sessions);
    let user_id = auth.claims.user.user_id;
    crate::blocking::run(move || handler.logout_all(user_id)).await??;
    let mut response = HttpResponse::NoContent();
    cookies::clear_session(&mut response, &state.settings);
    Ok(response.finish())
}

/// "Chrome 156 on Linux" from a `User-Agent` (woothee's browser and OS names, the major
/// version); the header itself when it names no browser woothee knows (a crawler, an HTTP
/// library such as curl).
pub fn device_name(user_agent: &str) -> String {
    const UNKNOWN: &str = "UNKNOWN";
    let browser = |parsed: &woothee::parser::WootheeResult<'_>| {
        parsed.name != UNKNOWN && ["pc", "smartphone", "mobilephone", "appliance"].contains(&parsed.category)
    };
    let Some(parsed) = woothee::parser::Parser::new().parse(user_agent).filter(browser) else {
        return user_agent.to_owned();
    };
    let major = parsed.version.split('.').next().filter(|major| !major.is_empty() && *major != UNKNOWN);
    let browser = match major {
        Some(major) => format!("{} {major}", parsed.name),
        None => parsed.name.to_owned(),
    };
    if parsed.os == UNKNOWN { browser } else { format!("{browser} on {}", parsed.os) }
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn browsers_and_systems_are_named_in_words() {
        let chrome =
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_name(chrome), "Chrome 156 on Linux");
        let firefox = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(firefox), "Firefox 133 on Mac OSX");
        assert_eq!(device_name("curl/8.5.0"), "curl/8.5.0", "no browser: the header as it is");
    }
}
