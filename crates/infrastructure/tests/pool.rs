//! The connection pool hands out a connection used less than a second ago without pinging
//! it (one round trip fewer per request), so it must notice by itself when a connection it
//! holds has died: a statement failing because the connection is gone makes the pool drop
//! that connection when it comes back, and the next checkout works.

// Only PostgreSQL connections can die under the pool (SQLite is in process).
#[allow(dead_code)]
mod support;

use diesel::RunQueryDsl;
use diesel::sql_types::Integer;
use portcullis_infrastructure::persistence::DbConnection;

use support::TestDb;

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[test]
fn a_connection_that_died_in_the_pool_is_dropped_and_the_next_checkout_works() {
    let Some(db) = TestDb::postgres() else { return };
    let pool = db.pool();
    let mut doomed = pool.get().expect("a connection");
    let DbConnection::Pg(doomed_pg) = &mut **doomed else { panic!("a PostgreSQL connection") };
    let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result(doomed_pg).expect("its pid");
    {
        let mut killer = pool.get().expect("a second connection");
        let DbConnection::Pg(killer_pg) = &mut **killer else { panic!("a PostgreSQL connection") };
        diesel::sql_query(format!("SELECT pg_terminate_backend({pid})")).execute(killer_pg).expect("terminates");
    }
    assert_eq!(pool.state().connections, 2);

    // The server ended it: the next statement fails, and the pool drops it on return.
    let failed = diesel::sql_query("SELECT 1").execute(doomed_pg);
    assert!(failed.is_err(), "a terminated backend cannot answer");
    drop(doomed);
    assert_eq!(pool.state().connections, 1, "the dead connection left the pool");

    let mut next = pool.get().expect("a connection");
    let DbConnection::Pg(next_pg) = &mut **next else { panic!("a PostgreSQL connection") };
    diesel::sql_query("SELECT 1").execute(next_pg).expect("the next checkout works");
}
