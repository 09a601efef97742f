//! Abuse limits in the database, so that every instance on one database counts together:
//! the per-client request limiter (`rate_limits`) and the per-account failed-login records
//! (`login_failures`).
//!
//! Both work outside any unit of work, on a pooled connection in autocommit mode, with
//! single-row compare-and-set writes: read the row, decide with the domain's rule, write the
//! new value only if the row is still what was read (else read again). That is portable
//! across SQLite and PostgreSQL through the `MultiConnection` (no `RETURNING`, no row locks)
//! and never holds a lock across statements. A request costs one read plus at most one small
//! write; a refused one writes nothing.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::{LockoutStore, PortError, RateLimiter};
use portcullis_domain::{FailedLogins, LockoutPolicy, LoginAdmission, RateDecision, RateQuota, UserId, unix_micros};
use r2d2::PooledConnection;
use shaku::Component;

use super::models::{naive, utc};
use super::schema::{login_failures, rate_limits};
use super::{DbConnectionManager, DbPool, db_error};

/// How many times a compare-and-set is retried after losing a race before giving up.
const MAX_ATTEMPTS: usize = 16;

/// How often (at most) one instance deletes the rate-limit rows whose time has passed.
const SWEEP_INTERVAL_US: i64 = 60 * 1_000_000;

fn connection(pool: &DbPool) -> Result<PooledConnection<DbConnectionManager>, PortError> {
    pool.get().map_err(|e| PortError::unavailable("limits.connection", format!("database: {e}")))
}

/// An insert that lost to a concurrent insert of the same key writes nothing (`Ok(0)`), so
/// the caller reads again.
fn inserted(result: Result<usize, Error>) -> Result<usize, PortError> {
    match result {
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(0),
        other => other.map_err(db_error("limits.inserted")),
    }
}

/// [`RateLimiter`] over the `rate_limits` table: one row per `(bucket, client)` holding the
/// GCRA theoretical arrival time ([`RateQuota::decide`]).
///
/// An allowed request costs one `SELECT` and one single-row `UPDATE … WHERE tat_us = <read>`
/// (or an `INSERT` for a new bucket); a refused one only the `SELECT`. About once a minute
/// each instance deletes the rows whose time has passed (they stand for full buckets), so the
/// table holds only clients seen within the last minute.
#[derive(Component)]
#[shaku(interface = RateLimiter)]
pub struct DieselRateLimiter {
    pool: DbPool,
    /// `None`: no limit (`PORTCULLIS_RATE_LIMIT_PER_MINUTE=0`).
    quota: Option<RateQuota>,
    /// When this instance last deleted passed rows (µs since the epoch).
    #[shaku(default)]
    last_sweep_us: AtomicI64,
}

impl DieselRateLimiter {
    /// A limiter enforcing `quota` (`None`: allow everything) with counters in `pool`'s database.
    pub fn new(pool: DbPool, quota: Option<RateQuota>) -> Self {
        Self { pool, quota, last_sweep_us: AtomicI64::new(0) }
    }

