//! The in-memory unit of work itself: rollback, the storage rules the handlers rely on,
//! and the other fakes' promises.

use std::sync::Arc;

use chrono::Duration;
use portcullis_application::in_memory::{FakeTokenService, FixedClock, InMemoryStore};
use portcullis_application::ports::{
    AddUserError, Clock, PasswordHasher, PortError, TokenService, TokenVerifyError, UnitOfWorkFactory,
};
use portcullis_domain::{
    Email, NewUser, PlainPassword, RefreshToken, RefreshTokenSecret, Roles, Session, SessionId, SessionMetadata, User,
    UserName,
};

use crate::support::Bench;

fn user(email: &str, bench: &Bench) -> User {
    let password = PlainPassword::parse("a fine password").expect("valid");
    let hash = bench.hasher.hash(&password).expect("hashes");
    let new = NewUser {
        name: UserName::parse("Ada").expect("valid"),
        email: Email::parse(email).expect("valid"),
        password: Some(hash),
        avatar_url: None,
        roles: Roles::default_for_new_user(),
    };
    User::create(new, bench.now())
}

fn session_with_token(bench: &Bench) -> (Session, RefreshTokenSecret, RefreshToken) {
    let session = Session::start(
        user("x@example.com", bench).id,
        portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        SessionMetadata::default(),
        bench.now(),
        Duration::days(1),
    );
    let secret = bench.tokens.generate_secret();
    let token = RefreshToken::issue(&secret, &session, bench.now(), Duration::hours(1));
    (session, secret, token)
}

#[test]
fn a_unit_dropped_without_commit_discards_its_writes() {
    let bench = Bench::new();
    let ada = user("ada@example.com", &bench);
    {
        let mut unit = bench.store.begin().expect("begins");
        unit.users().add(&ada).expect("adds");
        let seen = unit.users().find_by_email(&ada.email).expect("reads");
        assert_eq!(seen.map(|user| user.id), Some(ada.id), "a unit sees its own writes");
        assert!(bench.store.users().is_empty(), "others do not see uncommitted writes");
    }
    assert!(bench.store.users().is_empty(), "dropping the unit rolled back");

    let mut unit = bench.store.begin().expect("begins");
    unit.users().add(&ada).expect("adds");
    unit.commit().expect("commits");
    assert_eq!(bench.store.users().iter().map(|user| user.id).collect::<Vec<_>>(), vec![ada.id]);
}

#[test]
fn a_failed_commit_writes_nothing() {
    let bench = Bench::new();
    bench.store.set_failing_commits(true);
    let mut unit = bench.store.begin().expect("begins");
    unit.users().add(&user("ada@example.com", &bench)).expect("adds");
    assert!(matches!(unit.commit(), Err(PortError::Internal(_))));
    assert!(bench.store.users().is_empty());
}

#[test]
fn begin_fails_while_unavailable() {
    let store = InMemoryStore::new();
    store.set_unavailable(true);
    assert!(matches!(store.begin().map(|_| ()), Err(PortError::Unavailable(_))));
    store.set_unavailable(false);
    assert!(store.begin().is_ok());
}

#[test]
fn emails_are_unique_within_a_unit_and_across_commits() {
    let bench = Bench::new();
    let mut unit = bench.store.begin().expect("begins");
    unit.users().add(&user("ada@example.com", &bench)).expect("adds");
    assert!(matches!(unit.users().add(&user("ADA@example.com", &bench)), Err(AddUserError::EmailTaken)));
    unit.commit().expect("commits");

    let mut unit = bench.store.begin().expect("begins");
    assert!(matches!(unit.users().add(&user("ada@example.com", &bench)), Err(AddUserError::EmailTaken)));
    unit.users().add(&user("bob@example.com", &bench)).expect("another email is fine");
    unit.commit().expect("commits");
    assert_eq!(bench.store.users().len(), 2);
}

#[test]
fn deleting_a_session_deletes_its_refresh_tokens_only() {
    let bench = Bench::new();
    let (ending, _, ending_token) = session_with_token(&bench);
    let (staying, _, staying_token) = session_with_token(&bench);
    let mut unit = bench.store.begin().expect("begins");
    for (session, token) in [(&ending, &ending_token), (&staying, &staying_token)] {
        unit.sessions().add_session(session).expect("adds session");
        unit.sessions().add_refresh_token(token).expect("adds token");
    }
    unit.commit().expect("commits");

    let mut unit = bench.store.begin().expect("begins");
    assert!(unit.sessions().delete_session(ending.id).expect("deletes"));
    assert!(!unit.sessions().delete_session(ending.id).expect("deletes"), "already gone");
    assert_eq!(unit.sessions().find_refresh_token(&ending_token.hash).expect("reads"), None);
    unit.commit().expect("commits");

    assert_eq!(bench.store.sessions(), vec![staying]);
    assert_eq!(bench.store.refresh_tokens(), vec![staying_token]);
}

