//! Per-client request limits as a GCRA (generic cell rate algorithm), the token bucket
//! written as one number per bucket: its *theoretical arrival time* (TAT).
//!
//! A quota of `limit` requests per `period` spaces requests `period / limit` apart (the
//! emission interval) and tolerates a burst of `limit` at once. A request at `now` is allowed
//! when, after adding one interval to `max(tat, now)`, the TAT is at most one `period` ahead
//! of `now`; the stored TAT then becomes that value. A refused request changes nothing. So a
//! client gets `limit` requests at once, then one every interval — never the 2× burst of a
//! fixed window at its edge. A TAT in the past means a full bucket: such a stored row can be
//! deleted without changing any decision.
//!
//! Times are whole microseconds since the Unix epoch (exact to compare and store).

use std::num::NonZeroU32;

use chrono::{DateTime, Utc};

/// Microseconds in one second.
const MICROS_PER_SEC: i64 = 1_000_000;

/// `limit` requests per `period`, with a burst of `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateQuota {
    limit: NonZeroU32,
    period_us: i64,
}

/// What the quota says about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    /// Allowed; the bucket's TAT becomes `new_tat_us`.
    Allow {
        /// The TAT to store.
        new_tat_us: i64,
    },
    /// Refused; the same request would be allowed after `retry_after_us`.
    Deny {
        /// Microseconds until the request would be allowed (positive).
        retry_after_us: i64,
    },
}

impl RateDecision {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        matches!(self, RateDecision::Allow { .. })
    }

    /// For a refusal, the wait in whole seconds, rounded up and at least 1 (a `Retry-After`).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match *self {
            RateDecision::Allow { .. } => None,
            RateDecision::Deny { retry_after_us } => Some(ceil_secs(retry_after_us)),
        }
    }
}

/// Microseconds rounded up to whole seconds, at least 1.
pub fn ceil_secs(micros: i64) -> u64 {
    let secs = micros.div_euclid(MICROS_PER_SEC) + i64::from(micros.rem_euclid(MICROS_PER_SEC) != 0);
    u64::try_from(secs).unwrap_or(0).max(1)
}

/// `time` as whole microseconds since the Unix epoch (saturating far outside ±292,000 years).
pub fn unix_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

impl RateQuota {
    /// `limit` requests per `period_secs` seconds; `None` when either is zero (no limit).
    pub fn new(limit: u32, period_secs: u32) -> Option<Self> {
        let limit = NonZeroU32::new(limit)?;
        (period_secs > 0).then(|| Self { limit, period_us: i64::from(period_secs) * MICROS_PER_SEC })
    }

    /// `limit` requests a minute (`PORTCULLIS_RATE_LIMIT_PER_MINUTE`); `None` for 0 (off).
    pub fn per_minute(limit: u32) -> Option<Self> {
        Self::new(limit, 60)
    }

    /// Requests allowed at once, and per period.
    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// The spacing between requests once the burst is spent, in microseconds (rounded down,
    /// so exactly `limit` requests fit in one period).
    pub fn emission_interval_us(&self) -> i64 {
        self.period_us / i64::from(self.limit.get())
    }

    /// The period in microseconds.
    pub fn period_us(&self) -> i64 {
        self.period_us
    }

    /// Decides one request at `now_us` on a bucket whose stored TAT is `tat_us` (`None`: no
    /// row, a full bucket).
    pub fn decide(&self, tat_us: Option<i64>, now_us: i64) -> RateDecision {
        let base = tat_us.map_or(now_us, |tat| tat.max(now_us));
        let new_tat_us = base.saturating_add(self.emission_interval_us());
        let ahead = new_tat_us.saturating_sub(now_us);
        if ahead <= self.period_us {
            RateDecision::Allow { new_tat_us }
        } else {
            RateDecision::Deny { retry_after_us: ahead - self.period_us }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600 * MICROS_PER_SEC;

    /// Runs `count` requests at `now` against `tat`, storing allowed TATs; returns how many passed.
    fn burst(quota: &RateQuota, tat: &mut Option<i64>, now: i64, count: u32) -> u32 {
        let mut allowed = 0;
        for _ in 0..count {
            if let RateDecision::Allow { new_tat_us } = quota.decide(*tat, now) {
                *tat = Some(new_tat_us);
                allowed += 1;
            }
        }
        allowed
    }

    #[test]
    fn zero_means_no_quota() {
        assert_eq!(RateQuota::per_minute(0), None);
        assert_eq!(RateQuota::new(5, 0), None);
    }

    #[test]
    fn a_full_bucket_allows_exactly_the_limit_at_once() {
        for limit in [1, 3, 7, 10, 60, 1000] {
            let quota = RateQuota::per_minute(limit).expect("a quota");
            let mut tat = None;
            assert_eq!(burst(&quota, &mut tat, NOW, limit + 5), limit, "limit {limit}");
        }
    }

    #[test]
    fn after_the_burst_one_request_per_interval_and_retry_after_says_when() {
        let quota = RateQuota::per_minute(3).expect("a quota");
        let mut tat = None;
        assert_eq!(burst(&quota, &mut tat, NOW, 3), 3);
        let refused = quota.decide(tat, NOW);
        assert_eq!(refused, RateDecision::Deny { retry_after_us: 20 * MICROS_PER_SEC });
        assert_eq!(refused.retry_after_secs(), Some(20));
        // Just before the interval: still refused, and told to wait the rest (rounded up).
        let almost = NOW + 20 * MICROS_PER_SEC - 1;
        assert_eq!(quota.decide(tat, almost).retry_after_secs(), Some(1));
        // After one interval exactly one more fits.
        assert_eq!(burst(&quota, &mut tat, NOW + 20 * MICROS_PER_SEC, 5), 1);
    }

    #[test]
    fn there_is_no_double_burst_at_a_window_edge() {
        let quota = RateQuota::per_minute(10).expect("a quota");
        let mut tat = None;
        assert_eq!(burst(&quota, &mut tat, NOW + 59 * MICROS_PER_SEC, 10), 10);
        // A fixed window would allow 10 more at second 60; the GCRA allows what refilled: 1.
        assert_eq!(burst(&quota, &mut tat, NOW + 60 * MICROS_PER_SEC, 10), 0);
        assert_eq!(burst(&quota, &mut tat, NOW + 65 * MICROS_PER_SEC, 10), 1);
        // Idle a whole period: full again.
        assert_eq!(burst(&quota, &mut tat, NOW + 200 * MICROS_PER_SEC, 20), 10);
    }

    #[test]
    fn a_tat_in_the_past_is_the_same_as_no_row() {
        let quota = RateQuota::per_minute(4).expect("a quota");
        assert_eq!(quota.decide(Some(NOW - 1), NOW), quota.decide(None, NOW));
        assert_eq!(quota.decide(Some(NOW - 1), NOW), RateDecision::Allow { new_tat_us: NOW + 15 * MICROS_PER_SEC });
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_at_least_one() {
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(0), 1);
        assert_eq!(ceil_secs(MICROS_PER_SEC), 1);
        assert_eq!(ceil_secs(MICROS_PER_SEC + 1), 2);
        assert_eq!(RateDecision::Allow { new_tat_us: 0 }.retry_after_secs(), None);
    }
}
