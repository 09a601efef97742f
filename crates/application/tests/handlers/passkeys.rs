//! `PasskeysHandler` and `PasskeySignInHandler` over the in-memory fakes, with
//! `FakeRelyingParty` standing in for the authenticator (its answers are plain JSON).

use std::sync::Arc;

use chrono::Duration;
use portcullis_application::in_memory::{FakeRelyingParty, FakeTokenService, FixedClock, InMemoryStore, UnitsBegun};
use portcullis_application::ports::{Clock, TokenService, UnitOfWorkFactory};
use portcullis_application::{
    ChangePasskeyError, IssuedTokens, PasskeySignInCommand, PasskeySignInError, PasskeySignInHandler,
    PasskeySignInUseCase, PasskeysHandler, PasskeysUseCase, RegisterPasskeyCommand, RegisterPasskeyError,
    StartRegistrationError, StartedCeremony,
};
use portcullis_domain::{
    AuthMethod, CredentialId, DEFAULT_PASSKEY_NAME, OpaqueSecret, Passkey, PasskeyId, PasskeyNameError,
    SessionMetadata, UserId,
};
use serde_json::{Value, json};
use shaku::{HasComponent, module};

use crate::support::{edit_user, store_user};

// The passkey handlers over the fakes they need.
module! {
    PasskeyModule {
        components = [
            InMemoryStore, FixedClock, FakeTokenService, FakeRelyingParty, PasskeysHandler, PasskeySignInHandler,
        ],
        providers = []
    }
}

/// One store, clock, token service and relying party behind both handlers.
struct World {
    store: InMemoryStore,
    clock: FixedClock,
    tokens: FakeTokenService,
    module: PasskeyModule,
}

impl World {
    fn new() -> Self {
        Self::with(FakeRelyingParty::new())
    }

    fn with(relying_party: FakeRelyingParty) -> Self {
        let store = InMemoryStore::new();
        let clock = FixedClock::default();
        let tokens = FakeTokenService::new(Arc::new(clock.clone()));
        let module = PasskeyModule::builder()
            .with_component_parameters::<InMemoryStore>(store.clone())
            .with_component_parameters::<FixedClock>(clock.clone())
            .with_component_parameters::<FakeRelyingParty>(relying_party)
            .with_component_override::<dyn TokenService>(Box::new(tokens.clone()))
            .build();
        Self { store, clock, tokens, module }
    }

    fn passkeys(&self) -> Arc<dyn PasskeysUseCase> {
        self.module.resolve()
    }

    fn sign_in_handler(&self) -> Arc<dyn PasskeySignInUseCase> {
        self.module.resolve()
    }

    /// A user with a password.
    fn user(&self, email: &str) -> UserId {
        store_user(&self.store, "Someone", email, &["user"], self.clock.now()).id
    }

    /// A user without a password or any linked identity, as a provider sign-up leaves one
    /// who then unlinked nothing yet: here made straight in the store.
    fn passwordless_user(&self, email: &str) -> UserId {
        let id = self.user(email);
        edit_user(&self.store, id, |user| user.password = None);
        id
    }

    fn start(&self, user_id: UserId) -> StartedCeremony {
        self.passkeys().start_registration(user_id).expect("the registration starts")
    }

    fn finish(
        &self,
        user_id: UserId,
        started: &StartedCeremony,
        credential: Value,
        name: Option<&str>,
    ) -> Result<Passkey, RegisterPasskeyError> {
        self.passkeys().finish_registration(RegisterPasskeyCommand {
            user_id,
            challenge_id: started.challenge_id.clone(),
            name: name.map(str::to_owned),
            credential,
        })
    }

    /// Registers credential `id` for `user_id`, start to finish.
    fn register(&self, user_id: UserId, id: &str, name: Option<&str>) -> Passkey {
        let started = self.start(user_id);
        self.finish(user_id, &started, registration_answer(&started, id), name).expect("registers")
    }

    fn start_sign_in(&self) -> StartedCeremony {
        self.sign_in_handler().start().expect("the sign-in starts")
    }

    fn finish_sign_in(&self, started: &StartedCeremony, credential: Value) -> Result<IssuedTokens, PasskeySignInError> {
        self.sign_in_handler().finish(PasskeySignInCommand {
            challenge_id: started.challenge_id.clone(),
            credential,
            metadata: SessionMetadata::default(),
        })
    }

