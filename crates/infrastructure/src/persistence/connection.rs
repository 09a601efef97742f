use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Migrations for SQLite, compiled into the binary.
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// Migrations for PostgreSQL, compiled into the binary.
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// How long a SQLite statement waits for a lock another connection holds (`busy_timeout`).
pub(crate) const SQLITE_BUSY_TIMEOUT_MS: u64 = 5000;

/// One connection to either supported database; all repositories are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, for production and for several instances sharing one database.
    Pg(PgConnection),
    /// SQLite (bundled), the zero-setup default.
    Sqlite(SqliteConnection),
}

/// A connection as the pool holds it: the connection, and what the pool knows of its health.
///
/// A connection that went back to the pool less than [`TRUSTED_AFTER_USE`] ago is handed
/// out again without a ping (the ping would be one more round trip on every request under
/// load); one idle for longer is pinged first. A statement that failed because the
/// connection is gone marks it lost, and a lost connection is dropped when it goes back.
pub struct PooledDb {
    conn: DbConnection,
    lost: Arc<AtomicBool>,
    returned_at: Option<Instant>,
}

/// How long after going back to the pool a connection is handed out again unpinged.
pub const TRUSTED_AFTER_USE: Duration = Duration::from_secs(1);

impl PooledDb {
    fn new(conn: DbConnection, lost: Arc<AtomicBool>) -> Self {
        Self { conn, lost, returned_at: None }
    }
}

impl Deref for PooledDb {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// Diesel instrumentation that notes a statement failing because the connection is gone.
struct LostConnectionWatch(Arc<AtomicBool>);

impl Instrumentation for LostConnectionWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery {
            error:
                Some(DieselError::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _,
                )),
            ..
        } = event
        {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// The pool every unit of work borrows a connection from.
pub type DbPool = r2d2::Pool<DbConnectionManager>;

/// Which database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://…` or `postgresql://…`
    Postgres,
    /// `sqlite://PATH`
    Sqlite,
}

impl Backend {
    /// The backend of a database URL, if it is one we support.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite://") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// Pool sizing and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    /// Most connections open at once.
    pub max_size: u32,
    /// How long a request waits for a connection before answering "unavailable".
    pub connection_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { max_size: 10, connection_timeout: Duration::from_secs(3) }
    }
}

/// Opens connections of the backend the URL names (no guessing between backends, so a
/// PostgreSQL outage reports PostgreSQL's own error) and prepares SQLite connections
/// (WAL, busy timeout, foreign keys).
#[derive(Debug)]
pub struct DbConnectionManager {
    backend: Backend,
    target: String,
}

impl r2d2::ManageConnection for DbConnectionManager {
    type Connection = PooledDb;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledDb, Self::Error> {
        let lost = Arc::new(AtomicBool::new(false));
        let conn = self.connect_backend(&lost)?;
        Ok(PooledDb::new(conn, lost))
    }

