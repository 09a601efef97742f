use chrono::Duration;
use portcullis_application::ports::{PortError, TokenService};
use portcullis_application::{RefreshError, SessionPolicy};
use portcullis_domain::{RefreshTokenSecret, UserName};

use crate::support::Bench;

#[test]
fn refresh_rotates_the_token_and_signs_the_current_user_data() {
    let bench = Bench::new();
    let login = bench.signed_in();
    bench.edit_user(login.user.user_id, |user| user.name = UserName::parse("Ada King").expect("valid"));
    bench.clock.advance(Duration::seconds(60));

    let refreshed = bench.refresh(&login.refresh_token).expect("refresh succeeds");

    assert_eq!(refreshed.session_id, login.session_id);
    assert_ne!(refreshed.refresh_token, login.refresh_token);
    assert_eq!(refreshed.user.name, "Ada King");
    let claims = bench.tokens.verify_access_token(refreshed.access_token.token.expose()).expect("verifies");
    assert_eq!(claims.user.name, "Ada King");
    assert_eq!(claims.session_id, login.session_id);
    assert_eq!(claims.expires_at, bench.now() + Duration::seconds(900));

    let tokens = bench.store.refresh_tokens();
    assert_eq!(tokens.len(), 2);
    let old = tokens.iter().find(|token| token.hash == login.refresh_token.hash()).expect("old token kept");
    assert_eq!(old.used_at, Some(bench.now()));
    let new = tokens.iter().find(|token| token.hash == refreshed.refresh_token.hash()).expect("new token stored");
    assert_eq!(new.used_at, None);
    assert_eq!(new.session_id, login.session_id);
    assert_eq!(new.expires_at, bench.now() + bench.policy.refresh_ttl);
    assert_eq!(bench.store.sessions()[0].last_used_at, bench.now());

    bench.clock.advance(Duration::seconds(60));
    let again = bench.refresh(&refreshed.refresh_token).expect("the new token works");
    assert_eq!(again.session_id, login.session_id);
    assert_eq!(bench.store.refresh_tokens().len(), 3);
}

#[test]
fn reuse_within_the_grace_window_succeeds_and_keeps_the_session() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let first_used_at = bench.now();
    let first = bench.refresh(&login.refresh_token).expect("first refresh");
    bench.clock.advance(bench.policy.reuse_grace - Duration::seconds(1));

    let second = bench.refresh(&login.refresh_token).expect("a parallel tab's refresh within grace succeeds");

    assert_eq!(second.session_id, login.session_id);
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(bench.store.sessions().len(), 1);
    assert_eq!(bench.store.refresh_tokens().len(), 3);
    let old = bench.store.refresh_tokens().into_iter().find(|token| token.hash == login.refresh_token.hash());
    assert_eq!(old.and_then(|token| token.used_at), Some(first_used_at), "a reuse does not move the first use");
    bench.refresh(&first.refresh_token).expect("the token from the first refresh still works");
}

#[test]
fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let bench = Bench::new();
    let stolen = bench.signed_in();
    let bystander = bench.login("ada@example.com");
    let newest = bench.refresh(&stolen.refresh_token).expect("first refresh");
    bench.clock.advance(bench.policy.reuse_grace + Duration::seconds(1));

    let replay = bench.refresh(&stolen.refresh_token);
    assert!(matches!(replay, Err(RefreshError::SessionRevoked)), "{replay:?}");

    let sessions = bench.store.sessions();
    assert_eq!(sessions.iter().map(|session| session.id).collect::<Vec<_>>(), vec![bystander.session_id]);
    let tokens = bench.store.refresh_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].hash, bystander.refresh_token.hash());
    let newest_result = bench.refresh(&newest.refresh_token);
    assert!(matches!(newest_result, Err(RefreshError::InvalidToken)), "{newest_result:?}");
}

#[test]
fn an_unknown_token_is_invalid_and_changes_nothing() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let tokens_before = bench.store.refresh_tokens();
    for presented in [RefreshTokenSecret::presented("not-a-token"), RefreshTokenSecret::from_random_bytes([9; 32])] {
        let result = bench.refresh(&presented);
        assert!(matches!(result, Err(RefreshError::InvalidToken)), "{result:?}");
    }
    assert_eq!(bench.store.refresh_tokens(), tokens_before);
    assert_eq!(bench.store.sessions().len(), 1);
    bench.refresh(&login.refresh_token).expect("the real token still works");
}

