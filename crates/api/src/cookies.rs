//! The three cookies of a browser session, as the contract fixes them.

use actix_web::HttpResponseBuilder;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::settings::ApiSettings;

/// The access token (JWT) cookie.
pub const ACCESS_COOKIE: &str = "access_token";
/// The refresh token cookie, sent only to `/api/auth`.
pub const REFRESH_COOKIE: &str = "refresh_token";
/// The double-submit CSRF cookie, readable by scripts.
pub const CSRF_COOKIE: &str = "csrf_token";
/// Path of the refresh cookie.
pub const REFRESH_PATH: &str = "/api/auth";
/// The cookie that binds a provider sign-in flow to the browser that started it.
pub const OAUTH_FLOW_COOKIE: &str = "oauth_flow";
/// Path of the flow cookie: only the authorize and callback endpoints see it.
pub const OAUTH_FLOW_PATH: &str = "/api/auth/oauth";

/// The cookie of the second step of a sign-in (an `mfa_token`).
pub const MFA_COOKIE: &str = "mfa_token";

/// An `HttpOnly` cookie scoped to `path`, `Secure` as configured; `Max-Age=0` expires it.
fn http_only_cookie(
    settings: &ApiSettings,
    name: &'static str,
    value: &str,
    path: &'static str,
    same_site: SameSite,
    max_age: Duration,
) -> Cookie<'static> {
    Cookie::build(name, value.to_owned())
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(same_site)
        .path(path)
        .max_age(max_age)
        .finish()
}

/// The second-step cookie (`HttpOnly; SameSite=Strict; Path=/api/auth; Max-Age=300`).
pub fn mfa_cookie(settings: &ApiSettings, mfa_token: &str) -> Cookie<'static> {
    let max_age = Duration::seconds(portcullis_domain::MFA_CHALLENGE_SECONDS);
    http_only_cookie(settings, MFA_COOKIE, mfa_token, REFRESH_PATH, SameSite::Strict, max_age)
}

/// Sets the second-step cookie.
pub fn set_mfa(response: &mut HttpResponseBuilder, settings: &ApiSettings, mfa_token: &str) {
    response.cookie(mfa_cookie(settings, mfa_token));
}

/// Expires the second-step cookie.
pub fn clear_mfa(response: &mut HttpResponseBuilder, settings: &ApiSettings) {
    response.cookie(http_only_cookie(settings, MFA_COOKIE, "", REFRESH_PATH, SameSite::Strict, Duration::ZERO));
}

/// Sets the flow cookie (`SameSite=Lax`: the provider's redirect back is a top-level GET from
/// another site, which must carry it).
pub fn set_oauth_flow(response: &mut HttpResponseBuilder, settings: &ApiSettings, binding: &str) {
    let max_age = Duration::seconds(portcullis_domain::FLOW_LIFETIME_SECONDS);
    response.cookie(http_only_cookie(settings, OAUTH_FLOW_COOKIE, binding, OAUTH_FLOW_PATH, SameSite::Lax, max_age));
}

/// Expires the flow cookie.
pub fn clear_oauth_flow(response: &mut HttpResponseBuilder, settings: &ApiSettings) {
    response.cookie(http_only_cookie(settings, OAUTH_FLOW_COOKIE, "", OAUTH_FLOW_PATH, SameSite::Lax, Duration::ZERO));
}

/// Sets the access cookie only (after a profile change re-issues the token).
pub fn set_access(response: &mut HttpResponseBuilder, settings: &ApiSettings, access_token: &str) {
    let max_age = seconds(settings.access_ttl_secs);
    response.cookie(http_only_cookie(settings, ACCESS_COOKIE, access_token, "/", SameSite::Lax, max_age));
}

/// Sets all three cookies of a fresh or refreshed session, with a new CSRF token.
pub fn set_session(
    response: &mut HttpResponseBuilder,
    settings: &ApiSettings,
    access_token: &str,
    refresh_token: &str,
) {
    set_access(response, settings, access_token);
    let max_age = seconds(settings.refresh_ttl_secs);
    response.cookie(http_only_cookie(settings, REFRESH_COOKIE, refresh_token, REFRESH_PATH, SameSite::Strict, max_age));
    response.cookie(
        Cookie::build(CSRF_COOKIE, new_csrf_token())
            .http_only(false)
            .secure(settings.cookie_secure)
            .same_site(SameSite::Strict)
            .path("/")
            .max_age(seconds(settings.refresh_ttl_secs))
            .finish(),
    );
}

/// Expires all three cookies (`Max-Age=0`) with the attributes they were set with.
pub fn clear_session(response: &mut HttpResponseBuilder, settings: &ApiSettings) {
    for (name, path, http_only, same_site) in [
        (ACCESS_COOKIE, "/", true, SameSite::Lax),
        (REFRESH_COOKIE, REFRESH_PATH, true, SameSite::Strict),
        (CSRF_COOKIE, "/", false, SameSite::Strict),
    ] {
        response.cookie(
            Cookie::build(name, "")
                .http_only(http_only)
                .secure(settings.cookie_secure)
                .same_site(same_site)
                .path(path)
                .max_age(Duration::ZERO)
                .finish(),
        );
    }
}

fn seconds(secs: u64) -> Duration {
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    if let Err(error) = getrandom::getrandom(&mut bytes) {
        panic!("the operating system's random source failed: {error}");
    }
    URL_SAFE_NO_PAD.encode(bytes)
}
