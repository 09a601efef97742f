//! Per-account lockout in `LoginHandler`: after `threshold` failed logins in a row the account
//! answers `Locked` (before any hash) until the lock runs out; a success resets the count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::Duration;
use portcullis_application::commands::login::LoginHandlerParameters;
use portcullis_application::defaults::InlinePasswordHasher;
use portcullis_application::ports::{LockoutStore, PasswordHasher, PortError};
use portcullis_application::{LoginError, LoginHandler, LoginUseCase};
use portcullis_domain::{FailedLogins, LockoutPolicy, PasswordHash, PlainPassword, UserId};
use shaku::HasComponent;

use crate::support::{Bench, PASSWORD, cheapest_cost, login_command};

const WRONG: &str = "a wrong password, sadly";

/// A hasher that counts every check (real or dummy) and can be made to fail as a saturated
/// hashing pool does. Clones share the count and the switch.
#[derive(Clone)]
struct CountingHasher {
    inner: InlinePasswordHasher,
    checks: Arc<AtomicUsize>,
    saturated: Arc<AtomicBool>,
}

impl CountingHasher {
    fn new() -> Self {
        let inner = InlinePasswordHasher::with_cost(cheapest_cost()).expect("hasher");
        Self { inner, checks: Arc::default(), saturated: Arc::default() }
    }

    fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }

    fn count(&self) -> Result<(), PortError> {
        if self.saturated.load(Ordering::SeqCst) {
            return Err(PortError::unavailable("lockout.count", "hashing queue full"));
        }
        self.checks.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl PasswordHasher for CountingHasher {
    fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, PortError> {
        self.inner.hash(password)
    }

    fn verify(&self, password: &PlainPassword, hash: &PasswordHash) -> Result<bool, PortError> {
        self.count()?;
        self.inner.verify(password, hash)
    }

    fn verify_dummy(&self) -> Result<(), PortError> {
        self.count()?;
        self.inner.verify_dummy()
    }
}

fn handler_with_hasher(bench: &Bench, hasher: CountingHasher, lockout: LockoutPolicy) -> Arc<dyn LoginUseCase> {
    bench
        .module_builder()
        .with_component_override::<dyn PasswordHasher>(Box::new(hasher))
        .with_component_parameters::<LoginHandler>(LoginHandlerParameters { policy: bench.policy, lockout })
        .build()
        .resolve()
}

fn attempt(handler: &Arc<dyn LoginUseCase>, email: &str, password: &str) -> Result<(), LoginError> {
    handler.handle(login_command(email, password)).map(|_| ())
}

fn assert_invalid(result: Result<(), LoginError>) {
    assert!(matches!(result, Err(LoginError::InvalidCredentials)), "{result:?}");
}

fn assert_locked(result: Result<(), LoginError>, retry_after: u64) {
    match result {
        Err(LoginError::Locked { retry_after_secs }) => assert_eq!(retry_after_secs, retry_after),
        other => panic!("expected Locked {{ retry_after_secs: {retry_after} }}, got {other:?}"),
    }
}

fn record(bench: &Bench, user: UserId) -> FailedLogins {
    bench.lockouts.record(user).expect("reads")
}

#[test]
fn after_threshold_failures_even_the_right_password_is_locked_out() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", "ada@example.com");
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(3, 900));
    for _ in 0..3 {
        assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    }
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 900);
    assert_locked(attempt(&handler, "ADA@example.com", WRONG), 900);
    assert!(bench.store.sessions().is_empty(), "a locked account starts no session");
    assert_eq!(record(&bench, ada.user_id).locked_until, Some(bench.now() + Duration::seconds(900)));
}

