use shaku::Interface;

use super::{AccountTokenRepository, ApiKeyRepository, PortError, SessionRepository, UserRepository};

/// One transaction: hands out repositories that share it, commits once.
/// Dropping a unit that was not committed rolls it back.
pub trait UnitOfWork {
    /// The users in this transaction.
    fn users(&mut self) -> Box<dyn UserRepository + '_>;

    /// The sessions in this transaction.
    fn sessions(&mut self) -> Box<dyn SessionRepository + '_>;

    /// The mailed single-use tokens in this transaction.
    fn account_tokens(&mut self) -> Box<dyn AccountTokenRepository + '_>;

    /// The API keys in this transaction.
    fn api_keys(&mut self) -> Box<dyn ApiKeyRepository + '_>;

    /// Makes every change of this unit durable.
    ///
    /// # Errors
    /// [`PortError`] if the commit fails; nothing was changed then.
    fn commit(self: Box<Self>) -> Result<(), PortError>;
}

/// Opens units of work; one per command.
pub trait UnitOfWorkFactory: Interface {
    /// Begins a transaction that may write.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn begin(&self) -> Result<Box<dyn UnitOfWork>, PortError>;

    /// Begins a transaction that only reads (a consistent snapshot). It must not write: a
    /// store may refuse writes in it. Reads here never wait for writers, so hot read paths
    /// (API-key checks, listings, introspection) use it. By default the same as
    /// [`begin`](Self::begin).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn begin_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.begin()
    }
}
