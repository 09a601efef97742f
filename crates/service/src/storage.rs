//! Opening the database alone, for the commands that need only storage (`migrate`,
//! `user list`, `keys rotate`) and start no hashing threads or mail queue.

use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;
use portcullis_application::ports::UnitOfWorkFactory;
use portcullis_infrastructure::persistence::{
    DbPool, DieselUnitOfWorkFactory, PoolSettings, connect, reseal_totp_secrets, run_migrations,
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
    reseal_secrets(&pool, &sealer(config)?)?;
    Ok(pool)
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
