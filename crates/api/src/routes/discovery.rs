//! `/.well-known/*`: what other services need to verify our tokens.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use portcullis_infrastructure::tokens::JwksSource;
use shaku::HasComponent;

use crate::app::AppState;

/// The public signing keys (every key whose tokens may still be alive).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "JWKS: Ed25519 public keys (kty OKP, alg EdDSA)", body = Object)))]
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let source: &dyn JwksSource = state.module.resolve_ref();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(source.jwks_json())
}
