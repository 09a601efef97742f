//! The development mailer: one `.eml` file per message in a folder.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use portcullis_application::ports::{MailError, Mailer, OutgoingMail};
use shaku::Component;

use super::MailConfigError;
use super::message::{FromAddress, build_message};

/// A [`Mailer`] that writes each message as an RFC 5322 `.eml` file into a folder (made if
/// missing), the default for development (`PORTCULLIS_MAIL_DIR`, default `./mail`).
///
/// Files are named `<unix microseconds, 20 digits>-<uuid>.eml`, so they sort by time and
/// never collide; each is written under a hidden temporary name and then renamed, so a
/// reader never sees half a message.
#[derive(Component, Debug)]
#[shaku(interface = Mailer)]
pub struct FileMailer {
    folder: PathBuf,
    from: FromAddress,
}

impl FileMailer {
    /// A mailer writing into `folder` (created now if missing) with `from` as sender.
    ///
    /// # Errors
    /// [`MailConfigError::Folder`] when the folder cannot be created.
    pub fn new(folder: impl Into<PathBuf>, from: FromAddress) -> Result<Self, MailConfigError> {
        let folder = folder.into();
        fs::create_dir_all(&folder)
            .map_err(|e| MailConfigError::Folder { folder: folder.display().to_string(), reason: e.to_string() })?;
        Ok(Self { folder, from })
    }

    /// The folder the messages go to.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn write(&self, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
        fs::create_dir_all(&self.folder)?;
        let temporary = self.folder.join(format!(".{name}.tmp"));
        let target = self.folder.join(name);
        let written = fs::File::create(&temporary).and_then(|mut file| {
            file.write_all(content)?;
            file.sync_all()
        });
        if let Err(error) = written.and_then(|()| fs::rename(&temporary, &target)) {
            let _ = fs::remove_file(&temporary);
            return Err(error);
        }
        Ok(target)
    }
}

/// `<unix microseconds>-<uuid>.eml`, zero-padded so that names sort by time.
fn file_name() -> String {
    let micros = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
    format!("{micros:020}-{}.eml", uuid::Uuid::now_v7().simple())
}

impl Mailer for FileMailer {
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, &mail)?;
        let path = self.write(&file_name(), &message.formatted()).map_err(|e| {
            MailError::Transport(format!("cannot write to the mail folder {}: {e}", self.folder.display()))
        })?;
        tracing::debug!(file = %path.display(), "mail written to the mail folder");
        Ok(())
    }
}
