//! Delivery off the request path: a bounded queue and one background thread that retries.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portcullis_application::ports::{MailError, Mailer, OutgoingMail};
use shaku::Component;

use super::MailConfigError;

/// How many messages may wait, and how often and after what pauses one is retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Most messages waiting at once; more are refused ("mail queue is full").
    pub capacity: usize,
    /// The pause before each retry: a message is tried `backoff.len() + 1` times.
    pub backoff: Vec<Duration>,
}

impl Default for RetryPolicy {
    /// 1000 messages; 3 attempts, 1 s and 5 s apart.
    fn default() -> Self {
        Self { capacity: 1000, backoff: vec![Duration::from_secs(1), Duration::from_secs(5)] }
    }
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    retried: AtomicU64,
    depth: AtomicU64,
}

/// Counters of a mail queue, readable from anywhere (for `/metrics`); clones share them.
#[derive(Clone, Debug, Default)]
pub struct MailStats {
    counters: Arc<Counters>,
}

/// The counters of a [`MailStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailStatsSnapshot {
    /// Messages the transport accepted.
    pub sent: u64,
    /// Messages given up on after the last attempt.
    pub failed: u64,
    /// Messages refused at the door (queue full or shut down).
    pub rejected: u64,
    /// Attempts that were retries.
    pub retried: u64,
    /// Messages waiting or being delivered.
    pub queue_depth: u64,
}

impl MailStats {
    /// Messages the transport accepted.
    pub fn sent(&self) -> u64 {
        self.counters.sent.load(Ordering::Relaxed)
    }

    /// Messages given up on after every attempt failed.
    pub fn failed(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }

    /// Messages refused because the queue was full or shut down.
    pub fn rejected(&self) -> u64 {
        self.counters.rejected.load(Ordering::Relaxed)
    }

    /// Delivery attempts that were retries of a failed one.
    pub fn retried(&self) -> u64 {
        self.counters.retried.load(Ordering::Relaxed)
    }

    /// Messages waiting or being delivered right now.
    pub fn queue_depth(&self) -> u64 {
        self.counters.depth.load(Ordering::SeqCst)
    }

    /// Every counter at once.
    pub fn snapshot(&self) -> MailStatsSnapshot {
        MailStatsSnapshot {
            sent: self.sent(),
            failed: self.failed(),
            rejected: self.rejected(),
            retried: self.retried(),
            queue_depth: self.queue_depth(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the queue's handles share.
struct Shared {
    /// `None` once shut down.
    sender: Mutex<Option<SyncSender<OutgoingMail>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    stats: MailStats,
    /// Notified whenever the depth drops; waited on by [`MailQueue::flush`].
    drained: Condvar,
    drained_lock: Mutex<()>,
    description: String,
}

impl Shared {
    fn finished_one(&self) {
        self.stats.counters.depth.fetch_sub(1, Ordering::SeqCst);
        let _guard = lock(&self.drained_lock);
        self.drained.notify_all();
    }
}

/// A bounded queue of outgoing mail with one background thread delivering it through an
/// inner [`Mailer`] (a [`super::FileMailer`] or [`super::SmtpMailer`]). Clones are handles
/// to the same queue.
///
/// [`enqueue`](Self::enqueue) never waits: it refuses with `mail queue is full` when
/// [`RetryPolicy::capacity`] messages wait. Each message is tried up to
/// `backoff.len() + 1` times; a final failure is logged with `tracing::warn!` (the
/// recipient's domain and the error only, never the address or the body) and counted in
/// [`MailStats::failed`]. A panic in the transport counts as a failed attempt; the thread
/// carries on.
#[derive(Clone)]
pub struct MailQueue {
    shared: Arc<Shared>,
}

impl MailQueue {
    /// Starts the delivery thread over `inner`. `description` says where mail goes (for
    /// logs; no secrets).
    ///
    /// # Errors
    /// [`MailConfigError::Worker`] when the thread cannot be started.
    pub fn start(
        inner: Arc<dyn Mailer>,
        policy: RetryPolicy,
        description: impl Into<String>,
    ) -> Result<Self, MailConfigError> {
        let (sender, receiver) = sync_channel(policy.capacity.max(1));
        let stats = MailStats::default();
        let shared = Arc::new(Shared {
            sender: Mutex::new(Some(sender)),
            worker: Mutex::new(None),
            stats: stats.clone(),
            drained: Condvar::new(),
            drained_lock: Mutex::new(()),
            description: description.into(),
        });
        // The thread holds only a weak handle, so dropping every `MailQueue` ends it.
        let weak = Arc::downgrade(&shared);
        let worker = std::thread::Builder::new()
            .name("portcullis-mail".to_owned())
            .spawn(move || deliver_all(receiver, &*inner, &policy, &stats, &weak))
            .map_err(|e| MailConfigError::Worker(e.to_string()))?;
        *lock(&shared.worker) = Some(worker);
        Ok(Self { shared })
    }

    /// Puts `mail` in the queue and returns at once.
    ///
    /// # Errors
    /// [`MailError::Transport`] when the queue is full or shut down.
    pub fn enqueue(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let counters = &self.shared.stats.counters;
        let guard = lock(&self.shared.sender);
        let Some(sender) = guard.as_ref() else {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            return Err(MailError::Transport("mail queue is shut down".to_owned()));
        };
        // Counted before the hand-over, so the thread never sees a depth of zero for it.
        counters.depth.fetch_add(1, Ordering::SeqCst);
        let refused = match sender.try_send(mail) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(_)) => "mail queue is full",
            Err(TrySendError::Disconnected(_)) => "mail queue is shut down",
        };
        drop(guard);
        counters.rejected.fetch_add(1, Ordering::Relaxed);
        self.shared.finished_one();
        Err(MailError::Transport(refused.to_owned()))
    }

    /// The queue's counters.
    pub fn stats(&self) -> MailStats {
        self.shared.stats.clone()
    }

    /// Where the mail goes, e.g. `the folder ./mail` or `SMTP relay smtp.example.com:587 (STARTTLS)`.
    pub fn description(&self) -> &str {
        &self.shared.description
    }

    /// Waits until every message accepted so far was delivered or given up on, at most
    /// `timeout`. `true` if the queue is empty.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = lock(&self.shared.drained_lock);
        while self.shared.stats.queue_depth() > 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = match self.shared.drained.wait_timeout(guard, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    /// Stops accepting mail, waits (at most `timeout`) for the queue to drain and the
    /// thread to end. `true` if everything accepted was dealt with. Later
    /// [`enqueue`](Self::enqueue)s are refused.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        drop(lock(&self.shared.sender).take());
        let drained = self.flush(timeout);
        if drained {
            if let Some(worker) = lock(&self.shared.worker).take() {
                // The channel is closed and empty: the thread is ending.
                let _ = worker.join();
            }
        } else {
            tracing::warn!(
                waiting = self.shared.stats.queue_depth(),
                "mail queue shut down before every message was delivered"
            );
        }
        drained
    }
}

impl fmt::Debug for MailQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailQueue")
            .field("description", &self.shared.description)
            .field("stats", &self.shared.stats.snapshot())
            .finish()
    }
}

