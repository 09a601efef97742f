//! Every application error to its HTTP answer, in one place.

use actix_web::http::StatusCode;
use portcullis_application::ValidationErrors;
use portcullis_application::ports::PortError;
use portcullis_application::{
    ChangePasswordError, DeleteAccountError, ListIdentitiesError, ListSessionsError, LoginError, LogoutAllError,
    LogoutError, MfaVerifyError, PasskeySignInError, RefreshError, ResendVerificationError, ResetPasswordError,
    RevokeSessionError, SecondFactorError, SignupError, StartFlowError, UnlinkIdentityError, UpdateProfileError,
    VerifyAccessTokenError, VerifyEmailError,
};

use portcullis_application::commands::admin::{
    DeleteUserError, GetUserError, ListUsersError, ResetSecondFactorsError, UpdateUserError,
};
use portcullis_application::commands::api_keys::{CreateApiKeyError, DeleteApiKeyError, ListApiKeysError};
use portcullis_application::commands::passkeys::{ChangePasskeyError, RegisterPasskeyError, StartRegistrationError};

use crate::problem::ApiError;

/// Seconds a client is asked to wait after a `503`.
pub(crate) const RETRY_AFTER_SECS: u64 = 2;

impl From<PortError> for ApiError {
    fn from(error: PortError) -> Self {
        let cause = error.detail();
        if error.is_unavailable() {
            tracing::warn!(%cause, "dependency unavailable");
            ApiError::unavailable(RETRY_AFTER_SECS)
        } else {
            ApiError::internal(&cause)
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
            // The login route sets the cookie; anywhere else the token is not handed out.
            LoginError::MfaRequired { .. } => ApiError::mfa_required(),
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

impl From<VerifyAccessTokenError> for ApiError {
    fn from(error: VerifyAccessTokenError) -> Self {
        match error {
            VerifyAccessTokenError::Expired => ApiError::token_expired(),
            VerifyAccessTokenError::Unauthorized | VerifyAccessTokenError::UnknownKey => ApiError::unauthorized(true),
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
            UpdateProfileError::UserNotFound => ApiError::not_found(),
            UpdateProfileError::Port(port) => port.into(),
            UpdateProfileError::Signing(error) => ApiError::internal(&error),
        }
    }
}

fn account_disabled() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "account_disabled", "This account has been disabled.")
}

fn forbidden_not_admin() -> ApiError {
    ApiError::forbidden("This needs an active account with the `admin` role.")
}

fn last_admin() -> ApiError {
    ApiError::conflict("This would leave no active admin; make another admin first.")
}

impl From<ListUsersError> for ApiError {
    fn from(error: ListUsersError) -> Self {
        match error {
            ListUsersError::Forbidden => forbidden_not_admin(),
            ListUsersError::Port(port) => port.into(),
        }
    }
}

impl From<GetUserError> for ApiError {
    fn from(error: GetUserError) -> Self {
        match error {
            GetUserError::Forbidden => forbidden_not_admin(),
            GetUserError::NotFound => ApiError::not_found(),
            GetUserError::Port(port) => port.into(),
        }
    }
}

impl From<UpdateUserError> for ApiError {
    fn from(error: UpdateUserError) -> Self {
        match error {
            UpdateUserError::Forbidden => forbidden_not_admin(),
            UpdateUserError::NotFound => ApiError::not_found(),
            UpdateUserError::Validation(errors) => ApiError::validation(errors),
            UpdateUserError::SelfLockout => {
                ApiError::conflict("An admin cannot disable or demote themself; ask another admin.")
            }
            UpdateUserError::LastAdmin => last_admin(),
            UpdateUserError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteUserError> for ApiError {
    fn from(error: DeleteUserError) -> Self {
        match error {
            DeleteUserError::Forbidden => forbidden_not_admin(),
            DeleteUserError::NotFound => ApiError::not_found(),
            DeleteUserError::LastAdmin => last_admin(),
            DeleteUserError::Port(port) => port.into(),
        }
    }
}

impl From<CreateApiKeyError> for ApiError {
    fn from(error: CreateApiKeyError) -> Self {
        match error {
            CreateApiKeyError::Validation(errors) => ApiError::validation(errors),
            CreateApiKeyError::NotFound => ApiError::not_found(),
            CreateApiKeyError::Port(port) => port.into(),
        }
    }
}

impl From<ListApiKeysError> for ApiError {
    fn from(error: ListApiKeysError) -> Self {
        match error {
            ListApiKeysError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteApiKeyError> for ApiError {
    fn from(error: DeleteApiKeyError) -> Self {
        match error {
            DeleteApiKeyError::NotFound => ApiError::not_found(),
            DeleteApiKeyError::Port(port) => port.into(),
        }
    }
}

/// `403 invalid_credentials`: the caller is logged in, but the password they confirmed with is wrong.
fn reauthentication_required() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "reauthentication_required", "Sign in again, then retry within a few minutes.")
}

fn wrong_password() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "invalid_credentials", "The password is incorrect.")
}

impl From<ChangePasswordError> for ApiError {
    fn from(error: ChangePasswordError) -> Self {
        match error {
            ChangePasswordError::Validation(errors) => ApiError::validation(errors),
            ChangePasswordError::WeakPassword(weak) => ApiError::weak_password("new_password", weak.to_string()),
            ChangePasswordError::InvalidCredentials => wrong_password(),
            ChangePasswordError::ReauthenticationRequired => reauthentication_required(),
            ChangePasswordError::NotFound => ApiError::not_found(),
            ChangePasswordError::Port(port) => port.into(),
        }
    }
}

impl From<ResetPasswordError> for ApiError {
    fn from(error: ResetPasswordError) -> Self {
        match error {
            ResetPasswordError::InvalidToken => ApiError::invalid_token(),
            ResetPasswordError::Validation(errors) => ApiError::validation(errors),
            ResetPasswordError::WeakPassword(weak) => ApiError::weak_password("new_password", weak.to_string()),
            ResetPasswordError::Port(port) => port.into(),
        }
    }
}

impl From<VerifyEmailError> for ApiError {
    fn from(error: VerifyEmailError) -> Self {
        match error {
            VerifyEmailError::InvalidToken => ApiError::invalid_token(),
            VerifyEmailError::Port(port) => port.into(),
        }
    }
}

impl From<ResendVerificationError> for ApiError {
    fn from(error: ResendVerificationError) -> Self {
        match error {
            ResendVerificationError::NotFound => ApiError::not_found(),
            ResendVerificationError::Port(port) => port.into(),
        }
    }
}

impl From<DeleteAccountError> for ApiError {
    fn from(error: DeleteAccountError) -> Self {
        match error {
            DeleteAccountError::InvalidCredentials => wrong_password(),
            DeleteAccountError::PasswordRequired => {
                let mut errors = ValidationErrors::new();
                errors.add("password", "required", "password is required");
                ApiError::validation(errors)
            }
            DeleteAccountError::ReauthenticationRequired => reauthentication_required(),
            DeleteAccountError::LastAdmin => last_admin(),
            DeleteAccountError::NotFound => ApiError::not_found(),
            DeleteAccountError::Port(port) => port.into(),
        }
    }
}

impl From<StartFlowError> for ApiError {
    fn from(error: StartFlowError) -> Self {
        match error {
            StartFlowError::UnknownProvider | StartFlowError::UserGone => ApiError::not_found(),
            StartFlowError::ProviderUnavailable => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "oauth_failed",
                "The provider cannot be reached right now; try again later.",
            ),
            StartFlowError::AlreadyLinked => ApiError::conflict("This provider is already linked to the account."),
            StartFlowError::Port(port) => port.into(),
        }
    }
}

impl From<ListIdentitiesError> for ApiError {
    fn from(error: ListIdentitiesError) -> Self {
        match error {
            ListIdentitiesError::UserGone => ApiError::not_found(),
            ListIdentitiesError::Port(port) => port.into(),
        }
    }
}

impl From<UnlinkIdentityError> for ApiError {
    fn from(error: UnlinkIdentityError) -> Self {
        match error {
            UnlinkIdentityError::NotFound => ApiError::not_found(),
            UnlinkIdentityError::LastSignInMethod => last_sign_in_method(),
            UnlinkIdentityError::Port(port) => port.into(),
        }
    }
}

impl From<SecondFactorError> for ApiError {
    fn from(error: SecondFactorError) -> Self {
        match error {
            SecondFactorError::Conflict => {
                ApiError::conflict("TOTP is already on, or there is no pending secret to confirm.")
            }
            SecondFactorError::NotEnabled => ApiError::not_found(),
            SecondFactorError::InvalidCode => invalid_code(StatusCode::BAD_REQUEST),
            SecondFactorError::UserGone => ApiError::not_found(),
            SecondFactorError::Port(port) => port.into(),
        }
    }
}

impl From<MfaVerifyError> for ApiError {
    fn from(error: MfaVerifyError) -> Self {
        match error {
            MfaVerifyError::InvalidCode => invalid_code(StatusCode::UNAUTHORIZED),
            MfaVerifyError::Expired => ApiError::unauthorized(true),
            MfaVerifyError::AccountDisabled => account_disabled(),
            MfaVerifyError::Locked { retry_after_secs } => ApiError::rate_limited(retry_after_secs),
            MfaVerifyError::Port(port) => port.into(),
        }
    }
}

fn invalid_code(status: StatusCode) -> ApiError {
    ApiError::new(status, "invalid_code", "That code is not valid. Codes work once; try the current one.")
}

impl From<ResetSecondFactorsError> for ApiError {
    fn from(error: ResetSecondFactorsError) -> Self {
        match error {
            ResetSecondFactorsError::Forbidden => forbidden_not_admin(),
            ResetSecondFactorsError::NotFound => ApiError::not_found(),
            ResetSecondFactorsError::Port(port) => port.into(),
        }
    }
}

/// `422 validation_failed` for a passkey name that breaks a rule.
fn invalid_passkey_name(error: &portcullis_domain::PasskeyNameError) -> ApiError {
    use portcullis_domain::FieldRule;
    let mut errors = ValidationErrors::new();
    errors.add("name", error.code(), error.to_string());
    ApiError::validation(errors)
}

fn last_sign_in_method() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "last_sign_in_method",
        "This is the account's only way to sign in; add a password, a provider or another passkey first.",
    )
}

