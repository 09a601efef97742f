//! `/admin`: users, for administrators.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::page;
use super::{Visitor, html as respond, to_login, visitor};
use crate::state::AppState;

/// The admin page: `303` to log in without an access cookie; `403` (a page saying so) for a
/// user without role `admin`. The admin API the script calls checks the database again.
pub async fn admin(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let visitor = visitor(&req, &state);
    let ttl = state.settings.access_ttl_secs;
    match &visitor {
        Visitor::Anonymous => return to_login("/admin"),
        Visitor::User { .. } if !visitor.is_admin() => {
            let main = html! {
                section.card {
                    h1 { "Administrators only" }
                    p { "Your account does not have the admin role." }
                    p { a href="/account" { "Back to your account" } }
                }
            };
            return respond(StatusCode::FORBIDDEN, page("Forbidden", "admin", &visitor, ttl, main));
        }
        _ => {}
    }
    let main = html! {
        section.card aria-labelledby="admin-heading" {
            h1 #admin-heading { "Users" }
            form #admin-search role="search" novalidate {
                p.error #admin-search-error role="alert" hidden {}
                div.field {
                    label for="admin-search-q" { "Search by email or name" }
                    div.inline {
                        input #admin-search-q name="q" type="search" autocomplete="off"
                            aria-describedby="admin-search-q-error";
                        button type="submit" { "Search" }
                    }
                    p.field-error #admin-search-q-error hidden {}
                }
            }
            div.table-wrap {
                table #admin-users {
                    caption.visually-hidden { "Users, oldest first" }
                    thead {
                        tr {
                            th scope="col" { "Email" }
                            th scope="col" { "Name" }
                            th scope="col" { "Roles" }
                            th scope="col" { "Status" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        }
                    }
                    tbody {}
                }
            }
            p.status #admin-status role="status" hidden {}
            p.error #admin-error role="alert" hidden {}
            button #admin-next type="button" .secondary hidden { "Next page" }
        }
    };
    respond(StatusCode::OK, page("Administration", "admin", &visitor, ttl, main))
}
