//! The ports: what the handlers need from the outside world. Adapters live in
//! `portcullis-infrastructure` (and in-memory fakes in [`crate::in_memory`]).

mod clock;
mod error;
mod extensions;
mod limits;
mod mailer;
mod password_hasher;
mod password_policy;
mod probe;
mod repositories;
mod resources;
mod signing_keys;
mod token_service;
mod unit_of_work;

pub use clock::{Clock, SystemClock};
pub use error::PortError;
pub use extensions::{ClaimsExtension, NoExtraClaims, OpenSignup, RESERVED_CLAIMS, SignupPolicy};
pub use limits::{LockoutStore, RateLimiter};
pub use mailer::{MailError, Mailer, OutgoingMail};
pub use password_hasher::{InlinePasswordHasher, PasswordHasher, dummy_attempt, dummy_hash};
pub use password_policy::{PasswordPolicy, StrengthPasswordPolicy, StrengthPasswordPolicyParameters};
pub use probe::DatabaseProbe;
pub use repositories::{
    AccountTokenRepository, AddUserError, ApiKeyRepository, SessionRepository, UserQuery, UserRepository,
};
pub use resources::{ResourceMonitor, ResourceReading};
pub use signing_keys::{JwksSource, KeyRingReloader};
pub use token_service::{AccessClaims, AccessToken, TokenIssueError, TokenService, TokenVerifyError};
pub use unit_of_work::{UnitOfWork, UnitOfWorkFactory};
