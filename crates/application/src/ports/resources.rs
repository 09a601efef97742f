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
    /// Messages the mail transport accepted since start.
    pub mail_sent: u64,
    /// Messages given up on after every retry, or refused because the queue was full.
    pub mail_failed: u64,
    /// Messages waiting for delivery.
    pub mail_queue_depth: u64,
}

/// Reads the shared resources (database pool, hashing queue, mail queue) when asked.
pub trait ResourceMonitor: Interface {
    /// The resources' state now. Cheap: no I/O.
    fn read(&self) -> ResourceReading;
}
