//! [`ResourceMonitor`] over this process's database pool, hashing queue and mail outbox.

use std::sync::Arc;

use portcullis_application::ports::{ResourceMonitor, ResourceReading};
use shaku::Component;

use crate::hashing::HashingPool;
use crate::mail::MailStats;
use crate::persistence::DbPool;

/// Reads the pool's, the hashing queue's and the mail outbox's state when asked.
#[derive(Component)]
#[shaku(interface = ResourceMonitor)]
pub struct ProcessResources {
    pool: DbPool,
    hashing: Arc<HashingPool>,
    mail: MailStats,
}

impl ResourceMonitor for ProcessResources {
    fn read(&self) -> ResourceReading {
        let state = self.pool.state();
        let mail = self.mail.snapshot();
        ResourceReading {
            db_connections: state.connections,
            db_idle_connections: state.idle_connections,
            db_max_connections: self.pool.max_size(),
            hashing_queue_depth: self.hashing.queue_depth(),
            mail_sent: mail.sent,
            mail_failed: mail.failed,
            mail_retried: mail.retried,
            mail_queue_depth: mail.pending,
            mail_oldest_age_secs: mail.oldest_age_secs,
        }
    }
}