    /// Signs in with credential `id`, naming `user_id`, presenting `counter`.
    fn sign_in(&self, user_id: UserId, id: &str, counter: u32) -> Result<IssuedTokens, PasskeySignInError> {
        let started = self.start_sign_in();
        self.finish_sign_in(&started, sign_in_answer(&started, user_id, id, counter))
    }

    /// The committed passkey with credential `id`.
    fn stored(&self, id: &str) -> Option<Passkey> {
        let mut unit = self.store.begin_read().expect("begins");
        let passkey = unit.passkeys().by_credential_id(&CredentialId::from_stored(id)).expect("reads");
        unit.commit().expect("commits");
        passkey
    }

    fn list(&self, user_id: UserId) -> Vec<Passkey> {
        self.passkeys().list(user_id).expect("lists")
    }
}

/// A user-verified registration answer to `started` for credential `id`.
fn registration_answer(started: &StartedCeremony, id: &str) -> Value {
    json!({ "challenge": started.options["challenge"], "id": id, "user_verified": true })
}

/// A user-verified sign-in answer to `started` by credential `id` naming `user_id`.
fn sign_in_answer(started: &StartedCeremony, user_id: UserId, id: &str, counter: u32) -> Value {
    json!({
        "challenge": started.options["challenge"],
        "user": user_id.to_string(),
        "id": id,
        "user_verified": true,
        "counter": counter,
    })
}

/// The counter in a stored record of the fake relying party.
fn record_counter(passkey: &Passkey) -> u64 {
    let record: Value = serde_json::from_str(passkey.record.as_str()).expect("the fake's record is JSON");
    record["counter"].as_u64().expect("a counter")
}

fn refused(result: Result<Passkey, RegisterPasskeyError>) -> bool {
    matches!(result, Err(RegisterPasskeyError::Refused))
}

fn invalid(result: Result<IssuedTokens, PasskeySignInError>) -> bool {
    matches!(result, Err(PasskeySignInError::InvalidCredentials))
}

#[test]
fn registering_stores_a_named_passkey_and_lists_it() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    assert!(world.passkeys().enabled());

    let started = world.start(ada);
    assert_eq!(started.options["user"]["id"], ada.to_string());
    assert_eq!(started.options["user"]["name"], "ada@example.com");
    assert_eq!(started.options["excludeCredentials"], json!([]));
    let laptop = world.finish(ada, &started, registration_answer(&started, "key-1"), Some("  Laptop  ")).expect("ok");
    assert_eq!(laptop.name.as_str(), "Laptop", "the name is trimmed");
    assert_eq!((laptop.user_id, laptop.credential_id.as_str()), (ada, "key-1"));
    assert_eq!((laptop.sign_count, laptop.created_at, laptop.last_used_at), (0, world.clock.now(), None));
    assert_eq!(world.stored("key-1"), Some(laptop.clone()));

    world.clock.advance(Duration::seconds(1));
    let started = world.start(ada);
    assert_eq!(started.options["excludeCredentials"], json!(["key-1"]), "her passkeys are excluded");
    let unnamed = world.finish(ada, &started, registration_answer(&started, "key-2"), None).expect("ok");
    assert_eq!(unnamed.name.as_str(), DEFAULT_PASSKEY_NAME);
    world.clock.advance(Duration::seconds(1));
    let blank = world.register(ada, "key-3", Some("   "));
    assert_eq!(blank.name.as_str(), DEFAULT_PASSKEY_NAME, "a blank name is no name");

    assert_eq!(world.list(ada), vec![laptop, unnamed, blank], "oldest first");
    assert!(world.list(bob).is_empty(), "only her own");
    assert!(matches!(world.passkeys().start_registration(UserId::generate()), Err(StartRegistrationError::UserGone)));
}

