//! The actix `App`: routes, the contract's error answers for unknown paths and methods,
//! `Cache-Control: no-store` on `/api/**`, and security headers on everything.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{App, Error, HttpResponse, Route, web};

use crate::cors;
use crate::metrics;
use crate::openapi;
use crate::problem::ApiError;
use crate::rate_limit;
use crate::routes::{account, admin, api_keys, auth, discovery, health, introspect, oauth, sessions};
use crate::state::AppState;

/// A route answering `405 method_not_allowed` with `Allow: <allow>`.
pub(crate) fn not_allowed(allow: &'static str) -> Route {
    web::route().to(move || async move { HttpResponse::from_error(ApiError::method_not_allowed(allow)) })
}

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
        .service(
            web::resource("/api/auth/signup").route(web::post().to(auth::signup)).default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/login").route(web::post().to(auth::login)).default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/refresh")
                .route(web::post().to(auth::refresh))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/logout").route(web::post().to(auth::logout)).default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/current-user")
                .route(web::get().to(auth::current_user))
                .route(web::patch().to(auth::update_current_user))
                .route(web::delete().to(account::delete_account))
                .default_service(not_allowed("GET, PATCH, DELETE")),
        )
        .service(
            web::resource("/api/auth/password/change")
                .route(web::post().to(account::change_password))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/password/forgot")
                .route(web::post().to(account::forgot_password))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/password/reset")
                .route(web::post().to(account::reset_password))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/email/verify")
                .route(web::post().to(account::verify_email))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/email/resend")
                .route(web::post().to(account::resend_verification))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/api-keys")
                .route(web::post().to(api_keys::create))
                .route(web::get().to(api_keys::list))
                .default_service(not_allowed("GET, POST")),
        )
        .service(
            web::resource("/api/auth/api-keys/{id}")
                .route(web::delete().to(api_keys::delete))
                .default_service(not_allowed("DELETE")),
        )
        .service(
            web::resource("/api/auth/introspect")
                .route(web::post().to(introspect::introspect))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/api/admin/users").route(web::get().to(admin::list)).default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/api/admin/users/{id}")
                .route(web::get().to(admin::get))
                .route(web::patch().to(admin::update))
                .route(web::delete().to(admin::delete))
                .default_service(not_allowed("GET, PATCH, DELETE")),
        )
        .service(
            web::resource("/api/openapi.json")
                .route(web::get().to(openapi::openapi_json))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/.well-known/jwks.json")
                .route(web::get().to(discovery::jwks))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/api/auth/sessions")
                .route(web::get().to(sessions::list))
                .default_service(not_allowed("GET")),
        )
        .service(
            web::resource("/api/auth/sessions/{id}")
                .route(web::delete().to(sessions::revoke))
                .default_service(not_allowed("DELETE")),
        )
        .service(
            web::resource(oauth::TOKEN_PATH)
                .route(web::post().to(oauth::token))
                .default_service(oauth::not_allowed("POST")),
        )
        .service(
            web::resource(oauth::REVOKE_PATH)
                .route(web::post().to(oauth::revoke))
                .default_service(oauth::not_allowed("POST")),
        )
        .service(
            web::resource("/api/auth/logout-all")
                .route(web::post().to(sessions::logout_all))
                .default_service(not_allowed("POST")),
        )
        .service(
            web::resource("/.well-known/openid-configuration")
                .route(web::get().to(discovery::openid_configuration))
                .default_service(not_allowed("GET")),
        )
        .service(web::resource("/docs").route(web::get().to(openapi::docs_page)).default_service(not_allowed("GET")))
        .service(openapi::swagger_ui())
        .service(web::resource("/metrics").route(web::get().to(metrics::metrics)).default_service(not_allowed("GET")))
        .service(web::resource("/health/live").route(web::get().to(health::live)).default_service(not_allowed("GET")))
        .service(web::resource("/health/ready").route(web::get().to(health::ready)).default_service(not_allowed("GET")))
        .configure(crate::pages::configure)
        .default_service(web::to(|| async { HttpResponse::from_error(ApiError::not_found()) }))
}
