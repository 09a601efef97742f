//! `/login?next=`: log in, then go to `next` (same-site paths only; the script checks it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, field, form_error, page};
use super::{html as respond, visitor};
use crate::state::AppState;

/// The login page: `form#login-form` → `POST /api/auth/login`. On load its script tries a
/// silent refresh first, and goes to `next` at once when that works.
pub async fn login(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = "login-form";
    let main = html! {
        section.card {
            h1 { "Log in" }
            form #(form) novalidate {
                (form_error(form))
                (field(form, Input::new("email", "Email", "email", "username")))
                (field(form, Input::new("password", "Password", "password", "current-password")))
                button type="submit" { "Log in" }
            }
            p.aside {
                a href="/forgot-password" { "Forgot your password?" }
                " · "
                a href="/signup" { "Create an account" }
            }
        }
    };
    let visitor = visitor(&req, &state);
    respond(StatusCode::OK, page("Log in", "login", &visitor, state.settings.access_ttl_secs, main))
}
