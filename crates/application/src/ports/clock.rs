use chrono::{DateTime, Utc};
use shaku::{Component, Interface};

/// The time source, so that handlers can be tested at chosen instants.
pub trait Clock: Interface {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Component, Debug, Default, Clone, Copy)]
#[shaku(interface = Clock)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
