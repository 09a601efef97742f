use shaku::Interface;

use super::PortError;

/// Tells whether the database can be reached, for readiness checks.
pub trait DatabaseProbe: Interface {
    /// `Ok` when a connection answers promptly.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when it does not.
    fn check(&self) -> Result<(), PortError>;
}
