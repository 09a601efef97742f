//! Who is calling: `Authorization: Bearer` first (no fall-back when it is bad), then the
//! `access_token` cookie, then `X-API-Key`. Cookie-authenticated state changes must carry
//! `X-CSRF-Token` equal to the `csrf_token` cookie (double submit).
//!
//! Three extractors, from strictest to widest:
//! - [`Authenticated`]: a person with an access token (Bearer or cookie). An API key is
//!   refused with `403 forbidden`: keys never manage sessions, passwords, keys or the account.
//! - [`Caller`]: an access token or an API key; the route then asks
//!   [`Caller::require_scope`] for the scope a key needs there.
//! - [`RequireRole`]: a caller with a role (e.g. [`RequireAdmin`]); a key passes only when it
//!   carries the scope of the same name and its owner has the role now.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};
use std::marker::PhantomData;

use portcullis_application::commands::api_keys::{ApiKeyAuthError, ApiKeyPrincipal};
use portcullis_application::ports::AccessClaims;
use portcullis_application::{VerifyAccessToken, VerifyAccessTokenError};
use portcullis_domain::{Role, UserId};

use subtle::ConstantTimeEq;

use crate::cookies::{ACCESS_COOKIE, CSRF_COOKIE};
use crate::problem::ApiError;
use crate::state::AppState;

/// Header carrying the CSRF token on cookie-authenticated state changes.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Header carrying an API key (service-to-service).
pub const API_KEY_HEADER: &str = "x-api-key";

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

/// What the caller presented, in the contract's order.
enum Credential {
    /// An access token and where it came from.
    Token(String, AuthMethod),
    /// An `X-API-Key` value.
    ApiKey(String),
}

/// The caller's credential, or the answer when there is none or it is malformed.
fn presented_credential(req: &HttpRequest) -> Result<Credential, ApiError> {
    match bearer_token(req) {
        Some(Ok(token)) => Ok(Credential::Token(token, AuthMethod::Bearer)),
        Some(Err(())) => Err(ApiError::unauthorized(true)),
        None => match req.cookie(ACCESS_COOKIE).filter(|c| !c.value().is_empty()) {
            Some(cookie) => Ok(Credential::Token(cookie.value().to_owned(), AuthMethod::Cookie)),
            None => match req.headers().get(API_KEY_HEADER) {
                Some(value) => match value.to_str().map(str::trim) {
                    Ok(key) if !key.is_empty() => Ok(Credential::ApiKey(key.to_owned())),
                    _ => Err(ApiError::unauthorized(true)),
                },
                None => Err(ApiError::unauthorized(false)),
            },
        },
    }
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(&"application state is not registered"))
}

/// Verifies an access token. A token naming an unknown `kid` (a key rotated in by another
/// instance) makes this instance re-read its keys, off the async workers and at most once
/// every few seconds, then try once more.
///
/// # Errors
/// `401 unauthorized` or `401 token_expired`.
pub async fn verify_access_token(state: &AppState, token: String) -> Result<AccessClaims, ApiError> {
    let verifier = &*state.use_cases.verify_access_token;
    let claims = match verifier.handle(VerifyAccessToken { access_token: &token }) {
        Err(VerifyAccessTokenError::UnknownKey) => {
            if reload_keys_throttled(state).await? {
                verifier.handle(VerifyAccessToken { access_token: &token })?
            } else {
                return Err(ApiError::unauthorized(true));
            }
        }
        other => other?,
    };
    Ok(claims)
}

/// Re-reads the signing keys if this instance has not done so in the last few seconds;
/// `true` when it did (so an unknown `kid` is worth another try).
///
/// # Errors
/// `500` when the blocking pool is gone.
pub async fn reload_keys_throttled(state: &AppState) -> Result<bool, ApiError> {
    let reloader = Arc::clone(&state.ports.key_reloader);
    Ok(crate::blocking::run(move || reloader.reload_throttled()).await?)
}

/// Checks an API key against the database (on the blocking pool).
async fn authenticate_api_key(state: &AppState, key: String) -> Result<ApiKeyPrincipal, ApiError> {
    let keys = Arc::clone(&state.use_cases.api_keys);
    match crate::blocking::run(move || keys.authenticate(&key)).await? {
        Ok(principal) => Ok(principal),
        Err(ApiKeyAuthError::Invalid) => Err(ApiError::unauthorized(true)),
        Err(ApiKeyAuthError::Port(port)) => Err(port.into()),
    }
}

