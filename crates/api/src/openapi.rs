//! The OpenAPI 3.1 document, generated from the route annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto::{
    AdminUpdateUserRequest, AdminUserBody, ApiKeyBody, ChangePasswordRequest, CreateApiKeyRequest, CreatedApiKeyBody,
    DeleteAccountRequest, FieldProblem, ForgotPasswordRequest, HealthBody, IntrospectRequest, IntrospectionBody,
    Problem, ResetPasswordRequest, SessionBody, UserInfoBody, UserPageBody, VerifyEmailRequest,
};
use crate::error_responses::{
    AccountDisabled, AccountGone, MalformedBody, NotFound, PayloadTooLarge, RateLimited, RequestTimeout, Unauthorized,
    Unavailable, UnsupportedMediaType, ValidationFailed,
};
use crate::routes::discovery::OpenIdConfiguration;
use crate::routes::mfa::{CodeRequest, MfaVerifyRequest, RecoveryCodesBody, TotpEnrollmentBody};
use crate::routes::oauth::{OAuthErrorBody, RevokeRequest, TokenRequest, TokenResponse};
use crate::routes::passkeys::{
    CeremonyBody, LoginFinishRequest, PasskeyBody, RegisterFinishRequest, RenamePasskeyRequest,
};
use crate::routes::providers::{AuthorizeUrlBody, IdentityBody, LinkRequest, MethodsBody, ProviderBody};
use crate::routes::sessions::SessionItem;
use crate::routes::{
    account, admin, api_keys, auth, discovery, health, introspect, mfa, oauth, passkeys, providers, sessions,
};

/// Every endpoint of the service.
#[derive(OpenApi)]
#[openapi(
    info(title = "Portcullis", description = "Authentication service: signup, login, rotating refresh tokens, cookies or Bearer."),
    paths(
        auth::signup, auth::login, auth::refresh, auth::logout, auth::current_user, auth::update_current_user,
        account::delete_account, account::change_password, account::forgot_password, account::reset_password,
        account::verify_email, account::resend_verification,
        sessions::list, sessions::revoke, sessions::logout_all,
        api_keys::create, api_keys::list, api_keys::delete, introspect::introspect,
        admin::list, admin::get, admin::update, admin::delete, admin::reset_mfa,
        oauth::token, oauth::revoke,
        providers::list_providers, providers::authorize, providers::callback, providers::link,
        providers::list_identities, providers::unlink, providers::methods,
        mfa::begin_totp, mfa::confirm_totp, mfa::disable_totp, mfa::new_recovery_codes, mfa::verify,
        passkeys::register_start, passkeys::register_finish, passkeys::list, passkeys::rename, passkeys::delete,
        passkeys::login_start, passkeys::login_finish,
        discovery::jwks, discovery::openid_configuration, health::live, health::ready, openapi_json,
        crate::metrics::metrics, docs_page,
    ),
    components(schemas(UserInfoBody, SessionBody, SessionItem, OpenIdConfiguration, Problem, FieldProblem, HealthBody,
        TokenRequest, RevokeRequest, TokenResponse, OAuthErrorBody, ChangePasswordRequest, ForgotPasswordRequest,
        ResetPasswordRequest, VerifyEmailRequest, DeleteAccountRequest, AdminUserBody, UserPageBody,
        AdminUpdateUserRequest, CreateApiKeyRequest, ApiKeyBody, CreatedApiKeyBody, IntrospectRequest,
        IntrospectionBody, ProviderBody, IdentityBody, MethodsBody, AuthorizeUrlBody, LinkRequest, TotpEnrollmentBody,
        RecoveryCodesBody, CodeRequest, MfaVerifyRequest, CeremonyBody, PasskeyBody, RegisterFinishRequest,
        RenamePasskeyRequest, LoginFinishRequest),
        responses(MalformedBody, Unauthorized, AccountDisabled, NotFound, AccountGone, PayloadTooLarge, RequestTimeout,
            UnsupportedMediaType, ValidationFailed, RateLimited, Unavailable)),
    modifiers(&SecuritySchemes),
    tags((name = "auth"), (name = "account"), (name = "sessions"), (name = "api-keys"), (name = "admin"), (name = "oauth"), (name = "providers"), (name = "mfa"), (name = "passkeys"), (name = "discovery"), (name = "health"), (name = "meta"))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        components
            .add_security_scheme("cookie", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("access_token"))));
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

/// The browsable API reference: Swagger UI over this document, served from assets compiled
/// into the binary (nothing is fetched from elsewhere). `/docs` redirects to `/docs/`.
#[utoipa::path(get, path = "/docs", tag = "meta",
    responses((status = 308, description = "Redirects to `/docs/`, the Swagger UI page (text/html)")))]
pub async fn docs_page() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((actix_web::http::header::LOCATION, "/docs/")).finish()
}

/// The Swagger UI pages under `/docs/`, reading `/api/openapi.json`.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(utoipa_swagger_ui::Config::new(["/api/openapi.json"]))
}
