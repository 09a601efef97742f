//! Everything the application offers, as trait objects: what the HTTP adapter, the command
//! line and embedding programs call. The composition root (`portcullis-service`) fills these
//! from its shaku module; a test can fill them with its own implementations.

use std::sync::Arc;

use crate::commands::admin::AdminUseCase;
use crate::commands::api_keys::ApiKeysUseCase;
use crate::commands::delete_account::DeleteAccountUseCase;
use crate::commands::email_verification::{ResendVerificationUseCase, VerifyEmailUseCase};
use crate::commands::identities::IdentitiesUseCase;
use crate::commands::introspect::IntrospectUseCase;
use crate::commands::login::LoginUseCase;
use crate::commands::logout::LogoutUseCase;
use crate::commands::mfa::MfaVerifyUseCase;
use crate::commands::passkey_sign_in::PasskeySignInUseCase;
use crate::commands::passkeys::PasskeysUseCase;
use crate::commands::passwords::{ChangePasswordUseCase, ForgotPasswordUseCase, ResetPasswordUseCase};
use crate::commands::provider_sign_in::ProviderSignInUseCase;
use crate::commands::refresh::RefreshUseCase;
use crate::commands::second_factor::SecondFactorUseCase;
use crate::commands::sessions::SessionsUseCase;
use crate::commands::signup::SignupUseCase;
use crate::commands::update_profile::UpdateProfileUseCase;
use crate::commands::verify_access_token::VerifyAccessTokenUseCase;
use crate::ports::{
    Clock, DatabaseProbe, JwksSource, KeyRingReloader, RateLimiter, ResourceMonitor, UnitOfWorkFactory,
};

/// One handle per use case. Cheap to clone (every field is an `Arc`).
#[derive(Clone)]
pub struct UseCases {
    /// Create an account.
    pub signup: Arc<dyn SignupUseCase>,
    /// Check a password and open a session.
    pub login: Arc<dyn LoginUseCase>,
    /// Rotate a refresh token.
    pub refresh: Arc<dyn RefreshUseCase>,
    /// End a session.
    pub logout: Arc<dyn LogoutUseCase>,
    /// Check an access token; touches no storage.
    pub verify_access_token: Arc<dyn VerifyAccessTokenUseCase>,
    /// Change a name or avatar.
    pub update_profile: Arc<dyn UpdateProfileUseCase>,
    /// List and revoke one's sessions.
    pub sessions: Arc<dyn SessionsUseCase>,
    /// Manage users (admins).
    pub admin: Arc<dyn AdminUseCase>,
    /// Create, list, delete and check API keys.
    pub api_keys: Arc<dyn ApiKeysUseCase>,
    /// RFC 7662 token introspection.
    pub introspect: Arc<dyn IntrospectUseCase>,
    /// Confirm an address with a mailed token.
    pub verify_email: Arc<dyn VerifyEmailUseCase>,
    /// Mail a new verification link.
    pub resend_verification: Arc<dyn ResendVerificationUseCase>,
    /// Change one's password.
    pub change_password: Arc<dyn ChangePasswordUseCase>,
    /// Mail a password-reset link.
    pub forgot_password: Arc<dyn ForgotPasswordUseCase>,
    /// Set a new password with a mailed token.
    pub reset_password: Arc<dyn ResetPasswordUseCase>,
    /// Delete one's own account.
    pub delete_account: Arc<dyn DeleteAccountUseCase>,
    /// Sign in (or link) through an upstream provider.
    pub provider_sign_in: Arc<dyn ProviderSignInUseCase>,
    /// List and unlink one's provider identities.
    pub identities: Arc<dyn IdentitiesUseCase>,
    /// Turn TOTP on and off; recovery codes.
    pub second_factor: Arc<dyn SecondFactorUseCase>,
    /// The second step of a sign-in.
    pub mfa_verify: Arc<dyn MfaVerifyUseCase>,
    /// Register, list, rename and remove one's passkeys.
    pub passkeys: Arc<dyn PasskeysUseCase>,
    /// Sign in with a passkey.
    pub passkey_sign_in: Arc<dyn PasskeySignInUseCase>,
}

/// The ports an adapter needs beyond the use cases: rate limits, readiness, key reloads,
/// the JWKS and the resource gauges. Cheap to clone.
#[derive(Clone)]
pub struct ServicePorts {
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The per-client request limit.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Readiness of the database.
    pub database: Arc<dyn DatabaseProbe>,
    /// Re-reads the signing keys.
    pub key_reloader: Arc<dyn KeyRingReloader>,
    /// The public keys.
    pub jwks: Arc<dyn JwksSource>,
    /// The gauges of the pools and queues.
    pub resources: Arc<dyn ResourceMonitor>,
    /// Units of work, for tools that read or edit storage directly (the command line).
    pub units: Arc<dyn UnitOfWorkFactory>,
}
