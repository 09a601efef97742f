//! The web pages: server-rendered HTML (maud) with one stylesheet and one plain script served
//! by the binary itself. The pages talk to the JSON API with the same cookies; nothing is
//! fetched from anywhere else. Every page carries a strict `Content-Security-Policy` (only this
//! service's own script and stylesheet; no inline code) and `Cache-Control: no-store`.
//!
//! The DOM contract the browser tests rely on is in the README ("The web pages' DOM contract").

mod account;
mod admin;
mod assets;
mod forgot_password;
mod home;
mod layout;
mod login;
mod providers;
mod reset_password;
mod signup;
mod verify_email;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use maud::Markup;
use portcullis_application::VerifyAccessToken;
use portcullis_domain::{Role, UserInfo};

use crate::cookies::ACCESS_COOKIE;
use crate::endpoint::endpoint;
use crate::state::AppState;

/// The policy on every page: this origin's script and stylesheet only, images also from
/// `https:` (avatars), requests only to this origin, no framing, no plugins, no inline code.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Registers the pages and their assets. Call it before the application's `default_service`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(endpoint("/").get(home::home).build())
        .service(endpoint("/signup").get(signup::signup).build())
        .service(endpoint("/login").get(login::login).build())
        .service(endpoint("/account").get(account::account).build())
        .service(endpoint("/forgot-password").get(forgot_password::forgot_password).build())
        .service(endpoint("/reset-password").get(reset_password::reset_password).build())
        .service(endpoint("/verify-email").get(verify_email::verify_email).build())
        .service(endpoint("/admin").get(admin::admin).build())
        .service(endpoint("/assets/{file}").get(assets::asset).build());
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
    /// page is served anyway and its script refreshes, or sends the person to log in.
    Unverified,
    /// A valid access token: its user, and the seconds it has left.
    User {
        /// The user as of the token's issue.
        user: UserInfo,
        /// Seconds until the token expires.
        expires_in: i64,
    },
}

impl Visitor {
    /// The signed-in user, when the cookie verified.
    fn user(&self) -> Option<&UserInfo> {
        match self {
            Visitor::User { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Whether the signed-in user has role `admin`.
    fn is_admin(&self) -> bool {
        self.user().is_some_and(|user| user.roles.iter().any(|role| role == Role::ADMIN))
    }
}

/// Reads the `access_token` cookie: one signature check, no database.
fn visitor(req: &HttpRequest, state: &AppState) -> Visitor {
    let Some(cookie) = req.cookie(ACCESS_COOKIE).filter(|cookie| !cookie.value().is_empty()) else {
        return Visitor::Anonymous;
    };
    let verifier = &*state.use_cases.verify_access_token;
    match verifier.handle(VerifyAccessToken { access_token: cookie.value() }) {
        Ok(claims) => {
            let clock = &*state.ports.clock;
            let expires_in = (claims.expires_at - clock.now()).num_seconds().max(0);
            Visitor::User { user: claims.user, expires_in }
        }
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

pub(crate) fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
