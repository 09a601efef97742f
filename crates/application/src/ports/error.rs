/// A failure of an adapter behind a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A resource is out of reach or saturated (database down, hashing queue full).
    /// Retrying after a short wait may succeed; HTTP maps it to `503` with `Retry-After`.
    #[error("temporarily unavailable: {0}")]
    Unavailable(String),
    /// Anything else. The text is for logs only, never for clients.
    #[error("internal failure: {0}")]
    Internal(String),
}
