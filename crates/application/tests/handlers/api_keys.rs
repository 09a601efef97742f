//! `ApiKeysHandler`: create, list, delete and authenticate API keys — over the in-memory store.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use portcullis_application::commands::api_keys::{
    ApiKeyAuthError, ApiKeysUseCase, CreateApiKeyCommand, CreateApiKeyError, CreatedApiKey, DeleteApiKeyError,
    ListApiKeysError,
};
use portcullis_application::in_memory::{FakeTokenService, FixedClock, InMemoryStore};
use portcullis_application::ports::{
    AccessClaims, AccessToken, Clock, PortError, TokenIssueError, TokenService, TokenVerifyError, UnitOfWorkFactory,
};
use portcullis_domain::{ApiKeyId, RefreshTokenSecret, Roles, SessionAuth, User, UserId, UserInfo};
use shaku::HasComponent;

use crate::support::{TestModule, module_builder};

/// A token service whose secrets come from a script first (to force prefix collisions),
/// then from the fake's randomness.
struct ScriptedSecrets {
    inner: FakeTokenService,
    script: Mutex<VecDeque<[u8; 32]>>,
}

impl TokenService for ScriptedSecrets {
    fn issue_access_token(
        &self,
        user: &UserInfo,
        session: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenIssueError> {
        self.inner.issue_access_token(user, session, now)
    }

    fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenVerifyError> {
        self.inner.verify_access_token(token)
    }

    fn generate_secret(&self) -> RefreshTokenSecret {
        let scripted = self.script.lock().expect("not poisoned").pop_front();
        scripted.map_or_else(|| self.inner.generate_secret(), RefreshTokenSecret::from_random_bytes)
    }
}

struct World {
    store: InMemoryStore,
    clock: FixedClock,
    /// Its token service is the module's [`FakeTokenService`], reading `clock`.
    module: TestModule,
}

impl World {
    fn new() -> Self {
        let (store, clock) = (InMemoryStore::new(), FixedClock::default());
        let module = module_builder(&store, &clock).build();
        Self { store, clock, module }
    }

    /// A world whose first secrets are `script`.
    fn scripted(script: &[[u8; 32]]) -> Self {
        let (store, clock) = (InMemoryStore::new(), FixedClock::default());
        let inner = FakeTokenService::new(Arc::new(clock.clone()));
        let tokens = ScriptedSecrets { inner, script: Mutex::new(script.iter().copied().collect()) };
        let module =
            module_builder(&store, &clock).with_component_override::<dyn TokenService>(Box::new(tokens)).build();
        Self { store, clock, module }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn handler(&self) -> Arc<dyn ApiKeysUseCase> {
        self.module.resolve()
    }

    fn add_user(&self, email: &str, roles: &[&str]) -> User {
        crate::support::store_user(&self.store, "Someone", email, roles, self.now())
    }

    fn edit_user(&self, id: UserId, change: impl FnOnce(&mut User)) {
        crate::support::edit_user(&self.store, id, change);
    }

    fn last_used_at(&self, id: ApiKeyId) -> Option<DateTime<Utc>> {
        self.store.api_keys().into_iter().find(|key| key.id == id).expect("key is stored").last_used_at
    }

    fn create(&self, user_id: UserId, scopes: Option<&[&str]>, expires_at: Option<DateTime<Utc>>) -> CreatedApiKey {
        self.handler().create(command(user_id, "ci", scopes, expires_at)).expect("creates")
    }
}

fn command(
    user_id: UserId,
    name: &str,
    scopes: Option<&[&str]>,
    expires_at: Option<DateTime<Utc>>,
) -> CreateApiKeyCommand {
    CreateApiKeyCommand {
        user_id,
        name: name.to_owned(),
        scopes: scopes.map(|scopes| scopes.iter().map(|scope| (*scope).to_owned()).collect()),
        expires_at,
    }
}

fn validation_codes(error: CreateApiKeyError) -> Vec<(String, String)> {
    match error {
        CreateApiKeyError::Validation(errors) => {
            errors.errors().iter().map(|e| (e.field.clone(), e.code.clone())).collect()
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn pair(field: &str, code: &str) -> (String, String) {
    (field.to_owned(), code.to_owned())
}

#[test]
fn a_key_is_shown_once_and_stored_only_as_a_hash() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.handler().create(command(ada.id, "  deploy bot ", None, None)).expect("creates");

    let text = created.secret.expose();
    assert!(text.starts_with("pc_") && text.len() > 40);
    assert!(text.starts_with(&created.key.prefix));
    assert_eq!(created.key.name.as_str(), "deploy bot");
    assert_eq!(created.key.scopes.names(), vec!["profile:read"], "the default scope");
    assert_eq!((created.key.user_id, created.key.created_at), (ada.id, world.now()));
    assert_eq!((created.key.expires_at, created.key.last_used_at), (None, None));

    let stored = world.store.api_keys();
    assert_eq!(stored, vec![created.key.clone()]);
    let everything = format!("{stored:?} {:?}", world.handler().list(ada.id).expect("lists"));
    assert!(!everything.contains(text), "the whole key is not stored or listed");
    assert!(!format!("{created:?}").contains(text), "nor printed");
    assert_ne!(stored[0].hash.as_str(), text);
}

#[test]
fn scopes_are_validated_sorted_and_default_to_profile_read() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);

    let key = world.create(ada.id, Some(&["introspect", "billing.read", "introspect"]), None).key;
    assert_eq!(key.scopes.names(), vec!["billing.read", "introspect"]);
    assert_eq!(world.create(ada.id, Some(&[]), None).key.scopes.names(), vec!["profile:read"]);

    let handler = world.handler();
    let bad = handler.create(command(ada.id, "k", Some(&["profile:read", "Not Valid"]), None)).expect_err("bad");
    assert_eq!(validation_codes(bad), vec![pair("scopes", "invalid")]);
    let many: Vec<String> = (0..21).map(|n| format!("scope{n}")).collect();
    let too_many = CreateApiKeyCommand { scopes: Some(many), ..command(ada.id, "k", None, None) };
    assert_eq!(validation_codes(handler.create(too_many).expect_err("21")), vec![pair("scopes", "too_many")]);
    assert_eq!(world.store.api_keys().len(), 2);
}

#[test]
fn name_and_expiry_are_validated_together() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let handler = world.handler();

