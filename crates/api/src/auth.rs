//! Who is calling: `Authorization: Bearer` first (no fall-back when it is bad), then the
//! `access_token` cookie. Cookie-authenticated state changes must carry `X-CSRF-Token`
//! equal to the `csrf_token` cookie (double submit).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use portcullis_application::ports::AccessClaims;
use portcullis_application::{CurrentUserError, GetCurrentUser, GetCurrentUserUseCase};
use portcullis_infrastructure::tokens::KeyRingReloader;
use shaku::HasComponent;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::cookies::{ACCESS_COOKIE, CSRF_COOKIE};
use crate::problem::ApiError;

/// Header carrying the CSRF token on cookie-authenticated state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `access_token` cookie.
    Cookie,
}

/// A verified caller.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// What the access token says.
    pub claims: AccessClaims,
    /// Where the token came from.
    pub method: AuthMethod,
}

/// The bearer token of an `Authorization` header: `Some(Ok(token))`, `Some(Err(()))` when the
/// header is present but not a bearer token, `None` when absent.
pub fn bearer_token(req: &HttpRequest) -> Option<Result<String, ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value.to_str().ok().and_then(|text| {
        let (scheme, token) = text.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
    });
    Some(parsed.ok_or(()))
}

fn is_state_changing(method: &Method) -> bool {
    matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE)
}

/// Checks the double-submit CSRF token of a cookie-authenticated state change.
///
/// # Errors
/// `403 csrf_failed` when the header is missing or differs from the cookie.
pub fn check_csrf(req: &HttpRequest) -> Result<(), ApiError> {
    let cookie = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()).filter(|v| !v.is_empty());
    let header = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match (cookie, header) {
        (Some(cookie), Some(header)) if bool::from(cookie.as_bytes().ct_eq(header.as_bytes())) => Ok(()),
        (None, _) => Err(ApiError::csrf_failed("The csrf_token cookie is missing; log in again.")),
        _ => Err(ApiError::csrf_failed("The X-CSRF-Token header must equal the csrf_token cookie.")),
    }
}

/// Where the token came from, or the answer when there is none or it is malformed.
fn presented_token(req: &HttpRequest) -> Result<(String, AuthMethod), ApiError> {
    match bearer_token(req) {
        Some(Ok(token)) => Ok((token, AuthMethod::Bearer)),
        Some(Err(())) => Err(ApiError::unauthorized(true)),
        None => match req.cookie(ACCESS_COOKIE).filter(|c| !c.value().is_empty()) {
            Some(cookie) => Ok((cookie.value().to_owned(), AuthMethod::Cookie)),
            None => Err(ApiError::unauthorized(false)),
        },
    }
}

/// Verifies the presented token. A token naming an unknown `kid` (a key rotated in by
/// another instance) makes this instance re-read its keys, off the async workers and at
/// most once every few seconds, then try once more.
async fn authenticate(req: HttpRequest) -> Result<Authenticated, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"application state is not registered"))?;
    let (token, method) = presented_token(&req)?;
    let verifier: &dyn GetCurrentUserUseCase = state.module.resolve_ref();
    let claims = match verifier.handle(GetCurrentUser { access_token: &token }) {
        Err(CurrentUserError::UnknownKey) => {
            let reloader: Arc<dyn KeyRingReloader> = state.module.resolve();
            if web::block(move || reloader.reload_throttled()).await? {
                verifier.handle(GetCurrentUser { access_token: &token })?
            } else {
                return Err(ApiError::unauthorized(true));
            }
        }
        other => other?,
    };
    if method == AuthMethod::Cookie && is_state_changing(req.method()) {
        check_csrf(&req)?;
    }
    Ok(Authenticated { claims, method })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
