//! What the pages show of the upstream providers: a button per provider, and the words for
//! each `/login?error=` code a provider callback can end with.

use maud::{Markup, html};

use crate::state::AppState;

/// The `/login?error=` codes of a provider callback, in words.
pub fn error_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "oauth_denied" => "You cancelled signing in at the provider. Nothing was changed.",
        "oauth_failed" => "Signing in with the provider did not work. Please try again.",
        "email_unverified" => {
            "The provider did not confirm your email address, so no account can be made from it. \
             Confirm the address at the provider, or sign up with a password."
        }
        "account_exists" => {
            "An account with this email address already exists. Log in the usual way, then link \
             the provider on your account page."
        }
        "identity_taken" => "That provider account is already linked to another account.",
        "account_disabled" => "This account has been disabled.",
        "mfa_required" => "One more step: enter a code from your authenticator app to finish signing in.",
        _ => return None,
    })
}

/// A button (`a#provider-{id}.provider-button`) per configured provider, each starting its
/// flow and coming back to `next`; nothing when none is configured.
pub fn provider_buttons(state: &AppState, next: Option<&str>, verb: &str) -> Markup {
    let providers = state.use_cases.provider_sign_in.providers();
    let next = next.and_then(|next| state.settings.same_site_path(next));
    let query = next.map(|next| format!("?next={}", super::urlencode(next.as_str()))).unwrap_or_default();
    html! {
        @if !providers.is_empty() {
            div #provider-buttons .providers {
                @for provider in &providers {
                    a #{"provider-" (provider.id)} .provider-button .button
                        href={"/api/auth/oauth/" (provider.id) "/authorize" (query)} {
                        (verb) " with " (provider.name)
                    }
                }
            }
            p.divider { span { "or" } }
        }
    }
}