#[test]
fn a_refresh_token_needs_its_session() {
    let bench = Bench::new();
    let (_, _, orphan) = session_with_token(&bench);
    let mut unit = bench.store.begin().expect("begins");
    assert!(matches!(unit.sessions().add_refresh_token(&orphan), Err(PortError::Internal(_))));
}

#[test]
fn marking_a_token_used_is_compare_and_set() {
    let bench = Bench::new();
    let (session, secret, token) = session_with_token(&bench);
    let first_use = bench.now();
    let mut unit = bench.store.begin().expect("begins");
    unit.sessions().add_session(&session).expect("adds session");
    unit.sessions().add_refresh_token(&token).expect("adds token");
    assert!(unit.sessions().mark_refresh_token_used(&secret.hash(), first_use).expect("marks"));
    assert!(!unit.sessions().mark_refresh_token_used(&secret.hash(), first_use + Duration::seconds(5)).expect("marks"));
    let unknown = RefreshTokenSecret::presented("unknown").hash();
    assert!(!unit.sessions().mark_refresh_token_used(&unknown, first_use).expect("marks"));
    unit.commit().expect("commits");
    assert_eq!(bench.store.refresh_tokens()[0].used_at, Some(first_use), "the second mark changed nothing");
}

#[test]
fn a_writing_unit_that_began_before_another_commit_is_refused() {
    let bench = Bench::new();
    let mut late = bench.store.begin().expect("begins");
    let mut early = bench.store.begin().expect("begins");
    early.users().add(&user("ada@example.com", &bench)).expect("adds");
    early.commit().expect("commits");
    late.users().add(&user("bob@example.com", &bench)).expect("adds in its own copy");
    assert!(matches!(late.commit(), Err(PortError::Unavailable(_))), "no lost update");
    assert_eq!(bench.store.users().len(), 1);
}

#[test]
fn fixed_clock_clones_move_together() {
    let clock = FixedClock::default();
    let other = clock.clone();
    let start = clock.now();
    other.advance(Duration::seconds(42));
    assert_eq!(clock.now(), start + Duration::seconds(42));
    clock.set(start);
    assert_eq!(other.now(), start);
}

#[test]
fn fake_tokens_expire_by_the_held_clock_and_honour_the_ttl() {
    let clock = FixedClock::default();
    let tokens = FakeTokenService::new(Arc::new(clock.clone())).with_access_ttl(Duration::seconds(60));
    let bench = Bench::new();
    let info = user("ada@example.com", &bench).info();
    let issued = tokens.issue_access_token(&info, &bench.auth(SessionId::generate()), clock.now()).expect("issues");
    assert_eq!(issued.expires_in, 60);
    assert!(issued.token.expose().starts_with("fake."));
    assert_eq!(tokens.verify_access_token(issued.token.expose()).map(|claims| claims.user), Ok(info));
    clock.advance(Duration::seconds(60));
    assert_eq!(tokens.verify_access_token(issued.token.expose()), Err(TokenVerifyError::Expired));
}

#[test]
fn fake_refresh_tokens_are_distinct_and_long() {
    let bench = Bench::new();
    let first = bench.tokens.generate_secret();
    let second = bench.tokens.generate_secret();
    assert_ne!(first, second);
    assert_eq!(first.expose().len(), 43);
}

#[test]
fn debug_output_shows_no_secrets() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let printed = format!("{:?} {:?} {:?} {:?}", bench.store, bench.tokens, bench.clock, bench.hasher);
    assert!(!printed.contains(login.refresh_token.expose()));
    assert!(!printed.contains(login.access_token.token.expose()));
    assert!(!printed.contains(bench.store.users()[0].password.as_ref().expect("has a password").as_stored()));
    assert!(!printed.contains("$2b$"));
}

#[test]
fn the_fake_links_an_identity_once_and_one_per_provider_and_user() {
    use portcullis_domain::{ExternalIdentity, ProviderId, ProviderIdentity};
    let bench = Bench::new();
    let (ada, grace) = (
        crate::support::store_user(&bench.store, "Ada", "ada@example.com", &["user"], bench.now()),
        crate::support::store_user(&bench.store, "Grace", "grace@example.com", &["user"], bench.now()),
    );
    let vouched = |subject: &str| ProviderIdentity {
        provider: ProviderId::parse("google").expect("an id"),
        subject: subject.into(),
        email: None,
        email_verified: false,
        name: None,
        picture: None,
    };
    let mut unit = bench.store.begin().expect("begins");
    let mut identities = unit.identities();
    assert!(identities.link(&ExternalIdentity::link(ada.id, &vouched("1"), bench.now())).expect("links"));
    assert!(!identities.link(&ExternalIdentity::link(grace.id, &vouched("1"), bench.now())).expect("answers"));
    assert!(!identities.link(&ExternalIdentity::link(ada.id, &vouched("2"), bench.now())).expect("answers"));
    assert_eq!(identities.identities_of_user(ada.id).expect("lists").len(), 1);
    assert!(identities.unlink(ada.id, &ProviderId::parse("google").expect("an id")).expect("unlinks"));
    assert!(identities.find(&ProviderId::parse("google").expect("an id"), "1").expect("finds").is_none());
}