    fn is_valid(&self, conn: &mut PooledDb) -> Result<(), Self::Error> {
        if conn.returned_at.is_some_and(|returned| returned.elapsed() < TRUSTED_AFTER_USE) {
            return Ok(());
        }
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    /// Called by r2d2 as a connection goes back to the pool: also notes when it did.
    fn has_broken(&self, conn: &mut PooledDb) -> bool {
        if std::thread::panicking() || conn.lost.load(Ordering::Relaxed) || conn.conn.is_broken() {
            return true;
        }
        conn.returned_at = Some(Instant::now());
        false
    }
}

impl DbConnectionManager {
    fn connect_backend(&self, lost: &Arc<AtomicBool>) -> Result<DbConnection, diesel::r2d2::Error> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.target).map_err(diesel::r2d2::Error::ConnectionError)?;
                conn.set_instrumentation(LostConnectionWatch(Arc::clone(lost)));
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let mut conn =
                    SqliteConnection::establish(&self.target).map_err(diesel::r2d2::Error::ConnectionError)?;
                // The busy timeout first: switching to WAL needs a lock, and another
                // connection closing (the last one checkpoints the WAL) may hold it for a moment.
                // Checkpoints every 4 000 WAL pages (16 MiB) instead of SQLite's 1 000: a
                // checkpoint runs inside the commit that crosses the mark and copies every page
                // the WAL holds, and pages written again and again (indexes, hot rows) are
                // copied once per checkpoint; measured 8 % more refreshes a second (10 000
                // measured no better). The WAL file stays at its largest size, 16 MiB.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                     PRAGMA wal_autocheckpoint = 4000;"
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error("unsupported database URL (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    /// No connection could be made.
    #[error("cannot connect to the database: {0}")]
    Unreachable(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
}

/// Builds the pool and checks that one connection can be made.
///
/// # Errors
/// [`ConnectError`] with the database's own message.
pub fn connect(url: &str, settings: PoolSettings) -> Result<DbPool, ConnectError> {
    let backend = Backend::of(url).ok_or(ConnectError::UnsupportedUrl)?;
    let target = match backend {
        Backend::Postgres => url.to_owned(),
        Backend::Sqlite => url.trim_start_matches("sqlite://").to_owned(),
    };
    let manager = DbConnectionManager { backend, target };
    // Fail fast with the database's own message rather than r2d2's generic timeout — but on
    // SQLite, wait out another instance that is making the database right now (switching a
    // fresh file to WAL needs the file to itself, and SQLite reports that at once as locked).
    let deadline = Instant::now() + MIGRATION_PATIENCE;
    loop {
        match r2d2::ManageConnection::connect(&manager) {
            Ok(_) => break,
            Err(error)
                if backend == Backend::Sqlite && error.to_string().contains("locked") && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(error) => return Err(ConnectError::Unreachable(error.to_string())),
        }
    }
    let max_size = match backend {
        Backend::Postgres => settings.max_size,
        // SQLite serialises writers anyway; a few connections serve concurrent readers.
        Backend::Sqlite => settings.max_size.min(8),
    };
    r2d2::Pool::builder()
        .max_size(max_size)
        // No idle connections are opened in the background: a short-lived command (migrate,
        // user create) would otherwise exit while the pool is mid-handshake with PostgreSQL.
        .min_idle(Some(0))
        .connection_timeout(settings.connection_timeout)
        .build(manager)
        .map_err(|e| ConnectError::Unreachable(e.to_string()))
}

/// Applies every pending migration of the pool's backend. Returns how many ran.
///
/// # Errors
/// [`ConnectError`] when no connection can be had or a migration fails.
pub fn run_migrations(pool: &DbPool) -> Result<usize, ConnectError> {
    let mut conn = pool.get().map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    match &mut **conn {
        // Instances starting together take turns: a session advisory lock around the run.
        DbConnection::Pg(pg) => {
            let lock = |pg: &mut PgConnection, sql: &str| {
                pg.batch_execute(sql).map_err(|e| ConnectError::Migration(format!("the migration lock: {e}")))
            };
            lock(pg, &format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let applied = pg.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len());
            lock(pg, &format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            applied.map_err(|e| ConnectError::Migration(e.to_string()))
        }
        // SQLite has no lock to wait on across processes but the database's own: an instance
        // that loses a race to another one's migration (the table exists, the database is
        // locked) waits and runs again, finding it applied.
        DbConnection::Sqlite(sqlite) => {
            let deadline = Instant::now() + MIGRATION_PATIENCE;
            loop {
                let outcome =
                    sqlite.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()).map_err(|e| e.to_string());
                if outcome.is_err() {
                    // A migration that opens its own transaction (the users rebuild) leaves it
                    // open when a statement fails; close it before the connection is used again.
                    let _ = sqlite.batch_execute("ROLLBACK");
                }
                match outcome {
                    Ok(applied) => return Ok(applied),
                    Err(error) if Instant::now() < deadline => {
                        tracing::debug!(%error, "migrations raced another instance; trying again");
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    Err(error) => return Err(ConnectError::Migration(error)),
                }
            }
        }
    }
}

/// Whether the database already holds Portcullis's schema (any migration was applied), as
/// opposed to being new and empty.
///
/// # Errors
/// [`ConnectError::Unreachable`] when no connection can be had or the catalog cannot be read.
pub fn has_schema(pool: &DbPool) -> Result<bool, ConnectError> {
    use diesel::{QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Present {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        present: bool,
    }
    let mut conn = pool.get().map_err(|e| ConnectError::Unreachable(e.to_string()))?;
    let present = match &mut **conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present")
                .get_result::<Present>(pg)
        }
        DbConnection::Sqlite(sqlite) => diesel::sql_query(
            "SELECT count(*) > 0 AS present FROM sqlite_master \
             WHERE type = 'table' AND name = '__diesel_schema_migrations'",
        )
        .get_result::<Present>(sqlite),
    };
    present.map(|row| row.present).map_err(|e| ConnectError::Unreachable(e.to_string()))
}

/// The PostgreSQL advisory-lock key that serializes migrations ("portmig1").
const MIGRATION_LOCK: i64 = 0x706f_7274_6d69_6731;

/// How long a SQLite instance keeps retrying migrations another instance is running.
const MIGRATION_PATIENCE: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Text};

