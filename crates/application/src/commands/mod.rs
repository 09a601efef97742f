//! Commands and their handlers, one module each.

pub mod admin;
pub mod api_keys;
pub mod delete_account;
pub mod email_verification;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod passwords;
pub mod refresh;
pub mod sessions;
pub mod signup;
pub mod update_profile;
pub mod verify_access_token;

use chrono::{DateTime, Duration, Utc};
use portcullis_domain::{RefreshToken, RefreshTokenSecret, Session, SessionId, UserInfo};

use crate::ports::{AccessToken, PortError, TokenIssueError, TokenService, UnitOfWork};

/// How long refresh tokens and sessions live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Lifetime of one refresh token (default 7 days).
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a session, however often it is refreshed (default 30 days).
    pub session_max: Duration,
    /// How long an already-used refresh token is still accepted (default 10 s).
    pub reuse_grace: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { refresh_ttl: Duration::days(7), session_max: Duration::days(30), reuse_grace: Duration::seconds(10) }
    }
}

/// Tokens handed to a client after a login or a refresh.
#[derive(Clone, Debug)]
pub struct IssuedTokens {
    /// The user as the access token describes them.
    pub user: UserInfo,
    /// The session these tokens belong to.
    pub session_id: SessionId,
    /// The short-lived JWT.
    pub access_token: AccessToken,
    /// The single-use refresh token.
    pub refresh_token: RefreshTokenSecret,
}

impl From<TokenIssueError> for PortError {
    fn from(error: TokenIssueError) -> Self {
        PortError::internal("tokens.from", error)
    }
}

/// A fresh refresh token of `session`'s family, issued at `now`: its secret and what is stored.
fn new_refresh_token(
    tokens: &dyn TokenService,
    now: DateTime<Utc>,
    session: &Session,
    policy: &SessionPolicy,
) -> (RefreshTokenSecret, RefreshToken) {
    let secret = tokens.generate_secret();
    let token = RefreshToken::issue(&secret, session, now, policy.refresh_ttl);
    (secret, token)
}

/// Adds a fresh refresh token, issued at `now`, to `session`'s family inside `unit`;
/// returns its secret.
fn add_refresh_token(
    unit: &mut dyn UnitOfWork,
    tokens: &dyn TokenService,
    now: DateTime<Utc>,
    session: &Session,
    policy: &SessionPolicy,
) -> Result<RefreshTokenSecret, PortError> {
    let (secret, token) = new_refresh_token(tokens, now, session, policy);
    unit.sessions().add_refresh_token(&token)?;
    Ok(secret)
}
