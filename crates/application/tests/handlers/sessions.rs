//! `SessionsHandler`: list, revoke one, end all — over the in-memory store.

use std::sync::Arc;

use chrono::Duration;
use portcullis_application::in_memory::{FixedClock, InMemoryStore};
use portcullis_application::ports::UnitOfWorkFactory;
use portcullis_application::{RevokeSessionError, SessionsUseCase};
use portcullis_domain::{RefreshToken, RefreshTokenSecret, Session, SessionMetadata, UserId};
use shaku::HasComponent;

use crate::support::module_builder;

fn start_session(store: &InMemoryStore, clock: &FixedClock, user: UserId, max: Duration) -> Session {
    let session = Session::start(
        user,
        portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        SessionMetadata::default(),
        clock_now(clock),
        max,
    );
    let mut unit = store.begin().expect("begin");
    unit.sessions().add_session(&session).expect("add session");
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(session.id.as_uuid().as_bytes());
    let token = RefreshToken::issue(&RefreshTokenSecret::from_random_bytes(bytes), &session, clock_now(clock), max);
    unit.sessions().add_refresh_token(&token).expect("add token");
    unit.commit().expect("commit");
    session
}

fn clock_now(clock: &FixedClock) -> chrono::DateTime<chrono::Utc> {
    use portcullis_application::ports::Clock;
    clock.now()
}

fn handler(store: &InMemoryStore, clock: &FixedClock) -> Arc<dyn SessionsUseCase> {
    module_builder(store, clock).build().resolve()
}

#[test]
fn lists_only_the_users_live_sessions_and_marks_the_current_one() {
    let (store, clock) = (InMemoryStore::new(), FixedClock::default());
    let ada = UserId::generate();
    let first = start_session(&store, &clock, ada, Duration::days(30));
    clock.advance(Duration::seconds(5));
    let second = start_session(&store, &clock, ada, Duration::days(30));
    let short = start_session(&store, &clock, ada, Duration::seconds(10));
    start_session(&store, &clock, UserId::generate(), Duration::days(30));
    clock.advance(Duration::seconds(11));

    let listed = handler(&store, &clock).list(ada, second.id).expect("lists");
    let ids: Vec<_> = listed.iter().map(|view| view.session.id).collect();
    assert_eq!(ids, vec![first.id, second.id], "oldest first, expired {} left out", short.id);
    assert_eq!(listed.iter().map(|v| v.current).collect::<Vec<_>>(), vec![false, true]);
}

#[test]
fn revoking_needs_ownership_and_removes_the_family() {
    let (store, clock) = (InMemoryStore::new(), FixedClock::default());
    let (ada, bob) = (UserId::generate(), UserId::generate());
    let adas = start_session(&store, &clock, ada, Duration::days(30));
    let handler = handler(&store, &clock);

    assert!(matches!(handler.revoke(bob, adas.id), Err(RevokeSessionError::NotFound)));
    assert_eq!(store.sessions().len(), 1);
    handler.revoke(ada, adas.id).expect("revokes");
    assert!(store.sessions().is_empty());
    assert!(store.refresh_tokens().is_empty());
    assert!(matches!(handler.revoke(ada, adas.id), Err(RevokeSessionError::NotFound)));
}

#[test]
fn logout_all_ends_only_that_users_sessions() {
    let (store, clock) = (InMemoryStore::new(), FixedClock::default());
    let (ada, bob) = (UserId::generate(), UserId::generate());
    start_session(&store, &clock, ada, Duration::days(30));
    start_session(&store, &clock, ada, Duration::days(30));
    let bobs = start_session(&store, &clock, bob, Duration::days(30));

    assert_eq!(handler(&store, &clock).logout_all(ada).expect("ends"), 2);
    let left: Vec<_> = store.sessions().into_iter().map(|s| s.id).collect();
    assert_eq!(left, vec![bobs.id]);
    assert_eq!(store.refresh_tokens().len(), 1);
    assert_eq!(handler(&store, &clock).logout_all(ada).expect("nothing left"), 0);
}

#[test]
fn storage_failure_is_reported() {
    let (store, clock) = (InMemoryStore::new(), FixedClock::default());
    store.set_unavailable(true);
    assert!(handler(&store, &clock).logout_all(UserId::generate()).is_err());
}
