use portcullis_application::{LogoutCommand, RefreshError};
use portcullis_domain::{RefreshTokenSecret, SessionId};

use crate::support::Bench;

#[test]
fn logout_by_refresh_token_ends_that_session_only() {
    let bench = Bench::new();
    let ending = bench.signed_in();
    let staying = bench.login("ada@example.com");

    let ended = bench
        .logout_handler()
        .handle(LogoutCommand { refresh_token: Some(ending.refresh_token.clone()), session_id: None })
        .expect("logout succeeds");

    assert!(ended);
    let sessions = bench.store.sessions();
    assert_eq!(sessions.iter().map(|session| session.id).collect::<Vec<_>>(), vec![staying.session_id]);
    assert!(bench.store.refresh_tokens().iter().all(|token| token.session_id == staying.session_id));
    assert!(matches!(bench.refresh(&ending.refresh_token), Err(RefreshError::InvalidToken)));
    bench.refresh(&staying.refresh_token).expect("the other session still refreshes");
}

#[test]
fn logout_by_session_id_ends_the_session() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let ended = bench
        .logout_handler()
        .handle(LogoutCommand { refresh_token: None, session_id: Some(login.session_id) })
        .expect("logout succeeds");
    assert!(ended);
    assert!(bench.store.sessions().is_empty());
    assert!(bench.store.refresh_tokens().is_empty());
}

#[test]
fn the_refresh_token_wins_over_the_session_id() {
    let bench = Bench::new();
    let by_token = bench.signed_in();
    let by_id = bench.login("ada@example.com");
    let ended = bench
        .logout_handler()
        .handle(LogoutCommand { refresh_token: Some(by_token.refresh_token), session_id: Some(by_id.session_id) })
        .expect("logout succeeds");
    assert!(ended);
    let left: Vec<SessionId> = bench.store.sessions().iter().map(|session| session.id).collect();
    assert_eq!(left, vec![by_id.session_id]);
}

#[test]
fn logout_with_nothing_to_end_is_fine() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let handler = bench.logout_handler();
    assert!(!handler.handle(LogoutCommand::default()).expect("nothing to end is not an error"));
    let unknown = LogoutCommand { refresh_token: Some(RefreshTokenSecret::presented("unknown")), session_id: None };
    assert!(!handler.handle(unknown).expect("an unknown token is not an error"));
    let unknown_id = LogoutCommand { refresh_token: None, session_id: Some(SessionId::generate()) };
    assert!(!handler.handle(unknown_id).expect("an unknown session is not an error"));
    assert_eq!(bench.store.sessions().len(), 1);
    bench.refresh(&login.refresh_token).expect("the session is untouched");
}

#[test]
fn logging_out_twice_ends_the_session_once() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let handler = bench.logout_handler();
    let command = LogoutCommand { refresh_token: Some(login.refresh_token), session_id: Some(login.session_id) };
    assert!(handler.handle(command.clone()).expect("first logout"));
    assert!(!handler.handle(command).expect("second logout"));
    assert!(bench.store.sessions().is_empty());
}