#[test]
fn a_ceremony_is_finished_once_and_within_five_minutes() {
    let world = World::new();
    let ada = world.user("ada@example.com");

    let started = world.start(ada);
    world.finish(ada, &started, registration_answer(&started, "key-1"), None).expect("registers");
    assert!(refused(world.finish(ada, &started, registration_answer(&started, "key-2"), None)), "spent");

    let started = world.start(ada);
    world.clock.advance(Duration::seconds(299));
    world.finish(ada, &started, registration_answer(&started, "key-2"), None).expect("still alive at 4:59");

    let started = world.start(ada);
    world.clock.advance(Duration::seconds(300));
    assert!(refused(world.finish(ada, &started, registration_answer(&started, "key-3"), None)), "expired at 5:00");
    assert!(world.stored("key-3").is_none());

    let never_started = StartedCeremony { challenge_id: world.tokens.generate_secret(), options: json!({}) };
    let answer = json!({ "challenge": "fake-challenge-1", "id": "key-4", "user_verified": true });
    assert!(refused(world.finish(ada, &never_started, answer, None)), "an unknown challenge_id");
    assert_eq!(world.list(ada).len(), 2);
}

#[test]
fn another_user_cannot_finish_someones_registration() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let started = world.start(ada);

    assert!(refused(world.finish(bob, &started, registration_answer(&started, "key-1"), None)));
    assert!(world.list(bob).is_empty() && world.stored("key-1").is_none());
    assert!(
        refused(world.finish(ada, &started, registration_answer(&started, "key-1"), None)),
        "the attempt spent the ceremony"
    );
}

#[test]
fn a_refused_check_still_spends_the_ceremony() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let unverified = |started: &StartedCeremony| json!({ "challenge": started.options["challenge"], "id": "key-1", "user_verified": false });
    let other_challenge =
        |_: &StartedCeremony| json!({ "challenge": "not-this-one", "id": "key-1", "user_verified": true });
    let malformed = |started: &StartedCeremony| json!({ "challenge": started.options["challenge"] });
    for bad in [&unverified as &dyn Fn(&StartedCeremony) -> Value, &other_challenge, &malformed] {
        let started = world.start(ada);
        assert!(refused(world.finish(ada, &started, bad(&started), None)));
        assert!(refused(world.finish(ada, &started, registration_answer(&started, "key-1"), None)), "spent");
    }

    let first = world.start(ada);
    let second = world.start(ada);
    assert!(
        refused(world.finish(ada, &first, registration_answer(&second, "key-1"), None)),
        "an answer to another ceremony"
    );
    assert!(world.list(ada).is_empty());
    world.finish(ada, &second, registration_answer(&second, "key-1"), None).expect("the other one is untouched");
}

#[test]
fn a_credential_registered_already_is_refused_whoever_holds_it() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let hers = world.register(ada, "key-1", Some("Laptop"));

    let started = world.start(bob);
    assert!(refused(world.finish(bob, &started, registration_answer(&started, "key-1"), None)), "Ada's");
    let started = world.start(ada);
    assert!(refused(world.finish(ada, &started, registration_answer(&started, "key-1"), None)), "her own again");
    assert!(world.list(bob).is_empty());
    assert_eq!(world.list(ada), vec![hers.clone()]);
    assert_eq!(world.stored("key-1"), Some(hers));
}

#[test]
fn an_invalid_name_is_refused_before_the_ceremony_is_spent() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let started = world.start(ada);
    let answer = registration_answer(&started, "key-1");

    let control = world.finish(ada, &started, answer.clone(), Some("Lap\u{7}top"));
    assert!(matches!(control, Err(RegisterPasskeyError::InvalidName(PasskeyNameError::ControlCharacter))));
    let long = "k".repeat(65);
    let too_long = world.finish(ada, &started, answer.clone(), Some(&long));
    assert!(matches!(too_long, Err(RegisterPasskeyError::InvalidName(PasskeyNameError::TooLong))));
    assert!(world.list(ada).is_empty());

    let passkey = world.finish(ada, &started, answer, Some("Laptop")).expect("the ceremony was not spent");
    assert_eq!(passkey.name.as_str(), "Laptop");
}

#[test]
fn the_last_way_in_cannot_be_removed() {
    let world = World::new();
    let ada = world.passwordless_user("ada@example.com");
    let first = world.register(ada, "key-1", None);

    let last = world.passkeys().delete(ada, first.id);
    assert!(matches!(last, Err(ChangePasskeyError::LastSignInMethod)), "{last:?}");
    assert_eq!(world.list(ada), vec![first.clone()]);

    world.clock.advance(Duration::seconds(1));
    let second = world.register(ada, "key-2", None);
    world.passkeys().delete(ada, first.id).expect("one of two passkeys may go");
    assert_eq!(world.list(ada), vec![second.clone()]);
    assert!(world.stored("key-1").is_none());
    assert!(matches!(world.passkeys().delete(ada, second.id), Err(ChangePasskeyError::LastSignInMethod)));
    assert!(matches!(world.passkeys().delete(ada, first.id), Err(ChangePasskeyError::NotFound)), "gone already");

    let bob = world.user("bob@example.com");
    let his = world.register(bob, "key-3", None);
    world.passkeys().delete(bob, his.id).expect("his password is still a way in");
    assert!(world.list(bob).is_empty());
}

