//! Sign-in with upstream providers: `/api/auth/providers`, `/api/auth/oauth/{provider}/…`,
//! `/api/auth/identities…` and `/api/auth/methods`.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use portcullis_application::{
    FinishFlowCommand, FinishFlowError, FlowOutcome, StartFlowCommand, StartFlowError, StartedFlow, ValidationErrors,
};
use portcullis_domain::{ExternalIdentity, OpaqueSecret, SameSitePath};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::body::JsonObject;
use crate::client_ip::session_metadata;
use crate::cookies::{self, OAUTH_FLOW_COOKIE};
use crate::dto::rfc3339;
use crate::extractors::Authenticated;
use crate::problem::ApiError;
use crate::state::AppState;

/// A configured provider.
#[derive(Serialize, ToSchema)]
pub struct ProviderBody {
    /// Its id, as in the paths.
    pub id: String,
    /// What a button says.
    pub name: String,
}

/// A provider identity linked to the caller.
#[derive(Serialize, ToSchema)]
pub struct IdentityBody {
    /// The provider id.
    pub provider: String,
    /// The provider's id for the person (never changes).
    pub subject: String,
    /// The address the provider gave when it was linked.
    pub email: Option<String>,
    /// When it was linked (RFC 3339 UTC).
    pub linked_at: String,
}

impl From<&ExternalIdentity> for IdentityBody {
    fn from(identity: &ExternalIdentity) -> Self {
        Self {
            provider: identity.provider.as_str().to_owned(),
            subject: identity.subject.clone(),
            email: identity.email.as_ref().map(|email| email.as_str().to_owned()),
            linked_at: rfc3339(identity.linked_at),
        }
    }
}

/// The caller's ways in.
#[derive(Serialize, ToSchema)]
pub struct MethodsBody {
    /// Whether the account has a password.
    pub password: bool,
    /// Linked provider identities.
    pub identities: Vec<IdentityBody>,
    /// Registered passkeys, oldest first.
    pub passkeys: Vec<super::passkeys::PasskeyBody>,
    /// Whether TOTP is active.
    pub totp: bool,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

/// The answer to a linking request.
#[derive(Serialize, ToSchema)]
pub struct AuthorizeUrlBody {
    /// Send the browser here; the flow is stored and the `oauth_flow` cookie set.
    pub authorize_url: String,
}

/// Body of `POST /api/auth/identities/{provider}`.
#[derive(Deserialize, ToSchema)]
pub struct LinkRequest {
    /// Where to go after linking: a path on this site (default `/account`).
    pub next: Option<String>,
}

/// Query of the authorize endpoint.
#[derive(Deserialize, IntoParams)]
pub struct AuthorizeQuery {
    /// Where to go after signing in: a path on this site (default `/account`); anything else
    /// is replaced by the default.
    pub next: Option<String>,
}

/// Query of the callback, as the provider sends it.
#[derive(Deserialize, IntoParams)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// The flow's `state`.
    pub state: Option<String>,
    /// The provider's error (`access_denied` when the person said no).
    pub error: Option<String>,
    /// The provider's issuer (RFC 9207).
    pub iss: Option<String>,
}

/// The configured providers, in configured order.
#[utoipa::path(get, path = "/api/auth/providers", tag = "providers",
    responses((status = 200, description = "The configured providers", body = [ProviderBody])))]
pub async fn list_providers(state: web::Data<AppState>) -> HttpResponse {
    let providers: Vec<ProviderBody> = state
        .use_cases
        .provider_sign_in
        .providers()
        .into_iter()
        .map(|info| ProviderBody { id: info.id.as_str().to_owned(), name: info.name })
        .collect();
    HttpResponse::Ok().json(providers)
}

/// Start signing in with a provider: redirects there and sets the `oauth_flow` cookie.
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/authorize", tag = "providers",
    params(("provider" = String, Path, description = "The provider id"), AuthorizeQuery),
    responses(
        (status = 302, description = "To the provider's authorization endpoint (`Location`), with `response_type=code`, `client_id`, `redirect_uri`, `scope`, `state`, PKCE S256 and, for OpenID Connect, `nonce`; sets `oauth_flow` (HttpOnly; Secure; SameSite=Lax; Path=/api/auth/oauth; Max-Age=600)"),
        (status = 303, description = "To `/login?error=oauth_failed`: the provider cannot be reached"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn authorize(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: web::Query<AuthorizeQuery>,
) -> Result<HttpResponse, ApiError> {
    let command = StartFlowCommand {
        provider: provider.into_inner(),
        next: same_site_next(&state, query.next.as_deref()),
        linking_user: None,
    };
    let handler = Arc::clone(&state.use_cases.provider_sign_in);
    match crate::blocking::run(move || handler.start(command)).await? {
        Ok(started) => {
            let mut response = HttpResponse::Found();
            cookies::set_oauth_flow(&mut response, &state.settings, started.binding.expose());
            Ok(response.insert_header((header::LOCATION, started.authorize_url)).finish())
        }
        Err(StartFlowError::ProviderUnavailable) => Ok(to_login_error(&state, "oauth_failed")),
        Err(error) => Err(error.into()),
    }
}

/// The provider's redirect back: finishes the flow and signs in (or links).
#[utoipa::path(get, path = "/api/auth/oauth/{provider}/callback", tag = "providers",
    params(("provider" = String, Path, description = "The provider id"), CallbackQuery),
    responses(
        (status = 303, description = "Success: to the flow's `next` (default `/account`) with the three session cookies set as login sets them (none when the flow linked an identity); `oauth_flow` cleared. Failure: to `/login?error=<code>` with no session cookies — `oauth_denied`, `oauth_failed`, `email_unverified`, `account_exists`, `identity_taken`, `account_disabled`"),
    ))]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    provider: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let command = FinishFlowCommand {
        provider: provider.into_inner(),
        code: query.code,
        state: query.state,
        error: query.error,
        issuer: query.iss,
        binding: req
            .cookie(OAUTH_FLOW_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .filter(|value| !value.is_empty())
            .map(OpaqueSecret::presented),
        metadata: session_metadata(&req, &state.settings.trusted_proxies),
    };
    let handler = Arc::clone(&state.use_cases.provider_sign_in);
    let outcome = crate::blocking::run(move || handler.finish(command)).await?;
    let mut response = HttpResponse::SeeOther();
    cookies::clear_oauth_flow(&mut response, &state.settings);
    let location = match outcome {
        Ok(FlowOutcome::SignedIn { tokens, next }) => {
            state.metrics.login(true);
            cookies::set_session(
                &mut response,
                &state.settings,
                tokens.access_token.token.expose(),
                tokens.refresh_token.expose(),
            );
            next
        }
        Ok(FlowOutcome::SecondStep { mfa_token, next }) => {
            cookies::set_mfa(&mut response, &state.settings, mfa_token.expose());
            format!("{}&next={}", login_error_path("mfa_required"), crate::pages::urlencode(&next))
        }
        Ok(FlowOutcome::Linked { next }) => next,
        Err(error) => {
            if let FinishFlowError::Port(port) = &error {
                tracing::warn!(cause = %port.detail(), "provider callback failed on storage");
            }
            login_error_path(error.code().unwrap_or("oauth_failed"))
        }
    };
    Ok(response.insert_header((header::LOCATION, location)).finish())
}

