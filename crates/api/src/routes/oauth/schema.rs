//! The OAuth endpoints' request and response shapes, for the OpenAPI document.

use serde::Serialize;
use utoipa::ToSchema;

/// `POST /api/auth/token` parameters (form-encoded or JSON). Unknown parameters
/// (`client_id`, `scope`, …) are ignored.
#[derive(ToSchema)]
pub struct TokenRequest {
    /// `password`, `refresh_token` or `urn:portcullis:grant-type:mfa-otp`; anything else is
    /// `400 unsupported_grant_type`.
    #[schema(pattern = "^(password|refresh_token|urn:portcullis:grant-type:mfa-otp)$")]
    pub grant_type: String,
    /// The email (password grant).
    pub username: Option<String>,
    /// The password (password grant).
    #[schema(format = Password)]
    pub password: Option<String>,
    /// The refresh token (refresh_token grant).
    pub refresh_token: Option<String>,
    /// The token of a password grant answered `mfa_required` (MFA grant).
    pub mfa_token: Option<String>,
    /// A TOTP or recovery code (MFA grant).
    pub otp: Option<String>,
}

/// `POST /api/auth/revoke` parameters (form-encoded or JSON), RFC 7009.
#[derive(ToSchema)]
pub struct RevokeRequest {
    /// The refresh token to revoke (an access token ends its session too); an empty one
    /// counts as missing.
    #[schema(min_length = 1)]
    pub token: String,
    /// Accepted and ignored.
    pub token_type_hint: Option<String>,
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// The access token (a JWT), sent as `Authorization: Bearer`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The single-use refresh token for the next `refresh_token` grant.
    pub refresh_token: String,
}
