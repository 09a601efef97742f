//! `/health/*`: liveness and readiness.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpResponse, web};

use crate::dto::HealthBody;
use crate::problem::ApiError;
use crate::state::AppState;

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(4);

/// `200` while the process runs.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process is running", body = HealthBody)))]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthBody { status: "ok" })
}

/// `200` when the database answers, `503 unavailable` (with `Retry-After`) otherwise.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthBody),
        (status = 503, description = "unavailable: the database is unreachable", body = crate::dto::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let probe = Arc::clone(&state.ports.database);
    let check = crate::blocking::run(move || probe.check());
    match actix_web::rt::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => Ok(HttpResponse::Ok().json(HealthBody { status: "ok" })),
        Ok(Ok(Err(error))) => {
            tracing::warn!(error = %error.detail(), "readiness check failed");
            Err(ApiError::unavailable(5))
        }
        Ok(Err(blocking)) => Err(blocking.into()),
        Err(_) => Err(ApiError::unavailable(5)),
    }
}
