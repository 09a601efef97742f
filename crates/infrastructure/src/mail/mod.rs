//! Mail delivery: the adapters behind the application's [`Mailer`] port.
//!
//! - [`FileMailer`] writes one `.eml` file per message into a folder: the default, for
//!   development (`PORTCULLIS_MAIL_DIR`, default `./mail`).
//! - [`SmtpMailer`] hands each message to an SMTP server ([`SmtpRelay`], from
//!   `PORTCULLIS_SMTP_URL`).
//! - [`QueuedMailer`] is what the service registers: it only puts a message in a bounded
//!   [`MailQueue`], whose background thread delivers through one of the two above with
//!   retries, and counts the outcome in [`MailStats`].
//!
//! Messages are `multipart/alternative` (plain text and HTML), with bodies in `7bit` or
//! `8bit` so that links with tokens stay whole in the message source. Nothing here logs a
//! body, a whole recipient address or an SMTP password.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use portcullis_infrastructure::mail::{MailSettings, QueuedMailer, build_mailer};
//!
//! let queue = build_mailer(&MailSettings::default())?; // ./mail
//! let mailer = QueuedMailer::new(queue.clone()); // or register `QueuedMailerParameters { queue }`
//! // … serve; /metrics reads `queue.stats()` …
//! queue.shutdown(Duration::from_secs(10));
//! # Ok::<(), portcullis_infrastructure::mail::MailConfigError>(())
//! ```

mod file;
mod message;
mod queue;
mod smtp;

use std::path::PathBuf;
use std::sync::Arc;

use portcullis_application::ports::Mailer;
use portcullis_domain::SecretString;

pub use file::{FileMailer, FileMailerParameters};
pub use message::{DEFAULT_FROM, FromAddress};
pub use queue::{MailQueue, MailStats, MailStatsSnapshot, QueuedMailer, QueuedMailerParameters, RetryPolicy};
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

/// Builds the transport `settings` name and starts its queue with the default
/// [`RetryPolicy`] (1000 messages, 3 attempts 1 s and 5 s apart). The SMTP URL and the
/// sender are checked now; no connection is made until the first message.
///
/// # Errors
/// [`MailConfigError`] for a bad sender, SMTP URL or folder.
pub fn build_mailer(settings: &MailSettings) -> Result<MailQueue, MailConfigError> {
    build_mailer_with(settings, RetryPolicy::default())
}

/// As [`build_mailer`], with another queue size and retry schedule (tests use short pauses).
///
/// # Errors
/// [`MailConfigError`] for a bad sender, SMTP URL or folder.
pub fn build_mailer_with(settings: &MailSettings, policy: RetryPolicy) -> Result<MailQueue, MailConfigError> {
    let from = FromAddress::parse(&settings.from)?;
    let (inner, description): (Arc<dyn Mailer>, String) = match &settings.transport {
        MailTransport::Directory(folder) => {
            (Arc::new(FileMailer::new(folder.clone(), from)?), format!("the folder {}", folder.display()))
        }
        MailTransport::Smtp(url) => {
            let relay = SmtpRelay::from_url(url)?;
            let description = relay.to_string();
            (Arc::new(SmtpMailer::new(relay, from)), description)
        }
    };
    MailQueue::start(inner, policy, description)
}
