//! Delivery from the durable outbox: one background thread per instance takes due mail from
//! the `mail_outbox` table and hands it to the transport, retrying with exponential backoff.
//!
//! Each mail is a row written in the transaction of the change that causes it
//! ([`crate::persistence::DieselMailOutbox`]), so nothing is lost to a crash, a restart or a
//! mail-server outage: the row waits. A worker claims one mail at a time by moving its due
//! time a lease into the future in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! so workers of several instances never hand one mail over twice at once, and a worker that
//! dies mid-delivery only delays its mail by the lease. Once the transport accepted a mail,
//! the row is marked sent (its message emptied) before anything else; a mail is sent again
//! only if the process dies between the mail server's acceptance and that one update.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portcullis_application::ports::{MailError, Mailer, OutgoingMail, PortError};

use super::MailConfigError;
use crate::persistence::{
    ClaimedMail, DbConnection, DbConnectionManager, DbPool, claim_due_mail, outbox_depth, record_failed, record_retry,
    record_sent,
};
use crate::sealing::SecretSealer;

/// How the worker retries and how often it looks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// How long after it was written a mail is still retried; then it is marked failed
    /// (`PORTCULLIS_MAIL_RETRY_HOURS`, default 24 hours).
    pub give_up_after: Duration,
    /// The pause after the first failed attempt; each next pause doubles, up to `max_pause`.
    pub first_pause: Duration,
    /// The longest pause between two attempts.
    pub max_pause: Duration,
    /// How long a claimed mail is left to its worker before another may take it: longer
    /// than one delivery can take (the SMTP timeouts of its steps together).
    pub lease: Duration,
    /// How often the outbox is looked at when no commit of this instance wakes the worker
    /// (mail written by other instances, retries coming due).
    pub poll: Duration,
}

impl Default for OutboxPolicy {
    /// Retried for 24 hours, pauses from 1 s doubling to 10 minutes, a 2-minute lease, a look every second.
    fn default() -> Self {
        Self {
            give_up_after: Duration::from_secs(24 * 3600),
            first_pause: Duration::from_secs(1),
            max_pause: Duration::from_secs(600),
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(1),
        }
    }
}

impl OutboxPolicy {
    /// The pause after the `attempts`-th failed attempt: `first_pause × 2^(attempts-1)`, at most `max_pause`.
    pub fn pause_after(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first_pause.saturating_mul(1 << doublings).min(self.max_pause)
    }
}

/// Wakes the delivery worker: a unit of work that committed mail rings it, so mail leaves at
/// once instead of at the next look. Clones ring the same worker.
#[derive(Clone, Default)]
pub struct OutboxSignal {
    inner: Arc<(Mutex<bool>, Condvar)>,
}

impl fmt::Debug for OutboxSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OutboxSignal")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl OutboxSignal {
    /// Rings: the worker looks at the outbox now.
    pub fn wake(&self) {
        let (rung, bell) = &*self.inner;
        *lock(rung) = true;
        bell.notify_all();
    }

    /// Waits until rung or `timeout` passed, and clears the bell.
    fn wait(&self, timeout: Duration) {
        let (rung, bell) = &*self.inner;
        let guard = lock(rung);
        let (mut guard, _) =
            bell.wait_timeout_while(guard, timeout, |rung| !*rung).unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = false;
    }
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    pending: AtomicU64,
    oldest_age_secs: AtomicU64,
}

/// What the worker of this instance did, and what the outbox holds as last seen (for
/// `/metrics`); clones share them.
#[derive(Clone, Debug, Default)]
pub struct MailStats {
    counters: Arc<Counters>,
}

/// The counters of a [`MailStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailStatsSnapshot {
    /// Mails this instance's transport accepted.
    pub sent: u64,
    /// Mails this instance gave up on.
    pub failed: u64,
    /// Failed attempts this instance scheduled again.
    pub retried: u64,
    /// Mails waiting in the outbox (all instances'), as last seen.
    pub pending: u64,
    /// Age in seconds of the oldest waiting mail, as last seen; 0 when none waits.
    pub oldest_age_secs: u64,
}

impl MailStats {
    /// Every counter at once.
    pub fn snapshot(&self) -> MailStatsSnapshot {
        let counters = &self.counters;
        MailStatsSnapshot {
            sent: counters.sent.load(Ordering::Relaxed),
            failed: counters.failed.load(Ordering::Relaxed),
            retried: counters.retried.load(Ordering::Relaxed),
            pending: counters.pending.load(Ordering::Relaxed),
            oldest_age_secs: counters.oldest_age_secs.load(Ordering::Relaxed),
        }
    }
}

/// The recipient's domain: all that is logged of an address.
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("(none)", |(_, domain)| domain)
}

