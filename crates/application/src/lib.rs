//! The Portcullis application layer: one handler per command, working through ports.
//!
//! Everything here is synchronous, plain Rust: no HTTP, no async runtime. A handler
//! opens a [`ports::UnitOfWork`], asks it for repositories, commits once, and rolls back
//! (by dropping the unit) on any error, as in the article's `SignupCommandHandler` and
//! `LoginCommandHandler`. Password hashing happens outside any transaction, so a slow hash
//! never holds a database lock.
//!
//! Every handler is a shaku component: its ports are its `#[shaku(inject)]` fields and its
//! settings its parameters (`LoginHandlerParameters`, …), and nothing else builds it. The
//! service's composition root lists the handlers with the adapters in one shaku module and
//! resolves each use case by its trait (`Arc<dyn LoginUseCase>`). Other Rust services embed
//! this crate the same way: a module of their own listing the handlers they use with the
//! adapters (`portcullis-infrastructure` has diesel, JWT and hashing ones, [`defaults`] those
//! that need no infrastructure, or bring your own), then `handle`.
//!
//! [`ports`] holds only the traits the adapters implement and the data they pass. In-memory
//! fakes of the storage, clock, token, mail and limit ports, for tests, are shaku components
//! in `in_memory`, built only with the feature `test-support`: enable it in
//! `[dev-dependencies]` only, since `in_memory::FakeTokenService` issues unsigned tokens.

pub mod account_mail;
pub mod commands;
pub mod defaults;
#[cfg(feature = "test-support")]
pub mod in_memory;
pub mod ports;
pub mod use_cases;
mod validation;

pub use account_mail::{AccountMail, RESET_TOKEN_TTL, TemplatedAccountMail, VERIFICATION_TOKEN_TTL};
pub use commands::admin::{
    AdminHandler, AdminUseCase, AdminUserView, DeleteUserError, GetUserError, ListUsersError, ListUsersQuery,
    UpdateUserCommand, UpdateUserError, UserPage,
};
pub use commands::api_keys::{
    ApiKeyAuthError, ApiKeyPrincipal, ApiKeysHandler, ApiKeysUseCase, CreateApiKeyCommand, CreateApiKeyError,
    CreatedApiKey, DeleteApiKeyError, ListApiKeysError,
};
pub use commands::delete_account::{
    DeleteAccountCommand, DeleteAccountError, DeleteAccountHandler, DeleteAccountUseCase,
};
pub use commands::email_verification::{
    ResendOutcome, ResendVerificationCommand, ResendVerificationError, ResendVerificationHandler,
    ResendVerificationUseCase, VerifyEmailCommand, VerifyEmailError, VerifyEmailHandler, VerifyEmailUseCase,
};
pub use commands::identities::{
    IdentitiesHandler, IdentitiesUseCase, ListIdentitiesError, SignInMethodsView, UnlinkIdentityError,
};
pub use commands::introspect::{
    ActiveToken, IntrospectError, IntrospectHandler, IntrospectUseCase, Introspection, TokenKind,
};
pub use commands::login::{LoginCommand, LoginError, LoginHandler, LoginOutcome, LoginUseCase};
pub use commands::logout::{LogoutCommand, LogoutError, LogoutHandler, LogoutUseCase};
pub use commands::mfa::{MfaVerifyCommand, MfaVerifyError, MfaVerifyHandler, MfaVerifyUseCase};
pub use commands::passkey_sign_in::{
    PasskeySignInCommand, PasskeySignInError, PasskeySignInHandler, PasskeySignInUseCase,
};
pub use commands::passkeys::{
    ChangePasskeyError, PasskeysHandler, PasskeysUseCase, RegisterPasskeyCommand, RegisterPasskeyError,
    StartRegistrationError, StartedCeremony,
};
pub use commands::passwords::{
    ChangePasswordCommand, ChangePasswordError, ChangePasswordHandler, ChangePasswordUseCase, ForgotPasswordCommand,
    ForgotPasswordError, ForgotPasswordHandler, ForgotPasswordUseCase, ResetPasswordCommand, ResetPasswordError,
    ResetPasswordHandler, ResetPasswordUseCase,
};
pub use commands::provider_sign_in::{
    FinishFlowCommand, FinishFlowError, FlowOutcome, ProviderSignInHandler, ProviderSignInUseCase, StartFlowCommand,
    StartFlowError, StartedFlow,
};
pub use commands::refresh::{RefreshCommand, RefreshError, RefreshHandler, RefreshUseCase};
pub use commands::second_factor::{SecondFactorError, SecondFactorHandler, SecondFactorUseCase, TotpEnrollment};
pub use commands::sessions::{
    ListSessionsError, LogoutAllError, RevokeSessionError, SessionView, SessionsHandler, SessionsUseCase,
};
pub use commands::signup::{SignupCommand, SignupError, SignupHandler, SignupUseCase, ValidSignup};
pub use commands::update_profile::{
    UpdateProfileCommand, UpdateProfileError, UpdateProfileHandler, UpdateProfileUseCase, ValidProfileChange,
};
pub use commands::verify_access_token::{
    VerifyAccessToken, VerifyAccessTokenError, VerifyAccessTokenHandler, VerifyAccessTokenUseCase,
};
pub use commands::{FirstFactorOutcome, IssuedTokens, ReauthWindow, SessionPolicy};
pub use use_cases::{ServicePorts, UseCases};
pub use validation::{FieldError, ValidationErrors};
