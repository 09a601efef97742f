use std::time::Duration;

use diesel::r2d2::R2D2Connection;
use portcullis_application::ports::{DatabaseProbe, PortError};
use shaku::Component;

use super::DbPool;

/// Answers readiness checks: a pooled connection and a `SELECT 1`, within two seconds.
#[derive(Component)]
#[shaku(interface = DatabaseProbe)]
pub struct DieselDatabaseProbe {
    pool: DbPool,
}

impl DieselDatabaseProbe {
    /// A probe over `pool`.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

impl DatabaseProbe for DieselDatabaseProbe {
    fn check(&self) -> Result<(), PortError> {
        let mut conn = self
            .pool
            .get_timeout(Duration::from_secs(2))
            .map_err(|e| PortError::unavailable("database_probe.check", e))?;
        conn.ping().map_err(|e| PortError::unavailable("database_probe.check", e))
    }
}
