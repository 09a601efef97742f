use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::PortError;

/// Maps a diesel error to the port error: lost connections and lock time-outs are
/// "unavailable" (retry may help); the rest is internal. The text is for logs only.
pub(crate) fn db_error(error: Error) -> PortError {
    match &error {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _) => {
            PortError::Unavailable(error.to_string())
        }
        Error::DatabaseError(_, info) if info.message().contains("database is locked") => {
            PortError::Unavailable(error.to_string())
        }
        _ => PortError::Internal(error.to_string()),
    }
}
