//! Per-account lockout after repeated failed logins.
//!
//! Every login attempt on an existing account is counted as a failure *before* its password
//! is checked ([`LockoutPolicy::admit`]), and a success clears the count. Counting first means
//! that concurrent guesses cannot slip past the threshold while their hashes run: once
//! `threshold` attempts have been admitted in a row without a success, the account is locked
//! for the lock duration and further attempts are refused without checking any password.
//! When a lock has run out, the next attempt starts a fresh count.

use chrono::{DateTime, Duration, Utc};

use crate::rate_limit::ceil_secs;

/// The stored failure record of one account: consecutive failed (or still running) login
/// attempts since the last success, and the end of the current lock, if any.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailedLogins {
    /// Attempts counted since the last success (or since the last lock ran out).
    pub failures: u32,
    /// While in the future, the account is locked.
    pub locked_until: Option<DateTime<Utc>>,
}

/// How lockout works: after `threshold` failed logins in a row the account is locked for
/// `duration`. A threshold of 0 turns lockout off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    threshold: u32,
    duration: Duration,
}

/// Whether a login attempt may check its password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAdmission {
    /// The account is locked; answer at once, without checking the password.
    Locked {
        /// Whole seconds (at least 1) until the lock ends.
        retry_after_secs: u64,
    },
    /// The attempt may go on; `record` (this attempt counted as a failure) is to be stored.
    Admitted {
        /// The record to store before checking the password.
        record: FailedLogins,
    },
}

impl Default for LockoutPolicy {
    /// The contract's defaults: 5 failures, 15 minutes.
    fn default() -> Self {
        Self { threshold: 5, duration: Duration::minutes(15) }
    }
}

impl LockoutPolicy {
    /// Locks after `threshold` failures (0: never) for `duration_secs` seconds.
    pub fn new(threshold: u32, duration_secs: u64) -> Self {
        let secs = i64::try_from(duration_secs.max(1)).unwrap_or(i64::MAX);
        let duration = Duration::try_seconds(secs).unwrap_or(Duration::MAX);
        Self { threshold, duration }
    }

    /// A policy that never locks.
    pub fn disabled() -> Self {
        Self { threshold: 0, ..Self::default() }
    }

    /// Whether accounts can be locked at all.
    pub fn is_enabled(&self) -> bool {
        self.threshold > 0
    }

    /// Failed logins in a row that lock the account.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// How long a lock lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Decides an attempt at `now` on an account whose stored record is `current`: refused
    /// while locked; otherwise admitted with the attempt counted (a lock that has run out is
    /// forgotten first), locking the account once the count reaches the threshold.
    pub fn admit(&self, current: &FailedLogins, now: DateTime<Utc>) -> LoginAdmission {
        let mut record = *current;
        if let Some(until) = record.locked_until {
            if until > now {
                let wait = (until - now).num_microseconds().unwrap_or(i64::MAX);
                return LoginAdmission::Locked { retry_after_secs: ceil_secs(wait) };
            }
            record = FailedLogins::default();
        }
        if !self.is_enabled() {
            return LoginAdmission::Admitted { record };
        }
        record.failures = record.failures.saturating_add(1);
        if record.failures >= self.threshold {
            record.locked_until = Some(now.checked_add_signed(self.duration).unwrap_or(DateTime::<Utc>::MAX_UTC));
        }
        LoginAdmission::Admitted { record }
    }

    /// Takes back one admitted attempt whose password could not be checked at all (the
    /// hasher was saturated): one failure less, and no lock below the threshold.
    pub fn withdraw(&self, current: &FailedLogins) -> FailedLogins {
        let failures = current.failures.saturating_sub(1);
        let locked_until = if failures >= self.threshold && self.is_enabled() { current.locked_until } else { None };
        FailedLogins { failures, locked_until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_767_225_600)
    }

    fn admitted(admission: LoginAdmission) -> FailedLogins {
        match admission {
            LoginAdmission::Admitted { record } => record,
            LoginAdmission::Locked { retry_after_secs } => panic!("locked for {retry_after_secs}s"),
        }
    }

    #[test]
    fn the_threshold_th_attempt_locks_for_the_duration() {
        let policy = LockoutPolicy::new(3, 900);
        let mut record = FailedLogins::default();
        for expected in 1..=2 {
            record = admitted(policy.admit(&record, now()));
            assert_eq!(record, FailedLogins { failures: expected, locked_until: None });
        }
        record = admitted(policy.admit(&record, now()));
        assert_eq!(record, FailedLogins { failures: 3, locked_until: Some(now() + Duration::seconds(900)) });
        assert_eq!(policy.admit(&record, now()), LoginAdmission::Locked { retry_after_secs: 900 });
        let later = now() + Duration::milliseconds(899_500);
        assert_eq!(policy.admit(&record, later), LoginAdmission::Locked { retry_after_secs: 1 });
    }

    #[test]
    fn a_lock_that_ran_out_starts_a_fresh_count() {
        let policy = LockoutPolicy::new(2, 60);
        let locked = FailedLogins { failures: 2, locked_until: Some(now()) };
        assert_eq!(admitted(policy.admit(&locked, now())), FailedLogins { failures: 1, locked_until: None });
    }

    #[test]
    fn a_disabled_policy_never_counts_or_locks() {
        let policy = LockoutPolicy::new(0, 60);
        assert!(!policy.is_enabled());
        let record = admitted(policy.admit(&FailedLogins::default(), now()));
        assert_eq!(record, FailedLogins::default());
        assert_eq!(LockoutPolicy::disabled().threshold(), 0);
    }

    #[test]
    fn withdrawing_takes_back_one_attempt_and_its_lock() {
        let policy = LockoutPolicy::new(3, 60);
        let locked = FailedLogins { failures: 3, locked_until: Some(now()) };
        assert_eq!(policy.withdraw(&locked), FailedLogins { failures: 2, locked_until: None });
        let over = FailedLogins { failures: 4, locked_until: Some(now()) };
        assert_eq!(policy.withdraw(&over), FailedLogins { failures: 3, locked_until: Some(now()) });
        assert_eq!(policy.withdraw(&FailedLogins::default()), FailedLogins::default());
    }

    #[test]
    fn defaults_match_the_contract() {
        let policy = LockoutPolicy::default();
        assert_eq!((policy.threshold(), policy.duration()), (5, Duration::minutes(15)));
    }
}
