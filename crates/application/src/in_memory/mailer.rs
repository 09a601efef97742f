use std::sync::{Arc, Mutex};

use super::lock;
use crate::ports::{MailError, Mailer, OutgoingMail};

/// A [`Mailer`] that keeps what it is sent; clones share the outbox. While told to fail,
/// every `send` answers [`MailError::Transport`] and keeps nothing.
#[derive(Clone, Debug, Default)]
pub struct InMemoryMailer {
    inner: Arc<Mutex<Outbox>>,
}

#[derive(Debug, Default)]
struct Outbox {
    sent: Vec<OutgoingMail>,
    failing: bool,
}

impl InMemoryMailer {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far, oldest first.
    pub fn sent(&self) -> Vec<OutgoingMail> {
        lock(&self.inner).sent.clone()
    }

    /// The messages sent to `address`, oldest first.
    pub fn sent_to(&self, address: &str) -> Vec<OutgoingMail> {
        lock(&self.inner).sent.iter().filter(|mail| mail.to == address).cloned().collect()
    }

    /// While `failing` is true, sending fails.
    pub fn set_failing(&self, failing: bool) {
        lock(&self.inner).failing = failing;
    }
}

impl Mailer for InMemoryMailer {
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let mut outbox = lock(&self.inner);
        if outbox.failing {
            return Err(MailError::Transport("in-memory mailer switched to failing".to_owned()));
        }
        outbox.sent.push(mail);
        Ok(())
    }
}

shared_fake_component!(InMemoryMailer, Mailer);
