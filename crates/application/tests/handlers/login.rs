use chrono::Duration;
use portcullis_application::in_memory::UnitsBegun;
use portcullis_application::ports::{PortError, TokenService};
use portcullis_application::{LoginCommand, LoginError};
use portcullis_domain::{SecretString, SessionMetadata};

use crate::support::{Bench, PASSWORD, login_command};

#[test]
fn login_starts_one_session_with_one_hashed_refresh_token() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    let outcome = bench.login("ADA@example.com");

    assert_eq!(outcome.user, user);
    let sessions = bench.store.sessions();
    assert_eq!(sessions.len(), 1);
    let session = &sessions[0];
    assert_eq!(session.id, outcome.session_id);
    assert_eq!(session.user_id, user.user_id);
    assert_eq!(session.created_at, bench.now());
    assert_eq!(session.expires_at, bench.now() + bench.policy.session_max);

    let tokens = bench.store.refresh_tokens();
    assert_eq!(tokens.len(), 1);
    let token = &tokens[0];
    assert_eq!(token.session_id, session.id);
    assert_eq!(token.hash, outcome.refresh_token.hash());
    assert_eq!(token.used_at, None);
    assert_eq!(token.expires_at, bench.now() + bench.policy.refresh_ttl);
    let secret = outcome.refresh_token.expose();
    assert!(!secret.is_empty());
    assert!(!format!("{tokens:?}{sessions:?}").contains(secret), "the refresh token itself is never stored");
    assert!(!format!("{outcome:?}").contains(secret), "Debug of the outcome hides the refresh token");

    let access = &outcome.access_token;
    assert_eq!(access.expires_in, 900);
    assert_eq!(access.expires_at, bench.now() + Duration::seconds(900));
    let claims = bench.tokens.verify_access_token(access.token.expose()).expect("the access token verifies");
    assert_eq!(claims.user, user);
    assert_eq!(claims.session_id, session.id);
    assert_eq!(claims.expires_at, access.expires_at);
}

#[test]
fn wrong_password_and_unknown_email_are_the_same_failure_and_start_nothing() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    for command in [
        login_command("ada@example.com", "correct horse battery stapler"),
        login_command("bob@example.com", PASSWORD),
        login_command("not an email", PASSWORD),
        login_command("", PASSWORD),
        login_command("ada@example.com", "short"),
    ] {
        let email = command.email.clone();
        let result = bench.login_handler().handle(command);
        assert!(matches!(result, Err(LoginError::InvalidCredentials)), "{email}: {result:?}");
    }
    assert!(bench.store.sessions().is_empty());
    assert!(bench.store.refresh_tokens().is_empty());
}

#[test]
fn a_disabled_user_with_the_right_password_is_told_so_and_gets_no_session() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    bench.edit_user(user.user_id, |user| user.disabled = true);

    let result = bench.login_handler().handle(login_command("ada@example.com", PASSWORD));
    assert!(matches!(result, Err(LoginError::AccountDisabled)), "{result:?}");
    let result = bench.login_handler().handle(login_command("ada@example.com", "a wrong password"));
    assert!(matches!(result, Err(LoginError::InvalidCredentials)), "a wrong password does not reveal the state");
    assert!(bench.store.sessions().is_empty());
    assert!(bench.store.refresh_tokens().is_empty());
}

#[test]
fn login_keeps_the_session_metadata() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let command = LoginCommand {
        email: "ada@example.com".to_owned(),
        password: SecretString::new(PASSWORD),
        metadata: SessionMetadata { user_agent: Some("Firefox/140\r\n".to_owned()), ip: Some("192.0.2.7".to_owned()) },
    };
    bench.login_handler().handle(command).expect("login succeeds");
    let session = &bench.store.sessions()[0];
    assert_eq!(session.user_agent.as_deref(), Some("Firefox/140"));
    assert_eq!(session.ip.as_deref(), Some("192.0.2.7"));
}

#[test]
fn each_login_starts_its_own_session() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let first = bench.login("ada@example.com");
    let second = bench.login("ada@example.com");
    assert_ne!(first.session_id, second.session_id);
    assert_ne!(first.refresh_token, second.refresh_token);
    assert_eq!(bench.store.sessions().len(), 2);
    assert_eq!(bench.store.refresh_tokens().len(), 2);
}

#[test]
fn login_reports_an_unavailable_store_as_a_port_error() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    bench.store.set_unavailable(true);
    let result = bench.login_handler().handle(login_command("ada@example.com", PASSWORD));
    assert!(matches!(result, Err(LoginError::Port(PortError::Unavailable(_)))), "{result:?}");
}

#[test]
fn login_command_debug_hides_the_password() {
    let command = login_command("ada@example.com", PASSWORD);
    assert!(!format!("{command:?}").contains(PASSWORD));
}

#[test]
fn login_looks_the_user_up_in_a_read_only_unit_and_writes_only_the_session() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let units = bench.units_begun_by(|| {
        bench.login("ada@example.com");
    });
    assert_eq!(
        units,
        UnitsBegun { writes: 1, reads: 2 },
        "a read for the lookup, one for a second factor, a write for the session"
    );

    for (email, password) in [("ada@example.com", "a wrong password, sadly"), ("bob@example.com", PASSWORD)] {
        let units = bench.units_begun_by(|| {
            let result = bench.login_handler().handle(login_command(email, password));
            assert!(matches!(result, Err(LoginError::InvalidCredentials)), "{result:?}");
        });
        assert_eq!(units, UnitsBegun { writes: 0, reads: 1 }, "a failed login of {email} only reads");
    }
}
