//! `/forgot-password`: ask for a reset link.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, field, form_error, form_status, page};
use super::{html as respond, visitor};
use crate::state::AppState;

/// The forgotten-password page: `form#forgot-form` → `POST /api/auth/password/forgot`.
pub async fn forgot_password(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = "forgot-form";
    let main = html! {
        section.card {
            h1 { "Reset your password" }
            p { "Enter your email address and we will send you a link to choose a new password." }
            form #(form) novalidate {
                (form_error(form))
                (field(form, Input::new("email", "Email", "email", "email")))
                button type="submit" { "Send the link" }
                (form_status(form))
            }
            p.aside { a href="/login" { "Back to log in" } }
        }
    };
    let visitor = visitor(&req, &state);
    respond(StatusCode::OK, page("Forgot password", "forgot-password", &visitor, state.settings.access_ttl_secs, main))
}
