//! Response and request bodies as they appear on the wire (and in the OpenAPI document).
//!
//! The request schemas state the input rules of the domain's value objects (`UserName`,
//! `Email`, `PlainPassword`, `AvatarUrl`, `ApiKeyName`, `Scope`, `Role`, `PasskeyName`) as
//! `minLength`, `maxLength`, `pattern`, `format` and `minItems`/`maxItems`, never stricter
//! than the server: a limit is one on the value the server keeps, after it trims the
//! whitespace around a name, email or URL, lower-cases an email or drops repeated scopes.
//! Fields the server only compares (a login's email and password, tokens, codes) carry no
//! rule: a bad one is answered as wrong (`401`, `400 invalid_token`, ...), not as invalid.

use chrono::{DateTime, SecondsFormat, Utc};
use portcullis_domain::UserInfo;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

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
    /// 1..=100 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    /// A valid address (letters of any script), at most 254 characters after trimming;
    /// stored lower-cased.
    #[schema(format = IdnEmail, max_length = 254)]
    pub email: String,
    /// 8..=256 characters (Unicode characters, not bytes; not trimmed).
    #[schema(format = Password, min_length = 8, max_length = 256)]
    pub password: String,
    /// An absolute http(s) URL of at most 2048 characters after trimming, or null.
    #[schema(format = "iri", max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?:")]
    pub avatar_url: Option<String>,
}

/// `POST /api/auth/login` body. Neither field is checked against the signup rules: a wrong
/// one is `401 invalid_credentials`.
#[derive(ToSchema)]
pub struct LoginRequest {
    /// Login address.
    pub email: String,
    /// Password.
    #[schema(format = Password)]
    pub password: String,
}

