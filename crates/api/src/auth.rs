//! Who is calling: `Authorization: Bearer` first (no fall-back when it is bad), then the
//! `access_token` cookie. Cookie-authenticated state changes must carry `X-CSRF-Token`
//! equal to the `csrf_token` cookie (double submit).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use portcullis_application::ports::AccessClaims;
use portcullis_application::{GetCurrentUser, GetCurrentUserUseCase};
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

fn authenticate(req: &HttpRequest) -> Result<Authenticated, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&"application state is not registered"))?;
    let (token, method) = match bearer_token(req) {
        Some(Ok(token)) => (token, AuthMethod::Bearer),
        Some(Err(())) => return Err(ApiError::unauthorized(true)),
        None => match req.cookie(ACCESS_COOKIE).filter(|c| !c.value().is_empty()) {
            Some(cookie) => (cookie.value().to_owned(), AuthMethod::Cookie),
            None => return Err(ApiError::unauthorized(false)),
        },
    };
    let handler: &dyn GetCurrentUserUseCase = state.module.resolve_ref();
    let claims = handler.handle(GetCurrentUser { access_token: &token })?;
    if method == AuthMethod::Cookie && is_state_changing(req.method()) {
        check_csrf(req)?;
    }
    Ok(Authenticated { claims, method })
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}
