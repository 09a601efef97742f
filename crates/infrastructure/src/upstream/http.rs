//! The one HTTP client every upstream provider speaks through: blocking (the application
//! layer runs on the blocking pool), no redirects followed (the `oauth2` docs warn about SSRF
//! through them: a redirect is an answer, and the caller refuses it), a 10-second deadline
//! per call, at most 1 MiB read, no proxy taken from the environment.

use std::time::Duration;

use oauth2::{HttpRequest, HttpResponse};

/// The most of a response body read.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The deadline of one call (connect, send, read).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call gave no response. The message names the cause (timeout, refused connection,
/// body too large), never the request's credentials.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// A blocking HTTP client with the limits above. Cheap to clone.
#[derive(Clone)]
pub struct UpstreamHttp {
    agent: ureq::Agent,
}

impl std::fmt::Debug for UpstreamHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamHttp").finish_non_exhaustive()
    }
}

impl Default for UpstreamHttp {
    fn default() -> Self {
        Self::new(CALL_TIMEOUT)
    }
}

impl UpstreamHttp {
    /// A client whose calls each end after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .proxy(None)
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build();
        Self { agent: config.into() }
    }

    /// Sends `request` and reads the whole answer (any status: redirects and errors are the
    /// caller's to judge).
    ///
    /// # Errors
    /// [`HttpError`] when no complete answer of at most [`MAX_RESPONSE_BYTES`] came in time.
    pub fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let target = request.uri().authority().map_or("?", |authority| authority.as_str()).to_owned();
        let response = self.agent.run(request).map_err(|error| HttpError(describe(&target, &error)))?;
        let (parts, mut body) = response.into_parts();
        let bytes = body
            .with_config()
            .limit(MAX_RESPONSE_BYTES)
            .read_to_vec()
            .map_err(|error| HttpError(describe(&target, &error)))?;
        Ok(HttpResponse::from_parts(parts, bytes))
    }
}

impl oauth2::SyncHttpClient for UpstreamHttp {
    type Error = HttpError;

    fn call(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        self.send(request)
    }
}

/// What went wrong talking to `target` (host and port only).
fn describe(target: &str, error: &ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("{target}: no answer in time"),
        ureq::Error::BodyExceedsLimit(_) => format!("{target}: answer larger than {MAX_RESPONSE_BYTES} bytes"),
        ureq::Error::Io(io) => format!("{target}: {}", io.kind()),
        other => format!("{target}: {other}"),
    }
}