#[test]
fn another_users_passkey_is_not_found() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    let hers = world.register(ada, "key-1", Some("Laptop"));
    world.register(bob, "key-2", None);

    assert!(matches!(world.passkeys().rename(bob, hers.id, "Mine now"), Err(ChangePasskeyError::NotFound)));
    assert!(matches!(world.passkeys().delete(bob, hers.id), Err(ChangePasskeyError::NotFound)));
    let unknown = PasskeyId::generate();
    assert!(matches!(world.passkeys().rename(ada, unknown, "Phone"), Err(ChangePasskeyError::NotFound)));
    assert!(matches!(world.passkeys().delete(ada, unknown), Err(ChangePasskeyError::NotFound)));
    assert!(matches!(world.passkeys().delete(UserId::generate(), hers.id), Err(ChangePasskeyError::NotFound)));
    assert_eq!(world.list(ada), vec![hers.clone()], "untouched");

    let renamed = world.passkeys().rename(ada, hers.id, "  Work laptop ").expect("her own");
    assert_eq!(renamed.name.as_str(), "Work laptop");
    assert_eq!(world.list(ada), vec![renamed]);
    assert!(matches!(
        world.passkeys().rename(ada, hers.id, "  "),
        Err(ChangePasskeyError::InvalidName(PasskeyNameError::Empty))
    ));
}

#[test]
fn a_passkey_signs_in_as_two_factors_and_records_its_use() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    world.register(ada, "key-1", None);
    world.clock.advance(Duration::seconds(10));

    let started = world.start_sign_in();
    assert!(started.options["challenge"].is_string());
    let tokens = world.finish_sign_in(&started, sign_in_answer(&started, ada, "key-1", 0)).expect("signs in");
    assert_eq!(tokens.user.user_id, ada);
    let claims = world.tokens.verify_access_token(tokens.access_token.token.expose()).expect("verifies");
    assert_eq!(claims.methods.claims(), vec!["hwk", "mfa"]);
    assert_eq!(claims.session_id, tokens.session_id);
    let session = world.store.sessions().into_iter().find(|s| s.id == tokens.session_id).expect("a session");
    assert_eq!(session.user_id, ada);
    assert!(session.methods.contains(AuthMethod::HardwareKey) && !session.methods.contains(AuthMethod::Password));
    let used = world.stored("key-1").expect("stored");
    assert_eq!((used.sign_count, used.last_used_at), (0, Some(world.clock.now())), "no counter kept: 0 and 0");

    world.clock.advance(Duration::seconds(10));
    world.sign_in(ada, "key-1", 7).expect("the counter went up");
    let used = world.stored("key-1").expect("stored");
    assert_eq!((used.sign_count, record_counter(&used)), (7, 7), "the counter and the record move together");
    assert_eq!(used.last_used_at, Some(world.clock.now()));
    assert_eq!(world.store.sessions().len(), 2);
}

#[test]
fn an_unknown_or_misattributed_credential_is_refused() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    let bob = world.user("bob@example.com");
    world.register(ada, "key-1", None);

    assert!(invalid(world.sign_in(ada, "key-unknown", 1)), "an unknown credential");
    assert!(invalid(world.sign_in(bob, "key-1", 1)), "Ada's passkey naming Bob");
    assert!(invalid(world.sign_in(UserId::generate(), "key-1", 1)), "naming nobody");
    let started = world.start_sign_in();
    assert!(invalid(world.finish_sign_in(&started, json!({ "id": "key-1" }))), "naming no user");
    assert!(world.store.sessions().is_empty());
    assert_eq!(world.stored("key-1").map(|passkey| passkey.sign_count), Some(0));
}