/// What the worker thread needs.
struct Delivery {
    pool: DbPool,
    sealer: SecretSealer,
    transport: Arc<dyn Mailer>,
    policy: OutboxPolicy,
    stats: MailStats,
    signal: OutboxSignal,
    stopping: AtomicBool,
    /// Set by the thread as it ends; waited on by [`OutboxWorker::shutdown`].
    stopped: (Mutex<bool>, Condvar),
}

/// The delivery worker of one instance (see the module's documentation). Dropping it asks
/// the thread to stop after what is due (without waiting); [`shutdown`](Self::shutdown)
/// also waits for it.
pub struct OutboxWorker {
    delivery: Arc<Delivery>,
    thread: Mutex<Option<JoinHandle<()>>>,
    description: String,
}

impl OutboxWorker {
    /// Starts the thread delivering the outbox of `pool` through `transport`; `signal` is
    /// the one the units of work ring. `description` says where mail goes (for logs).
    ///
    /// # Errors
    /// [`MailConfigError::Worker`] when the thread cannot be started.
    pub fn start(
        pool: DbPool,
        sealer: SecretSealer,
        transport: Arc<dyn Mailer>,
        policy: OutboxPolicy,
        signal: OutboxSignal,
        description: impl Into<String>,
    ) -> Result<Self, MailConfigError> {
        let delivery = Arc::new(Delivery {
            pool,
            sealer,
            transport,
            policy,
            stats: MailStats::default(),
            signal,
            stopping: AtomicBool::new(false),
            stopped: (Mutex::new(false), Condvar::new()),
        });
        let running = Arc::clone(&delivery);
        let thread = std::thread::Builder::new()
            .name("portcullis-mail".to_owned())
            .spawn(move || running.run())
            .map_err(|error| MailConfigError::Worker(error.to_string()))?;
        Ok(Self { delivery, thread: Mutex::new(Some(thread)), description: description.into() })
    }

    /// The worker's counters and the outbox's depth as last seen.
    pub fn stats(&self) -> MailStats {
        self.delivery.stats.clone()
    }

    /// Where the mail goes, e.g. `the folder ./mail` or `SMTP relay smtp.example.com:587 (STARTTLS)`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Asks the thread to deliver what is due now and stop, and waits at most `timeout`.
    /// `true` when it stopped in time. Mail not due yet (waiting for a retry) stays in the
    /// outbox for the next start or another instance.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.delivery.stopping.store(true, Ordering::SeqCst);
        self.delivery.signal.wake();
        let (stopped, bell) = &self.delivery.stopped;
        let guard = lock(stopped);
        let (guard, _) = bell
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let done = *guard;
        drop(guard);
        if done {
            if let Some(thread) = lock(&self.thread).take() {
                let _ = thread.join();
            }
        } else {
            tracing::warn!("the mail worker was still delivering at shutdown; its mail is retried after the lease");
        }
        done
    }
}

impl Drop for OutboxWorker {
    fn drop(&mut self) {
        self.delivery.stopping.store(true, Ordering::SeqCst);
        self.delivery.signal.wake();
    }
}

impl fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("description", &self.description)
            .field("stats", &self.delivery.stats.snapshot())
            .finish()
    }
}

/// What one look at the outbox found.
enum Step {
    /// A mail was dealt with; look again at once.
    Delivered,
    /// Nothing is due.
    Idle,
}

