use chrono::{DateTime, Utc};
use shaku::Interface;

/// The time source, so that handlers can be tested at chosen instants.
pub trait Clock: Interface {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}