async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
    let state = app_state(&req)?;
    match presented_credential(&req)? {
        Credential::Token(token, method) => {
            let claims = verify_access_token(&state, token).await?;
            if method == AuthMethod::Cookie && is_state_changing(req.method()) {
                check_csrf(&req)?;
            }
            Ok(Caller::User(Authenticated { claims, method }))
        }
        Credential::ApiKey(key) => Ok(Caller::Key(authenticate_api_key(&state, key).await?)),
    }
}

fn keys_not_allowed() -> ApiError {
    ApiError::forbidden("An API key cannot be used here; this needs the user's own login.")
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match authenticate(req).await? {
                Caller::User(user) => Ok(user),
                Caller::Key(_) => Err(keys_not_allowed()),
            }
        })
    }
}

/// A caller by access token or by API key.
#[derive(Clone, Debug)]
pub enum Caller {
    /// A person's access token (Bearer or cookie).
    User(Authenticated),
    /// An API key, with its owner as they are now in the database.
    Key(ApiKeyPrincipal),
}

impl Caller {
    /// The user the request acts as (a key acts as its owner).
    pub fn user_id(&self) -> UserId {
        match self {
            Caller::User(user) => user.claims.user.user_id,
            Caller::Key(key) => key.user.user_id,
        }
    }

    /// Whether the caller holds `role`: from the token's claims, or for a key from its
    /// owner's current roles.
    pub fn has_role(&self, role: &str) -> bool {
        match self {
            Caller::User(user) => user.claims.user.roles.iter().any(|held| held == role),
            Caller::Key(key) => key.user.roles.iter().any(|held| held == role),
        }
    }

    /// Lets a token through (it acts fully as its user); lets a key through only when it
    /// carries `scope`.
    ///
    /// # Errors
    /// `403 forbidden` for a key without the scope.
    pub fn require_scope(&self, scope: &str) -> Result<(), ApiError> {
        match self {
            Caller::User(_) => Ok(()),
            Caller::Key(key) if key.scopes.contains(scope) => Ok(()),
            Caller::Key(_) => Err(ApiError::forbidden(format!("This API key lacks the scope `{scope}`."))),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

/// A role a route can require, named at compile time.
pub trait RoleName {
    /// The role's name, e.g. `admin`.
    const NAME: &'static str;
}

/// The `admin` role.
#[derive(Clone, Copy, Debug)]
pub struct AdminRole;

impl RoleName for AdminRole {
    const NAME: &'static str = Role::ADMIN;
}

/// A caller that holds role `R`: an access token whose `roles` claim has it, or an API key
/// carrying the scope named like the role whose owner has the role now. Anyone else gets
/// `403 forbidden`. Use it as a handler argument: `async fn f(caller: RequireRole<AdminRole>)`.
#[derive(Clone, Debug)]
pub struct RequireRole<R: RoleName> {
    /// Who is calling.
    pub caller: Caller,
    role: PhantomData<R>,
}

/// A caller with role `admin` (see [`RequireRole`]).
pub type RequireAdmin = RequireRole<AdminRole>;

impl<R: RoleName> RequireRole<R> {
    /// Checks `caller` for role `R`.
    ///
    /// # Errors
    /// `403 forbidden` when it lacks the role (or, for a key, the scope).
    pub fn check(caller: Caller) -> Result<Self, ApiError> {
        let allowed = match &caller {
            Caller::User(_) => caller.has_role(R::NAME),
            Caller::Key(key) => key.scopes.contains(R::NAME) && caller.has_role(R::NAME),
        };
        if allowed {
            Ok(Self { caller, role: PhantomData })
        } else {
            Err(ApiError::forbidden(format!("This needs the `{}` role.", R::NAME)))
        }
    }
}

impl<R: RoleName + 'static> FromRequest for RequireRole<R> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)?;
            let allowed = Self::check(authenticate(req).await?)?;
            if R::NAME == AdminRole::NAME
                && state.settings.admin_requires_mfa
                && let Caller::User(user) = &allowed.caller
                && !user.claims.methods.is_multi_factor()
            {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::FORBIDDEN,
                    "mfa_required",
                    "The admin API needs a session signed in with two factors: turn on two-step sign-in, then sign in again.",
                ));
            }
            Ok(allowed)
        })
    }
}