impl Delivery {
    fn run(&self) {
        tracing::debug!("mail worker started");
        loop {
            // Everything due now, one mail at a time.
            loop {
                match self.step() {
                    Ok(Step::Delivered) => {}
                    Ok(Step::Idle) => break,
                    Err(error) => {
                        tracing::warn!(%error, "the mail outbox cannot be read; trying again");
                        break;
                    }
                }
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            self.read_depth();
            self.signal.wait(self.policy.poll);
        }
        let (stopped, bell) = &self.stopped;
        *lock(stopped) = true;
        bell.notify_all();
        tracing::debug!("mail worker stopped");
    }

    fn connection(&self) -> Result<r2d2::PooledConnection<DbConnectionManager>, PortError> {
        self.pool.get().map_err(|error| PortError::unavailable("mail_outbox.connection", error))
    }

    /// Refreshes the depth gauges from the table.
    fn read_depth(&self) {
        let Ok(depth) = self.connection().and_then(|mut conn| outbox_depth(&mut conn)) else { return };
        let counters = &self.stats.counters;
        counters.pending.store(depth.pending, Ordering::Relaxed);
        let age = depth.oldest.map_or(0, |oldest| (Utc::now() - oldest).num_seconds().max(0));
        counters.oldest_age_secs.store(u64::try_from(age).unwrap_or(0), Ordering::Relaxed);
    }

    /// Claims one due mail and delivers it.
    fn step(&self) -> Result<Step, PortError> {
        let now = Utc::now();
        let lease_end = now + chrono_of(self.policy.lease);
        let claimed = {
            let mut conn = self.connection()?;
            claim_due_mail(&mut conn, &self.sealer, now, lease_end)?
        };
        let Some(claimed) = claimed else { return Ok(Step::Idle) };
        self.deliver(claimed);
        Ok(Step::Delivered)
    }

    fn deliver(&self, claimed: ClaimedMail) {
        let ClaimedMail { id, mail, attempts, created_at } = claimed;
        let mail = match mail {
            Ok(mail) => mail,
            Err(reason) => {
                tracing::error!(mail_id = %id, error = %reason, "a mail in the outbox cannot be read; given up");
                self.record(|conn| record_failed(conn, &id, Utc::now(), &reason));
                self.stats.counters.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let domain = domain_of(&mail.to).to_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| self.transport.send(mail.clone())))
            .unwrap_or_else(|_| Err(MailError::Transport("the mail transport panicked".to_owned())));
        let now = Utc::now();
        match outcome {
            Ok(()) => {
                // Recorded before anything else: an accepted mail is not sent again.
                self.record(|conn| record_sent(conn, &id, now));
                self.stats.counters.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(mail_id = %id, recipient_domain = %domain, attempts, "mail delivered");
            }
            Err(MailError::Message(reason)) => {
                // A message that cannot be built will not build next time either.
                let reason = redact(&reason, &mail);
                self.record(|conn| record_failed(conn, &id, now, &reason));
                self.stats.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(mail_id = %id, recipient_domain = %domain, error = %reason, "mail dropped: it cannot be built");
            }
            Err(MailError::Transport(reason)) => self.retry_or_give_up(&id, &mail, attempts, created_at, &reason),
        }
    }

    fn retry_or_give_up(&self, id: &str, mail: &OutgoingMail, attempts: u32, created_at: DateTime<Utc>, reason: &str) {
        let reason = redact(reason, mail);
        let domain = domain_of(&mail.to);
        let now = Utc::now();
        let next = now + chrono_of(self.policy.pause_after(attempts));
        if next - created_at > chrono_of(self.policy.give_up_after) {
            self.record(|conn| record_failed(conn, id, now, &reason));
            self.stats.counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(mail_id = %id, recipient_domain = %domain, attempts, error = %reason, "mail could not be delivered; given up");
        } else {
            self.record(|conn| record_retry(conn, id, next, &reason));
            self.stats.counters.retried.fetch_add(1, Ordering::Relaxed);
            tracing::info!(mail_id = %id, recipient_domain = %domain, attempts, error = %reason, retry_at = %next, "mail delivery failed; retrying");
        }
    }

    /// Runs one bookkeeping update, trying again for up to the lease while the database is
    /// away (until then no other worker takes the mail).
    fn record(&self, update: impl Fn(&mut DbConnection) -> Result<(), PortError>) {
        let deadline = std::time::Instant::now() + self.policy.lease / 2;
        loop {
            match self.connection().and_then(|mut conn| update(&mut conn)) {
                Ok(()) => return,
                Err(error) if std::time::Instant::now() < deadline => {
                    tracing::warn!(%error, "the mail outbox cannot be updated; trying again");
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(error) => {
                    tracing::error!(%error, "the mail outbox could not be updated; the mail is tried again after its lease");
                    return;
                }
            }
        }
    }
}

/// A transport's error with the recipient's address taken out.
fn redact(reason: &str, mail: &OutgoingMail) -> String {
    reason.replace(&mail.to, "[recipient]")
}

fn chrono_of(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let policy = OutboxPolicy::default();
        let pauses: Vec<u64> = (1..=12).map(|attempt| policy.pause_after(attempt).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(policy.pause_after(u32::MAX), Duration::from_secs(600));
        assert_eq!(policy.pause_after(0), Duration::from_secs(1));
    }

    #[test]
    fn only_the_domain_of_an_address_is_logged() {
        assert_eq!(domain_of("ada@example.com"), "example.com");
        assert_eq!(domain_of("nobody"), "(none)");
    }

    #[test]
    fn a_rung_signal_is_heard_once() {
        let signal = OutboxSignal::default();
        signal.wake();
        let started = std::time::Instant::now();
        signal.wait(Duration::from_secs(5));
        assert!(started.elapsed() < Duration::from_secs(1), "a rung bell wakes at once");
        let started = std::time::Instant::now();
        signal.wait(Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(50), "then it is quiet again");
    }
}
