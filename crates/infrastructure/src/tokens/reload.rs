//! [`KeyRingReloader`] over the database: re-reads the signing keys so a key rotated by
//! another instance (or by `portcullis keys rotate`) is used here without a restart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_application::ports::{KeyRingReloader, PortError};
use shaku::Component;

use super::key_store::{SharedKeyRing, load_key_ring};
use crate::persistence::DbPool;
use crate::sealing::SecretSealer;

/// Shortest time between two throttled reloads.
const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(3);

/// [`KeyRingReloader`] over the database pool and the shared ring.
#[derive(Component)]
#[shaku(interface = KeyRingReloader)]
pub struct DatabaseKeyRingReloader {
    pool: DbPool,
    keys: SharedKeyRing,
    /// Opens the sealed private keys.
    #[shaku(default)]
    sealer: SecretSealer,
    #[shaku(default)]
    last_throttled: Mutex<Option<Instant>>,
}

impl DatabaseKeyRingReloader {
    /// A reloader filling `keys` from `pool`.
    pub fn new(pool: DbPool, keys: SharedKeyRing, sealer: SecretSealer) -> Self {
        Self { pool, keys, sealer, last_throttled: Mutex::new(None) }
    }
}

impl KeyRingReloader for DatabaseKeyRingReloader {
    fn reload(&self) -> Result<(), PortError> {
        let ring = load_key_ring(&self.pool, &self.sealer)
            .map_err(|error| PortError::unavailable("signing_keys.reload", error))?;
        let mut guard = match self.keys.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if guard.current.kid() != ring.current.kid() || guard.verifying.len() != ring.verifying.len() {
            tracing::info!(current_kid = %ring.current.kid(), keys = ring.verifying.len(), "signing keys reloaded");
        }
        *guard = Arc::new(ring);
        Ok(())
    }

    fn reload_throttled(&self) -> bool {
        {
            let mut last = match self.last_throttled.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if last.is_some_and(|at| at.elapsed() < MIN_RELOAD_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.reload() {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(error = %error.detail(), "could not re-read the signing keys");
                false
            }
        }
    }
}
