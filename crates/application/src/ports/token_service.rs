use chrono::{DateTime, Utc};
use portcullis_domain::{AuthMethods, RefreshTokenSecret, SecretString, SessionAuth, SessionId, UserInfo};
use shaku::Interface;

/// A signed access token and when it ends.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The compact JWT. Do not log it.
    pub token: SecretString,
    /// Lifetime in seconds from issue.
    pub expires_in: u64,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// What a valid access token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user, as of the token's issue.
    pub user: UserInfo,
    /// The session (`sid`) the token was issued for.
    pub session_id: SessionId,
    /// When that session signed in (`auth_time`; the Unix epoch for a token that predates
    /// the claim, so it never counts as recent).
    pub auth_time: DateTime<Utc>,
    /// How it signed in (`amr`).
    pub methods: AuthMethods,
    /// Its expiry (`exp`).
    pub expires_at: DateTime<Utc>,
    /// Its unique id (`jti`).
    pub token_id: String,
}

impl AccessClaims {
    /// The session's sign-in as this token carries it: what a re-issued token keeps.
    pub fn session_auth(&self) -> SessionAuth {
        SessionAuth { session_id: self.session_id, auth_time: self.auth_time, methods: self.methods }
    }
}

/// Why an access token could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenIssueError {
    /// Signing failed (e.g. the key could not be used). For logs only.
    #[error("could not sign the access token: {0}")]
    Signing(String),
}

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenVerifyError {
    /// Well-formed and signed by us, but past `exp`.
    #[error("the access token has expired")]
    Expired,
    /// Anything else: bad signature, algorithm, issuer, audience, garbage.
    #[error("the access token is invalid")]
    Invalid,
    /// Its `kid` names no key this process knows; after a key rotation elsewhere, re-reading
    /// the keys may make it valid.
    #[error("the access token names an unknown signing key")]
    UnknownKey,
}

/// Issues and checks tokens, as the article's `ITokenService`.
pub trait TokenService: Interface {
    /// Signs an access token for `user` in `session` (its `sid`, `auth_time` and `amr`) at `now`.
    ///
    /// # Errors
    /// [`TokenIssueError`] when signing fails.
    fn issue_access_token(
        &self,
        user: &UserInfo,
        session: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenIssueError>;

    /// Checks an access token's signature and claims; no storage is touched.
    ///
    /// # Errors
    /// [`TokenVerifyError`] naming why it is refused.
    fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenVerifyError>;

    /// A fresh opaque secret of 256 random bits: refresh tokens, mailed tokens, API keys.
    fn generate_secret(&self) -> RefreshTokenSecret;
}
