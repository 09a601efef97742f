//! Commands and their handlers, one module each.

pub mod admin;
pub mod api_keys;
pub mod delete_account;
pub mod email_verification;
pub mod identities;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod passkey_sign_in;
pub mod passkeys;
pub mod passwords;
pub mod provider_sign_in;
pub mod refresh;
pub mod second_factor;
pub mod sessions;
pub mod signup;
pub mod update_profile;
pub mod verify_access_token;

use chrono::{DateTime, Duration, Utc};
use portcullis_domain::{
    AuthMethods, MfaChallenge, OpaqueSecret, RefreshToken, RefreshTokenSecret, Session, SessionId, SessionMetadata,
    User, UserInfo,
};

use crate::ports::{AccessToken, PortError, TokenIssueError, TokenService, UnitOfWorkFactory};

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

/// How recently a session must have signed in for what needs a fresh proof from a user who
/// has no password to type (`PORTCULLIS_REAUTH_SECS`): deleting the account, setting a first
/// password. Default 600 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReauthWindow(u64);

impl ReauthWindow {
    /// A window of `secs` seconds.
    pub fn new(secs: u64) -> Self {
        Self(secs)
    }

    /// Its length in seconds.
    pub fn secs(self) -> u64 {
        self.0
    }
}

impl Default for ReauthWindow {
    fn default() -> Self {
        Self(600)
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

/// Starts a session for `user`, who signed in by `methods` at `now`: the session and its first
/// refresh token stored in one unit of work, then an access token signed. What every way in
/// ends with (password login, a provider's callback).
///
/// # Errors
/// [`PortError`] when storage or signing fails; nothing is stored then.
fn start_session(
    units: &dyn UnitOfWorkFactory,
    tokens: &dyn TokenService,
    policy: &SessionPolicy,
    user: &User,
    methods: AuthMethods,
    metadata: SessionMetadata,
    now: DateTime<Utc>,
) -> Result<IssuedTokens, PortError> {
    let session = Session::start(user.id, methods, metadata, now, policy.session_max);
    let (refresh_token, stored) = new_refresh_token(tokens, now, &session, policy);
    let mut unit = units.begin()?;
    unit.sessions().add_session(&session)?;
    unit.sessions().add_refresh_token(&stored)?;
    unit.commit()?;

    let info = user.info();
    let access_token = tokens.issue_access_token(&info, &session.auth(), now)?;
    tracing::info!(user_id = %user.id, session_id = %session.id, amr = ?methods.claims(), "signed in");
    Ok(IssuedTokens { user: info, session_id: session.id, access_token, refresh_token })
}

/// What a passed first factor (a password, a provider) leads to.
#[derive(Clone, Debug)]
pub enum FirstFactorOutcome {
    /// No second factor: a session started.
    Session(Box<IssuedTokens>),
    /// The user has TOTP: a challenge was stored, named by this `mfa_token`; no session yet.
    SecondStep(OpaqueSecret),
}

/// After a first factor: a second-step challenge when `user` has TOTP active, else the
/// session ([`start_session`]).
///
/// # Errors
/// [`PortError`] when storage or signing fails.
fn after_first_factor(
    units: &dyn UnitOfWorkFactory,
    tokens: &dyn TokenService,
    policy: &SessionPolicy,
    user: &User,
    methods: AuthMethods,
    metadata: SessionMetadata,
    now: DateTime<Utc>,
) -> Result<FirstFactorOutcome, PortError> {
    let mut unit = units.single_read()?;
    let totp_active = unit.second_factors().totp(user.id)?.is_some_and(|totp| totp.is_active());
    unit.commit()?;
    if totp_active {
        let token = tokens.generate_secret();
        let mut unit = units.begin()?;
        unit.second_factors().add_challenge(&MfaChallenge::start(&token, user.id, methods, now))?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, "first factor passed: second step required");
        return Ok(FirstFactorOutcome::SecondStep(token));
    }
    start_session(units, tokens, policy, user, methods, metadata, now)
        .map(|tokens| FirstFactorOutcome::Session(Box::new(tokens)))
}
