//! `/`: a summary for a signed-in visitor, or the way in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::page;
use super::{html as respond, visitor};
use crate::state::AppState;

/// The home page. Rendered for whoever the access cookie names; with none (or an expired one)
/// the signed-out view, whose script refreshes silently when a session may exist.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let visitor = visitor(&req, &state);
    let main = html! {
        @if let Some(user) = visitor.user() {
            section #home-signed-in .card {
                h1 { "Welcome back, " span #home-name { (user.name) } }
                p { "You are signed in as " strong { (user.email) } "." }
                p.actions {
                    a.button href="/account" { "Your account" }
                    @if visitor.is_admin() { a.button.secondary href="/admin" { "Administration" } }
                }
            }
        } @else {
            section #home-signed-out .card {
                h1 { "Portcullis" }
                p { "Sign in to manage your account, your sessions and your API keys." }
                p.actions {
                    a.button href="/login" { "Log in" }
                    a.button.secondary href="/signup" { "Create an account" }
                }
            }
        }
    };
    respond(StatusCode::OK, page("Home", "home", &visitor, state.settings.access_ttl_secs, main))
}
