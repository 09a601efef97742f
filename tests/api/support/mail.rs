//! Reading the mail Portcullis wrote as `.eml` files, the way a person would click a link.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mail_parser::MessageParser;

/// One message read back from the mail folder.
#[derive(Debug, Clone)]
pub struct ReadMail {
    /// The recipient addresses.
    pub to: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body.
    pub html: String,
}

impl ReadMail {
    /// The token of the first link to `{public}{path}?token=` in the plain-text body (and the
    /// HTML body must hold the same link).
    pub fn token_for(&self, path: &str) -> Option<String> {
        let marker = format!("{path}?token=");
        let start = self.text.find(&marker)? + marker.len();
        let token: String =
            self.text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        assert!(self.html.contains(&format!("{marker}{token}")), "the HTML body carries the same link: {}", self.html);
        Some(token)
    }
}

fn read_all(dir: &Path) -> Vec<ReadMail> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            let message = MessageParser::default().parse(&bytes)?;
            let to = message
                .to()
                .map(|to| to.iter().filter_map(|addr| addr.address().map(str::to_owned)).collect())
                .unwrap_or_default();
            Some(ReadMail {
                to,
                subject: message.subject().unwrap_or_default().to_owned(),
                text: message.body_text(0).map(|body| body.into_owned()).unwrap_or_default(),
                html: message.body_html(0).map(|body| body.into_owned()).unwrap_or_default(),
            })
        })
        .collect()
}

/// Every message to `address` in `dir`, oldest first.
pub fn mails_to(dir: &Path, address: &str) -> Vec<ReadMail> {
    read_all(dir).into_iter().filter(|mail| mail.to.iter().any(|to| to.eq_ignore_ascii_case(address))).collect()
}

/// Waits (up to 10 s; delivery is queued) until `address` has more than `already` messages,
/// and returns the newest.
pub async fn wait_for_mail(dir: &Path, address: &str, already: usize) -> ReadMail {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut mails = mails_to(dir, address);
        if mails.len() > already {
            return mails.pop().expect("non-empty");
        }
        assert!(Instant::now() < deadline, "no new mail to {address} in {} after 10 s", dir.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits a little and asserts `address` still has exactly `expected` messages.
pub async fn assert_no_new_mail(dir: &Path, address: &str, expected: usize) {
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(mails_to(dir, address).len(), expected, "no new mail to {address}");
}
