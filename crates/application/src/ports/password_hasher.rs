use portcullis_domain::{PasswordHash, PlainPassword};
use shaku::Interface;

use super::PortError;

/// Hashes and checks passwords. Implementations decide where the CPU time is spent; the
/// service's adapter bounds how many hashes run at once and answers
/// [`PortError::Unavailable`] when its queue is full.
pub trait PasswordHasher: Interface {
    /// Hashes a new password.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when saturated; [`PortError::Internal`] if hashing fails.
    fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, PortError>;

    /// Whether `password` matches `hash`.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`].
    fn verify(&self, password: &PlainPassword, hash: &PasswordHash) -> Result<bool, PortError>;

    /// Spends the time of one [`PasswordHasher::verify`] against a throw-away hash, so that a
    /// login for an unknown email takes as long as one with a wrong password.
    ///
    /// # Errors
    /// As [`PasswordHasher::hash`].
    fn verify_dummy(&self) -> Result<(), PortError>;
}
