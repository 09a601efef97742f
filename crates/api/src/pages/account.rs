//! `/account`: profile, email verification, sessions, password, API keys, logging out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;
use portcullis_domain::Role;

use super::layout::{field, form_error, form_status, page, password_field};
use super::{Visitor, html as respond, to_login, visitor};
use crate::app::AppState;

/// The account page. Without an `access_token` cookie: `303` to `/login?next=/account`. With an
/// expired one the page is served and its script refreshes (or sends the person to log in).
pub async fn account(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let user = match visitor(&req, &state) {
        Visitor::Anonymous => return to_login("/account"),
        Visitor::Unverified => None,
        Visitor::User(user) => Some(user),
    };
    let name = user.as_ref().map(|user| user.name.clone()).unwrap_or_default();
    let email = user.as_ref().map(|user| user.email.clone()).unwrap_or_default();
    let verified = user.as_ref().is_some_and(|user| user.email_verified);
    let admin = user.as_ref().is_some_and(|user| user.roles.iter().any(|role| role == Role::ADMIN));
    let avatar = user.as_ref().and_then(|user| user.avatar_url.clone()).unwrap_or_default();
    let main = html! {
        section.card #account-profile aria-labelledby="account-heading" {
            h1 #account-heading { span #account-name { (name) } }
            p {
                span #account-email { (email) } " · "
                span #account-verified .badge .ok[verified] { @if verified { "Verified" } @else { "Not verified" } }
            }
            p {
                button #resend-verification type="button" .secondary hidden[verified] { "Send the verification link again" }
                span #resend-status role="status" hidden {}
            }
            @if admin { p { a #admin-link href="/admin" { "Administration" } } }
        }
        section.card aria-labelledby="profile-heading" {
            h2 #profile-heading { "Profile" }
            form #profile-form novalidate {
                (form_error("profile-form"))
                div.field {
                    label for="profile-form-name" { "Name" }
                    input #profile-form-name name="name" type="text" autocomplete="name" required value=(name)
                        aria-describedby="profile-form-name-error";
                    p.field-error #profile-form-name-error hidden {}
                }
                div.field {
                    label for="profile-form-avatar_url" { "Picture URL (optional)" }
                    input #profile-form-avatar_url name="avatar_url" type="url" autocomplete="photo" value=(avatar)
                        aria-describedby="profile-form-avatar_url-error";
                    p.field-error #profile-form-avatar_url-error hidden {}
                }
                button type="submit" { "Save" }
                (form_status("profile-form"))
            }
        }
        section.card aria-labelledby="sessions-heading" {
            h2 #sessions-heading { "Where you are signed in" }
            ul #sessions-list .list aria-live="polite" {}
            p.error #sessions-error role="alert" hidden {}
            button #logout-all type="button" .secondary { "Log out everywhere" }
        }
        section.card aria-labelledby="password-heading" {
            h2 #password-heading { "Password" }
            form #password-form novalidate {
                (form_error("password-form"))
                (password_field("password-form", "current_password", "Current password", "current-password"))
                (password_field("password-form", "new_password", "New password", "new-password"))
                button type="submit" { "Change password" }
                (form_status("password-form"))
            }
            p.hint { "Changing it logs you out on every other device." }
        }
        section.card aria-labelledby="keys-heading" {
            h2 #keys-heading { "API keys" }
            p.hint { "A key lets your own services call Portcullis as you, limited to its scopes. It is shown once." }
            form #api-key-form novalidate {
                (form_error("api-key-form"))
                (field("api-key-form", "name", "Key name", "text", "off", true))
                fieldset {
                    legend { "Scopes" }
                    @for (value, label, checked) in [
                        ("profile:read", "Read your profile", true),
                        ("profile:write", "Change your profile", false),
                        ("introspect", "Check other tokens and keys", false),
                    ] {
                        label.check {
                            input type="checkbox" name="scopes" value=(value) checked[checked];
                            " " (label) " " code { (value) }
                        }
                    }
                    p.field-error #api-key-form-scopes-error hidden {}
                }
                button type="submit" { "Create key" }
                (form_status("api-key-form"))
            }
            div #api-key-created .created hidden {
                p { strong { "Copy your new key now" } " — it will not be shown again." }
                p.key { code #api-key-value {} }
                button #api-key-copy type="button" .secondary { "Copy" }
                span #api-key-copied role="status" hidden { "Copied" }
            }
            ul #api-keys-list .list aria-live="polite" {}
        }
        section.card {
            button #logout type="button" { "Log out" }
        }
    };
    respond(StatusCode::OK, page("Your account", "account", user.as_ref(), main))
}