    use super::*;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    #[derive(QueryableByName)]
    struct Amr {
        #[diesel(sql_type = Text)]
        amr: String,
    }

    #[derive(QueryableByName)]
    struct NotNull {
        #[diesel(sql_type = Integer)]
        notnull: i32,
    }

    fn count(conn: &mut SqliteConnection, table: &str) -> i64 {
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table}")).get_result::<Count>(conn).expect("counts").n
    }

    fn password_is_required(conn: &mut SqliteConnection) -> bool {
        diesel::sql_query("SELECT \"notnull\" FROM pragma_table_info('users') WHERE name = 'password_hash'")
            .get_result::<NotNull>(conn)
            .expect("reads the schema")
            .notnull
            == 1
    }

    /// The users table is rebuilt by the sign-in-methods migration (SQLite cannot drop a NOT
    /// NULL in place): everything that points at a user must survive it, in both directions.
    #[test]
    fn rebuilding_users_on_sqlite_keeps_what_refers_to_them() {
        let dir = std::env::temp_dir().join(format!("portcullis-migration-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("m.db").display());
        let pool = connect(&url, PoolSettings::default()).expect("opens");
        run_migrations(&pool).expect("migrates");
        let mut pooled = pool.get().expect("a connection");
        let DbConnection::Sqlite(conn) = &mut **pooled else { panic!("SQLite") };
        conn.batch_execute(
            "INSERT INTO users (id, name, email, password_hash, roles, email_verified, disabled, created_at, updated_at) \
               VALUES ('u1', 'Ada', 'ada@example.com', '$2b$04$x', 'user', 1, 0, '2026-12-01 10:00:00', '2026-12-01 10:00:00'); \
             INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at) \
               VALUES ('s1', 'u1', '2026-12-01 10:00:00', '2026-12-01 10:00:00', '2026-12-31 10:00:00'); \
             INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) \
               VALUES ('h1', 's1', '2026-12-01 10:00:00', '2026-12-08 10:00:00'); \
             INSERT INTO external_identities (provider, subject, user_id, linked_at) \
               VALUES ('google', '1', 'u1', '2026-12-01 10:00:00');",
        )
        .expect("rows");
        assert!(!password_is_required(conn));

        // Back past every later migration, then past the rebuild (the sign-in-methods one).
        loop {
            let reverted = conn.revert_last_migration(SQLITE_MIGRATIONS).expect("reverts a migration");
            if reverted.to_string().ends_with("000005") {
                break;
            }
        }
        assert!(password_is_required(conn));
        for table in ["users", "sessions", "refresh_tokens", "external_identities"] {
            assert_eq!(count(conn, table), 1, "{table} kept on the way down");
        }

        conn.run_pending_migrations(SQLITE_MIGRATIONS).expect("migrates again");
        assert!(!password_is_required(conn));
        for table in ["users", "sessions", "refresh_tokens", "external_identities"] {
            assert_eq!(count(conn, table), 1, "{table} kept on the way up");
        }
        let amr = diesel::sql_query("SELECT amr FROM sessions").get_result::<Amr>(conn).expect("reads").amr;
        assert_eq!(amr, "pwd", "earlier sessions signed in with a password");
        // The foreign keys are on again and still point at the rebuilt table.
        conn.batch_execute("DELETE FROM users WHERE id = 'u1'").expect("deletes");
        for table in ["sessions", "refresh_tokens", "external_identities"] {
            assert_eq!(count(conn, table), 0, "{table} went with its user");
        }
        drop(pooled);
        let _ = std::fs::remove_dir_all(dir);
    }
}
