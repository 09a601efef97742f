//! Password hashing on a small pool of dedicated threads.
//!
//! bcrypt is pure CPU (≈250 ms at cost 12). Running it on the async workers would stall
//! every request; running it on the blocking pool (hundreds of threads) lets a login flood
//! take every core. Here at most `workers` hashes run at once (one per core by default),
//! on threads with a lower scheduling priority, and at most `queue` more wait; beyond that
//! callers get [`PortError::Unavailable`] at once, which HTTP answers with `503` and
//! `Retry-After`. Token checks and other requests keep their CPU during a flood.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;

use portcullis_application::defaults::{dummy_attempt, dummy_hash};
use portcullis_application::ports::{PasswordHasher, PortError};
use portcullis_domain::{BcryptCost, PasswordHash, PlainPassword};
use shaku::Component;

type Job = Box<dyn FnOnce() + Send>;

/// The pool: a bounded queue feeding a fixed set of hashing threads.
pub struct HashingPool {
    jobs: SyncSender<Job>,
    queued: Arc<AtomicUsize>,
    cost: BcryptCost,
    dummy: PasswordHash,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool").field("queued", &self.queue_depth()).field("cost", &self.cost).finish()
    }
}

impl HashingPool {
    /// Starts `workers` threads with room for `queue` waiting hashes, hashing at `cost`.
    ///
    /// # Errors
    /// [`PortError::Internal`] if a thread cannot be started or the dummy hash fails.
    pub fn start(workers: usize, queue: usize, cost: BcryptCost) -> Result<Arc<Self>, PortError> {
        let (jobs, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            thread::Builder::new().name(format!("portcullis-hash-{index}")).spawn(move || work(&receiver)).map_err(
                |e| PortError::internal("password_hasher.start", format!("cannot start hashing thread: {e}")),
            )?;
        }
        Ok(Arc::new(Self { jobs, queued: Arc::new(AtomicUsize::new(0)), cost, dummy: dummy_hash(cost)? }))
    }

    /// Hashes waiting or running right now.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Runs `task` on a hashing thread and waits for its result (call from a blocking context).
    fn run<T: Send + 'static>(&self, task: impl FnOnce() -> T + Send + 'static) -> Result<T, PortError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let queued = Arc::clone(&self.queued);
        queued.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            let result = task();
            // Counted out before the answer, so a caller that has its answer sees the new depth.
            queued.fetch_sub(1, Ordering::Relaxed);
            let _ = reply.send(result);
        });
        match self.jobs.try_send(job) {
            Ok(()) => answer.recv().map_err(|_| PortError::internal("password_hasher.run", "hashing thread stopped")),
            Err(TrySendError::Full(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(PortError::unavailable("password_hasher.run", "password hashing queue is full"))
            }
            Err(TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Err(PortError::internal("password_hasher.run", "hashing threads are gone"))
            }
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match receiver.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Nice 10 for this thread, so request handling wins the CPU when both want it.
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: setpriority with PRIO_PROCESS and a thread id changes only this thread's nice
    // value; it reads no memory of ours.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if result != 0 {
        tracing::debug!("could not lower the hashing thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// The [`PasswordHasher`] port over a [`HashingPool`].
#[derive(Component)]
#[shaku(interface = PasswordHasher)]
pub struct PooledPasswordHasher {
    pool: Arc<HashingPool>,
}

impl PooledPasswordHasher {
    /// A hasher using `pool`.
    pub fn new(pool: Arc<HashingPool>) -> Self {
        Self { pool }
    }
}

impl PasswordHasher for PooledPasswordHasher {
    fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, PortError> {
        let password = password.clone();
        let cost = self.pool.cost;
        self.pool
            .run(move || PasswordHash::from_plain(&password, cost))?
            .map_err(|e| PortError::internal("password_hasher.hash", e))
    }

    fn verify(&self, password: &PlainPassword, hash: &PasswordHash) -> Result<bool, PortError> {
        let password = password.clone();
        let hash = hash.clone();
        self.pool.run(move || hash.verify(&password))
    }

    fn verify_dummy(&self) -> Result<(), PortError> {
        let dummy = self.pool.dummy.clone();
        self.pool.run(move || {
            if let Some(attempt) = dummy_attempt() {
                let _ = dummy.verify(&attempt);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies_on_the_pool() {
        let pool = HashingPool::start(2, 8, BcryptCost::new(4).expect("cost")).expect("starts");
        let hasher = PooledPasswordHasher::new(pool);
        let password = PlainPassword::parse("pooled password").expect("valid");
        let hash = hasher.hash(&password).expect("hashes");
        assert!(hasher.verify(&password, &hash).expect("verifies"));
        assert!(!hasher.verify(&PlainPassword::parse("other password").expect("valid"), &hash).expect("verifies"));
        hasher.verify_dummy().expect("dummy");
    }

    #[test]
    fn a_full_queue_answers_unavailable_at_once() {
        let pool = HashingPool::start(1, 1, BcryptCost::new(4).expect("cost")).expect("starts");
        let (started_tx, started) = mpsc::channel::<()>();
        let (release_tx, release) = mpsc::channel::<()>();
        // Occupy the only worker...
        let busy = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                pool.run(move || {
                    let _ = started_tx.send(());
                    let _ = release.recv();
                })
            })
        };
        started.recv().expect("worker started");
        // ...then fill the only queue slot.
        let waiting = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || pool.run(|| ()))
        };
        while pool.queue_depth() < 2 {
            thread::yield_now();
        }
        // The counter moves just before the hand-over; give the hand-over a moment.
        thread::sleep(std::time::Duration::from_millis(100));
        let refused = pool.run(|| ());
        assert!(matches!(refused, Err(PortError::Unavailable(_))), "{refused:?}");
        release_tx.send(()).expect("release");
        assert!(busy.join().expect("joins").is_ok());
        assert!(waiting.join().expect("joins").is_ok());
        assert_eq!(pool.queue_depth(), 0);
    }
}
