//! `/account`: profile, email verification, sessions, sign-in and security (password,
//! passkeys, providers, two-step sign-in), API keys, logging out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::html;

use super::layout::{Input, NEW_PASSWORD_HINT, field, form_error, form_status, page};
use super::{Visitor, html as respond, to_login, visitor};
use crate::state::AppState;

/// The scopes a person can pick for a new key: value, description, checked at first.
const SCOPES: [(&str, &str, bool); 3] = [
    ("profile:read", "Read your profile", true),
    ("profile:write", "Change your profile", false),
    ("introspect", "Check other tokens and keys", false),
];

/// The account page. Without an `access_token` cookie: `303` to `/login?next=/account`. With
/// one that does not verify (expired) the page is served and its script refreshes, or sends
/// the person to log in; it never redirects in a loop.
pub async fn account(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let visitor = visitor(&req, &state);
    if let Visitor::Anonymous = visitor {
        return to_login("/account");
    }
    let user = visitor.user();
    let name = user.map(|user| user.name.as_str()).unwrap_or_default();
    let email = user.map(|user| user.email.as_str()).unwrap_or_default();
    let avatar = user.and_then(|user| user.avatar_url.as_deref()).unwrap_or_default();
    let verified = user.is_some_and(|user| user.email_verified);
    let passkeys = state.use_cases.passkeys.enabled();
    let main = html! {
        section.card aria-labelledby="account-heading" {
            div.identity {
                img #account-avatar .avatar src=[(!avatar.is_empty()).then_some(avatar)] alt="" width="56" height="56"
                    hidden[avatar.is_empty()];
                h1 #account-heading { span #account-name { (name) } }
            }
            p {
                span #account-email { (email) } " · "
                span #account-verified .badge .ok[verified] { @if verified { "Verified" } @else { "Not verified" } }
            }
            p {
                button #resend-verification type="button" .secondary hidden[verified] { "Send the verification link again" }
                " "
                span #resend-status role="status" hidden {}
            }
            @if visitor.is_admin() { p { a #admin-link href="/admin" { "Administration" } } }
        }
        section.card aria-labelledby="profile-heading" {
            h2 #profile-heading { "Profile" }
            form #profile-form novalidate {
                (form_error("profile-form"))
                (field("profile-form", Input::new("name", "Name", "text", "name").value(name)))
                (field("profile-form", Input::new("avatar_url", "Picture URL (optional)", "url", "photo").optional().value(avatar)))
                button type="submit" { "Save" }
                (form_status("profile-form"))
            }
        }
        section.card aria-labelledby="sessions-heading" {
            h2 #sessions-heading { "Where you are signed in" }
            ul #sessions-list .list {}
            p.error #sessions-error role="alert" hidden {}
            button #logout-all type="button" .secondary { "Log out everywhere" }
        }
        // One part for every way in and every second factor: password, passkeys, providers,
        // two-step sign-in and its recovery codes.
        section.card #security-section aria-labelledby="security-heading" {
            h2 #security-heading { "Sign-in and security" }
            p.hint { "The ways you can sign in, and what a sign-in asks for. The last way in cannot be removed." }
            div.part #password-part {
                h3 #password-heading { "Password" }
                form #password-form novalidate {
                    (form_error("password-form"))
                    // For password managers: which account this password belongs to (not sent).
                    div hidden {
                        label for="password-form-username" { "Email" }
                        input #password-form-username type="email" autocomplete="username" value=(email) readonly;
                    }
                    (field("password-form", Input::new("current_password", "Current password", "password", "current-password")))
                    (field("password-form", Input::new("new_password", "New password", "password", "new-password").hint(NEW_PASSWORD_HINT)))
                    button type="submit" { "Change password" }
                    (form_status("password-form"))
                }
                p.hint { "Changing it logs you out on every other device." }
            }
            @if passkeys {
                div.part #passkeys-section {
                    h3 #passkeys-heading { "Passkeys" }
                    p.hint { "Sign in with your device's screen lock or a security key, no password needed. A passkey counts as two factors on its own." }
                    ul #passkeys-list .list {}
                    p.error #passkeys-error role="alert" hidden {}
                    form #passkey-form novalidate {
                        (form_error("passkey-form"))
                        (field("passkey-form", Input::new("name", "Name for a new passkey (optional)", "text", "off").optional()))
                        button type="submit" { "Add a passkey" }
                        (form_status("passkey-form"))
                    }
                    p #passkeys-unsupported .hint hidden { "This browser cannot make passkeys." }
                }
            }
            div.part #identities-section hidden {
                h3 #identities-heading { "Sign-in providers" }
                p.hint { "Sign in with these as well as (or instead of) a password." }
                ul #identities-list .list {}
                p.error #identities-error role="alert" hidden {}
            }
            div.part #totp-section {
                h3 #totp-heading { "Two-step sign-in" }
                div #totp-off hidden {
                    p.hint { "Ask for a code from an authenticator app each time you sign in with a password or a provider." }
                    button #totp-begin type="button" { "Turn on two-step sign-in" }
                    div #totp-enroll hidden {
                        p { "Scan this with your authenticator app, or type the key by hand:" }
                        img #totp-qr alt="QR code for your authenticator app" width="200" height="200";
                        p.key { code #totp-secret {} }
                        form #totp-confirm-form novalidate {
                            (form_error("totp-confirm-form"))
                            (field("totp-confirm-form", Input::new("code", "Code from the app", "text", "one-time-code")))
                            button type="submit" { "Turn on" }
                        }
                    }
                }
                div #totp-on hidden {
                    p { "On. Recovery codes left: " span #recovery-codes-left {} }
                    form #recovery-codes-form novalidate {
                        (form_error("recovery-codes-form"))
                        (field("recovery-codes-form", Input::new("code", "A code from the app, or a recovery code", "text", "one-time-code")))
                        button type="submit" .secondary { "New recovery codes" }
                    }
                    form #totp-disable-form novalidate {
                        (form_error("totp-disable-form"))
                        (field("totp-disable-form", Input::new("code", "A code from the app, or a recovery code", "text", "one-time-code")))
                        button type="submit" .danger { "Turn off two-step sign-in" }
                    }
                }
                div #recovery-codes-shown .created hidden {
                    p { strong { "Save these recovery codes now" } " — each works once, if you lose your phone. They will not be shown again." }
                    ol #recovery-codes-list {}
                    button #recovery-codes-copy type="button" .secondary { "Copy" }
                    " "
                    a #recovery-codes-download .button.secondary download="portcullis-recovery-codes.txt" href="#" { "Download" }
                    " "
                    span #recovery-codes-copied role="status" hidden { "Copied" }
                }
            }
        }
        section.card aria-labelledby="keys-heading" {
            h2 #keys-heading { "API keys" }
            p.hint { "A key lets your own services call Portcullis as you, limited to its scopes. It is shown once." }
            form #api-key-form novalidate {
                (form_error("api-key-form"))
                (field("api-key-form", Input::new("name", "Key name", "text", "off")))
                fieldset aria-describedby="api-key-form-scopes-error" {
                    legend { "Scopes" }
                    @for (value, label, checked) in SCOPES {
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
                " "
                span #api-key-copied role="status" hidden { "Copied" }
            }
            ul #api-keys-list .list {}
            p.error #api-keys-error role="alert" hidden {}
        }
        section.card aria-label="Log out" {
            button #logout type="button" { "Log out" }
        }
    };
    respond(StatusCode::OK, page("Your account", "account", &visitor, state.settings.access_ttl_secs, main))
}
