//! `/api/admin/users`: administration, for callers with role `admin` (or an API key with
//! scope `admin` whose owner is an admin). The handlers re-check the actor in the database,
//! so a demoted admin's still-valid access token stops working here at once.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use portcullis_application::ValidationErrors;
use portcullis_application::commands::admin::{AdminUserView, ListUsersQuery, UpdateUserCommand};
use portcullis_domain::UserId;
use utoipa::IntoParams;

use crate::body::JsonObject;
use crate::dto::{AdminUserBody, UserInfoBody, UserPageBody};
use crate::extractors::RequireAdmin;
use crate::problem::ApiError;
use crate::state::AppState;

/// Default page size.
const DEFAULT_LIMIT: usize = 50;
/// Largest page size.
const MAX_LIMIT: usize = 100;

impl From<&AdminUserView> for AdminUserBody {
    fn from(view: &AdminUserView) -> Self {
        Self { user: UserInfoBody::from(&view.user), disabled: view.disabled }
    }
}

/// Query of `GET /api/admin/users`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersParams {
    /// A case-insensitive substring of the email or the name.
    pub q: Option<String>,
    /// Page size, 1..=100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// Users, oldest first, a page at a time.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(ListUsersParams),
    responses(
        (status = 200, description = "One page of users", body = UserPageBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: not an admin", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 422, description = "validation_failed: `limit` outside 1..=100 or a bad `cursor`", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    admin: RequireAdmin,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let param = |name: &str| query.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let limit = match param("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                errors.add("limit", "out_of_range", format!("limit must be a whole number from 1 to {MAX_LIMIT}"));
                DEFAULT_LIMIT
            }
        },
    };
    let after = match param("cursor").filter(|cursor| !cursor.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<UserId>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add("cursor", "invalid", "cursor must be a next_cursor from an earlier page");
                None
            }
        },
    };
    errors.into_result().map_err(ApiError::validation)?;
    let search = param("q");
    let handler = Arc::clone(&state.use_cases.admin);
    let actor = admin.caller.user_id();
    let page =
        crate::blocking::run(move || handler.list_users(ListUsersQuery { actor, search, after, limit })).await??;
    Ok(HttpResponse::Ok().json(UserPageBody {
        items: page.items.iter().map(AdminUserBody::from).collect(),
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    }))
}

/// One user.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 200, description = "The user", body = AdminUserBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: not an admin", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    admin: RequireAdmin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&id)?;
    let handler = Arc::clone(&state.use_cases.admin);
    let actor = admin.caller.user_id();
    let view = crate::blocking::run(move || handler.get_user(actor, target)).await??;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(&view)))
}

/// Change a user's roles or disable them. Disabling ends every session of theirs.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The user id")),
    request_body(content = crate::dto::AdminUpdateUserRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated user", body = AdminUserBody),
        (status = 400, response = crate::error_responses::MalformedBody),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: not an admin; or csrf_failed", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 409, description = "conflict: an admin cannot disable or demote themself, and the last active admin cannot be disabled or demoted", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 415, response = crate::error_responses::UnsupportedMediaType),
        (status = 408, response = crate::error_responses::RequestTimeout),
        (status = 413, response = crate::error_responses::PayloadTooLarge),
        (status = 422, description = "validation_failed (`roles`, `disabled`)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    admin: RequireAdmin,
    id: web::Path<String>,
    body: JsonObject,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&id)?;
    let mut errors = ValidationErrors::new();
    let roles = body.optional_string_list("roles", &mut errors);
    let disabled = body.optional_bool("disabled", &mut errors);
    errors.into_result().map_err(ApiError::validation)?;
    let command = UpdateUserCommand { actor: admin.caller.user_id(), user_id: target, roles, disabled };
    let handler = Arc::clone(&state.use_cases.admin);
    let view = crate::blocking::run(move || handler.update_user(command)).await??;
    Ok(HttpResponse::Ok().json(AdminUserBody::from(&view)))
}

/// Delete a user and everything of theirs.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: not an admin; or csrf_failed", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 409, description = "conflict: the last active admin cannot be deleted", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    admin: RequireAdmin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&id)?;
    let handler = Arc::clone(&state.use_cases.admin);
    let actor = admin.caller.user_id();
    crate::blocking::run(move || handler.delete_user(actor, target)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Reset a user who lost every second factor: TOTP, recovery codes and passkeys go, every
/// session of theirs ends.
#[utoipa::path(delete, path = "/api/admin/users/{id}/mfa", tag = "admin",
    security(("bearer" = []), ("cookie" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The user id")),
    responses(
        (status = 204, description = "Reset; the user signs in with the first factor alone, and can turn TOTP on again"),
        (status = 401, response = crate::error_responses::Unauthorized),
        (status = 403, description = "forbidden: not an admin; csrf_failed; or mfa_required (PORTCULLIS_ADMIN_REQUIRES_MFA and a session without two factors)", body = crate::dto::Problem, content_type = "application/problem+json"),
        (status = 404, response = crate::error_responses::NotFound),
        (status = 503, response = crate::error_responses::Unavailable),
    ))]
pub async fn reset_mfa(
    state: web::Data<AppState>,
    admin: RequireAdmin,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let target = user_id(&id)?;
    let handler = Arc::clone(&state.use_cases.admin);
    let actor = admin.caller.user_id();
    crate::blocking::run(move || handler.reset_second_factors(actor, target)).await??;
    Ok(HttpResponse::NoContent().finish())
}
