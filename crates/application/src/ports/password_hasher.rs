use portcullis_domain::{BcryptCost, PasswordHash, PlainPassword};
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

/// Hashes on the caller's thread, unbounded: for embedding, tools and tests.
#[derive(Debug, Clone)]
pub struct InlinePasswordHasher {
    cost: BcryptCost,
    dummy: PasswordHash,
}

impl InlinePasswordHasher {
    /// A hasher at `cost`; makes its dummy hash now (one hash's time).
    ///
    /// # Errors
    /// [`PortError::Internal`] if the dummy hash cannot be made.
    pub fn new(cost: BcryptCost) -> Result<Self, PortError> {
        Ok(Self { cost, dummy: dummy_hash(cost)? })
    }
}

/// A hash of a fixed, never-accepted password at `cost`.
///
/// # Errors
/// [`PortError::Internal`] if hashing fails.
pub fn dummy_hash(cost: BcryptCost) -> Result<PasswordHash, PortError> {
    let placeholder =
        PlainPassword::parse("portcullis-dummy-password").map_err(|e| PortError::Internal(e.to_string()))?;
    PasswordHash::from_plain(&placeholder, cost).map_err(|e| PortError::Internal(e.to_string()))
}

/// The password checked against the dummy hash.
pub fn dummy_attempt() -> Option<PlainPassword> {
    PlainPassword::parse("not-the-dummy-password").ok()
}

impl PasswordHasher for InlinePasswordHasher {
    fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, PortError> {
        PasswordHash::from_plain(password, self.cost).map_err(|e| PortError::Internal(e.to_string()))
    }

    fn verify(&self, password: &PlainPassword, hash: &PasswordHash) -> Result<bool, PortError> {
        Ok(hash.verify(password))
    }

    fn verify_dummy(&self) -> Result<(), PortError> {
        if let Some(attempt) = dummy_attempt() {
            let _ = self.dummy.verify(&attempt);
        }
        Ok(())
    }
}
