//! `/verify-email?token=`: the link from the verification mail.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::page;
use super::{html as respond, visitor};
use crate::state::AppState;

/// The verification page: its script posts the token from the address to
/// `POST /api/auth/email/verify` on load and shows `#verify-status` or `#verify-error`.
pub async fn verify_email(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let main = html! {
        section.card {
            h1 { "Verify your email address" }
            p #verify-working { "Checking your link…" }
            p.status #verify-status role="status" hidden {}
            p.error #verify-error role="alert" hidden {}
            p.aside { a href="/account" { "Go to your account" } }
        }
    };
    let visitor = visitor(&req, &state);
    respond(StatusCode::OK, page("Verify email", "verify-email", &visitor, state.settings.access_ttl_secs, main))
}
