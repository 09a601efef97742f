use chrono::{DateTime, Utc};
use portcullis_domain::{FailedLogins, LockoutPolicy, LoginAdmission, RateDecision, UserId};
use shaku::Interface;

use super::PortError;

/// Counts requests per bucket and key against one quota (a GCRA, see
/// [`portcullis_domain::RateQuota`]), where every instance of the service sees the same
/// counts. The HTTP layer asks it before serving a limited endpoint.
pub trait RateLimiter: Interface {
    /// Whether a quota is in force. When `false`, [`RateLimiter::check`] allows everything
    /// and callers may skip it (and its storage round trip) altogether.
    fn is_active(&self) -> bool;

    /// Counts one request of `key` (a client) on `bucket` (an endpoint) at `now`: allowed (and
    /// counted), or refused with the wait. A refused request is not counted.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the counters cannot be reached.
    fn check(&self, bucket: &str, key: &str, now: DateTime<Utc>) -> Result<RateDecision, PortError>;
}

/// Failed-login records per account (see [`portcullis_domain::LockoutPolicy`]), where every
/// instance of the service sees the same records.
pub trait LockoutStore: Interface {
    /// Admits a login attempt on `account` at `now` under `policy`, atomically: reads the
    /// account's record and, unless it is locked, stores the attempt counted as a failure
    /// (compare-and-set, retried on a concurrent change). A locked account costs no write.
    ///
    /// # Errors
    /// [`PortError`] when the records cannot be read or written.
    fn admit(&self, account: UserId, policy: &LockoutPolicy, now: DateTime<Utc>) -> Result<LoginAdmission, PortError>;

    /// Takes back one admitted attempt whose password could not be checked
    /// ([`LockoutPolicy::withdraw`]), atomically.
    ///
    /// # Errors
    /// [`PortError`] when the records cannot be read or written.
    fn withdraw(&self, account: UserId, policy: &LockoutPolicy) -> Result<(), PortError>;

    /// Forgets the account's failures and any lock: its password was just right.
    ///
    /// # Errors
    /// [`PortError`] when the records cannot be written.
    fn clear(&self, account: UserId) -> Result<(), PortError>;

    /// The account's current record (all zero when there is none), for inspection.
    ///
    /// # Errors
    /// [`PortError`] when the records cannot be read.
    fn record(&self, account: UserId) -> Result<FailedLogins, PortError>;
}
