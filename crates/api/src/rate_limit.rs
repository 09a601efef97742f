//! The per-client-IP limit on the sensitive endpoints, as one middleware keyed by path, so an
//! endpoint on the list is limited as soon as its route exists (and even a `404` on it counts).
//!
//! Every `POST` to a listed path (and every start of a provider sign-in flow, see
//! [`FLOW_START_BUCKET`]) counts one request of the client's IP
//! ([`crate::client_ip`]) in the endpoint's own bucket, against
//! `PORTCULLIS_RATE_LIMIT_PER_MINUTE` a minute with a burst of the same size (a GCRA, see
//! [`portcullis_domain::RateQuota`]). The counters are in the database, so every instance on
//! it counts together. Over the limit → `429 rate_limited` with `Retry-After`: problem+json,
//! but the OAuth shape (`{"error": "rate_limited", …}`) on the token endpoint. The database
//! work runs on the blocking pool, never on an async worker.

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use portcullis_application::ports::PortError;

use crate::client_ip::{client_ip, rate_limit_key};
use crate::problem::ApiError;
use crate::routes::oauth::OAuthError;
use crate::state::AppState;

/// The limited endpoints (`POST` only): path and bucket. Each endpoint is its own bucket.
pub const LIMITED_ENDPOINTS: [(&str, &str); 8] = [
    ("/api/auth/signup", "signup"),
    ("/api/auth/login", "login"),
    ("/api/auth/token", "token"),
    ("/api/auth/password/forgot", "password_forgot"),
    ("/api/auth/password/reset", "password_reset"),
    ("/api/auth/email/resend", "email_resend"),
    ("/api/auth/mfa/verify", "mfa_verify"),
    ("/api/auth/passkeys/login/finish", "passkey_login"),
];

/// The bucket of the requests that start a provider sign-in flow: `GET
/// /api/auth/oauth/{provider}/authorize` and `POST /api/auth/identities/{provider}`. Each
/// stores a flow for 10 minutes, so a flood of them is limited like the other sensitive
/// endpoints (the one `GET` that counts).
pub const FLOW_START_BUCKET: &str = "oauth_start";

/// The bucket a request counts in, if it is limited at all.
pub fn bucket_of(method: &Method, path: &str) -> Option<&'static str> {
    let one_segment = |rest: Option<&str>| rest.is_some_and(|id| !id.is_empty() && !id.contains('/'));
    let starts_flow = match *method {
        Method::GET => {
            one_segment(path.strip_prefix("/api/auth/oauth/").and_then(|rest| rest.strip_suffix("/authorize")))
        }
        Method::POST => one_segment(path.strip_prefix("/api/auth/identities/")),
        _ => false,
    };
    if starts_flow {
        return Some(FLOW_START_BUCKET);
    }
    if method != Method::POST {
        return None;
    }
    LIMITED_ENDPOINTS.iter().find(|(limited, _)| *limited == path).map(|(_, bucket)| *bucket)
}

/// The middleware (`actix_web::middleware::from_fn(limit_per_client_ip)`): counts a limited
/// request and answers `429` over the limit, or lets it through.
///
/// # Errors
/// Only what the inner service returns.
pub async fn limit_per_client_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    // The router's (percent-decoded) path, so an encoded spelling cannot slip past.
    let bucket = bucket_of(req.method(), req.match_info().as_str());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(bucket), Some(state)) = (bucket, state) else {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    };
    let limiter = Arc::clone(&state.ports.rate_limiter);
    if !limiter.is_active() {
        return next.call(req).await.map(ServiceResponse::map_into_left_body);
    }
    let key =
        client_ip(req.request(), &state.settings.trusted_proxies).map_or_else(|| "unknown".to_owned(), rate_limit_key);
    let clock = Arc::clone(&state.ports.clock);
    let checked = {
        let key = key.clone();
        crate::blocking::run(move || limiter.check(bucket, &key, clock.now())).await
    };
    let refusal = match checked {
        Ok(Ok(decision)) => decision.retry_after_secs().map(|retry_after| {
            tracing::info!(bucket, client = %key, retry_after, "rate limited");
            rate_limited(bucket, retry_after)
        }),
        Ok(Err(port)) => Some(failed(bucket, port)),
        Err(blocking) => Some(failed(bucket, PortError::internal("rate_limiter.limit_per_client_ip", blocking))),
    };
    match refusal {
        Some(response) => Ok(req.into_response(response).map_into_right_body()),
        None => next.call(req).await.map(ServiceResponse::map_into_left_body),
    }
}

/// Whether `bucket`'s errors are in the OAuth shape rather than problem+json.
fn is_oauth(bucket: &str) -> bool {
    bucket == "token"
}

fn rate_limited(bucket: &str, retry_after: u64) -> HttpResponse {
    if is_oauth(bucket) {
        OAuthError::rate_limited(retry_after).error_response()
    } else {
        ApiError::rate_limited(retry_after).error_response()
    }
}

/// The counters could not be reached: the endpoint needs the database anyway, so answer as
/// it would (`503` with `Retry-After` when unavailable).
fn failed(bucket: &str, error: PortError) -> HttpResponse {
    if is_oauth(bucket) { OAuthError::from(error).error_response() } else { ApiError::from(error).error_response() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_posts_to_the_listed_paths_count_each_in_its_own_bucket() {
        let buckets: Vec<_> = LIMITED_ENDPOINTS.iter().filter_map(|(path, _)| bucket_of(&Method::POST, path)).collect();
        assert_eq!(
            buckets,
            [
                "signup",
                "login",
                "token",
                "password_forgot",
                "password_reset",
                "email_resend",
                "mfa_verify",
                "passkey_login"
            ]
        );
        assert_eq!(bucket_of(&Method::GET, "/api/auth/login"), None);
        assert_eq!(bucket_of(&Method::OPTIONS, "/api/auth/login"), None);
        assert_eq!(bucket_of(&Method::POST, "/api/auth/refresh"), None);
        assert_eq!(bucket_of(&Method::POST, "/api/auth/login/extra"), None);
    }

    #[test]
    fn starting_a_provider_flow_counts_in_its_bucket_whatever_the_provider() {
        assert_eq!(bucket_of(&Method::GET, "/api/auth/oauth/google/authorize"), Some(FLOW_START_BUCKET));
        assert_eq!(bucket_of(&Method::POST, "/api/auth/identities/corp"), Some(FLOW_START_BUCKET));
        assert_eq!(bucket_of(&Method::GET, "/api/auth/oauth/google/callback"), None, "the callback spends a flow");
        assert_eq!(bucket_of(&Method::DELETE, "/api/auth/identities/corp"), None);
        assert_eq!(bucket_of(&Method::GET, "/api/auth/identities"), None);
        assert_eq!(bucket_of(&Method::GET, "/api/auth/oauth//authorize"), None);
        assert_eq!(bucket_of(&Method::GET, "/api/auth/oauth/a/b/authorize"), None);
    }
}
