//! `/signup`: create an account (it does not log in by itself).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, NEW_PASSWORD_HINT, field, form_error, form_status_with, page};
use super::providers::provider_buttons;
use super::{html as respond, visitor};
use crate::state::AppState;

/// The sign-up page: a button per provider, then `form#signup-form` → `POST /api/auth/signup`;
/// on success `#signup-form-status` replaces them.
pub async fn signup(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = "signup-form";
    let main = html! {
        section.card {
            h1 { "Create your account" }
            (provider_buttons(&state, None, "Sign up"))
            form #(form) novalidate {
                (form_error(form))
                (field(form, Input::new("name", "Name", "text", "name")))
                (field(form, Input::new("email", "Email", "email", "email")))
                (field(form, Input::new("password", "Password", "password", "new-password").hint(NEW_PASSWORD_HINT)))
                (field(form, Input::new("avatar_url", "Picture URL (optional)", "url", "photo").optional()))
                button type="submit" { "Create account" }
            }
            // Outside the form: on 201 the script hides the form, the provider buttons and the
            // aside, so this confirmation (with the one "Log in" link) is what remains.
            (form_status_with(form, html! { a #signup-login-link href="/login" { "Log in" } }))
            p.aside { "Already have an account? " a href="/login" { "Log in" } }
        }
    };
    let visitor = visitor(&req, &state);
    respond(StatusCode::OK, page("Sign up", "signup", &visitor, state.settings.access_ttl_secs, main))
}
