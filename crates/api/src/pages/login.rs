//! `/login?next=`: log in, then go to `next` (same-site paths only; the script checks it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, field, form_error, page};
use super::providers::{error_message, provider_buttons};
use super::{html as respond, visitor};
use crate::state::AppState;

/// The login page: a button per provider, "Sign in with a passkey" (`#passkey-login`, with
/// passkeys also offered in the email field's autofill where the browser has conditional
/// mediation), then `form#login-form` → `POST /api/auth/login`.
/// A provider's `?error=` is explained in `#login-provider-error`. On load its script tries a
/// silent refresh first, and goes to `next` at once when that works.
pub async fn login(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let form = "login-form";
    // Read leniently: a malformed query is no reason not to show the page.
    let query_value = |name: &str| {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let (next, error) = (query_value("next"), query_value("error"));
    let problem =
        error.as_deref().map(|code| error_message(code).unwrap_or("Signing in did not work. Please try again."));
    let second_step = error.as_deref() == Some("mfa_required");
    // With passkeys on, the email field also offers them (conditional mediation) and a
    // button asks for one outright.
    let passkeys = state.use_cases.passkeys.enabled();
    let email_autocomplete = if passkeys { "username webauthn" } else { "username" };
    let main = html! {
        section.card {
            h1 { "Log in" }
            @if let Some(problem) = problem {
                p #login-provider-error .error role="alert" data-code=[error.as_deref()] { (problem) }
            }
            (provider_buttons(&state, next.as_deref(), "Log in"))
            @if passkeys {
                div #passkey-login-part hidden[second_step] {
                    button #passkey-login type="button" .secondary hidden { "Sign in with a passkey" }
                    p #passkey-login-error .error role="alert" hidden {}
                }
            }
            form #(form) novalidate hidden[second_step] {
                (form_error(form))
                (field(form, Input::new("email", "Email", "email", email_autocomplete)))
                (field(form, Input::new("password", "Password", "password", "current-password")))
                button type="submit" { "Log in" }
            }
            // The second step: shown when the password (or a provider) was right and the
            // account has TOTP; the `mfa_token` cookie carries the sign-in so far.
            form #mfa-form novalidate hidden[!second_step] {
                p.hint { "Enter the 6-digit code from your authenticator app, or one of your recovery codes." }
                (form_error("mfa-form"))
                (field("mfa-form", Input::new("code", "Code", "text", "one-time-code")))
                button type="submit" { "Verify" }
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
