use shaku::Interface;

/// The state of the process's shared resources at one moment, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceReading {
    /// Database connections open in the pool.
    pub db_connections: u32,
    /// Of those, the idle ones.
    pub db_idle_connections: u32,
    /// The most connections the pool opens.
    pub db_max_connections: u32,
    /// Password hashes waiting for a hashing thread.
    pub hashing_queue_depth: usize,
    /// Mails this instance's transport accepted since start.
    pub mail_sent: u64,
    /// Mails this instance gave up on since start (retried for too long, or unbuildable).
    pub mail_failed: u64,
    /// Failed delivery attempts this instance scheduled again since start.
    pub mail_retried: u64,
    /// Mails waiting in the outbox, of every instance (as the worker last saw it).
    pub mail_queue_depth: u64,
    /// Age in seconds of the oldest waiting mail (0 when none waits).
    pub mail_oldest_age_secs: u64,
}

/// Reads the shared resources (database pool, hashing queue, mail outbox) when asked.
pub trait ResourceMonitor: Interface {
    /// The resources' state now. Cheap: no I/O.
    fn read(&self) -> ResourceReading;
}
