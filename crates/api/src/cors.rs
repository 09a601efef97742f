//! CORS for the allowed origins, and the `Origin` check on state changes (API.md, "CSRF"
//! and "CORS"), in one middleware that runs before routing.
//!
//! - A state-changing request (`POST`, `PUT`, `PATCH`, `DELETE`) that carries neither
//!   `Authorization: Bearer` nor `X-API-Key` and whose `Origin` is present but not allowed is
//!   refused `403 csrf_failed` (in the RFC 6749 §5 shape on the OAuth endpoints).
//! - A response to an allowed `Origin` carries `Access-Control-Allow-Origin: <origin>` and
//!   `Access-Control-Allow-Credentials: true`. Every response carries `Vary: Origin`, since
//!   each may differ by `Origin` (and a shared cache must not mix them up).
//! - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) to a known path
//!   answers `204`: for an allowed origin with the path's methods (its `Allow`),
//!   `Access-Control-Allow-Headers` and `Access-Control-Max-Age: 600`; for any other origin
//!   with no CORS headers, so the browser refuses the real request. An unknown path answers
//!   `404` as always.
//!
//! The methods of a path are learned from routing itself: every resource answers a method it
//! does not serve (`OPTIONS` included) with `405` and an `Allow` header, which this
//! middleware turns into the preflight answer. So a new route needs no entry here.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};

use crate::extractors::bearer_token;
use crate::problem::ApiError;
use crate::routes::oauth::{OAuthError, is_oauth_path};
use crate::state::AppState;

/// Request headers a cross-origin caller may send.
pub const ALLOWED_HEADERS: &str = "Content-Type, Authorization, X-CSRF-Token, X-API-Key";

/// How long (seconds) a browser may cache a preflight answer.
pub const MAX_AGE_SECS: &str = "600";

/// Header carrying an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

fn is_state_changing(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// Whether the request names its credentials in a header (`Authorization: Bearer` or
/// `X-API-Key`). A browser sends such a header cross-origin only after a successful preflight,
/// so these requests cannot be forged by a foreign page and need no `Origin` check.
fn authenticated_by_header(headers: &HeaderMap, bearer: bool) -> bool {
    bearer || headers.contains_key(API_KEY_HEADER)
}

fn origin_allowed(req: &ServiceRequest, origin: &HeaderValue) -> bool {
    let Ok(origin) = origin.to_str() else { return false };
    req.app_data::<web::Data<AppState>>()
        .is_some_and(|state| state.settings.allowed_origins.iter().any(|allowed| allowed == origin))
}

fn add_vary_origin(headers: &mut HeaderMap) {
    let already = headers
        .get_all(header::VARY)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("origin") || name.trim() == "*");
    if !already {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn add_allow_origin(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
}

fn refusal(path: &str) -> HttpResponse {
    if is_oauth_path(path) {
        OAuthError::csrf_failed().error_response()
    } else {
        ApiError::csrf_failed("Requests from this origin are not allowed (it is not among the allowed origins).")
            .error_response()
    }
}

/// The middleware: the `Origin` check, preflight answers, and CORS headers (see the module
/// documentation). Register it with `actix_web::middleware::from_fn`.
///
/// # Errors
/// Whatever the wrapped service fails with.
pub async fn cors_and_origin<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = origin.as_ref().is_some_and(|origin| origin_allowed(&req, origin));

    if origin.is_some()
        && !allowed
        && is_state_changing(req.method())
        && !authenticated_by_header(req.headers(), bearer_token(req.request()).is_some_and(|token| token.is_ok()))
    {
        tracing::info!(path = %req.path(), "state change from a foreign origin refused");
        // The router's (percent-decoded) path, as routing will see it.
        let response = refusal(req.match_info().as_str());
        let mut response = req.into_response(response).map_into_right_body();
        add_vary_origin(response.headers_mut());
        return Ok(response);
    }

    let preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let is_api = req.path().starts_with("/api/");
    let response = next.call(req).await?;

    let allow = response.headers().get(header::ALLOW).cloned();
    let mut response = match allow {
        Some(allow) if preflight && response.status() == StatusCode::METHOD_NOT_ALLOWED => {
            let mut answer = HttpResponse::NoContent();
            if is_api {
                answer.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
            }
            if allowed {
                answer
                    .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, allow))
                    .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS)))
                    .insert_header((header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECS)));
            }
            let (request, _) = response.into_parts();
            ServiceResponse::new(request, answer.finish()).map_into_right_body()
        }
        _ => response.map_into_left_body(),
    };
    let headers = response.headers_mut();
    if let Some(origin) = origin.filter(|_| allowed) {
        add_allow_origin(headers, origin);
    }
    add_vary_origin(headers);
    Ok(response)
}
