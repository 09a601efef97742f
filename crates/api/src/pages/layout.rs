//! The page shell (head, skip link, navigation, main column, footer) and the form pieces every
//! page builds on, so ids follow the DOM contract in one place.

use maud::{DOCTYPE, Markup, html};

use super::Visitor;
use super::assets;

/// A whole page. `page` names it for the script (`<body data-page>`). The body also tells the
/// script what the server saw: `data-signed-in="true"` with `data-access-expires-in` (seconds
/// the access token has left) for a verified visitor, `data-signed-in="unverified"` for an
/// access cookie that did not verify (expired: the script refreshes), and the access-token
/// lifetime in `data-access-ttl`.
pub fn page(title: &str, page: &str, visitor: &Visitor, access_ttl_secs: u64, main: Markup) -> Markup {
    let user = visitor.user();
    let (signed_in, expires_in) = match visitor {
        Visitor::User { expires_in, .. } => (Some("true"), Some(*expires_in)),
        Visitor::Unverified => (Some("unverified"), None),
        Visitor::Anonymous => (None, None),
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · Portcullis" }
                link rel="icon" href=(assets::ICON_URL) type="image/svg+xml";
                link rel="stylesheet" href=(assets::CSS_URL);
                script src=(assets::JS_URL) defer {}
            }
            body data-page=(page) data-signed-in=[signed_in] data-access-expires-in=[expires_in]
                data-access-ttl=(access_ttl_secs) {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    nav aria-label="Main" {
                        a #nav-home .brand href="/" { "Portcullis" }
                        @if user.is_some() {
                            a #nav-account href="/account" { "Account" }
                            @if visitor.is_admin() {
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

/// A form-level error slot (`#<form>-error`, `role="alert"`), announced when it appears.
pub fn form_error(form: &str) -> Markup {
    html! { p.error id=(format!("{form}-error")) role="alert" hidden {} }
}

/// A success slot (`#<form>-status`, `role="status"`); the script writes into its `.msg`.
pub fn form_status(form: &str) -> Markup {
    html! { p.status id=(format!("{form}-status")) role="status" hidden { span.msg {} } }
}

/// A success slot followed, inside it, by `extra` (a link to go on with, say).
pub fn form_status_with(form: &str, extra: Markup) -> Markup {
    html! { p.status id=(format!("{form}-status")) role="status" hidden { span.msg {} " " (extra) } }
}

/// How an input is rendered by [`field`].
pub struct Input<'a> {
    /// The JSON field name: the input's `name`, and the suffix of its `id`.
    pub name: &'a str,
    /// The visible label.
    pub label: &'a str,
    /// The input `type`.
    pub kind: &'a str,
    /// The `autocomplete` token.
    pub autocomplete: &'a str,
    /// Whether the field must be filled in.
    pub required: bool,
    /// The value to start with.
    pub value: &'a str,
    /// A hint shown under the label and read with the input.
    pub hint: Option<&'a str>,
}

impl<'a> Input<'a> {
    /// A required input with no value and no hint.
    pub fn new(name: &'a str, label: &'a str, kind: &'a str, autocomplete: &'a str) -> Self {
        Self { name, label, kind, autocomplete, required: true, value: "", hint: None }
    }

    /// The same input, optional.
    pub fn optional(self) -> Self {
        Self { required: false, ..self }
    }

    /// The same input, starting with `value`.
    pub fn value(self, value: &'a str) -> Self {
        Self { value, ..self }
    }

    /// The same input, with a hint.
    pub fn hint(self, hint: &'a str) -> Self {
        Self { hint: Some(hint), ..self }
    }
}

/// A labelled input with its error slot: `#<form>-<name>`, `label[for]`, and
/// `#<form>-<name>-error` named by the input's `aria-describedby` (with the hint, if any).
/// Password inputs get the contract's length bounds.
pub fn field(form: &str, input: Input<'_>) -> Markup {
    let id = format!("{form}-{}", input.name);
    let error = format!("{id}-error");
    let hint = format!("{id}-hint");
    let described_by = if input.hint.is_some() { format!("{error} {hint}") } else { error.clone() };
    let password = input.kind == "password";
    html! {
        div.field {
            label for=(id) { (input.label) }
            @if let Some(text) = input.hint {
                p.hint id=(hint) { (text) }
            }
            input id=(id) name=(input.name) type=(input.kind) autocomplete=(input.autocomplete)
                required[input.required] minlength=[password.then_some("8")] maxlength=[password.then_some("256")]
                value=[(!input.value.is_empty()).then_some(input.value)] aria-describedby=(described_by);
            p.field-error id=(error) hidden {}
        }
    }
}

/// The hint under a new password.
pub const NEW_PASSWORD_HINT: &str =
    "At least 8 characters. Long and unusual beats short and clever: try a few unrelated words.";
