use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What caused a [`PortError`]: any error of the adapter (a database driver's, an I/O error,
/// or a message). Shared, so a `PortError` stays cheap to clone.
pub type PortErrorSource = Arc<dyn Error + Send + Sync>;

/// A failure of an adapter behind a port: which operation failed, whether a retry may help,
/// and the adapter's own error as the [`source`](Error::source). Neither is ever shown to
/// clients; both are for logs.
#[derive(Debug, Clone)]
pub enum PortError {
    /// A resource is out of reach or saturated (database down, hashing queue full).
    /// Retrying after a short wait may succeed; HTTP maps it to `503` with `Retry-After`.
    Unavailable(PortFailure),
    /// Anything else.
    Internal(PortFailure),
}

/// The operation that failed and the adapter's error.
#[derive(Debug, Clone)]
pub struct PortFailure {
    operation: &'static str,
    cause: PortErrorSource,
}

impl PortFailure {
    /// The operation, e.g. `users.find_by_email` or `password_hasher.hash`.
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The adapter's error.
    pub fn cause(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.cause
    }
}

impl PortError {
    /// `operation` could not reach a resource; `cause` says why.
    pub fn unavailable(operation: &'static str, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Unavailable(PortFailure { operation, cause: Arc::from(cause.into()) })
    }

    /// `operation` failed for another reason; `cause` says why.
    pub fn internal(operation: &'static str, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self::Internal(PortFailure { operation, cause: Arc::from(cause.into()) })
    }

    /// Which operation failed and why.
    pub fn failure(&self) -> &PortFailure {
        match self {
            Self::Unavailable(failure) | Self::Internal(failure) => failure,
        }
    }

    /// The operation that failed.
    pub fn operation(&self) -> &'static str {
        self.failure().operation
    }

    /// Whether a retry after a short wait may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The operation, the kind and every cause in one line, for logs.
    pub fn detail(&self) -> String {
        format!("{self}: {}", error_chain(self.failure().cause()))
    }
}

/// `error: its cause: the cause's cause …` in one line, for logs.
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(failure) => write!(f, "{} is temporarily unavailable", failure.operation),
            Self::Internal(failure) => write!(f, "{} failed", failure.operation),
        }
    }
}

impl Error for PortError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure().cause())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operation_and_the_cause_are_kept_and_shown_in_the_detail() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let error = PortError::unavailable("users.find_by_email", io);
        assert!(error.is_unavailable());
        assert_eq!(error.operation(), "users.find_by_email");
        assert_eq!(error.to_string(), "users.find_by_email is temporarily unavailable");
        assert_eq!(error.source().map(ToString::to_string).as_deref(), Some("connection refused"));
        assert_eq!(error.detail(), "users.find_by_email is temporarily unavailable: connection refused");
        let clone = error.clone();
        assert_eq!(clone.detail(), error.detail());
    }

    #[test]
    fn a_message_can_be_the_cause() {
        let error = PortError::internal("api_keys.create", "two generated keys in a row had a prefix in use");
        assert!(!error.is_unavailable());
        assert_eq!(error.failure().cause().to_string(), "two generated keys in a row had a prefix in use");
    }
}