#[test]
fn a_success_before_the_threshold_resets_the_count() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", "ada@example.com");
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(3, 900));
    for _ in 0..3 {
        assert_invalid(attempt(&handler, "ada@example.com", WRONG));
        assert_invalid(attempt(&handler, "ada@example.com", WRONG));
        attempt(&handler, "ada@example.com", PASSWORD).expect("two failures in a row do not lock");
        assert_eq!(record(&bench, ada.user_id), FailedLogins::default(), "a success forgets the failures");
    }
    assert_eq!(bench.store.sessions().len(), 3);
}

#[test]
fn the_lock_runs_out_after_lockout_secs_and_a_fresh_count_starts() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(2, 60));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 60);
    bench.clock.advance(Duration::seconds(45));
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 15);
    bench.clock.advance(Duration::milliseconds(14_500));
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 1);
    bench.clock.advance(Duration::milliseconds(500));

    // Expired: one failure does not lock again at once; the next one does.
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    attempt(&handler, "ada@example.com", PASSWORD).expect("the lock ran out");
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 60);
}

#[test]
fn a_locked_answer_costs_no_hash() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let hasher = CountingHasher::new();
    let handler = handler_with_hasher(&bench, hasher.clone(), LockoutPolicy::new(2, 900));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_invalid(attempt(&handler, "ada@example.com", "short"));
    assert_eq!(hasher.checks(), 2, "each failure checked one hash (a malformed password the dummy one)");
    for password in [PASSWORD, WRONG, "short"] {
        assert_locked(attempt(&handler, "ada@example.com", password), 900);
    }
    assert_eq!(hasher.checks(), 2, "locked attempts check no password at all");
}

#[test]
fn an_unknown_email_is_never_locked_and_answers_alike() {
    let bench = Bench::new();
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(2, 900));
    for _ in 0..10 {
        assert_invalid(attempt(&handler, "nobody@example.com", WRONG));
    }
}

#[test]
fn accounts_are_locked_one_by_one() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    bench.signup("Bob", "bob@example.com");
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(2, 900));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    assert_locked(attempt(&handler, "ada@example.com", PASSWORD), 900);
    attempt(&handler, "bob@example.com", PASSWORD).expect("Bob is not locked");
}

#[test]
fn a_threshold_of_zero_turns_lockout_off() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", "ada@example.com");
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(0, 900));
    for _ in 0..20 {
        assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    }
    attempt(&handler, "ada@example.com", PASSWORD).expect("never locked");
    assert_eq!(record(&bench, ada.user_id), FailedLogins::default(), "nothing is even counted");
    // The bench's plain login handler has lockout off too.
    for _ in 0..20 {
        assert_invalid(attempt(&bench.login_handler(), "ada@example.com", WRONG));
    }
    bench.login("ada@example.com");
}

#[test]
fn an_attempt_whose_password_could_not_be_checked_does_not_count() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", "ada@example.com");
    let hasher = CountingHasher::new();
    let handler = handler_with_hasher(&bench, hasher.clone(), LockoutPolicy::new(2, 900));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    hasher.saturated.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        let result = attempt(&handler, "ada@example.com", PASSWORD);
        assert!(matches!(result, Err(LoginError::Port(PortError::Unavailable(_)))), "{result:?}");
    }
    assert_eq!(record(&bench, ada.user_id), FailedLogins { failures: 1, locked_until: None });
    hasher.saturated.store(false, Ordering::SeqCst);
    attempt(&handler, "ada@example.com", PASSWORD).expect("not locked by the outage");
}

#[test]
fn a_disabled_account_with_the_right_password_clears_the_count_and_is_told_so() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", "ada@example.com");
    bench.edit_user(ada.user_id, |user| user.disabled = true);
    let handler = bench.login_handler_with_lockout(LockoutPolicy::new(3, 900));
    assert_invalid(attempt(&handler, "ada@example.com", WRONG));
    let result = attempt(&handler, "ada@example.com", PASSWORD);
    assert!(matches!(result, Err(LoginError::AccountDisabled)), "{result:?}");
    assert_eq!(record(&bench, ada.user_id), FailedLogins::default());
}
