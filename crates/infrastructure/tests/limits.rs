//! The database adapters of the abuse limits, on SQLite and on PostgreSQL: their
//! compare-and-set writes keep the limits exact when many requests race on one key.
//!
//! Databases and the two-backend macro come from `support`.

use std::sync::{Arc, Barrier};

mod support;

use support::TestDb;

use chrono::{DateTime, Duration, Utc};
use diesel::{QueryDsl, RunQueryDsl};
use portcullis_application::ports::{LockoutStore, RateLimiter, UnitOfWorkFactory};
use portcullis_domain::{
    BcryptCost, Email, FailedLogins, LockoutPolicy, LoginAdmission, NewUser, PasswordHash, PlainPassword, RateQuota,
    Roles, User, UserId, UserName,
};
use portcullis_infrastructure::persistence::schema::rate_limits;
use portcullis_infrastructure::persistence::{DieselLockoutStore, DieselRateLimiter, DieselUnitOfWorkFactory};

impl TestDb {
    fn rate_limit_rows(&self) -> i64 {
        let mut conn = self.pool().get().expect("a connection");
        rate_limits::table.count().get_result(&mut **conn).expect("counts")
    }

    /// Stores a user (the lockout records refer to users).
    fn user(&self) -> UserId {
        let password = PlainPassword::parse("correct horse battery staple").expect("a password");
        let user = User::create(
            NewUser {
                name: UserName::parse("Ada").expect("a name"),
                email: Email::parse(&format!("{}@example.com", uuid::Uuid::new_v4().simple())).expect("an email"),
                password: Some(PasswordHash::from_plain(&password, BcryptCost::new(4).expect("cost")).expect("hashes")),
                avatar_url: None,
                roles: Roles::default_for_new_user(),
            },
            Utc::now(),
        );
        let units =
            DieselUnitOfWorkFactory::new(self.pool(), portcullis_infrastructure::sealing::SecretSealer::cleartext());
        let mut unit = units.begin().expect("begins");
        unit.users().add(&user).expect("adds");
        unit.commit().expect("commits");
        user.id
    }
}

/// Runs `work` on `threads` threads released at once; returns their results.
fn race<T: Send + 'static>(threads: usize, work: impl Fn() -> T + Send + Sync + 'static) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(threads));
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let work = Arc::clone(&work);
            std::thread::spawn(move || {
                barrier.wait();
                work()
            })
        })
        .collect();
    handles.into_iter().map(|handle| handle.join().expect("the thread ends")).collect()
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_767_225_600)
}

fn concurrent_requests_get_exactly_the_burst(db: &TestDb) {
    let limiter = Arc::new(DieselRateLimiter::new(db.pool(), RateQuota::per_minute(10)));
    let racing = Arc::clone(&limiter);
    let allowed = race(24, move || racing.check("login", "192.0.2.1", now()).expect("checks").is_allowed());
    assert_eq!(allowed.iter().filter(|allowed| **allowed).count(), 10, "{allowed:?}");
    let refused = limiter.check("login", "192.0.2.1", now()).expect("checks");
    assert_eq!(refused.retry_after_secs(), Some(6), "one request every 6 s after the burst");
    // Other buckets and clients are untouched.
    assert!(limiter.check("signup", "192.0.2.1", now()).expect("checks").is_allowed());
    assert!(limiter.check("login", "192.0.2.2", now()).expect("checks").is_allowed());
    // One interval later exactly one more.
    let later = now() + Duration::seconds(6);
    let allowed: Vec<bool> =
        (0..3).map(|_| limiter.check("login", "192.0.2.1", later).expect("checks").is_allowed()).collect();
    assert_eq!(allowed, [true, false, false]);
}

fn passed_rows_are_swept(db: &TestDb) {
    let limiter = DieselRateLimiter::new(db.pool(), RateQuota::per_minute(10));
    for client in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        assert!(limiter.check("login", client, now()).expect("checks").is_allowed());
    }
    assert_eq!(db.rate_limit_rows(), 3);
    assert!(limiter.check("login", "192.0.2.4", now() + Duration::minutes(2)).expect("checks").is_allowed());
    assert_eq!(db.rate_limit_rows(), 1, "rows whose time has passed are deleted (about once a minute)");
    assert!(limiter.check("login", "192.0.2.1", now() + Duration::minutes(2)).expect("checks").is_allowed());
}

fn without_a_quota_nothing_is_stored(db: &TestDb) {
    let limiter = DieselRateLimiter::new(db.pool(), None);
    assert!(!limiter.is_active());
    for _ in 0..20 {
        assert!(limiter.check("login", "192.0.2.1", now()).expect("checks").is_allowed());
    }
    assert_eq!(db.rate_limit_rows(), 0);
}

fn concurrent_attempts_admit_exactly_the_threshold(db: &TestDb) {
    let store = Arc::new(DieselLockoutStore::new(db.pool()));
    let user = db.user();
    let policy = LockoutPolicy::new(5, 900);
    let racing = Arc::clone(&store);
    let admissions = race(20, move || racing.admit(user, &policy, now()).expect("admits"));
    let admitted = admissions.iter().filter(|a| matches!(a, LoginAdmission::Admitted { .. })).count();
    assert_eq!(admitted, 5, "no more than the threshold of password checks, however many race: {admissions:?}");
    let record = store.record(user).expect("reads");
    assert_eq!(record, FailedLogins { failures: 5, locked_until: Some(now() + Duration::seconds(900)) });
    assert_eq!(store.admit(user, &policy, now()).expect("admits"), LoginAdmission::Locked { retry_after_secs: 900 });

    store.withdraw(user, &policy).expect("withdraws");
    assert_eq!(store.record(user).expect("reads"), FailedLogins { failures: 4, locked_until: None });
    store.clear(user).expect("clears");
    assert_eq!(store.record(user).expect("reads"), FailedLogins::default());
    store.withdraw(user, &policy).expect("nothing to withdraw is fine");
}

on_both_backends!(
    concurrent_requests_get_exactly_the_burst,
    passed_rows_are_swept,
    without_a_quota_nothing_is_stored,
    concurrent_attempts_admit_exactly_the_threshold,
);