    let bad = handler.create(command(ada.id, "   ", Some(&["!"]), Some(world.now()))).expect_err("bad");
    let fields: Vec<String> = validation_codes(bad).into_iter().map(|(field, _)| field).collect();
    assert_eq!(fields, vec!["name", "scopes", "expires_at"]);
    for past in [world.now(), world.now() - Duration::days(1), world.now() + Duration::milliseconds(500)] {
        let error = handler.create(command(ada.id, "k", None, Some(past))).expect_err("not in the future");
        assert_eq!(validation_codes(error), vec![pair("expires_at", "in_the_past")]);
    }
    let end = world.now() + Duration::days(30);
    assert_eq!(world.create(ada.id, None, Some(end)).key.expires_at, Some(end));
}

#[test]
fn a_key_for_a_missing_user_is_not_found() {
    let world = World::new();
    let result = world.handler().create(command(UserId::generate(), "k", None, None));
    assert!(matches!(result, Err(CreateApiKeyError::NotFound)));
    assert!(world.store.api_keys().is_empty());
}

#[test]
fn a_prefix_collision_is_retried_once_with_a_fresh_secret() {
    let (first, second) = ([1_u8; 32], [2_u8; 32]);
    let world = World::scripted(&[first, first, second, first, first]);
    let ada = world.add_user("ada@example.com", &["user"]);

    let one = world.create(ada.id, None, None);
    let two = world.create(ada.id, None, None);
    assert_ne!(one.key.prefix, two.key.prefix);
    assert_eq!(
        two.secret,
        portcullis_domain::ApiKeySecret::from_secret(&RefreshTokenSecret::from_random_bytes(second))
    );
    let three = world.handler().create(command(ada.id, "k", None, None));
    assert!(matches!(three, Err(CreateApiKeyError::Port(PortError::Internal(_)))), "{three:?}");
    assert_eq!(world.store.api_keys().len(), 2);
}

#[test]
fn keys_are_listed_and_deleted_by_their_owner_only() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let bob = world.add_user("bob@example.com", &["user"]);
    let first = world.create(ada.id, None, None).key;
    world.clock.advance(Duration::seconds(1));
    let second = world.create(ada.id, None, None).key;
    let bobs = world.create(bob.id, None, None).key;
    let handler = world.handler();

    assert_eq!(handler.list(ada.id).expect("lists"), vec![first.clone(), second.clone()]);
    assert!(matches!(handler.delete(bob.id, first.id), Err(DeleteApiKeyError::NotFound)));
    assert!(matches!(handler.delete(ada.id, bobs.id), Err(DeleteApiKeyError::NotFound)));
    assert_eq!(world.store.api_keys().len(), 3);

    handler.delete(ada.id, first.id).expect("deletes");
    assert_eq!(handler.list(ada.id).expect("lists"), vec![second]);
    assert!(matches!(handler.delete(ada.id, first.id), Err(DeleteApiKeyError::NotFound)));
    assert_eq!(handler.list(bob.id).expect("lists"), vec![bobs]);
}

