use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::PortError;

/// Maps a diesel error of `operation` to the port error: lost connections and lock time-outs
/// are "unavailable" (retry may help); the rest is internal. The diesel error is kept as the
/// cause, for logs only.
pub(crate) fn database_failure(operation: &'static str, error: Error) -> PortError {
    let unavailable = match &error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => true,
        Error::DatabaseError(_, info) => info.message().contains("database is locked"),
        _ => false,
    };
    if unavailable { PortError::unavailable(operation, error) } else { PortError::internal(operation, error) }
}

/// [`database_failure`] for `map_err`: `.map_err(db_error("users.update"))`.
pub(crate) fn db_error(operation: &'static str) -> impl Fn(Error) -> PortError {
    move |error| database_failure(operation, error)
}
