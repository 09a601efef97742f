//! The pages of a visitor who is not (necessarily) signed in: home, signup, login, forgot and
//! reset password, verify email.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{field, form_error, form_status, page, password_field};
use super::{Visitor, html as respond, visitor};
use crate::app::AppState;

/// `/`: a summary for a signed-in visitor, or the way in.
pub async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let user = match visitor(&req, &state) {
        Visitor::User(user) => Some(user),
        _ => None,
    };
    let main = html! {
        @if let Some(user) = &user {
            section #home-signed-in .card {
                h1 { "Welcome back, " span #home-name { (user.name) } }
                p { "You are signed in as " strong { (user.email) } "." }
                p { a.button href="/account" { "Your account" } }
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
    respond(StatusCode::OK, page("Home", "home", user.as_ref(), main))
}

/// `/signup`.
pub async fn signup() -> HttpResponse {
    let form = "signup-form";
    let main = html! {
        section.card {
            h1 { "Create your account" }
            form #(form) novalidate {
                (form_error(form))
                (field(form, "name", "Name", "text", "name", true))
                (field(form, "email", "Email", "email", "email", true))
                (password_field(form, "password", "Password", "new-password"))
                (field(form, "avatar_url", "Picture URL (optional)", "url", "photo", false))
                button type="submit" { "Create account" }
                p.status #(format!("{form}-status")) role="status" hidden {
                    span.msg {} " " a #signup-login-link href="/login" { "Log in" }
                }
            }
            p.aside { "Already have an account? " a href="/login" { "Log in" } }
        }
    };
    respond(StatusCode::OK, page("Sign up", "signup", None, main))
}

/// `/login?next=`: the script goes to `next` (same-site paths only) after logging in.
pub async fn login() -> HttpResponse {
    let form = "login-form";
    let main = html! {
        section.card {
            h1 { "Log in" }
            form #(form) novalidate {
                (form_error(form))
                (field(form, "email", "Email", "email", "username", true))
                (password_field(form, "password", "Password", "current-password"))
                button type="submit" { "Log in" }
            }
            p.aside {
                a href="/forgot-password" { "Forgot your password?" }
                " · "
                a href="/signup" { "Create an account" }
            }
        }
    };
    respond(StatusCode::OK, page("Log in", "login", None, main))
}

/// `/forgot-password`.
pub async fn forgot_password() -> HttpResponse {
    let form = "forgot-form";
    let main = html! {
        section.card {
            h1 { "Reset your password" }
            p { "Enter your email address and we will send you a link to choose a new password." }
            form #(form) novalidate {
                (form_error(form))
                (field(form, "email", "Email", "email", "email", true))
                button type="submit" { "Send the link" }
                (form_status(form))
            }
        }
    };
    respond(StatusCode::OK, page("Forgot password", "forgot-password", None, main))
}

/// `/reset-password?token=`: the script reads the token from the address.
pub async fn reset_password() -> HttpResponse {
    let form = "reset-form";
    let main = html! {
        section.card {
            h1 { "Choose a new password" }
            form #(form) novalidate {
                (form_error(form))
                (password_field(form, "new_password", "New password", "new-password"))
                button type="submit" { "Set the password" }
                p.status #(format!("{form}-status")) role="status" hidden {
                    span.msg {} " " a #reset-login-link href="/login" { "Log in" }
                }
            }
        }
    };
    respond(StatusCode::OK, page("Reset password", "reset-password", None, main))
}

/// `/verify-email?token=`: the script posts the token on load.
pub async fn verify_email() -> HttpResponse {
    let main = html! {
        section.card {
            h1 { "Verify your email address" }
            p #verify-working aria-live="polite" { "Checking your link…" }
            p.status #verify-status role="status" hidden {}
            p.error #verify-error role="alert" hidden {}
            p.aside { a href="/account" { "Go to your account" } }
        }
    };
    respond(StatusCode::OK, page("Verify email", "verify-email", None, main))
}
