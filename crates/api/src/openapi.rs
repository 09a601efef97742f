//! The OpenAPI 3.1 document, generated from the route annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto::{FieldProblem, HealthBody, Problem, SessionBody, UserInfoBody};
use crate::routes::discovery::OpenIdConfiguration;
use crate::routes::oauth::{OAuthErrorBody, RevokeRequest, TokenRequest, TokenResponse};
use crate::routes::sessions::SessionItem;
use crate::routes::{auth, discovery, health, oauth, sessions};

/// Every endpoint of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Authentication service: signup, login, rotating refresh tokens, cookies or Bearer."),
    paths(
        auth::signup, auth::login, auth::refresh, auth::logout, auth::current_user, auth::update_current_user,
        sessions::list, sessions::revoke, sessions::logout_all,
        oauth::token, oauth::revoke,
        discovery::jwks, discovery::openid_configuration, health::live, health::ready, openapi_json,
        crate::metrics::metrics,
    ),
    components(schemas(UserInfoBody, SessionBody, SessionItem, OpenIdConfiguration, Problem, FieldProblem, HealthBody,
        TokenRequest, RevokeRequest, TokenResponse, OAuthErrorBody)),
    modifiers(&SecuritySchemes),
    tags((name = "auth"), (name = "sessions"), (name = "oauth"), (name = "discovery"), (name = "health"), (name = "meta"))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))));
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
