//! The error answers many operations share, as reusable OpenAPI responses
//! (`#/components/responses/...`), each an RFC 9457 problem in `application/problem+json`.
//! An operation whose error means something of its own describes it inline instead.

use utoipa::ToResponse;

use crate::dto::Problem;

/// `400 malformed_body`: the body is not JSON, or not an object.
#[derive(ToResponse)]
#[response(description = "malformed_body: the body is not a JSON object", content_type = "application/problem+json")]
pub struct MalformedBody(pub Problem);

/// `401 unauthorized` or `token_expired`.
#[derive(ToResponse)]
#[response(
    description = "unauthorized (no valid credential) or token_expired (the access token has expired; refresh it)",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(pub Problem);

/// `403 account_disabled`.
#[derive(ToResponse)]
#[response(description = "account_disabled: an admin disabled this account", content_type = "application/problem+json")]
pub struct AccountDisabled(pub Problem);

/// `404 not_found`.
#[derive(ToResponse)]
#[response(description = "not_found", content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// `404 not_found` for a caller whose account was deleted.
#[derive(ToResponse)]
#[response(description = "not_found: the account no longer exists", content_type = "application/problem+json")]
pub struct AccountGone(pub Problem);

/// `408 request_timeout`.
#[derive(ToResponse)]
#[response(
    description = "request_timeout: the body did not arrive within PORTCULLIS_BODY_TIMEOUT_SECS (default 10 s)",
    content_type = "application/problem+json"
)]
pub struct RequestTimeout(pub Problem);

/// `413 payload_too_large`.
#[derive(ToResponse)]
#[response(description = "payload_too_large: the body is over 64 KiB", content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// `415 unsupported_media_type`.
#[derive(ToResponse)]
#[response(
    description = "unsupported_media_type: the body's Content-Type is not one the operation accepts",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(pub Problem);

/// `422 validation_failed`.
#[derive(ToResponse)]
#[response(
    description = "validation_failed: `errors` lists each bad field with a code and a message",
    content_type = "application/problem+json"
)]
pub struct ValidationFailed(pub Problem);

/// `429 rate_limited`.
#[derive(ToResponse)]
#[response(
    description = "rate_limited: too many requests from this IP; `Retry-After` says when to try again",
    content_type = "application/problem+json"
)]
pub struct RateLimited(pub Problem);

/// `503 unavailable`.
#[derive(ToResponse)]
#[response(
    description = "unavailable: a resource (database, hashing queue) is out of reach or saturated; `Retry-After` says when to try again",
    content_type = "application/problem+json"
)]
pub struct Unavailable(pub Problem);
