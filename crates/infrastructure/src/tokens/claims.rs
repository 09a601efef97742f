use serde::{Deserialize, Serialize};

/// The JWT claims of a Portcullis access token.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    pub roles: Vec<String>,
    pub email_verified: bool,
    /// When the account was made (seconds since the epoch), so that `current-user` can
    /// answer from the token alone.
    pub created_at: i64,
    /// When the session signed in (seconds since the epoch). Absent from tokens issued
    /// before the claim existed: read as 0, which never counts as a recent sign-in.
    #[serde(default)]
    pub auth_time: i64,
    /// How it signed in (RFC 8176). Absent from tokens issued before the claim existed, all
    /// of which came from a password.
    #[serde(default = "password_only")]
    pub amr: Vec<String>,
    /// Claims added by a [`portcullis_application::ports::ClaimsExtension`] (never one of the
    /// names above).
    #[serde(flatten, default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

portcullis_jwt::registered_claims!(Claims);

fn password_only() -> Vec<String> {
    vec![portcullis_domain::AuthMethod::Password.claim().to_owned()]
}
