//! Mail delivery: the transports behind the application's [`Mailer`] port, and the worker
//! that feeds them from the durable outbox.
//!
//! - [`FileMailer`] writes one `.eml` file per message into a folder: the default, for
//!   development (`PORTCULLIS_MAIL_DIR`, default `./mail`).
//! - [`SmtpMailer`] hands each message to an SMTP server ([`SmtpRelay`], from
//!   `PORTCULLIS_SMTP_URL`).
//! - [`OutboxWorker`] is what the service runs: handlers write each mail into the
//!   `mail_outbox` table in the transaction of the change that causes it; the worker
//!   delivers it through one of the two transports above, retrying with exponential backoff
//!   ([`OutboxPolicy`]), and counts the outcome in [`MailStats`].
//!
//! Messages are `multipart/alternative` (plain text and HTML), with bodies in `7bit` or
//! `8bit` so that links with tokens stay whole in the message source. Nothing here logs a
//! body, a whole recipient address or an SMTP password.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use portcullis_infrastructure::mail::{MailSettings, OutboxPolicy, OutboxSignal, OutboxWorker, build_transport};
//! use portcullis_infrastructure::persistence::{PoolSettings, connect};
//! use portcullis_infrastructure::sealing::SecretSealer;
//!
//! let pool = connect("sqlite://auth.db", PoolSettings::default())?;
//! let transport = build_transport(&MailSettings::default())?; // ./mail
//! let signal = OutboxSignal::default(); // also given to the DieselUnitOfWorkFactory
//! let worker = OutboxWorker::start(
//!     pool, SecretSealer::cleartext(), transport.mailer, OutboxPolicy::default(), signal, transport.description,
//! )?;
//! // … serve; /metrics reads `worker.stats()` …
//! worker.shutdown(Duration::from_secs(10));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod message;
mod outbox;
mod smtp;

use std::path::PathBuf;
use std::sync::Arc;

use portcullis_application::ports::Mailer;
use portcullis_domain::SecretString;

pub use file::{FileMailer, FileMailerParameters};
pub use message::{DEFAULT_FROM, FromAddress};
pub use outbox::{MailStats, MailStatsSnapshot, OutboxPolicy, OutboxSignal, OutboxWorker};
pub use smtp::{SMTP_TIMEOUT, SmtpMailer, SmtpMailerParameters, SmtpRelay, SmtpSecurity};

/// The folder [`MailTransport::Directory`] uses unless configured.
pub const DEFAULT_MAIL_DIR: &str = "./mail";

/// Where mail goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// One `.eml` file per message in this folder (`PORTCULLIS_MAIL_DIR`).
    Directory(PathBuf),
    /// Through the SMTP server of this URL (`PORTCULLIS_SMTP_URL`), see [`SmtpRelay`].
    Smtp(SecretString),
}

/// How the service sends mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailSettings {
    /// The `From` mailbox, such as `Portcullis <no-reply@example.com>`.
    pub from: String,
    /// Where the messages go.
    pub transport: MailTransport,
}

impl Default for MailSettings {
    /// From [`DEFAULT_FROM`], into the folder [`DEFAULT_MAIL_DIR`].
    fn default() -> Self {
        Self { from: DEFAULT_FROM.to_owned(), transport: MailTransport::Directory(PathBuf::from(DEFAULT_MAIL_DIR)) }
    }
}

/// Why the mailer cannot be set up. No message ever holds an SMTP password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailConfigError {
    /// The sender is not a mailbox.
    #[error("the mail sender (From) is not a valid address: {0}")]
    InvalidFrom(String),
    /// The SMTP URL is not usable.
    #[error("PORTCULLIS_SMTP_URL is not usable: {0}")]
    InvalidSmtpUrl(String),
    /// The mail folder cannot be created.
    #[error("the mail folder {folder} (PORTCULLIS_MAIL_DIR) cannot be created: {reason}")]
    Folder {
        /// The folder.
        folder: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The delivery thread cannot be started.
    #[error("the mail delivery thread cannot be started: {0}")]
    Worker(String),
}

/// A transport and where it sends (for logs: no secrets).
pub struct BuiltTransport {
    /// The transport.
    pub mailer: Arc<dyn Mailer>,
    /// Where it sends, e.g. `the folder ./mail` or `SMTP relay smtp.example.com:587 (STARTTLS)`.
    pub description: String,
}

impl std::fmt::Debug for BuiltTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuiltTransport").field("description", &self.description).finish_non_exhaustive()
    }
}

/// Builds the transport `settings` name. The SMTP URL and the sender are checked now; no
/// connection is made until the first message.
///
/// # Errors
/// [`MailConfigError`] for a bad sender, SMTP URL or folder.
pub fn build_transport(settings: &MailSettings) -> Result<BuiltTransport, MailConfigError> {
    let from = FromAddress::parse(&settings.from)?;
    let (mailer, description): (Arc<dyn Mailer>, String) = match &settings.transport {
        MailTransport::Directory(folder) => {
            (Arc::new(FileMailer::new(folder.clone(), from)?), format!("the folder {}", folder.display()))
        }
        MailTransport::Smtp(url) => {
            let relay = SmtpRelay::from_url(url)?;
            let description = relay.to_string();
            (Arc::new(SmtpMailer::new(relay, from)), description)
        }
    };
    Ok(BuiltTransport { mailer, description })
}