/// Link a provider to the caller's account: the flow is stored and its URL answered.
#[utoipa::path(post, path = "/api/auth/identities/{provider}", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    params(("provider" = String, Path, description = "The provider id")),
    request_body(content = LinkRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The provider's authorization URL; sets the `oauth_flow` cookie. Finishing that flow links the identity and goes to `next`", body = AuthorizeUrlBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key: people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 409, description = "conflict: the account already has an identity of this provider", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 422, response = crate::error_responses::ValidationFailed),
        (status = 429, response = crate::error_responses::RateLimited),
        (status = 502, description = "oauth_failed: the provider cannot be reached", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn link(
    state: web::Data<AppState>,
    auth: Authenticated,
    provider: web::Path<String>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let next = body.optional_string("next", &mut errors).flatten();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let command = StartFlowCommand {
        provider: provider.into_inner(),
        next: same_site_next(&state, next.as_deref()),
        linking_user: Some(auth.claims.user.user_id),
    };
    let handler = Arc::clone(&state.use_cases.provider_sign_in);
    let StartedFlow { authorize_url, binding } = crate::blocking::run(move || handler.start(command)).await??;
    let mut response = HttpResponse::Ok();
    cookies::set_oauth_flow(&mut response, &state.settings, binding.expose());
    Ok(response.json(AuthorizeUrlBody { authorize_url }))
}

/// The caller's linked provider identities.
#[utoipa::path(get, path = "/api/auth/identities", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Linked identities, by provider id", body = [IdentityBody]),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: an API key (people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn list_identities(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.identities);
    let user_id = auth.claims.user.user_id;
    let methods = crate::blocking::run(move || handler.methods(user_id)).await??;
    let body: Vec<IdentityBody> = methods.identities.iter().map(IdentityBody::from).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// Unlink a provider from the caller's account, unless it is the only way in.
#[utoipa::path(delete, path = "/api/auth/identities/{provider}", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    params(("provider" = String, Path, description = "The provider id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "csrf_failed, or forbidden (an API key: people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, description = "not_found: no identity of this provider is linked", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 409, description = "last_sign_in_method: it is the account's only way in", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn unlink(
    state: web::Data<AppState>,
    auth: Authenticated,
    provider: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let handler = Arc::clone(&state.use_cases.identities);
    let user_id = auth.claims.user.user_id;
    let provider = provider.into_inner();
    crate::blocking::run(move || handler.unlink(user_id, &provider)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's sign-in methods.
#[utoipa::path(get, path = "/api/auth/methods", tag = "providers",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "Password, linked identities, passkeys, TOTP", body = MethodsBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: an API key (people only)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::AccountGone),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn methods(state: web::Data<AppState>, auth: Authenticated) -> Result<HttpResponse, ApiError> {
    let (identities, second_factor) =
        (Arc::clone(&state.use_cases.identities), Arc::clone(&state.use_cases.second_factor));
    let user_id = auth.claims.user.user_id;
    let (methods, (totp, recovery_codes_left)) =
        crate::blocking::run(move || Ok::<_, ApiError>((identities.methods(user_id)?, second_factor.status(user_id)?)))
            .await??;
    Ok(HttpResponse::Ok().json(MethodsBody {
        password: methods.password,
        identities: methods.identities.iter().map(IdentityBody::from).collect(),
        passkeys: methods.passkeys.iter().map(super::passkeys::PasskeyBody::from).collect(),
        totp,
        recovery_codes_left,
    }))
}

/// `next` when it is a path on this site, else the default.
fn same_site_next(state: &AppState, next: Option<&str>) -> SameSitePath {
    next.and_then(|next| state.settings.same_site_path(next)).unwrap_or_else(SameSitePath::default_next)
}

fn login_error_path(code: &str) -> String {
    format!("/login?error={code}")
}

/// `303` to `/login?error={code}`, clearing the flow cookie.
fn to_login_error(state: &AppState, code: &str) -> HttpResponse {
    let mut response: HttpResponseBuilder = HttpResponse::SeeOther();
    cookies::clear_oauth_flow(&mut response, &state.settings);
    response.insert_header((header::LOCATION, login_error_path(code))).finish()
}
