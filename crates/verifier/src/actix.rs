//! actix-web integration: the [`AuthenticatedUser`] extractor and problem+json errors.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use crate::{Claims, Verifier, VerifierError};

/// The cookie Portcullis' browser endpoints put the access token in.
pub const ACCESS_TOKEN_COOKIE: &str = "access_token";

/// The user behind a verified access token.
///
/// Extracting it reads `Authorization: Bearer <token>`, else the `access_token` cookie, and
/// verifies the token with the `web::Data<Verifier>` registered on the app. A missing or bad
/// token answers `401` (`unauthorized`, or `token_expired`) with `WWW-Authenticate: Bearer`.
///
/// ```rust,ignore
/// async fn admin_only(user: AuthenticatedUser) -> Result<String, VerifierError> {
///     user.require_role("admin")?;
///     Ok(format!("hello {}", user.claims().name))
/// }
/// ```
#[derive(Clone, Debug)]
pub struct AuthenticatedUser {
    claims: Claims,
}

impl AuthenticatedUser {
    /// The token's claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The claims, owned.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// The user id (`sub`).
    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    /// The user's roles.
    pub fn roles(&self) -> &[String] {
        &self.claims.roles
    }

    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.claims.has_role(role)
    }

    /// `Ok` when the user has `role`.
    ///
    /// # Errors
    /// [`VerifierError::Forbidden`], which answers `403 forbidden`.
    pub fn require_role(&self, role: &str) -> Result<(), VerifierError> {
        if self.has_role(role) { Ok(()) } else { Err(VerifierError::Forbidden(role.to_owned())) }
    }
}

/// The token in `Authorization: Bearer …`, else in the `access_token` cookie.
fn token_of(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let mut parts = value.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or_default();
        let token = parts.next().unwrap_or_default().trim();
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            return Some(token.to_owned());
        }
    }
    req.cookie(ACCESS_TOKEN_COOKIE).map(|c| c.value().to_owned()).filter(|t| !t.is_empty())
}

impl FromRequest for AuthenticatedUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let verifier = req.app_data::<web::Data<Verifier>>().cloned();
        let token = token_of(req);
        Box::pin(async move {
            let Some(verifier) = verifier else {
                return Err(actix_web::error::ErrorInternalServerError(
                    "portcullis-verifier: no web::Data<Verifier> is registered on the app",
                ));
            };
            let token = token.ok_or(VerifierError::Missing)?;
            let claims = verifier.verify(&token).await?;
            Ok(AuthenticatedUser { claims })
        })
    }
}

impl VerifierError {
    /// The stable `code` of the problem+json answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Expired => "token_expired",
            Self::Missing | Self::Invalid | Self::UnknownKey => "unauthorized",
            Self::KeysUnavailable(_) => "keys_unavailable",
            Self::Forbidden(_) => "forbidden",
        }
    }
}

impl ResponseError for VerifierError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Expired | Self::Invalid | Self::UnknownKey => StatusCode::UNAUTHORIZED,
            Self::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let detail = match self {
            // The fetch error may name internal hosts: keep it out of the answer.
            Self::KeysUnavailable(_) => "The signing keys are unavailable; try again later.".to_owned(),
            other => other.to_string(),
        };
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "code": self.code(),
        });
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::Missing => {
                response.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            Self::Expired | Self::Invalid | Self::UnknownKey => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                ));
            }
            Self::KeysUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            Self::Forbidden(_) => {}
        }
        response.body(body.to_string())
    }
}

/// A role a route can require, named at compile time (see [`RequireRole`]).
pub trait RoleName {
    /// The role's name, as in the token's `roles` claim.
    const NAME: &'static str;
}

/// The `admin` role.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

/// An [`AuthenticatedUser`] that holds role `R`; anyone else gets `403 forbidden` (and no
/// token `401`), before the handler runs.
///
/// ```rust,ignore
/// async fn reports(admin: RequireRole<Admin>) -> HttpResponse { /* admin.user … */ }
/// ```
#[derive(Clone, Debug)]
pub struct RequireRole<R: RoleName> {
    /// The verified user.
    pub user: AuthenticatedUser,
    role: std::marker::PhantomData<R>,
}

impl<R: RoleName + 'static> FromRequest for RequireRole<R> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = AuthenticatedUser::from_request(req, payload);
        Box::pin(async move {
            let user = user.await?;
            user.require_role(R::NAME)?;
            Ok(Self { user, role: std::marker::PhantomData })
        })
    }
}
