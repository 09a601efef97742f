use std::time::Duration;

use diesel::r2d2::R2D2Connection;
use portcullis_application::ports::{DatabaseProbe, PortError};
use shaku::Component;

use super::DbPool;

/// How long readiness waits for SQLite's write lock.
const PROBE_LOCK_WAIT_MS: u64 = 2000;

/// The file a SQLite database was opened from, as it was then (device and inode), to notice
/// when it is deleted or replaced under a running server: SQLite keeps writing to the open,
/// unlinked file, and everything written is gone at the next start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseFile(Option<(std::path::PathBuf, u64, u64)>);

impl DatabaseFile {
    /// The file behind `database_url` now; nothing for PostgreSQL or an in-memory database.
    pub fn of_url(database_url: &str) -> Self {
        use std::os::unix::fs::MetadataExt;
        let Some(path) = database_url.strip_prefix("sqlite://").filter(|path| !path.contains(":memory:")) else {
            return Self(None);
        };
        let path = std::path::PathBuf::from(path);
        match std::fs::metadata(&path) {
            Ok(metadata) => Self(Some((path, metadata.dev(), metadata.ino()))),
            Err(_) => Self(None),
        }
    }

    /// `Err` naming the file when it is no longer the one that was opened.
    fn check(&self) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt;
        let Some((path, dev, ino)) = &self.0 else { return Ok(()) };
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.dev() == *dev && metadata.ino() == *ino => Ok(()),
            Ok(_) => Err(format!("the database file {} was replaced while serving", path.display())),
            Err(_) => Err(format!("the database file {} was deleted while serving", path.display())),
        }
    }
}

/// Answers readiness checks: the SQLite file still the one opened, then a pooled connection
/// and a `SELECT 1`, within two seconds; on SQLite also the write lock every command takes
/// (`BEGIN IMMEDIATE`, at once rolled back), waited for at most two seconds — while another
/// process holds the database locked, commands would answer `503` and so does readiness.
#[derive(Component)]
#[shaku(interface = DatabaseProbe)]
pub struct DieselDatabaseProbe {
    pool: DbPool,
    /// The SQLite file served from (none for PostgreSQL).
    #[shaku(default)]
    file: DatabaseFile,
}

impl DieselDatabaseProbe {
    /// A probe over `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool, file: DatabaseFile::default() }
    }
}

impl DatabaseProbe for DieselDatabaseProbe {
    fn check(&self) -> Result<(), PortError> {
        self.file.check().map_err(|problem| PortError::unavailable("database_probe.check", problem))?;
        let mut conn = self
            .pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| PortError::unavailable("database_probe.check", e))?;
        conn.ping().map_err(|e| PortError::unavailable("database_probe.check", e))?;
        if let super::DbConnection::Sqlite(sqlite) = &mut **conn {
            use diesel::connection::SimpleConnection;
            let unavailable = |e: diesel::result::Error| PortError::unavailable("database_probe.write_lock", e);
            sqlite.batch_execute(&format!("PRAGMA busy_timeout = {PROBE_LOCK_WAIT_MS}")).map_err(unavailable)?;
            let locked = sqlite.batch_execute("BEGIN IMMEDIATE");
            let rolled_back = if locked.is_ok() { sqlite.batch_execute("ROLLBACK") } else { Ok(()) };
            // The pooled connection goes back with the busy timeout every command expects.
            let restored =
                sqlite.batch_execute(&format!("PRAGMA busy_timeout = {}", super::connection::SQLITE_BUSY_TIMEOUT_MS));
            locked.and(rolled_back).and(restored).map_err(unavailable)?;
        }
        Ok(())
    }
}