/// The recipient's domain: all that is logged of an address.
fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("(none)", |(_, domain)| domain)
}

/// The delivery thread: one message at a time until the channel closes.
fn deliver_all(
    receiver: Receiver<OutgoingMail>,
    inner: &dyn Mailer,
    policy: &RetryPolicy,
    stats: &MailStats,
    shared: &std::sync::Weak<Shared>,
) {
    for mail in receiver {
        deliver(inner, policy, stats, mail);
        match shared.upgrade() {
            Some(shared) => shared.finished_one(),
            None => {
                stats.counters.depth.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Tries one message up to `backoff.len() + 1` times.
fn deliver(inner: &dyn Mailer, policy: &RetryPolicy, stats: &MailStats, mail: OutgoingMail) {
    let domain = domain_of(&mail.to).to_owned();
    let attempts = policy.backoff.len() + 1;
    for attempt in 1..=attempts {
        let outcome = catch_unwind(AssertUnwindSafe(|| inner.send(mail.clone())))
            .unwrap_or_else(|_| Err(MailError::Transport("the mail transport panicked".to_owned())));
        let error = match outcome {
            Ok(()) => {
                stats.counters.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(recipient_domain = %domain, attempt, "mail delivered");
                return;
            }
            // A message that cannot be built will not build next time either.
            Err(MailError::Message(reason)) => {
                stats.counters.failed.fetch_add(1, Ordering::Relaxed);
                let reason = reason.replace(&mail.to, "[recipient]");
                tracing::warn!(recipient_domain = %domain, error = %reason, "mail dropped: it cannot be built");
                return;
            }
            Err(MailError::Transport(reason)) => reason.replace(&mail.to, "[recipient]"),
        };
        match policy.backoff.get(attempt - 1) {
            Some(pause) => {
                tracing::info!(recipient_domain = %domain, attempt, error = %error, retry_in = ?pause, "mail delivery failed; retrying");
                std::thread::sleep(*pause);
                stats.counters.retried.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                stats.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(recipient_domain = %domain, attempts, error = %error, "mail could not be delivered; given up");
            }
        }
    }
}

/// The [`Mailer`] the service registers: [`send`](Mailer::send) only puts the message in a
/// [`MailQueue`], so no request ever waits on a mail server and a failed delivery never
/// undoes an account change.
#[derive(Component, Debug)]
#[shaku(interface = Mailer)]
pub struct QueuedMailer {
    queue: MailQueue,
}

impl QueuedMailer {
    /// A mailer feeding `queue`.
    pub fn new(queue: MailQueue) -> Self {
        Self { queue }
    }

    /// The queue it feeds (for its counters, `flush` and `shutdown`).
    pub fn queue(&self) -> &MailQueue {
        &self.queue
    }
}

impl Mailer for QueuedMailer {
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        self.queue.enqueue(mail)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn mail(to: &str) -> OutgoingMail {
        OutgoingMail {
            to: to.to_owned(),
            to_name: "Ada".to_owned(),
            subject: "Hello".to_owned(),
            text: "secret link".to_owned(),
            html: "<p>secret link</p>".to_owned(),
        }
    }

    fn fast(capacity: usize) -> RetryPolicy {
        RetryPolicy { capacity, backoff: vec![Duration::from_millis(5), Duration::from_millis(10)] }
    }

    /// Fails the first `failures` attempts (panicking on the first if told to), then accepts.
    struct Flaky {
        attempts: AtomicUsize,
        failures: usize,
        panic_first: bool,
    }

    impl Mailer for Flaky {
        fn send(&self, _mail: OutgoingMail) -> Result<(), MailError> {
            let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt == 1 && self.panic_first {
                panic!("transport bug");
            }
            if attempt <= self.failures { Err(MailError::Transport("down".to_owned())) } else { Ok(()) }
        }
    }

    #[test]
    fn a_failing_transport_is_retried_then_given_up_on() {
        let flaky = Arc::new(Flaky { attempts: AtomicUsize::new(0), failures: usize::MAX, panic_first: true });
        let queue = MailQueue::start(flaky.clone(), fast(10), "test").expect("starts");
        queue.enqueue(mail("ada@example.com")).expect("queued");
        assert!(queue.flush(Duration::from_secs(5)));
        assert_eq!(flaky.attempts.load(Ordering::SeqCst), 3);
        let stats = queue.stats().snapshot();
        assert_eq!(stats, MailStatsSnapshot { sent: 0, failed: 1, rejected: 0, retried: 2, queue_depth: 0 });
        // The thread survived the panic and the failures.
        let healthy = Arc::new(Flaky { attempts: AtomicUsize::new(0), failures: 1, panic_first: false });
        let queue = MailQueue::start(healthy.clone(), fast(10), "test").expect("starts");
        queue.enqueue(mail("ada@example.com")).expect("queued");
        assert!(queue.shutdown(Duration::from_secs(5)));
        assert_eq!((queue.stats().sent(), queue.stats().retried()), (1, 1));
        assert_eq!(
            queue.enqueue(mail("ada@example.com")),
            Err(MailError::Transport("mail queue is shut down".to_owned()))
        );
        assert_eq!(queue.stats().rejected(), 1);
    }

    /// Blocks every delivery until released.
    struct Gate {
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl Mailer for Gate {
        fn send(&self, _mail: OutgoingMail) -> Result<(), MailError> {
            let mut open = lock(&self.open);
            while !*open {
                open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
            }
            Ok(())
        }
    }

    #[test]
    fn a_full_queue_refuses_without_waiting() {
        let gate = Arc::new(Gate { open: Mutex::new(false), opened: Condvar::new() });
        let queue = MailQueue::start(gate.clone(), fast(2), "test").expect("starts");
        let mailer = QueuedMailer::new(queue.clone());
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            outcomes.push(mailer.send(mail("ada@example.com")));
        }
        let full =
            outcomes.iter().filter(|o| **o == Err(MailError::Transport("mail queue is full".to_owned()))).count();
        // One in delivery (blocked) plus two waiting are accepted; perhaps one fewer if the
        // thread had not yet taken the first.
        assert!((3..=4).contains(&full), "{outcomes:?}");
        assert!(!queue.flush(Duration::from_millis(50)), "blocked deliveries keep the queue busy");
        *lock(&gate.open) = true;
        gate.opened.notify_all();
        assert!(queue.flush(Duration::from_secs(5)));
        let stats = queue.stats().snapshot();
        assert_eq!(stats.sent as usize, 6 - full);
        assert_eq!(stats.rejected as usize, full);
        assert_eq!(stats.queue_depth, 0);
    }

    #[test]
    fn only_the_domain_of_an_address_is_logged() {
        assert_eq!(domain_of("ada@example.com"), "example.com");
        assert_eq!(domain_of("nobody"), "(none)");
    }
}