#[test]
fn a_valid_key_authenticates_as_its_owner() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let root = world.add_user("root@example.com", &["admin", "user"]);
    let adas = world.create(ada.id, Some(&["profile:write", "profile:read"]), None);
    let roots = world.create(root.id, Some(&["admin"]), None);
    let handler = world.handler();

    let principal = handler.authenticate(adas.secret.expose()).expect("authenticates");
    assert_eq!(principal.user, ada.info());
    assert_eq!(principal.key_id, adas.key.id);
    assert_eq!(principal.scopes.names(), vec!["profile:read", "profile:write"]);
    assert!(!principal.owner_is_admin);
    assert!(handler.authenticate(roots.secret.expose()).expect("authenticates").owner_is_admin);

    let now = world.now();
    world.edit_user(root.id, |user| user.set_roles(Roles::default_for_new_user(), now));
    assert!(!handler.authenticate(roots.secret.expose()).expect("authenticates").owner_is_admin);
}

#[test]
fn anything_but_a_good_key_is_invalid() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.create(ada.id, None, None);
    let text = created.secret.expose();
    let handler = world.handler();

    let last = text.chars().last().expect("not empty");
    let tampered = format!("{}{}", &text[..text.len() - 1], if last == 'A' { 'B' } else { 'A' });
    let unknown = format!("pc_{}", "x".repeat(43));
    let extended = format!("{text}x");
    let odd = ["", "nope", "pc_", "pc_short", "pc_ééééééééé", &text[3..]];
    for bad in odd.into_iter().chain([unknown.as_str(), tampered.as_str(), extended.as_str()]) {
        assert!(matches!(handler.authenticate(bad), Err(ApiKeyAuthError::Invalid)), "{bad:?}");
    }
    assert!(handler.authenticate(text).is_ok());
}

#[test]
fn an_expired_key_is_invalid() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.create(ada.id, None, Some(world.now() + Duration::hours(1)));
    let handler = world.handler();

    world.clock.advance(Duration::minutes(59));
    assert!(handler.authenticate(created.secret.expose()).is_ok());
    world.clock.advance(Duration::minutes(1));
    assert!(matches!(handler.authenticate(created.secret.expose()), Err(ApiKeyAuthError::Invalid)));
}

#[test]
fn a_key_of_a_disabled_or_deleted_owner_is_invalid() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.create(ada.id, None, None);
    let handler = world.handler();
    let now = world.now();

    world.edit_user(ada.id, |user| user.set_disabled(true, now));
    assert!(matches!(handler.authenticate(created.secret.expose()), Err(ApiKeyAuthError::Invalid)));
    world.edit_user(ada.id, |user| user.set_disabled(false, now));
    assert!(handler.authenticate(created.secret.expose()).is_ok());

    let mut unit = world.store.begin().expect("begins");
    assert!(unit.users().delete(ada.id).expect("deletes"));
    unit.commit().expect("commits");
    assert!(matches!(handler.authenticate(created.secret.expose()), Err(ApiKeyAuthError::Invalid)));
}

#[test]
fn last_used_at_is_written_at_most_once_a_minute() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.create(ada.id, None, None);
    let (id, text) = (created.key.id, created.secret.expose());
    let handler = world.handler();
    let start = world.now();

    handler.authenticate(text).expect("first use");
    assert_eq!(world.last_used_at(id), Some(start));
    world.clock.advance(Duration::seconds(30));
    handler.authenticate(text).expect("second use");
    assert_eq!(world.last_used_at(id), Some(start), "not written again within a minute");
    world.clock.advance(Duration::seconds(29));
    handler.authenticate(text).expect("third use");
    assert_eq!(world.last_used_at(id), Some(start));
    world.clock.advance(Duration::seconds(2));
    handler.authenticate(text).expect("fourth use");
    assert_eq!(world.last_used_at(id), Some(start + Duration::seconds(61)));
}

#[test]
fn storage_failures_are_errors_not_invalid_keys() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let created = world.create(ada.id, None, None);
    world.store.set_unavailable(true);
    let handler = world.handler();

    assert!(matches!(handler.authenticate(created.secret.expose()), Err(ApiKeyAuthError::Port(_))));
    assert!(matches!(handler.list(ada.id), Err(ListApiKeysError::Port(_))));
    assert!(matches!(handler.delete(ada.id, created.key.id), Err(DeleteApiKeyError::Port(_))));
    assert!(matches!(handler.create(command(ada.id, "k", None, None)), Err(CreateApiKeyError::Port(_))));
    assert!(matches!(handler.authenticate("nope"), Err(ApiKeyAuthError::Invalid)), "no storage needed");
}
