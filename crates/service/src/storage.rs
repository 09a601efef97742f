//! Opening the database alone, for the commands that need only storage (`migrate`,
//! `user list`, `keys rotate`) and start no hashing threads or mail queue.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use portcullis_application::ports::UnitOfWorkFactory;
use portcullis_infrastructure::persistence::{DbPool, DieselUnitOfWorkFactory, PoolSettings, connect, run_migrations};

use crate::config::Config;

/// Opens the database pool for `config` and applies pending migrations.
///
/// # Errors
/// When the database is unreachable or a migration fails; the message says which.
pub fn open_database(config: &Config) -> anyhow::Result<DbPool> {
    if let Some(path) = config.database_url.strip_prefix("sqlite://")
        && !path.contains(":memory:")
        && !std::path::Path::new(path).exists()
    {
        // Loud on purpose: a database that was expected (and deleted, or a wrong path) would
        // otherwise be replaced by an empty one without a word.
        tracing::warn!(path, "no database file here: creating a new, empty database");
    }
    let settings = PoolSettings { max_size: config.db_pool_size, ..PoolSettings::default() };
    let pool = connect(&config.database_url, settings).context("opening the database (PORTCULLIS_DATABASE_URL)")?;
    let applied = run_migrations(&pool)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(pool)
}

/// Opens the database of `config` and applies pending migrations, then closes it.
///
/// # Errors
/// As [`open_database`].
pub fn migrate(config: &Config) -> anyhow::Result<()> {
    open_database(config).map(drop)
}

/// Units of work over the database of `config` (opened and migrated).
///
/// # Errors
/// As [`open_database`].
pub fn units(config: &Config) -> anyhow::Result<Arc<dyn UnitOfWorkFactory>> {
    Ok(Arc::new(DieselUnitOfWorkFactory::new(open_database(config)?)))
}

/// Adds a new signing key and makes it current; its key id. Running instances on the same
/// database accept it at once and sign with it after their next key reload.
///
/// # Errors
/// As [`open_database`], or when the key cannot be made or stored.
pub fn rotate_signing_key(config: &Config) -> anyhow::Result<String> {
    let pool = open_database(config)?;
    Ok(portcullis_infrastructure::tokens::rotate_signing_key(&pool, Utc::now())?)
}
