//! JSON request bodies: size limit, content type, well-formedness, and per-field type
//! checks, each failing with the contract's error.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use portcullis_application::ValidationErrors;
use serde_json::{Map, Value};

use crate::problem::ApiError;

/// Largest accepted body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body. Unknown fields are ignored; fields are read with the typed getters.
#[derive(Debug, Default)]
pub struct JsonObject(Map<String, Value>);

fn payload_too_large() -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "The body is larger than 64 KiB.")
}

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|media| {
            let media = media.trim().to_ascii_lowercase();
            media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyReadError {
    /// Declared or actual size over [`MAX_BODY_BYTES`].
    TooLarge,
    /// The connection failed mid-body.
    Unreadable,
    /// The body did not arrive within the deadline (`PORTCULLIS_BODY_TIMEOUT_SECS`).
    TimedOut,
}

/// How long a request body may take to arrive when no settings say (seconds).
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;

/// The body deadline of the app serving `req`.
pub fn body_deadline(req: &HttpRequest) -> std::time::Duration {
    let secs = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map_or(DEFAULT_BODY_TIMEOUT_SECS, |state| state.settings.body_timeout_secs);
    std::time::Duration::from_secs(secs)
}

/// `408 request_timeout`: the body was too slow.
pub fn body_timed_out() -> ApiError {
    ApiError::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", "The request body did not arrive in time.")
}

/// The `Content-Length` a request declares, if any.
pub fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
}

/// Reads the whole body within `deadline`, refusing more than [`MAX_BODY_BYTES`] (declared or
/// actual) without buffering past the limit.
///
/// # Errors
/// [`BodyReadError`] naming why.
pub async fn read_limited(
    declared: Option<usize>,
    payload: Payload,
    deadline: std::time::Duration,
) -> Result<Vec<u8>, BodyReadError> {
    actix_web::rt::time::timeout(deadline, read_all(declared, payload)).await.unwrap_or(Err(BodyReadError::TimedOut))
}

async fn read_all(declared: Option<usize>, mut payload: Payload) -> Result<Vec<u8>, BodyReadError> {
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(BodyReadError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyReadError::Unreadable)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl FromRequest for JsonObject {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let declared = declared_length(req);
        let deadline = body_deadline(req);
        let payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(payload_too_large());
            }
            if !json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as application/json.",
                ));
            }
            let body = read_limited(declared, payload, deadline).await.map_err(|error| match error {
                BodyReadError::TooLarge => payload_too_large(),
                BodyReadError::Unreadable => ApiError::malformed_body("The body could not be read."),
                BodyReadError::TimedOut => body_timed_out(),
            })?;
            let value: Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::malformed_body(format!("The body is not valid JSON ({}).", e.classify_name()))
            })?;
            match value {
                Value::Object(map) => {
                    // Parsed again member by member: a field given twice is refused, not
                    // silently read as its last value.
                    let members: crate::json_members::Members = serde_json::from_slice(&body)
                        .map_err(|_| ApiError::malformed_body("The body is not a JSON object."))?;
                    if let Some(name) = members.repeated() {
                        return Err(ApiError::malformed_body(format!(
                            "The member {} appears more than once.",
                            Value::String(name.to_owned())
                        )));
                    }
                    Ok(JsonObject(map))
                }
                _ => {
                    let mut errors = ValidationErrors::new();
                    errors.add("body", "invalid_type", "the body must be a JSON object");
                    Err(ApiError::validation(errors))
                }
            }
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Eof => "unexpected end",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "bad data",
            serde_json::error::Category::Io => "unreadable",
        }
    }
}

impl JsonObject {
    /// A required string field; records `required` or `invalid_type` against it otherwise.
    pub fn required_string(&self, field: &str, errors: &mut ValidationErrors) -> Option<String> {
        match self.0.get(field) {
            None | Some(Value::Null) => {
                errors.add(field, "required", format!("{field} is required"));
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                errors.add(field, "invalid_type", format!("{field} must be a string"));
                None
            }
        }
    }

    /// An optional string field: `None` when absent, `Some(None)` for `null`,
    /// `Some(Some(..))` for a string; records `invalid_type` for anything else.
    pub fn optional_string(&self, field: &str, errors: &mut ValidationErrors) -> Option<Option<String>> {
        match self.0.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(text)) => Some(Some(text.clone())),
            Some(_) => {
                errors.add(field, "invalid_type", format!("{field} must be a string or null"));
                None
            }
        }
    }

    /// A required JSON object field; records `required` or `invalid_type` against it otherwise.
    pub fn required_object(&self, field: &str, errors: &mut ValidationErrors) -> Option<Value> {
        match self.0.get(field) {
            None | Some(Value::Null) => {
                errors.add(field, "required", format!("{field} is required"));
                None
            }
            Some(object @ Value::Object(_)) => Some(object.clone()),
            Some(_) => {
                errors.add(field, "invalid_type", format!("{field} must be an object"));
                None
            }
        }
    }

    /// An optional boolean field: `None` when absent or on error (recorded as `invalid_type`).
    pub fn optional_bool(&self, field: &str, errors: &mut ValidationErrors) -> Option<bool> {
        match self.0.get(field) {
            None => None,
            Some(Value::Bool(value)) => Some(*value),
            Some(_) => {
                errors.add(field, "invalid_type", format!("{field} must be true or false"));
                None
            }
        }
    }

    /// An optional array of strings: `None` when absent or `null`, or on error (recorded as
    /// `invalid_type`).
    pub fn optional_string_list(&self, field: &str, errors: &mut ValidationErrors) -> Option<Vec<String>> {
        match self.0.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let strings: Option<Vec<String>> = items.iter().map(|item| item.as_str().map(str::to_owned)).collect();
                if strings.is_none() {
                    errors.add(field, "invalid_type", format!("{field} must be an array of strings"));
                }
                strings
            }
            Some(_) => {
                errors.add(field, "invalid_type", format!("{field} must be an array of strings"));
                None
            }
        }
    }
}
