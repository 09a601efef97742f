//! The Portcullis domain: the `User` entity, its value objects and the session a login
//! starts. Everything here is plain Rust with no I/O: no database, no HTTP, no clock
//! (callers pass `now`), no randomness (callers pass fresh secrets).
//!
//! Every value object can only be built valid: `Email::parse`, `UserName::parse`,
//! `AvatarUrl::parse`, `PlainPassword::parse`, `Role::parse` each return a typed error
//! naming the rule that failed, with a stable [`FieldRule::code`]. A new password must also
//! pass the [`PasswordStrengthRule`] (common-password list and strength estimate).
//!
//! The abuse-limit rules are here too, as pure functions of a stored value and `now`: the
//! per-client request quota ([`RateQuota`], a GCRA) and the per-account lockout
//! ([`LockoutPolicy`]); adapters only store their state.
//!
//! Sign-in through upstream providers has its rules here as well: the identity a provider
//! vouches for ([`ProviderIdentity`]), its link to a user ([`ExternalIdentity`]), who signs
//! in on a good callback ([`resolve`]) and that the last way in is never removed
//! ([`SignInMethods::may_remove`]).

mod account_token;
mod api_key;
mod auth_methods;
mod avatar_url;
mod email;
mod external_identity;
mod ids;
mod lockout;
mod oauth_flow;
mod opaque_secret;
mod passkey;
mod password;
mod password_strength;
mod rate_limit;
mod role;
mod second_factor;
mod secret;
mod session;
mod user;
mod user_name;

pub use account_token::{AccountToken, AccountTokenPurpose};
pub use api_key::{
    API_KEY_MARKER, ApiKey, ApiKeyName, ApiKeySecret, MAX_SCOPE_CHARS, MAX_SCOPES, NewApiKey, Scope, ScopeError, Scopes,
};
pub use auth_methods::{AuthMethod, AuthMethods, MULTI_FACTOR_CLAIM, SessionAuth, UnknownAuthMethod};
pub use avatar_url::{AvatarUrl, AvatarUrlError};
pub use email::{Email, EmailError};
pub use external_identity::{
    ExternalIdentity, LinkingPolicy, MAX_PROVIDER_ID_CHARS, ProviderId, ProviderIdError, ProviderIdentity, Resolution,
    ResolutionFacts, SignInMethod, SignInMethods, resolve,
};
pub use ids::{ApiKeyId, SessionId, UserId};
pub use lockout::{FailedLogins, LockoutPolicy, LoginAdmission};
pub use oauth_flow::{DEFAULT_NEXT, FLOW_LIFETIME_SECONDS, FlowMismatch, FlowSecrets, OAuthFlow, SameSitePath};
pub use opaque_secret::{OpaqueSecret, RefreshTokenHash, RefreshTokenSecret, SecretHash};
pub use passkey::{
    CeremonyPurpose, CredentialId, DEFAULT_PASSKEY_NAME, MAX_PASSKEY_NAME_CHARS, PASSKEY_CEREMONY_SECONDS, Passkey,
    PasskeyCeremony, PasskeyId, PasskeyName, PasskeyNameError, PasskeyRecord,
};
pub use password::{BcryptCost, BcryptCostError, PasswordError, PasswordHash, PasswordHashError, PlainPassword};
pub use password_strength::{
    MinPasswordScore, MinPasswordScoreError, PasswordStrengthRule, PersonalWords, WeakPassword, is_common_password,
};
pub use rate_limit::{RateDecision, RateQuota, ceil_secs, unix_micros};
pub use role::{Role, RoleError, Roles};
pub use second_factor::{
    MFA_CHALLENGE_SECONDS, MFA_MAX_FAILURES, MfaChallenge, RECOVERY_CODE_COUNT, RecoveryCode, SecondFactorCode,
    TOTP_DIGITS, TOTP_STEP_SECONDS, TotpCredential, TotpSecret, presented_recovery_code, totp_step,
};
pub use secret::SecretString;
pub use session::{RefreshToken, RefreshTokenState, SESSION_USE_GRANULARITY_SECONDS, Session, SessionMetadata};
pub use user::{NewUser, User, UserInfo, whole_seconds};
pub use user_name::{UserName, UserNameError};

/// A broken input rule, reported per field: a stable machine code plus a sentence for people.
pub trait FieldRule: std::error::Error {
    /// Stable snake_case code of the rule (`too_short`, `too_long`, `invalid`, ...).
    fn code(&self) -> &'static str;
}
