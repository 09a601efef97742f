//! Response and request bodies as they appear on the wire (and in the OpenAPI document).

use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_domain::UserInfo;
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339, UTC, whole seconds: `2026-11-22T10:00:00Z`.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The user object. Never holds a password, hash or token.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct UserInfoBody {
    /// UUID v7.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Login address, lower-case.
    pub email: String,
    /// Picture link or null.
    pub avatar_url: Option<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether the email is confirmed.
    pub email_verified: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
}

impl From<&UserInfo> for UserInfoBody {
    fn from(info: &UserInfo) -> Self {
        Self {
            user_id: info.user_id.to_string(),
            name: info.name.clone(),
            email: info.email.clone(),
            avatar_url: info.avatar_url.clone(),
            roles: info.roles.clone(),
            email_verified: info.email_verified,
            created_at: rfc3339(info.created_at),
        }
    }
}

/// Answer of login and refresh. The tokens travel in cookies, never here.
#[derive(Serialize, ToSchema, Debug)]
pub struct SessionBody {
    /// The user.
    pub user: UserInfoBody,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// `POST /api/auth/signup` body.
#[derive(ToSchema)]
pub struct SignupRequest {
    /// 1..=100 characters, no control characters.
    pub name: String,
    /// A valid address, at most 254 characters.
    pub email: String,
    /// 8..=256 characters.
    pub password: String,
    /// An http(s) URL of at most 2048 characters.
    pub avatar_url: Option<String>,
}

/// `POST /api/auth/login` body.
#[derive(ToSchema)]
pub struct LoginRequest {
    /// Login address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `PATCH /api/auth/current-user` body; absent fields are left as they are, `avatar_url: null` clears it.
#[derive(ToSchema)]
pub struct UpdateProfileRequest {
    /// A new name.
    pub name: Option<String>,
    /// A new avatar URL, or null to remove it.
    pub avatar_url: Option<String>,
}

/// An RFC 9457 problem.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// A sentence for people.
    pub detail: String,
    /// Stable snake_case code.
    pub code: String,
    /// Per-field errors (validation only).
    pub errors: Option<Vec<FieldProblem>>,
}

/// One bad field.
#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON field name.
    pub field: String,
    /// Stable snake_case code.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// Health answer.
#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: &'static str,
}
