use std::sync::{Arc, OnceLock};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use parking_lot::lock_api::ArcMutexGuard;
use parking_lot::{Mutex, RawMutex};
use portcullis_application::ports::{
    AccountTokenRepository, ApiKeyRepository, IdentityRepository, MailOutbox, OAuthFlowRepository, PasskeyRepository,
    PortError, RefreshContext, RefreshRotation, RotationOutcome, SecondFactorRepository, SessionRepository, UnitOfWork,
    UnitOfWorkFactory, UserRepository, api_key_with_owner_by_reads, refresh_context_by_reads,
    rotate_refresh_token_by_steps,
};
use portcullis_domain::{ApiKey, RefreshTokenHash, User};
use r2d2::PooledConnection;
use shaku::Component;

use super::account_token_repository::DieselAccountTokenRepository;
use super::api_key_repository::DieselApiKeyRepository;
use super::identity_repository::DieselIdentityRepository;
use super::mail_outbox::DieselMailOutbox;
use super::oauth_flow_repository::DieselOAuthFlowRepository;
use super::passkey_repository::DieselPasskeyRepository;
use super::second_factor_repository::DieselSecondFactorRepository;
use super::session_repository::DieselSessionRepository;
use super::user_repository::DieselUserRepository;
use super::{DbConnection, DbConnectionManager, DbPool, database_failure, db_error};
use crate::mail::OutboxSignal;
use crate::sealing::SecretSealer;

/// Opens one database transaction per command.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`, taking the write lock at once
/// so two writers never deadlock on a lock upgrade (the busy timeout makes the second
/// wait). On PostgreSQL it is a plain `BEGIN` (read committed); the refresh rotation's
/// compare-and-set update is what keeps concurrent refreshes correct there.
///
/// A read-only unit ([`UnitOfWorkFactory::begin_read`]) is a deferred `BEGIN` on SQLite
/// (a WAL snapshot: it never waits for the write lock) and `BEGIN READ ONLY` on PostgreSQL.
///
/// SQLite lets one writer in at a time; the units that may write take turns at
/// [`SqliteWriters`] before they take a connection, so this process's writers queue in
/// order instead of retrying `BEGIN IMMEDIATE` on SQLite's busy handler (which sleeps a
/// millisecond and more between tries). A unit hands the turn on, fairly, as soon as its
/// transaction has ended.
#[derive(Component)]
#[shaku(interface = UnitOfWorkFactory)]
pub struct DieselUnitOfWorkFactory {
    pool: DbPool,
    /// Seals and opens the TOTP secrets and the outbox's messages.
    #[shaku(default)]
    sealer: SecretSealer,
    /// Woken after a commit that put mail in the outbox (the delivery worker waits on it).
    #[shaku(default)]
    outbox_signal: OutboxSignal,
    /// The turn of SQLite's writers in this process.
    #[shaku(default)]
    sqlite_writers: SqliteWriters,
}

/// How long a SQLite writer waits for its turn before the unit answers "unavailable": as
/// long as SQLite's own busy timeout.
const WRITER_TURN_TIMEOUT: Duration = Duration::from_millis(super::connection::SQLITE_BUSY_TIMEOUT_MS);

/// The turn of the units that may write to a SQLite database, one at a time, first come
/// first served (a fair lock); unused on PostgreSQL, where writers run side by side.
#[derive(Clone, Default)]
pub struct SqliteWriters {
    turn: Arc<Mutex<()>>,
    /// Whether the pool's database is SQLite, learnt from its first connection.
    is_sqlite: Arc<OnceLock<bool>>,
}

