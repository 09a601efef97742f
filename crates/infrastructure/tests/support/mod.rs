//! What the database tests of this crate share: a fresh, migrated database per test (SQLite
//! in a temp dir, or a new PostgreSQL database), removed on drop, and a macro that runs a
//! test function on both backends.
//!
//! PostgreSQL: `PORTCULLIS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! unreachable → the tests fail under `CI=true` and are skipped loudly otherwise.

use diesel::{Connection, PgConnection, RunQueryDsl};
use portcullis_infrastructure::persistence::{DbPool, PoolSettings, connect, run_migrations};

/// A migrated database that exists for one test, removed on drop.
pub struct TestDb {
    pool: Option<DbPool>,
    dir: std::path::PathBuf,
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in a fresh temp dir.
    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("portcullis-infra-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("test.db").display());
        Self::open(&url, dir, None)
    }

    /// A new PostgreSQL database; `None` (loudly) when PostgreSQL is unreachable outside CI.
    pub fn postgres() -> Option<Self> {
        let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut admin = match PgConnection::establish(&admin_url) {
            Ok(admin) => admin,
            Err(error) if std::env::var("CI").is_ok_and(|ci| ci.eq_ignore_ascii_case("true")) => {
                panic!("PostgreSQL is unreachable at {admin_url} and CI=true: {error}")
            }
            Err(error) => {
                eprintln!("SKIPPED: PostgreSQL is unreachable at {admin_url} ({error})");
                return None;
            }
        };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).expect("creates a database");
        let mut url = url::Url::parse(&admin_url).expect("a URL");
        url.set_path(&format!("/{name}"));
        let dir = std::env::temp_dir().join(format!("portcullis-infra-{name}"));
        Some(Self::open(url.as_str(), dir, Some((admin_url, name))))
    }

    fn open(url: &str, dir: std::path::PathBuf, postgres: Option<(String, String)>) -> Self {
        let pool = connect(url, PoolSettings { max_size: 8, ..PoolSettings::default() }).expect("connects");
        run_migrations(&pool).expect("migrates");
        Self { pool: Some(pool), dir, postgres }
    }

    /// The pool on this database.
    pub fn pool(&self) -> DbPool {
        self.pool.clone().expect("open")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop(self.pool.take());
        if let Some((admin_url, name)) = &self.postgres
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&mut admin);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `on_both_backends!(f, g)`: a `#[test]` per function and backend, each on a fresh [`TestDb`].
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&$crate::support::TestDb::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { if let Some(db) = $crate::support::TestDb::postgres() { super::$name(&db); } })*
        }
    };
}
