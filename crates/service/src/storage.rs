//! Opening the database alone, for the commands that need only storage (`migrate`,
//! `user list`, `keys rotate`) and start no hashing threads or mail queue.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use portcullis_application::ports::UnitOfWorkFactory;
use portcullis_infrastructure::persistence::{
    DbPool, DieselUnitOfWorkFactory, PoolSettings, connect, has_schema, reseal_totp_secrets, run_migrations,
};
use portcullis_infrastructure::sealing::SecretSealer;
use portcullis_infrastructure::tokens::reseal_signing_keys;

use crate::config::Config;

/// Opens the database pool for `config` and applies pending migrations.
///
/// # Errors
/// When the database is unreachable or a migration fails; the message says which.
pub fn open_database(config: &Config) -> anyhow::Result<DbPool> {
    if let Some(path) = config.database_url.strip_prefix("sqlite://")
        && !path.contains(":memory:")
    {
        check_sqlite_file(std::path::Path::new(path), config.database_create)?;
    }
    let settings = PoolSettings { max_size: config.db_pool_size, ..PoolSettings::default() };
    let pool = connect(&config.database_url, settings).context("opening the database (PORTCULLIS_DATABASE_URL)")?;
    if !has_schema(&pool)? {
        anyhow::ensure!(
            config.database_create,
            "the database of PORTCULLIS_DATABASE_URL holds no Portcullis tables and PORTCULLIS_DATABASE_CREATE=false: \
             refusing to set up a new, empty one (point it at the existing database, or set \
             PORTCULLIS_DATABASE_CREATE=true for a first start)"
        );
        // Loud on purpose: every account and key starts from nothing.
        tracing::warn!("the database is empty: setting up a new one (no users, a new signing key)");
    }
    let applied = run_migrations(&pool)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    reseal_secrets(&pool, &sealer(config)?)?;
    Ok(pool)
}

/// Before a SQLite file is opened: a missing file is made only when `create` allows it and
/// nothing suggests a database was there (its `-wal` or `-shm` beside it is what a deleted
/// or moved database leaves behind). Logged loudly when a new file will be made.
fn check_sqlite_file(path: &std::path::Path, create: bool) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let shown = path.display();
    let leftovers: Vec<String> = ["-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", path.display()))
        .filter(|candidate| std::path::Path::new(candidate).exists())
        .collect();
    // Another instance starting this moment may have just made the file and its `-wal`.
    anyhow::ensure!(
        leftovers.is_empty() || path.exists(),
        "the database file {shown} is missing but {} of a database is still beside it: it was deleted or \
         moved; restore it (or remove the leftover files to start a new, empty database)",
        leftovers.join(" and ")
    );
    anyhow::ensure!(
        create,
        "the database file {shown} does not exist and PORTCULLIS_DATABASE_CREATE=false: refusing to create a \
         new, empty one (check PORTCULLIS_DATABASE_URL)"
    );
    tracing::warn!(path = %shown, "no database file here: creating a new, empty database");
    Ok(())
}

/// The sealer of the secrets kept in the database, from `PORTCULLIS_ENCRYPTION_KEY` and
/// `PORTCULLIS_ENCRYPTION_KEYS_OLD`.
///
/// # Errors
/// When a key is not base64 of 32 bytes (the configuration checks it first).
pub fn sealer(config: &Config) -> anyhow::Result<SecretSealer> {
    SecretSealer::new(config.encryption_key.as_ref(), &config.encryption_keys_old)
        .context("PORTCULLIS_ENCRYPTION_KEY / PORTCULLIS_ENCRYPTION_KEYS_OLD")
}

/// Seals with the current key every stored secret not sealed by it: an existing database
/// moves to encryption at rest (or to a new key) in place, at start.
fn reseal_secrets(pool: &DbPool, sealer: &SecretSealer) -> anyhow::Result<()> {
    let signing_keys = reseal_signing_keys(pool, sealer).context("sealing the signing keys")?;
    let totp_secrets = reseal_totp_secrets(pool, sealer).context("sealing the TOTP secrets")?;
    if signing_keys + totp_secrets > 0 {
        tracing::warn!(
            signing_keys,
            totp_secrets,
            key_id = sealer.current_key_id().unwrap_or_default(),
            "stored secrets sealed with the current encryption key"
        );
    }
    Ok(())
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
    Ok(Arc::new(DieselUnitOfWorkFactory::new(open_database(config)?, sealer(config)?)))
}

/// Adds a new signing key and makes it current; its key id. Running instances on the same
/// database accept it at once and sign with it after their next key reload.
///
/// # Errors
/// As [`open_database`], or when the key cannot be made or stored.
pub fn rotate_signing_key(config: &Config) -> anyhow::Result<String> {
    let pool = open_database(config)?;
    Ok(portcullis_infrastructure::tokens::rotate_signing_key(&pool, &sealer(config)?, Utc::now())?)
}
