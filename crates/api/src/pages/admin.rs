//! `/admin`: users, for administrators.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use portcullis_domain::Role;

use super::layout::{form_error, page};
use super::{Visitor, html as respond, to_login, visitor};
use crate::app::AppState;

/// The admin page: `303` to log in without an access cookie; `403` for a user without role
/// `admin` (the admin API checks the database again on every call).
pub async fn admin(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let user = match visitor(&req, &state) {
        Visitor::Anonymous => return to_login("/admin"),
        Visitor::Unverified => None,
        Visitor::User(user) => Some(user),
    };
    if let Some(user) = &user {
        if !user.roles.iter().any(|role| role == Role::ADMIN) {
            let main = html! {
                section.card {
                    h1 { "Administrators only" }
                    p { "Your account does not have the admin role." }
                    p { a href="/account" { "Back to your account" } }
                }
            };
            return respond(StatusCode::FORBIDDEN, page("Forbidden", "admin", Some(user), main));
        }
    }
    let main = html! {
        section.card {
            h1 { "Users" }
            form #admin-search role="search" novalidate {
                (form_error("admin-search"))
                div.field.inline {
                    label for="admin-search-q" { "Search by email or name" }
                    input #admin-search-q name="q" type="search" autocomplete="off";
                    button type="submit" { "Search" }
                }
            }
            div.table-wrap {
                table #admin-users {
                    thead { tr { th scope="col" { "Email" } th scope="col" { "Name" } th scope="col" { "Roles" } th scope="col" { "Status" } th scope="col" { span.visually-hidden { "Actions" } } } }
                    tbody {}
                }
            }
            p.error #admin-error role="alert" hidden {}
            button #admin-next type="button" .secondary hidden { "Next page" }
        }
    };
    respond(StatusCode::OK, page("Administration", "admin", user.as_ref(), main))
}
