//! The page shell: head, skip link, navigation, main column, footer.

use maud::{DOCTYPE, Markup, html};
use portcullis_domain::{Role, UserInfo};

use super::assets;

/// A whole page. `page` names it for the script (`<body data-page>`); `user` is the signed-in
/// visitor, if the server could tell.
pub fn page(title: &str, page: &str, user: Option<&UserInfo>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Portcullis" }
                link rel="stylesheet" href=(assets::CSS_URL);
                script src=(assets::JS_URL) defer {}
            }
            body data-page=(page) {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    nav aria-label="Main" {
                        a #nav-home .brand href="/" { "Portcullis" }
                        @if let Some(user) = user {
                            a #nav-account href="/account" { "Account" }
                            @if user.roles.iter().any(|role| role == Role::ADMIN) {
                                a #nav-admin href="/admin" { "Admin" }
                            }
                            button #nav-logout type="button" .link { "Log out" }
                        } @else {
                            a #nav-login href="/login" { "Log in" }
                            a #nav-signup href="/signup" { "Sign up" }
                        }
                    }
                }
                main #main tabindex="-1" { (main) }
                footer.site { p { "Portcullis — authentication you run yourself." } }
            }
        }
    }
}

/// A form-level error slot (`#<form>-error`), announced when it appears.
pub fn form_error(form: &str) -> Markup {
    html! { p.error id=(format!("{form}-error")) role="alert" hidden {} }
}

/// A success slot (`#<form>-status`).
pub fn form_status(form: &str) -> Markup {
    html! { p.status id=(format!("{form}-status")) role="status" hidden { span.msg {} } }
}

/// A labelled input with its error slot: `#<form>-<name>` and `#<form>-<name>-error`.
pub fn field(form: &str, name: &str, label: &str, kind: &str, autocomplete: &str, required: bool) -> Markup {
    let id = format!("{form}-{name}");
    let error = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type=(kind) autocomplete=(autocomplete) required[required]
                aria-describedby=(error);
            p.field-error id=(error) hidden {}
        }
    }
}

/// A password input with a hint about the policy.
pub fn password_field(form: &str, name: &str, label: &str, autocomplete: &str) -> Markup {
    let id = format!("{form}-{name}");
    let error = format!("{id}-error");
    let hint = format!("{id}-hint");
    let new = autocomplete == "new-password";
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(name) type="password" autocomplete=(autocomplete) required minlength="8"
                maxlength="256" aria-describedby=(format!("{error} {hint}"));
            @if new {
                p.hint id=(hint) { "At least 8 characters. Long and unusual beats short and clever: try a few unrelated words." }
            } @else {
                span id=(hint) hidden {}
            }
            p.field-error id=(error) hidden {}
        }
    }
}