    /// Deletes the rows whose time has passed, at most once per [`SWEEP_INTERVAL_US`] per
    /// instance. A failure is logged and otherwise ignored: the rows are only clutter.
    fn sweep_if_due(&self, conn: &mut super::DbConnection, now_us: i64) {
        let last = self.last_sweep_us.load(Ordering::Relaxed);
        if now_us.saturating_sub(last) < SWEEP_INTERVAL_US
            || self.last_sweep_us.compare_exchange(last, now_us, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        match diesel::delete(rate_limits::table.filter(rate_limits::tat_us.lt(now_us))).execute(conn) {
            Ok(deleted) if deleted > 0 => tracing::debug!(deleted, "expired rate-limit rows deleted"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not delete expired rate-limit rows"),
        }
    }
}

impl RateLimiter for DieselRateLimiter {
    fn is_active(&self) -> bool {
        self.quota.is_some()
    }

    fn check(&self, bucket: &str, key: &str, now: DateTime<Utc>) -> Result<RateDecision, PortError> {
        let now_us = unix_micros(now);
        let Some(quota) = self.quota else {
            return Ok(RateDecision::Allow { new_tat_us: now_us });
        };
        let mut conn = connection(&self.pool)?;
        self.sweep_if_due(&mut conn, now_us);
        let this = rate_limits::table.filter(rate_limits::bucket.eq(bucket)).filter(rate_limits::client.eq(key));
        for _ in 0..MAX_ATTEMPTS {
            let tat: Option<i64> = this
                .select(rate_limits::tat_us)
                .get_result(&mut **conn)
                .optional()
                .map_err(db_error("limits.check"))?;
            let decision = quota.decide(tat, now_us);
            let RateDecision::Allow { new_tat_us } = decision else {
                return Ok(decision);
            };
            let written = match tat {
                Some(old) => diesel::update(this.filter(rate_limits::tat_us.eq(old)))
                    .set(rate_limits::tat_us.eq(new_tat_us))
                    .execute(&mut **conn)
                    .map_err(db_error("limits.check"))?,
                None => inserted(
                    diesel::insert_into(rate_limits::table)
                        .values((
                            rate_limits::bucket.eq(bucket),
                            rate_limits::client.eq(key),
                            rate_limits::tat_us.eq(new_tat_us),
                        ))
                        .execute(&mut **conn),
                )?,
            };
            if written == 1 {
                return Ok(decision);
            }
        }
        // Lost every race: this very bucket is being hammered concurrently. Refuse this one
        // request rather than spin; the winners were counted.
        tracing::debug!(bucket, "rate-limit bucket under contention; request refused");
        Ok(RateDecision::Deny { retry_after_us: quota.emission_interval_us().max(1) })
    }
}

/// [`LockoutStore`] over the `login_failures` table: one row per account with a failure
/// count, the end of the lock and a `version` that every write compares and bumps.
#[derive(Component)]
#[shaku(interface = LockoutStore)]
pub struct DieselLockoutStore {
    pool: DbPool,
}

/// A stored `login_failures` row, as read.
struct Stored {
    record: FailedLogins,
    version: i64,
}

impl DieselLockoutStore {
    /// A store in `pool`'s database.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }

    fn read(conn: &mut super::DbConnection, account: &str) -> Result<Option<Stored>, PortError> {
        let row: Option<(i32, Option<NaiveDateTime>, i64)> = login_failures::table
            .find(account)
            .select((login_failures::failures, login_failures::locked_until, login_failures::version))
            .get_result(conn)
            .optional()
            .map_err(db_error("limits.read"))?;
        Ok(row.map(|(failures, locked_until, version)| Stored {
            record: FailedLogins {
                failures: u32::try_from(failures).unwrap_or(0),
                locked_until: locked_until.map(utc),
            },
            version,
        }))
    }

    /// Writes `record` if the row is still at the version read (`None`: still absent).
    /// `Ok(false)` when another writer got there first.
    fn write(
        conn: &mut super::DbConnection,
        account: &str,
        read: Option<&Stored>,
        record: &FailedLogins,
    ) -> Result<bool, PortError> {
        let failures = i32::try_from(record.failures).unwrap_or(i32::MAX);
        let locked_until = record.locked_until.map(naive);
        let written = match read {
            Some(stored) => diesel::update(
                login_failures::table
                    .filter(login_failures::user_id.eq(account))
                    .filter(login_failures::version.eq(stored.version)),
            )
            .set((
                login_failures::failures.eq(failures),
                login_failures::locked_until.eq(locked_until),
                login_failures::version.eq(stored.version.wrapping_add(1)),
            ))
            .execute(conn)
            .map_err(db_error("limits.write"))?,
            None => inserted(
                diesel::insert_into(login_failures::table)
                    .values((
                        login_failures::user_id.eq(account),
                        login_failures::failures.eq(failures),
                        login_failures::locked_until.eq(locked_until),
                        login_failures::version.eq(1_i64),
                    ))
                    .execute(conn),
            )?,
        };
        Ok(written == 1)
    }
}

fn contention() -> PortError {
    PortError::unavailable("limits.contention", "login_failures: too many concurrent changes of one account")
}

impl LockoutStore for DieselLockoutStore {
    fn admit(&self, account: UserId, policy: &LockoutPolicy, now: DateTime<Utc>) -> Result<LoginAdmission, PortError> {
        let account = account.to_string();
        let mut conn = connection(&self.pool)?;
        for _ in 0..MAX_ATTEMPTS {
            let stored = Self::read(&mut conn, &account)?;
            let current = stored.as_ref().map(|s| s.record).unwrap_or_default();
            let admission = policy.admit(&current, now);
            let LoginAdmission::Admitted { record } = admission else {
                return Ok(admission);
            };
            if Self::write(&mut conn, &account, stored.as_ref(), &record)? {
                return Ok(admission);
            }
        }
        Err(contention())
    }

    fn withdraw(&self, account: UserId, policy: &LockoutPolicy) -> Result<(), PortError> {
        let account = account.to_string();
        let mut conn = connection(&self.pool)?;
        for _ in 0..MAX_ATTEMPTS {
            let Some(stored) = Self::read(&mut conn, &account)? else {
                return Ok(());
            };
            let record = policy.withdraw(&stored.record);
            if record == stored.record || Self::write(&mut conn, &account, Some(&stored), &record)? {
                return Ok(());
            }
        }
        Err(contention())
    }

    fn clear(&self, account: UserId) -> Result<(), PortError> {
        let mut conn = connection(&self.pool)?;
        diesel::delete(login_failures::table.find(account.to_string()))
            .execute(&mut **conn)
            .map_err(db_error("limits.clear"))?;
        Ok(())
    }

    fn record(&self, account: UserId) -> Result<FailedLogins, PortError> {
        let mut conn = connection(&self.pool)?;
        Ok(Self::read(&mut conn, &account.to_string())?.map(|s| s.record).unwrap_or_default())
    }
}
