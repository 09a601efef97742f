//! The actix `App`: routes (each an [`endpoint`](crate::endpoint::endpoint), which answers
//! `405` to other methods), the contract's `404` for unknown paths,
//! `Cache-Control: no-store` on `/api/**`, and security headers on everything.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, Error, HttpResponse, web};

use crate::cors;
use crate::endpoint::endpoint;
use crate::metrics;
use crate::openapi;
use crate::problem::ApiError;
use crate::rate_limit;
use crate::routes::{
    account, admin, api_keys, auth, discovery, health, introspect, mfa, oauth, passkeys, providers, sessions,
};
use crate::state::AppState;

async fn no_store_on_api(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let is_api = req.path().starts_with("/api/");
    let mut response = next.call(req).await?;
    if is_api {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

/// Headers every response carries; HSTS only when the service is public over HTTPS.
fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::X_FRAME_OPTIONS, "DENY"));
    if https {
        headers.add((header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
    } else {
        headers
    }
}

/// The application with every route and middleware.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let https = state.settings.issuer.starts_with("https://");
    App::new()
        .app_data(state)
        // Innermost: counts only requests that passed the Origin check, keyed by path so every
        // limited endpoint is covered (the per-IP limit, see `rate_limit`).
        .wrap(from_fn(rate_limit::limit_per_client_ip))
        .wrap(from_fn(no_store_on_api))
        // Outside the others but the security headers, so its own answers (preflights, the
        // Origin refusal) and every other middleware's answers get CORS headers too.
        .wrap(from_fn(cors::cors_and_origin))
        .wrap(security_headers(https))
        // Outermost: the request id, the request span and the HTTP metrics see every answer.
        .wrap(from_fn(metrics::observe))
        .service(endpoint("/api/auth/signup").post(auth::signup).build())
        .service(endpoint("/api/auth/login").post(auth::login).build())
        .service(endpoint("/api/auth/refresh").post(auth::refresh).build())
        .service(endpoint("/api/auth/logout").post(auth::logout).build())
        .service(
            endpoint("/api/auth/current-user")
                .get(auth::current_user)
                .patch(auth::update_current_user)
                .delete(account::delete_account)
                .build(),
        )
        .service(endpoint("/api/auth/password/change").post(account::change_password).build())
        .service(endpoint("/api/auth/password/forgot").post(account::forgot_password).build())
        .service(endpoint("/api/auth/password/reset").post(account::reset_password).build())
        .service(endpoint("/api/auth/email/verify").post(account::verify_email).build())
        .service(endpoint("/api/auth/email/resend").post(account::resend_verification).build())
        .service(endpoint("/api/auth/api-keys").post(api_keys::create).get(api_keys::list).build())
        .service(endpoint("/api/auth/api-keys/{id}").delete(api_keys::delete).build())
        .service(endpoint("/api/auth/introspect").post(introspect::introspect).build())
        .service(endpoint("/api/admin/users").get(admin::list).build())
        .service(endpoint("/api/admin/users/{id}").get(admin::get).patch(admin::update).delete(admin::delete).build())
        .service(endpoint("/api/admin/users/{id}/mfa").delete(admin::reset_mfa).build())
        .service(endpoint("/api/openapi.json").get(openapi::openapi_json).build())
        .service(endpoint("/.well-known/jwks.json").get(discovery::jwks).build())
        .service(endpoint("/api/auth/sessions").get(sessions::list).build())
        .service(endpoint("/api/auth/sessions/{id}").delete(sessions::revoke).build())
        .service(endpoint(oauth::TOKEN_PATH).post(oauth::token).oauth_errors().build())
        .service(endpoint(oauth::REVOKE_PATH).post(oauth::revoke).oauth_errors().build())
        .service(endpoint("/api/auth/logout-all").post(sessions::logout_all).build())
        .service(endpoint("/api/auth/providers").get(providers::list_providers).build())
        .service(endpoint("/api/auth/oauth/{provider}/authorize").get(providers::authorize).build())
        .service(endpoint("/api/auth/oauth/{provider}/callback").get(providers::callback).build())
        .service(endpoint("/api/auth/identities").get(providers::list_identities).build())
        .service(endpoint("/api/auth/identities/{provider}").post(providers::link).delete(providers::unlink).build())
        .service(endpoint("/api/auth/methods").get(providers::methods).build())
        .service(endpoint("/api/auth/mfa/totp").post(mfa::begin_totp).delete(mfa::disable_totp).build())
        .service(endpoint("/api/auth/mfa/totp/confirm").post(mfa::confirm_totp).build())
        .service(endpoint("/api/auth/mfa/recovery-codes").post(mfa::new_recovery_codes).build())
        .service(endpoint("/api/auth/mfa/verify").post(mfa::verify).build())
        .service(endpoint("/api/auth/passkeys").get(passkeys::list).build())
        .service(endpoint("/api/auth/passkeys/register/start").post(passkeys::register_start).build())
        .service(endpoint("/api/auth/passkeys/register/finish").post(passkeys::register_finish).build())
        .service(endpoint("/api/auth/passkeys/login/start").post(passkeys::login_start).build())
        .service(endpoint("/api/auth/passkeys/login/finish").post(passkeys::login_finish).build())
        .service(endpoint("/api/auth/passkeys/{id}").patch(passkeys::rename).delete(passkeys::delete).build())
        .service(endpoint("/.well-known/openid-configuration").get(discovery::openid_configuration).build())
        .service(endpoint("/docs").get(openapi::docs_page).build())
        .service(openapi::swagger_ui())
        .service(endpoint("/metrics").get(metrics::metrics).build())
        .service(endpoint("/health/live").get(health::live).build())
        .service(endpoint("/health/ready").get(health::ready).build())
        .configure(crate::pages::configure)
        .default_service(web::to(|| async { HttpResponse::from_error(ApiError::not_found()) }))
}
