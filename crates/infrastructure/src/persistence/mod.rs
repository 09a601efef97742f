//! Database access: connections, pool, migrations, unit of work and repositories.
//!
//! Reads of one row by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`,
//! and SQLite (3.45 and later) marks a statement whose `LIMIT` is a bound parameter to be
//! re-prepared whenever that parameter is bound again — on every execution, since diesel
//! binds each time. Measured: re-preparing was 14 % of a refresh's CPU on SQLite.

mod account_token_repository;
mod api_key_repository;
mod connection;
mod errors;
mod identity_repository;
mod limits;
mod mail_outbox;
mod maintenance;
mod models;
mod oauth_flow_repository;
mod passkey_repository;
mod probe;
pub mod schema;
mod second_factor_repository;
mod session_repository;
mod unit_of_work;
mod user_repository;

pub use connection::{
    Backend, ConnectError, DbConnection, DbConnectionManager, DbPool, PoolSettings, PooledDb, TRUSTED_AFTER_USE,
    connect, has_schema, run_migrations,
};
pub(crate) use errors::{database_failure, db_error};
pub use limits::{DieselLockoutStore, DieselLockoutStoreParameters, DieselRateLimiter, DieselRateLimiterParameters};
pub use mail_outbox::{
    ClaimedMail, DieselMailOutbox, OutboxDepth, claim_due_mail, delete_finished_mail, outbox_depth, record_failed,
    record_retry, record_sent,
};
pub use maintenance::{SweepReport, sweep_expired};
pub use probe::{DatabaseFile, DieselDatabaseProbe, DieselDatabaseProbeParameters};
pub use second_factor_repository::reseal_totp_secrets;
pub use unit_of_work::{DieselUnitOfWork, DieselUnitOfWorkFactory, DieselUnitOfWorkFactoryParameters, SqliteWriters};