#[test]
fn a_counter_that_does_not_go_up_is_refused_and_the_stored_one_kept() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    world.register(ada, "key-1", None);
    world.sign_in(ada, "key-1", 5).expect("signs in");
    let before = world.stored("key-1").expect("stored");
    world.clock.advance(Duration::seconds(10));

    for counter in [5, 4, 0] {
        assert!(invalid(world.sign_in(ada, "key-1", counter)), "{counter} after 5: a cloned authenticator?");
    }
    assert_eq!(world.stored("key-1"), Some(before), "counter, record and last use unchanged");
    assert_eq!(world.store.sessions().len(), 1);
    world.sign_in(ada, "key-1", 6).expect("the real authenticator still signs in");
}

#[test]
fn a_sign_in_ceremony_is_finished_once_within_five_minutes_and_only_as_a_sign_in() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    world.register(ada, "key-1", None);

    let started = world.start_sign_in();
    world.finish_sign_in(&started, sign_in_answer(&started, ada, "key-1", 1)).expect("signs in");
    assert!(invalid(world.finish_sign_in(&started, sign_in_answer(&started, ada, "key-1", 2))), "replayed");

    let started = world.start_sign_in();
    world.clock.advance(Duration::seconds(300));
    assert!(invalid(world.finish_sign_in(&started, sign_in_answer(&started, ada, "key-1", 2))), "expired");

    let registration = world.start(ada);
    let as_sign_in = sign_in_answer(&registration, ada, "key-1", 2);
    assert!(invalid(world.finish_sign_in(&registration, as_sign_in)), "a registration ceremony");

    let first = world.start_sign_in();
    let second = world.start_sign_in();
    assert!(invalid(world.finish_sign_in(&first, sign_in_answer(&second, ada, "key-1", 2))), "another's challenge");
    let unverified = json!({ "challenge": second.options["challenge"], "user": ada.to_string(), "id": "key-1",
                             "user_verified": false, "counter": 2 });
    assert!(invalid(world.finish_sign_in(&second, unverified)), "no user verification");

    assert_eq!(world.store.sessions().len(), 1);
    assert_eq!(world.stored("key-1").map(|passkey| passkey.sign_count), Some(1));
}

#[test]
fn a_disabled_account_does_not_sign_in() {
    let world = World::new();
    let ada = world.user("ada@example.com");
    world.register(ada, "key-1", None);
    edit_user(&world.store, ada, |user| user.disabled = true);

    let refused = world.sign_in(ada, "key-1", 1);
    assert!(matches!(refused, Err(PasskeySignInError::AccountDisabled)), "{refused:?}");
    assert!(world.store.sessions().is_empty());
}

#[test]
fn with_the_relying_party_off_every_operation_is_disabled() {
    let world = World::with(FakeRelyingParty::disabled());
    let ada = world.user("ada@example.com");
    let passkeys = world.passkeys();
    let sign_in = world.sign_in_handler();
    let someone_elses = StartedCeremony { challenge_id: OpaqueSecret::from_random_bytes([7; 32]), options: json!({}) };
    let before = world.store.units_begun();

    assert!(!passkeys.enabled());
    assert!(matches!(passkeys.start_registration(ada), Err(StartRegistrationError::Disabled)));
    let finish = world.finish(ada, &someone_elses, registration_answer(&someone_elses, "key-1"), Some("\u{7}"));
    assert!(matches!(finish, Err(RegisterPasskeyError::Disabled)), "{finish:?}");
    assert!(matches!(passkeys.rename(ada, PasskeyId::generate(), "Laptop"), Err(ChangePasskeyError::Disabled)));
    assert!(matches!(passkeys.delete(ada, PasskeyId::generate()), Err(ChangePasskeyError::Disabled)));
    assert!(matches!(sign_in.start(), Err(PasskeySignInError::Disabled)));
    let finish = world.finish_sign_in(&someone_elses, sign_in_answer(&someone_elses, ada, "key-1", 1));
    assert!(matches!(finish, Err(PasskeySignInError::Disabled)), "{finish:?}");
    assert_eq!(world.store.units_begun(), before, "nothing touched the store");

    // Listing has no `Disabled` answer: it shows what is stored (nothing, here).
    assert!(world.list(ada).is_empty());
    assert_eq!(world.store.units_begun(), UnitsBegun { reads: before.reads + 1, ..before });
}