impl SqliteWriters {
    /// Waits for this writer's turn; `None` on PostgreSQL. `connection` gives a pooled
    /// connection, asked for only the first time, to learn the backend.
    fn take_turn(
        &self,
        connection: impl FnOnce() -> Result<PooledConnection<DbConnectionManager>, PortError>,
    ) -> Result<Option<ArcMutexGuard<RawMutex, ()>>, PortError> {
        let is_sqlite = match self.is_sqlite.get() {
            Some(known) => *known,
            None => {
                let conn = connection()?;
                *self.is_sqlite.get_or_init(|| matches!(**conn, DbConnection::Sqlite(_)))
            }
        };
        if !is_sqlite {
            return Ok(None);
        }
        self.turn.try_lock_arc_for(WRITER_TURN_TIMEOUT).map(Some).ok_or_else(|| {
            PortError::unavailable("unit_of_work.writer_turn", "database: another writer held SQLite too long")
        })
    }
}

impl DieselUnitOfWorkFactory {
    /// A factory over `pool`, storing secrets as `sealer` says.
    pub fn new(pool: DbPool, sealer: SecretSealer) -> Self {
        Self { pool, sealer, outbox_signal: OutboxSignal::default(), sqlite_writers: SqliteWriters::default() }
    }

    /// The same, waking `signal` after each commit that put mail in the outbox.
    #[must_use]
    pub fn waking(mut self, signal: OutboxSignal) -> Self {
        self.outbox_signal = signal;
        self
    }
}

impl UnitOfWorkFactory for DieselUnitOfWorkFactory {
    fn begin(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.open_unit(Access::Write, |conn| match conn {
            DbConnection::Sqlite(_) => Some("BEGIN IMMEDIATE"),
            DbConnection::Pg(_) => Some("BEGIN"),
        })
    }

    fn begin_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.open_unit(Access::Read, |conn| match conn {
            DbConnection::Sqlite(_) => Some("BEGIN DEFERRED"),
            DbConnection::Pg(_) => Some("BEGIN READ ONLY"),
        })
    }

    fn begin_autocommit(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.open_unit(Access::Write, |conn| match conn {
            // The SQLite rotation is several statements: a transaction keeps them one.
            DbConnection::Sqlite(_) => Some("BEGIN IMMEDIATE"),
            // No BEGIN: the reads and the rotation meant for this unit are one statement each.
            DbConnection::Pg(_) => None,
        })
    }

    fn single_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        // No BEGIN: the one statement runs in its own implicit transaction.
        self.open_unit(Access::Read, |_| None)
    }
}

impl DieselUnitOfWorkFactory {
    fn connection(&self) -> Result<PooledConnection<DbConnectionManager>, PortError> {
        self.pool.get().map_err(|e| PortError::unavailable("unit_of_work.connection", format!("database: {e}")))
    }

    /// A unit on one pooled connection, opened with the statement `begin` picks for its
    /// backend; `None`: no transaction. A unit that may write first waits for its turn on SQLite.
    fn open_unit(
        &self,
        access: Access,
        begin: fn(&DbConnection) -> Option<&'static str>,
    ) -> Result<Box<dyn UnitOfWork>, PortError> {
        let writer_turn = match access {
            Access::Write => self.sqlite_writers.take_turn(|| self.connection())?,
            Access::Read => None,
        };
        let mut conn = self.connection()?;
        let statement = begin(&conn);
        if let Some(statement) = statement {
            conn.batch_execute(statement).map_err(db_error("unit_of_work.open_unit"))?;
        }
        Ok(Box::new(DieselUnitOfWork {
            conn,
            open: statement.is_some(),
            sealer: self.sealer.clone(),
            outbox_signal: self.outbox_signal.clone(),
            mail_added: false,
            writer_turn,
        }))
    }
}

/// Whether a unit may write.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// A transaction on one pooled connection, rolled back on drop unless committed; or, from
/// [`UnitOfWorkFactory::single_read`] (and `begin_autocommit` on PostgreSQL), a connection
/// with no transaction around its statements.
pub struct DieselUnitOfWork {
    conn: PooledConnection<DbConnectionManager>,
    /// Whether a transaction is open (and so must be committed or rolled back).
    open: bool,
    /// Seals and opens the TOTP secrets and the outbox's messages.
    sealer: SecretSealer,
    /// Woken when a commit put mail in the outbox.
    outbox_signal: OutboxSignal,
    /// Whether this unit put mail in the outbox.
    mail_added: bool,
    /// This writer's turn on SQLite (see [`SqliteWriters`]), given back when the unit ends.
    /// Handed on fairly in `drop`, after the transaction has ended.
    writer_turn: Option<ArcMutexGuard<RawMutex, ()>>,
}

