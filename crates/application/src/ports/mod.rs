//! The ports: what the handlers need from the outside world, as traits and the data they
//! pass. Adapters live in `portcullis-infrastructure`, in [`crate::defaults`] (those that
//! need no infrastructure) and, for tests, in `crate::in_memory` (feature `test-support`).

mod clock;
mod error;
mod extensions;
mod limits;
mod mailer;
mod password_hasher;
mod password_policy;
mod probe;
mod relying_party;
mod repositories;
mod resources;
mod signing_keys;
mod token_service;
mod unit_of_work;
mod upstream;

pub use clock::Clock;
pub use error::{PortError, PortErrorSource, PortFailure, error_chain};
pub use extensions::{ClaimsExtension, RESERVED_CLAIMS, SignupPolicy};
pub use limits::{LockoutStore, RateLimiter};
pub use mailer::{MailError, MailOutbox, Mailer, OutgoingMail};
pub use password_hasher::PasswordHasher;
pub use password_policy::PasswordPolicy;
pub use probe::DatabaseProbe;
pub use relying_party::{
    CeremonyRefusal, CeremonyStart, PasskeyHolder, PasskeyRelyingParty, RegisteredKey, VerifiedAssertion,
};
pub use repositories::{
    AccountTokenRepository, AddUserError, ApiKeyRepository, IdentityRepository, OAuthFlowRepository, PasskeyRepository,
    PasskeyUse, SecondFactorRepository, SessionRepository, UserQuery, UserRepository,
};
pub use resources::{ResourceMonitor, ResourceReading};
pub use signing_keys::{JwksSource, KeyRingReloader};
pub use token_service::{AccessClaims, AccessToken, TokenIssueError, TokenService, TokenVerifyError};
pub use unit_of_work::{
    RefreshContext, RefreshRotation, RotationOutcome, UnitOfWork, UnitOfWorkFactory, api_key_with_owner_by_reads,
    refresh_context_by_reads, rotate_refresh_token_by_steps,
};
pub use upstream::{
    AuthorizationRequest, CodeExchange, ProviderInfo, UpstreamError, UpstreamProvider, UpstreamProviders,
};
