//! The web pages: server-rendered HTML (maud) with one stylesheet and one plain script served
//! by the binary itself. The pages talk to the JSON API with the same cookies; nothing is
//! fetched from anywhere else. Every page carries a strict `Content-Security-Policy` (only this
//! service's own script and stylesheet; no inline code) and `Cache-Control: no-store`.
//!
//! The DOM contract the browser tests rely on is in the README ("Web pages: the DOM contract").

mod account;
mod admin;
mod assets;
mod auth_pages;
mod layout;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use portcullis_application::{GetCurrentUser, GetCurrentUserUseCase};
use portcullis_domain::UserInfo;
use shaku::HasComponent;

use crate::app::{AppState, not_allowed};
use crate::cookies::ACCESS_COOKIE;

/// The policy on every page: this origin's script and stylesheet only, images also from
/// `https:` (avatars), requests only to this origin, no framing, no plugins, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Registers the pages and their assets.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let get_only = |path: &'static str, route: actix_web::Route| {
        web::resource(path).route(route).default_service(not_allowed("GET"))
    };
    cfg.service(get_only("/", web::get().to(auth_pages::home)))
        .service(get_only("/signup", web::get().to(auth_pages::signup)))
        .service(get_only("/login", web::get().to(auth_pages::login)))
        .service(get_only("/forgot-password", web::get().to(auth_pages::forgot_password)))
        .service(get_only("/reset-password", web::get().to(auth_pages::reset_password)))
        .service(get_only("/verify-email", web::get().to(auth_pages::verify_email)))
        .service(get_only("/account", web::get().to(account::account)))
        .service(get_only("/admin", web::get().to(admin::admin)))
        .service(get_only("/assets/{file}", web::get().to(assets::asset)));
}

/// An HTML answer with the page headers.
fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")))
        .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(markup.into_string())
}

/// What the `access_token` cookie says about the visitor.
enum Visitor {
    /// No access cookie.
    Anonymous,
    /// A cookie that does not verify now (expired, or signed by a key not loaded yet): the
    /// page's script refreshes or sends the person to log in.
    Unverified,
    /// A valid access token.
    User(UserInfo),
}

fn visitor(req: &HttpRequest, state: &AppState) -> Visitor {
    let Some(cookie) = req.cookie(ACCESS_COOKIE).filter(|cookie| !cookie.value().is_empty()) else {
        return Visitor::Anonymous;
    };
    let verifier: &dyn GetCurrentUserUseCase = state.module.resolve_ref();
    match verifier.handle(GetCurrentUser { access_token: cookie.value() }) {
        Ok(claims) => Visitor::User(claims.user),
        Err(_) => Visitor::Unverified,
    }
}

/// `303` to the login page, coming back to `path` afterwards.
fn to_login(path: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/login?next={}", urlencode(path))))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .finish()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
