//! One fresh database per test: a SQLite file in a temp dir of its own, or a PostgreSQL
//! database `t_<uuid>` made on the server at `PORTCULLIS_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`). Removed afterwards.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::{Connection, PgConnection, RunQueryDsl};
use portcullis::config::Config;

/// Where PostgreSQL tests make their databases unless `PORTCULLIS_TEST_POSTGRES_URL` says otherwise.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        })
    }
}

/// A database (and a temp dir for files: the SQLite file, mail) that exists for one test.
pub struct TestDatabase {
    backend: Backend,
    url: String,
    dir: PathBuf,
    postgres: Option<PostgresDatabase>,
    removed: AtomicBool,
}

struct PostgresDatabase {
    admin_url: String,
    name: String,
}

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value.eq_ignore_ascii_case("true"))
}

impl TestDatabase {
    /// Makes a fresh database. `None` (with a loud warning) when PostgreSQL is unreachable
    /// and `CI` is not `true`; under `CI=true` an unreachable PostgreSQL fails the test.
    pub fn create(backend: Backend) -> Option<Self> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("portcullis-test-{id}"));
        std::fs::create_dir_all(dir.join("mail")).expect("temp dir can be made");
        let dir = dir.canonicalize().expect("temp dir has an absolute path");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.join("portcullis.db").display());
                Some(Self { backend, url, dir, postgres: None, removed: AtomicBool::new(false) })
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = match PgConnection::establish(&admin_url) {
                    Ok(connection) => connection,
                    Err(error) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        if in_ci() {
                            panic!(
                                "PostgreSQL is unreachable at {admin_url} ({error}) and CI=true: the PostgreSQL \
                                 tests must run. Start it (pg_ctlcluster --skip-systemctl-redirect \
                                 $(ls /etc/postgresql) main start) or set PORTCULLIS_TEST_POSTGRES_URL."
                            );
                        }
                        super::skipped::skipped(
                            "PostgreSQL",
                            &format!("unreachable at {admin_url}: {error}"),
                            "Start PostgreSQL or set PORTCULLIS_TEST_POSTGRES_URL.",
                        );
                        return None;
                    }
                };
                let name = format!("t_{id}");
                diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .unwrap_or_else(|error| panic!("cannot create test database {name} at {admin_url}: {error}"));
                let mut url = url::Url::parse(&admin_url)
                    .unwrap_or_else(|error| panic!("PORTCULLIS_TEST_POSTGRES_URL {admin_url} is not a URL: {error}"));
                url.set_path(&format!("/{name}"));
                Some(Self {
                    backend,
                    url: url.to_string(),
                    dir,
                    postgres: Some(PostgresDatabase { admin_url, name }),
                    removed: AtomicBool::new(false),
                })
            }
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL for `PORTCULLIS_DATABASE_URL` (`sqlite:///abs/path` or `postgres://…/t_…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's own temp dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where mail goes (`PORTCULLIS_MAIL_DIR`).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir.join("mail")
    }

    /// The configuration tests start from: this database, a free port, bcrypt cost 4, mail
    /// into the temp dir, and no per-IP rate limit (one test makes many requests from one IP).
    pub fn config(&self) -> Config {
        Config {
            database_url: self.url.clone(),
            bind: "127.0.0.1:0".into(),
            bcrypt_cost: portcullis::config::BcryptCost::MIN,
            mail_dir: self.mail_dir().display().to_string(),
            rate_limit_per_minute: 0,
            db_pool_size: 4,
            ..Config::default()
        }
    }

    /// The text column `value` of every row `sql` selects, read straight from the database
    /// (to see what is stored, not what the API shows).
    pub fn texts(&self, sql: &str) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let rows: Vec<Row> = match self.backend {
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").expect("a sqlite URL");
                let mut conn = diesel::SqliteConnection::establish(path).expect("opens the SQLite file");
                diesel::sql_query(sql).load(&mut conn).expect("the query runs")
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).expect("connects to PostgreSQL");
                diesel::sql_query(sql).load(&mut conn).expect("the query runs")
            }
        };
        rows.into_iter().map(|row| row.value).collect()
    }

    /// PostgreSQL only: drops the database now, with `WITH (FORCE)`, even while a server uses it.
    pub fn drop_database(&self) {
        let Some(postgres) = &self.postgres else {
            panic!("drop_database is for PostgreSQL only");
        };
        let mut admin = PgConnection::establish(&postgres.admin_url)
            .unwrap_or_else(|error| panic!("cannot reach PostgreSQL at {}: {error}", postgres.admin_url));
        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", postgres.name))
            .execute(&mut admin)
            .unwrap_or_else(|error| panic!("cannot drop test database {}: {error}", postgres.name));
    }

    /// Removes the database and the temp dir; does nothing the second time.
    pub fn remove(&self) {
        if self.removed.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(postgres) = &self.postgres {
            match PgConnection::establish(&postgres.admin_url) {
                Ok(mut admin) => {
                    let dropped =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", postgres.name))
                            .execute(&mut admin);
                    if let Err(error) = dropped {
                        eprintln!("warning: could not drop test database {}: {error}", postgres.name);
                    }
                }
                Err(error) => eprintln!("warning: could not drop test database {}: {error}", postgres.name),
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.remove();
    }
}
