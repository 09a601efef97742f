//! In-memory [`RateLimiter`] and [`LockoutStore`]: the same decisions as the database
//! adapters (the rules live in the domain), kept in a map behind a mutex. Each is a shaku
//! component taking a clone of itself as parameters (left unset: no quota, no records).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use portcullis_domain::{FailedLogins, LockoutPolicy, LoginAdmission, RateDecision, RateQuota, UserId, unix_micros};

use super::lock;
use crate::ports::{LockoutStore, PortError, RateLimiter};

/// A [`RateLimiter`] holding one GCRA time per `(bucket, key)`. Clones share the counts.
#[derive(Clone, Debug, Default)]
pub struct InMemoryRateLimiter {
    quota: Option<RateQuota>,
    tats: Arc<Mutex<BTreeMap<(String, String), i64>>>,
}

impl InMemoryRateLimiter {
    /// A limiter enforcing `quota` (`None`: allow everything).
    pub fn new(quota: Option<RateQuota>) -> Self {
        Self { quota, tats: Arc::default() }
    }

    /// How many buckets hold a count.
    pub fn len(&self) -> usize {
        lock(&self.tats).len()
    }

    /// Whether no bucket holds a count.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RateLimiter for InMemoryRateLimiter {
    fn is_active(&self) -> bool {
        self.quota.is_some()
    }

    fn check(&self, bucket: &str, key: &str, now: DateTime<Utc>) -> Result<RateDecision, PortError> {
        let Some(quota) = self.quota else {
            return Ok(RateDecision::Allow { new_tat_us: unix_micros(now) });
        };
        let now_us = unix_micros(now);
        let mut tats = lock(&self.tats);
        tats.retain(|_, tat| *tat >= now_us);
        let id = (bucket.to_owned(), key.to_owned());
        let decision = quota.decide(tats.get(&id).copied(), now_us);
        if let RateDecision::Allow { new_tat_us } = decision {
            tats.insert(id, new_tat_us);
        }
        Ok(decision)
    }
}

/// A [`LockoutStore`] holding one [`FailedLogins`] per account. Clones share the records.
#[derive(Clone, Debug, Default)]
pub struct InMemoryLockoutStore {
    records: Arc<Mutex<BTreeMap<UserId, FailedLogins>>>,
}

shared_fake_component!(InMemoryRateLimiter, RateLimiter);

impl InMemoryLockoutStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LockoutStore for InMemoryLockoutStore {
    fn admit(&self, account: UserId, policy: &LockoutPolicy, now: DateTime<Utc>) -> Result<LoginAdmission, PortError> {
        let mut records = lock(&self.records);
        let current = records.get(&account).copied().unwrap_or_default();
        let admission = policy.admit(&current, now);
        if let LoginAdmission::Admitted { record } = admission {
            records.insert(account, record);
        }
        Ok(admission)
    }

    fn withdraw(&self, account: UserId, policy: &LockoutPolicy) -> Result<(), PortError> {
        let mut records = lock(&self.records);
        if let Some(record) = records.get_mut(&account) {
            *record = policy.withdraw(record);
        }
        Ok(())
    }

    fn clear(&self, account: UserId) -> Result<(), PortError> {
        lock(&self.records).remove(&account);
        Ok(())
    }

    fn record(&self, account: UserId) -> Result<FailedLogins, PortError> {
        Ok(lock(&self.records).get(&account).copied().unwrap_or_default())
    }
}

shared_fake_component!(InMemoryLockoutStore, LockoutStore);

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn the_rate_limiter_counts_per_bucket_and_key_and_forgets_idle_buckets() {
        let limiter = InMemoryRateLimiter::new(RateQuota::per_minute(2));
        let now = Utc::now();
        let allowed = |bucket: &str, key: &str| limiter.check(bucket, key, now).expect("checks").is_allowed();
        assert!(allowed("login", "a") && allowed("login", "a"));
        assert!(!allowed("login", "a"));
        assert!(allowed("signup", "a") && allowed("login", "b"));
        assert_eq!(limiter.len(), 3);
        assert!(limiter.check("login", "c", now + Duration::minutes(2)).expect("checks").is_allowed());
        assert_eq!(limiter.len(), 1, "buckets whose time has passed are dropped");
    }

    #[test]
    fn without_a_quota_everything_passes() {
        let limiter = InMemoryRateLimiter::new(None);
        assert!(!limiter.is_active());
        for _ in 0..100 {
            assert!(limiter.check("login", "a", Utc::now()).expect("checks").is_allowed());
        }
        assert!(limiter.is_empty());
    }
}
