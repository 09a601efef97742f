use std::fmt;

use shaku::Interface;

/// One message to one person, with a plain-text and an HTML body.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// The recipient's display name.
    pub to_name: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl fmt::Debug for OutgoingMail {
    /// Bodies carry single-use links with tokens: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail").field("to", &self.to).field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Why a message could not be handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message could not be built (a bad address, say).
    #[error("the message could not be built: {0}")]
    Message(String),
    /// The transport (SMTP server, mail folder) refused or failed.
    #[error("the message could not be delivered: {0}")]
    Transport(String),
}

/// Sends mail. Handlers call it after their transaction committed, so a mail failure never
/// undoes an account change; adapters may queue and retry.
pub trait Mailer: Interface {
    /// Hands one message over for delivery.
    ///
    /// # Errors
    /// [`MailError`] when it cannot be accepted; the caller logs and counts it.
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}
