//! `/reset-password?token=`: choose a new password with the mailed link.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, NEW_PASSWORD_HINT, field, form_error, form_status_with, page};
use super::{html as respond, visitor};
use crate::state::AppState;

/// The reset page: `form#reset-form` → `POST /api/auth/password/reset` with the token the
/// script reads from the address (it never reaches the server's HTML).
pub async fn reset_password(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = "reset-form";
    let main = html! {
        section.card {
            h1 { "Choose a new password" }
            form #(form) novalidate {
                (form_error(form))
                (field(form, Input::new("new_password", "New password", "password", "new-password").hint(NEW_PASSWORD_HINT)))
                button type="submit" { "Set the password" }
                (form_status_with(form, html! { a #reset-login-link href="/login" { "Log in" } }))
            }
            p.aside { "Link expired? " a href="/forgot-password" { "Ask for a new one" } }
        }
    };
    let visitor = visitor(&req, &state);
    respond(StatusCode::OK, page("Reset password", "reset-password", &visitor, state.settings.access_ttl_secs, main))
}
