//! `/.well-known/*`: what other services need to verify our tokens.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// The public signing keys (every key whose tokens may still be alive).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JWKS: Ed25519 public keys (kty OKP, alg EdDSA)", body = Object)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let source = &*state.ports.jwks;
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(source.jwks_json())
}

/// OpenID Connect discovery metadata: where the keys and the token endpoints are.
#[derive(Serialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// The `iss` of every access token.
    pub issuer: String,
    /// Where the public keys are.
    pub jwks_uri: String,
    /// The OAuth 2.0 token endpoint (password and refresh_token grants).
    pub token_endpoint: String,
    /// The RFC 7009 revocation endpoint.
    pub revocation_endpoint: String,
    /// The RFC 7662 introspection endpoint.
    pub introspection_endpoint: String,
    /// `["password", "refresh_token"]`.
    pub grant_types_supported: Vec<&'static str>,
    /// `["EdDSA"]`.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// `["none"]`: clients are public.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
}

/// Discovery document (`issuer`, `jwks_uri`, `token_endpoint`, `revocation_endpoint`, …).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "Discovery metadata", body = OpenIdConfiguration)))]
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    let issuer = state.settings.issuer.clone();
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=300")).json(OpenIdConfiguration {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        token_endpoint: format!("{issuer}/api/auth/token"),
        revocation_endpoint: format!("{issuer}/api/auth/revoke"),
        introspection_endpoint: format!("{issuer}/api/auth/introspect"),
        grant_types_supported: vec!["password", "refresh_token"],
        id_token_signing_alg_values_supported: vec!["EdDSA"],
        token_endpoint_auth_methods_supported: vec!["none"],
        issuer,
    })
}