#[test]
fn an_expired_refresh_token_is_invalid_but_the_session_stays() {
    let policy = SessionPolicy { refresh_ttl: Duration::hours(1), ..SessionPolicy::default() };
    let bench = Bench::with_policy(policy);
    let login = bench.signed_in();
    bench.clock.advance(Duration::hours(1));

    let result = bench.refresh(&login.refresh_token);
    assert!(matches!(result, Err(RefreshError::InvalidToken)), "{result:?}");
    assert_eq!(bench.store.sessions().len(), 1);
    assert_eq!(bench.store.refresh_tokens()[0].used_at, None);
}

#[test]
fn a_session_past_its_absolute_lifetime_is_removed() {
    let policy = SessionPolicy {
        refresh_ttl: Duration::hours(1),
        session_max: Duration::minutes(90),
        ..SessionPolicy::default()
    };
    let bench = Bench::with_policy(policy);
    let login = bench.signed_in();
    bench.clock.advance(Duration::minutes(50));
    let refreshed = bench.refresh(&login.refresh_token).expect("within the session's life");
    let newest = bench.store.refresh_tokens().into_iter().find(|token| token.hash == refreshed.refresh_token.hash());
    assert_eq!(newest.map(|token| token.expires_at), Some(bench.store.sessions()[0].expires_at));
    bench.clock.advance(Duration::minutes(40));

    let result = bench.refresh(&refreshed.refresh_token);
    assert!(matches!(result, Err(RefreshError::InvalidToken)), "{result:?}");
    assert!(bench.store.sessions().is_empty());
    assert!(bench.store.refresh_tokens().is_empty());
}

#[test]
fn a_disabled_user_cannot_refresh_and_loses_the_session() {
    let bench = Bench::new();
    let login = bench.signed_in();
    bench.edit_user(login.user.user_id, |user| user.disabled = true);

    let result = bench.refresh(&login.refresh_token);
    assert!(matches!(result, Err(RefreshError::AccountDisabled)), "{result:?}");
    assert!(bench.store.sessions().is_empty());
    assert!(bench.store.refresh_tokens().is_empty());
}

#[test]
fn a_refresh_whose_commit_fails_changes_nothing() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let tokens_before = bench.store.refresh_tokens();
    let sessions_before = bench.store.sessions();
    bench.clock.advance(Duration::seconds(30));
    bench.store.set_failing_commits(true);

    let result = bench.refresh(&login.refresh_token);
    assert!(matches!(result, Err(RefreshError::Port(PortError::Internal(_)))), "{result:?}");

    bench.store.set_failing_commits(false);
    assert_eq!(bench.store.refresh_tokens(), tokens_before, "the token was not marked used");
    assert_eq!(bench.store.sessions(), sessions_before, "the session was not touched");
    bench.refresh(&login.refresh_token).expect("the token is still fresh");
}

#[test]
fn refresh_reports_an_unavailable_store_as_a_port_error() {
    let bench = Bench::new();
    let login = bench.signed_in();
    bench.store.set_unavailable(true);
    let result = bench.refresh(&login.refresh_token);
    assert!(matches!(result, Err(RefreshError::Port(PortError::Unavailable(_)))), "{result:?}");
}

#[test]
fn a_refresh_records_the_sessions_use_at_most_once_a_minute() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let signed_in_at = bench.now();
    bench.clock.advance(Duration::seconds(30));
    let soon = bench.refresh(&login.refresh_token).expect("refresh succeeds");
    assert_eq!(bench.store.sessions()[0].last_used_at, signed_in_at, "30 s later: not recorded");

    bench.clock.advance(Duration::seconds(30));
    bench.refresh(&soon.refresh_token).expect("refresh succeeds");
    assert_eq!(bench.store.sessions()[0].last_used_at, bench.now(), "60 s after the recorded use: recorded");
}
