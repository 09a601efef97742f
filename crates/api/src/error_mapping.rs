//! Every application error to its HTTP answer, in one place.

use actix_web::http::StatusCode;
use portcullis_application::ports::PortError;
use portcullis_application::{
    CurrentUserError, ListSessionsError, LoginError, LogoutAllError, LogoutError, RefreshError, RevokeSessionError,
    SignupError, UpdateProfileError,
};

use crate::problem::ApiError;

/// Seconds a client is asked to wait after a `503`.
pub(crate) const RETRY_AFTER_SECS: u64 = 2;

impl From<PortError> for ApiError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::Unavailable(cause) => {
                tracing::warn!(%cause, "dependency unavailable");
                ApiError::unavailable(RETRY_AFTER_SECS)
            }
            PortError::Internal(cause) => ApiError::internal(&cause),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::internal(&error)
    }
}

impl From<SignupError> for ApiError {
    fn from(error: SignupError) -> Self {
        match error {
            SignupError::Validation(errors) => ApiError::validation(errors),
            SignupError::WeakPassword(weak) => ApiError::weak_password("password", weak.to_string()),
            SignupError::EmailTaken => {
                ApiError::new(StatusCode::CONFLICT, "email_taken", "An account with this email already exists.")
            }
            SignupError::Port(port) => port.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => ApiError::invalid_credentials(),
            LoginError::AccountDisabled => account_disabled(),
            LoginError::Locked { retry_after_secs } => ApiError::rate_limited(retry_after_secs),
            LoginError::Port(port) => port.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::InvalidToken => ApiError::unauthorized(true),
            RefreshError::SessionRevoked => ApiError::session_revoked(),
            RefreshError::AccountDisabled => account_disabled(),
            RefreshError::Port(port) => port.into(),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(error: LogoutError) -> Self {
        match error {
            LogoutError::Port(port) => port.into(),
        }
    }
}

impl From<CurrentUserError> for ApiError {
    fn from(error: CurrentUserError) -> Self {
        match error {
            CurrentUserError::Expired => ApiError::token_expired(),
            CurrentUserError::Unauthorized | CurrentUserError::UnknownKey => ApiError::unauthorized(true),
        }
    }
}

impl From<ListSessionsError> for ApiError {
    fn from(error: ListSessionsError) -> Self {
        match error {
            ListSessionsError::Port(port) => port.into(),
        }
    }
}

impl From<RevokeSessionError> for ApiError {
    fn from(error: RevokeSessionError) -> Self {
        match error {
            RevokeSessionError::NotFound => ApiError::not_found(),
            RevokeSessionError::Port(port) => port.into(),
        }
    }
}

impl From<LogoutAllError> for ApiError {
    fn from(error: LogoutAllError) -> Self {
        match error {
            LogoutAllError::Port(port) => port.into(),
        }
    }
}

impl From<UpdateProfileError> for ApiError {
    fn from(error: UpdateProfileError) -> Self {
        match error {
            UpdateProfileError::Validation(errors) => ApiError::validation(errors),
            UpdateProfileError::UserNotFound => ApiError::unauthorized(true),
            UpdateProfileError::Port(port) => port.into(),
        }
    }
}

fn account_disabled() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "account_disabled", "This account has been disabled.")
}
