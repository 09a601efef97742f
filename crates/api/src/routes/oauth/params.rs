//! The parameters of the OAuth endpoints: a form or a JSON object, read within the body limit.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};
use serde_json::Value;

use crate::body::{BodyReadError, MAX_BODY_BYTES, body_deadline, declared_length, read_limited};

use super::error::OAuthError;

#[derive(Debug)]
enum Param {
    Value(String),
    Repeated,
    NotAString,
}

/// The parameters of an OAuth request, from a form-encoded or JSON body (at most 64 KiB).
/// Unknown parameters are kept but never read; a parameter sent without a value counts as
/// absent (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub struct OAuthParams(HashMap<String, Param>);

enum BodyKind {
    Form,
    Json,
}

fn body_kind(req: &HttpRequest) -> Option<BodyKind> {
    let media = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?.split(';').next()?.trim().to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        Some(BodyKind::Form)
    } else if media == "application/json" || (media.starts_with("application/") && media.ends_with("+json")) {
        Some(BodyKind::Json)
    } else {
        None
    }
}

/// The description of the error for a body over 64 KiB.
pub(crate) const TOO_LARGE: &str = "The body is larger than 64 KiB.";

fn too_large() -> OAuthError {
    OAuthError::invalid_request(TOO_LARGE)
}

impl OAuthParams {
    fn from_form(body: &[u8]) -> Self {
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            params
                .entry(name.into_owned())
                .and_modify(|param| *param = Param::Repeated)
                .or_insert_with(|| Param::Value(value.into_owned()));
        }
        Self(params)
    }

    fn from_json(body: &[u8]) -> Result<Self, OAuthError> {
        let members: crate::json_members::Members = serde_json::from_slice(body).map_err(|error| {
            OAuthError::invalid_request(if error.is_data() {
                "The body must be a JSON object."
            } else {
                "The body is not valid JSON."
            })
        })?;
        let mut params = HashMap::new();
        for (name, value) in members.0.into_iter().filter(|(_, value)| !value.is_null()) {
            let param = match value {
                Value::String(text) => Param::Value(text),
                _ => Param::NotAString,
            };
            // A member given twice is refused as a repeated form parameter is (RFC 6749 §3.2),
            // never "the last one wins".
            params.entry(name).and_modify(|known| *known = Param::Repeated).or_insert(param);
        }
        Ok(Self(params))
    }

    /// Parameter `name`: `Ok(None)` when absent or empty.
    ///
    /// # Errors
    /// `invalid_request` when it is repeated or (JSON) not a string.
    pub fn optional(&self, name: &str) -> Result<Option<String>, OAuthError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Param::Value(value)) if value.is_empty() => Ok(None),
            Some(Param::Value(value)) => Ok(Some(value.clone())),
            Some(Param::Repeated) => Err(OAuthError::invalid_request(format!("The parameter {name} is repeated."))),
            Some(Param::NotAString) => {
                Err(OAuthError::invalid_request(format!("The parameter {name} must be a string.")))
            }
        }
    }

    /// Parameter `name`, which must be present and not empty.
    ///
    /// # Errors
    /// `invalid_request` when it is missing, empty, repeated or (JSON) not a string.
    pub fn required(&self, name: &str) -> Result<String, OAuthError> {
        self.optional(name)?.ok_or_else(|| OAuthError::invalid_request(format!("The parameter {name} is required.")))
    }
}

impl FromRequest for OAuthParams {
    type Error = OAuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, OAuthError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = body_kind(req);
        let declared = declared_length(req);
        let deadline = body_deadline(req);
        let payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
                return Err(too_large());
            }
            let Some(kind) = kind else {
                return Err(OAuthError::invalid_request(
                    "Send the parameters as application/x-www-form-urlencoded or application/json.",
                ));
            };
            let body = read_limited(declared, payload, deadline).await.map_err(|error| match error {
                BodyReadError::TooLarge => too_large(),
                BodyReadError::Unreadable => OAuthError::invalid_request("The body could not be read."),
                BodyReadError::TimedOut => OAuthError::new(
                    actix_web::http::StatusCode::REQUEST_TIMEOUT,
                    "invalid_request",
                    "The request body did not arrive in time.",
                ),
            })?;
            match kind {
                BodyKind::Form => Ok(OAuthParams::from_form(&body)),
                BodyKind::Json => OAuthParams::from_json(&body),
            }
        })
    }
}