impl From<StartRegistrationError> for ApiError {
    fn from(error: StartRegistrationError) -> Self {
        match error {
            StartRegistrationError::Disabled | StartRegistrationError::UserGone => ApiError::not_found(),
            StartRegistrationError::Port(port) => port.into(),
        }
    }
}

impl From<RegisterPasskeyError> for ApiError {
    fn from(error: RegisterPasskeyError) -> Self {
        match error {
            RegisterPasskeyError::Disabled | RegisterPasskeyError::UserGone => ApiError::not_found(),
            RegisterPasskeyError::InvalidName(rule) => invalid_passkey_name(&rule),
            RegisterPasskeyError::Refused => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "The passkey could not be registered: the ceremony is spent, expired or unknown, or the authenticator's answer failed a check. Start again.",
            ),
            RegisterPasskeyError::Port(port) => port.into(),
        }
    }
}

impl From<ChangePasskeyError> for ApiError {
    fn from(error: ChangePasskeyError) -> Self {
        match error {
            ChangePasskeyError::Disabled | ChangePasskeyError::NotFound => ApiError::not_found(),
            ChangePasskeyError::InvalidName(rule) => invalid_passkey_name(&rule),
            ChangePasskeyError::LastSignInMethod => last_sign_in_method(),
            ChangePasskeyError::Port(port) => port.into(),
        }
    }
}

impl From<PasskeySignInError> for ApiError {
    fn from(error: PasskeySignInError) -> Self {
        match error {
            PasskeySignInError::Disabled => ApiError::not_found(),
            PasskeySignInError::InvalidCredentials => {
                ApiError::invalid_credentials_saying("The passkey was not accepted.")
            }
            PasskeySignInError::AccountDisabled => account_disabled(),
            PasskeySignInError::Port(port) => port.into(),
        }
    }
}
