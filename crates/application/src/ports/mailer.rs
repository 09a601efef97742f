use std::fmt;

use chrono::{DateTime, Utc};
use shaku::Interface;

use super::PortError;

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

/// Delivers mail: a mail folder, an SMTP server. Handlers never call it: they put their
/// mail in the [`MailOutbox`] of their unit of work, and a delivery worker takes it from
/// there to a `Mailer` after the commit, retrying while the transport fails.
pub trait Mailer: Interface {
    /// Hands one message over for delivery.
    ///
    /// # Errors
    /// [`MailError`] when it cannot be accepted; the caller logs and counts it.
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError>;
}

/// The mail of one unit of work: written in the same transaction as the account change that
/// causes it, so a mail exists exactly when its change was committed. Delivered after the
/// commit, by a worker of any instance, through a [`Mailer`]; a crash or a mail-server
/// outage delays it but loses nothing.
pub trait MailOutbox {
    /// Adds `mail`, written at `now`, to what this unit commits.
    ///
    /// # Errors
    /// [`PortError`] when it cannot be stored; the command fails and nothing is committed.
    fn add(&mut self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<(), PortError>;
}