/// `PATCH /api/auth/current-user` body; absent fields are left as they are, `avatar_url: null` clears it.
#[derive(ToSchema)]
pub struct UpdateProfileRequest {
    /// A new name: 1..=100 characters after trimming, no control characters; not null.
    #[schema(value_type = String, required = false, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: Option<String>,
    /// A new avatar URL (absolute http(s), at most 2048 characters after trimming), or null
    /// to remove it.
    #[schema(format = "iri", max_length = 2048, pattern = "^[Hh][Tt][Tt][Pp][Ss]?:")]
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

/// `POST /api/auth/password/change` body.
#[derive(ToSchema)]
pub struct ChangePasswordRequest {
    /// The password in use now; required when the account has one. A user without a
    /// password (made through a provider) leaves it out to set a first one, from a session
    /// that signed in within `PORTCULLIS_REAUTH_SECS`.
    #[schema(format = Password)]
    pub current_password: Option<String>,
    /// The new password: the same rules as at signup (8..=256 characters).
    #[schema(format = Password, min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// `POST /api/auth/password/forgot` body.
#[derive(ToSchema)]
pub struct ForgotPasswordRequest {
    /// The account's address: a valid one of at most 254 characters after trimming.
    #[schema(format = IdnEmail, max_length = 254)]
    pub email: String,
}

/// `POST /api/auth/password/reset` body.
#[derive(ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the reset link.
    pub token: String,
    /// The new password: the same rules as at signup (8..=256 characters).
    #[schema(format = Password, min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// `POST /api/auth/email/verify` body.
#[derive(ToSchema)]
pub struct VerifyEmailRequest {
    /// The token from the verification link.
    pub token: String,
}

/// `DELETE /api/auth/current-user` body.
#[derive(ToSchema)]
pub struct DeleteAccountRequest {
    /// The account's password, to confirm; required when the account has one. A user
    /// without a password sends `{}` from a session that signed in within
    /// `PORTCULLIS_REAUTH_SECS`.
    #[schema(format = Password)]
    pub password: Option<String>,
}

/// A user as administrators see it: the user object plus `disabled`.
#[derive(Serialize, ToSchema, Debug, Clone, PartialEq, Eq)]
pub struct AdminUserBody {
    /// The user object.
    #[serde(flatten)]
    pub user: UserInfoBody,
    /// Whether the account is disabled (no login, no refresh).
    pub disabled: bool,
}

/// One page of `GET /api/admin/users`.
#[derive(Serialize, ToSchema, Debug)]
pub struct UserPageBody {
    /// Users in creation order, oldest first.
    pub items: Vec<AdminUserBody>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// `PATCH /api/admin/users/{id}` body; absent fields stay as they are.
#[derive(ToSchema)]
pub struct AdminUpdateUserRequest {
    /// The complete new role list (at least one role; names of `[a-z0-9_-]`, 1..=32
    /// characters; repeats count once).
    #[schema(value_type = Option<Vec<RoleItem>>, inline, min_items = 1)]
    pub roles: Option<Vec<String>>,
    /// Disable (ends every session; login answers `403 account_disabled`) or re-enable; not null.
    #[schema(value_type = bool, required = false)]
    pub disabled: Option<bool>,
}

/// One role name of `AdminUpdateUserRequest.roles`, as `Role::parse` takes it: 1..=32
/// characters of `[a-z0-9_-]`.
pub struct RoleItem;

impl PartialSchema for RoleItem {
    fn schema() -> RefOr<Schema> {
        restricted_string(1, 32, "^[a-z0-9_-]{1,32}$")
    }
}

impl ToSchema for RoleItem {}

/// One scope of `CreateApiKeyRequest.scopes`, as `Scope::parse` takes it: 1..=64 characters
/// of `[a-z0-9:._-]`.
pub struct ScopeItem;

impl PartialSchema for ScopeItem {
    fn schema() -> RefOr<Schema> {
        restricted_string(1, 64, "^[a-z0-9:._-]{1,64}$")
    }
}

impl ToSchema for ScopeItem {}

/// A string schema of `min..=max` characters matching `pattern`.
fn restricted_string(min: usize, max: usize, pattern: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .into()
}

/// `POST /api/auth/api-keys` body.
#[derive(ToSchema)]
pub struct CreateApiKeyRequest {
    /// A label for people: 1..=100 characters after trimming, no control characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub name: String,
    /// Up to 20 distinct scopes of `[a-z0-9:._-]` (at most 64 characters each; repeats count
    /// once); absent, null or empty: `["profile:read"]`. Portcullis knows `profile:read`,
    /// `profile:write`, `admin` and `introspect`.
    #[schema(value_type = Option<Vec<ScopeItem>>, inline, max_items = 20)]
    pub scopes: Option<Vec<String>>,
    /// RFC 3339, in the future; when the key stops working. Absent or null: never.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// An API key as listed: never the secret.
#[derive(Serialize, ToSchema, Debug)]
pub struct ApiKeyBody {
    /// UUID v7.
    pub api_key_id: String,
    /// The owner's label.
    pub name: String,
    /// The key's first characters (`pc_` + 8), to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, or null for never.
    pub expires_at: Option<String>,
    /// When it last authenticated a request (kept to the minute), or null.
    pub last_used_at: Option<String>,
}

/// The answer to creating a key: the only time `key` is shown.
#[derive(Serialize, ToSchema, Debug)]
pub struct CreatedApiKeyBody {
    /// UUID v7.
    pub api_key_id: String,
    /// The owner's label.
    pub name: String,
    /// The whole key. Shown this once; Portcullis keeps only its hash.
    pub key: String,
    /// The key's first characters (`pc_` + 8).
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC, or null for never.
    pub expires_at: Option<String>,
}

/// `POST /api/auth/introspect` body (JSON or form).
#[derive(ToSchema)]
pub struct IntrospectRequest {
    /// An API key or an access token; an empty one counts as missing.
    #[schema(min_length = 1)]
    pub token: String,
    /// Ignored (RFC 7662 allows it).
    pub token_type_hint: Option<String>,
}

/// RFC 7662 answer. When `active` is false nothing else is present.
#[derive(Serialize, ToSchema, Debug, Default)]
pub struct IntrospectionBody {
    /// Whether the token or key is usable right now.
    pub active: bool,
    /// `api_key` or `access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// The user id it acts as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Space-separated scopes: a key's own; for an access token what it reaches in
    /// Portcullis (`profile:read profile:write`, plus `admin` for admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Expiry, seconds since the epoch; absent for a key that never expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The user's roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}