impl UnitOfWork for DieselUnitOfWork {
    fn users(&mut self) -> Box<dyn UserRepository + '_> {
        Box::new(DieselUserRepository::new(&mut self.conn))
    }

    fn sessions(&mut self) -> Box<dyn SessionRepository + '_> {
        Box::new(DieselSessionRepository::new(&mut self.conn))
    }

    fn account_tokens(&mut self) -> Box<dyn AccountTokenRepository + '_> {
        Box::new(DieselAccountTokenRepository::new(&mut self.conn))
    }

    fn api_keys(&mut self) -> Box<dyn ApiKeyRepository + '_> {
        Box::new(DieselApiKeyRepository::new(&mut self.conn))
    }

    fn identities(&mut self) -> Box<dyn IdentityRepository + '_> {
        Box::new(DieselIdentityRepository::new(&mut self.conn))
    }

    fn oauth_flows(&mut self) -> Box<dyn OAuthFlowRepository + '_> {
        Box::new(DieselOAuthFlowRepository::new(&mut self.conn))
    }

    fn second_factors(&mut self) -> Box<dyn SecondFactorRepository + '_> {
        Box::new(DieselSecondFactorRepository::new(&mut self.conn, &self.sealer))
    }

    fn passkeys(&mut self) -> Box<dyn PasskeyRepository + '_> {
        Box::new(DieselPasskeyRepository::new(&mut self.conn))
    }

    fn outbox(&mut self) -> Box<dyn MailOutbox + '_> {
        Box::new(DieselMailOutbox::new(&mut self.conn, &self.sealer, &mut self.mail_added))
    }

    fn api_key_with_owner(&mut self, prefix: &str) -> Result<Option<(ApiKey, User)>, PortError> {
        if matches!(**self.conn, DbConnection::Sqlite(_)) {
            // In process: two primary-key reads measured faster than the join.
            return api_key_with_owner_by_reads(self, prefix);
        }
        super::api_key_repository::find_with_owner(&mut self.conn, prefix)
    }

    fn refresh_context(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshContext>, PortError> {
        if matches!(**self.conn, DbConnection::Sqlite(_)) {
            // In process: no round trip to save, and three primary-key reads measured faster.
            return refresh_context_by_reads(self, hash);
        }
        super::session_repository::find_refresh_context(&mut self.conn, hash)
    }

    fn rotate_refresh_token(&mut self, rotation: &RefreshRotation<'_>) -> Result<RotationOutcome, PortError> {
        match &mut **self.conn {
            // One statement, atomic with or without a transaction around it.
            DbConnection::Pg(pg) => super::session_repository::rotate_on_postgres(pg, rotation),
            // In process, inside this unit's BEGIN IMMEDIATE: the steps cost no round trips.
            DbConnection::Sqlite(_) => rotate_refresh_token_by_steps(self, rotation),
        }
    }

    fn commit(mut self: Box<Self>) -> Result<(), PortError> {
        if self.open {
            self.open = false;
            if let Err(error) = self.conn.batch_execute("COMMIT") {
                let _ = self.conn.batch_execute("ROLLBACK");
                return Err(database_failure("unit_of_work.commit", error));
            }
        }
        if self.mail_added {
            self.outbox_signal.wake();
        }
        Ok(())
    }
}

impl Drop for DieselUnitOfWork {
    fn drop(&mut self) {
        if self.open
            && let Err(error) = self.conn.batch_execute("ROLLBACK")
        {
            tracing::error!(%error, "rollback failed");
        }
        // The transaction is over: hand the turn straight to the writer that waited longest
        // (a plain unlock lets this thread's next unit barge in ahead of the queue).
        if let Some(turn) = self.writer_turn.take() {
            ArcMutexGuard::unlock_fair(turn);
        }
    }
}
