//! `IntrospectHandler`: API keys and access tokens, checked against storage.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_application::commands::api_keys::{ApiKeysUseCase, CreateApiKeyCommand, CreatedApiKey};
use portcullis_application::commands::introspect::{
    ActiveToken, IntrospectError, IntrospectUseCase, Introspection, TokenKind,
};
use portcullis_application::in_memory::{FakeTokenService, FixedClock, InMemoryStore};
use portcullis_application::ports::{
    AccessClaims, AccessToken, Clock, TokenIssueError, TokenService, TokenVerifyError, UnitOfWorkFactory,
};
use portcullis_domain::{RefreshTokenSecret, Roles, Session, SessionAuth, SessionMetadata, User, UserId, UserInfo};
use shaku::HasComponent;

use crate::support::{TestModule, module_builder};

/// A token service that knows none of the signing keys its tokens name.
struct UnknownKeys(FakeTokenService);

impl TokenService for UnknownKeys {
    fn issue_access_token(
        &self,
        user: &UserInfo,
        session: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenIssueError> {
        self.0.issue_access_token(user, session, now)
    }

    fn verify_access_token(&self, _token: &str) -> Result<AccessClaims, TokenVerifyError> {
        Err(TokenVerifyError::UnknownKey)
    }

    fn generate_secret(&self) -> RefreshTokenSecret {
        self.0.generate_secret()
    }
}

struct World {
    store: InMemoryStore,
    clock: FixedClock,
    /// The module's token service.
    tokens: FakeTokenService,
    module: TestModule,
}

impl World {
    fn new() -> Self {
        let (store, clock) = (InMemoryStore::new(), FixedClock::default());
        let tokens = FakeTokenService::new(Arc::new(clock.clone()));
        let module = module_builder(&store, &clock)
            .with_component_override::<dyn TokenService>(Box::new(tokens.clone()))
            .build();
        Self { store, clock, tokens, module }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn handler(&self) -> Arc<dyn IntrospectUseCase> {
        self.module.resolve()
    }

    fn api_keys_handler(&self) -> Arc<dyn ApiKeysUseCase> {
        self.module.resolve()
    }

    fn introspect(&self, token: &str) -> Introspection {
        self.handler().introspect(token).expect("introspects")
    }

    fn add_user(&self, email: &str, roles: &[&str]) -> User {
        crate::support::store_user(&self.store, "Someone", email, roles, self.now())
    }

    fn edit_user(&self, id: UserId, change: impl FnOnce(&mut User)) {
        crate::support::edit_user(&self.store, id, change);
    }

    /// Starts a session of `user` lasting `max` and issues an access token for it.
    fn sign_in(&self, user: &User, max: Duration) -> (Session, AccessToken) {
        let session = Session::start(
            user.id,
            portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
            SessionMetadata::default(),
            self.now(),
            max,
        );
        let mut unit = self.store.begin().expect("begins");
        unit.sessions().add_session(&session).expect("adds");
        unit.commit().expect("commits");
        let token = self.tokens.issue_access_token(&user.info(), &session.auth(), self.now()).expect("issues");
        (session, token)
    }

    fn create_key(&self, user: &User, scopes: &[&str], expires_at: Option<DateTime<Utc>>) -> CreatedApiKey {
        let handler = self.api_keys_handler();
        let command = CreateApiKeyCommand {
            user_id: user.id,
            name: "service".to_owned(),
            scopes: Some(scopes.iter().map(|scope| (*scope).to_owned()).collect()),
            expires_at,
        };
        handler.create(command).expect("creates")
    }
}

fn active(introspection: Introspection) -> ActiveToken {
    match introspection {
        Introspection::Active(token) => token,
        Introspection::Inactive => panic!("expected an active token"),
    }
}

#[test]
fn a_live_access_token_is_active_with_profile_scopes() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let (_, token) = world.sign_in(&ada, Duration::days(30));

    let answer = active(world.introspect(token.token.expose()));
    assert_eq!(
        answer,
        ActiveToken {
            token_type: TokenKind::AccessToken,
            sub: ada.id,
            username: "ada@example.com".to_owned(),
            scope: vec!["profile:read".to_owned(), "profile:write".to_owned()],
            exp: Some(token.expires_at),
            roles: vec!["user".to_owned()],
        }
    );
}

#[test]
fn admin_scope_needs_the_role_in_the_token_and_in_storage() {
    let world = World::new();
    let root = world.add_user("root@example.com", &["admin", "user"]);
    let (_, token) = world.sign_in(&root, Duration::days(30));

    let answer = active(world.introspect(token.token.expose()));
    assert_eq!(answer.scope, vec!["profile:read", "profile:write", "admin"]);
    assert_eq!(answer.roles, vec!["admin", "user"]);

    let now = world.now();
    world.edit_user(root.id, |user| user.set_roles(Roles::default_for_new_user(), now));
    let answer = active(world.introspect(token.token.expose()));
    assert_eq!(answer.scope, vec!["profile:read", "profile:write"], "demoted since the token was issued");
    assert_eq!(answer.roles, vec!["user"]);

    let pat = world.add_user("pat@example.com", &["user"]);
    let (_, pats) = world.sign_in(&pat, Duration::days(30));
    world.edit_user(pat.id, |user| user.set_roles(Roles::parse(["admin"]).expect("valid"), now));
    assert!(!active(world.introspect(pats.token.expose())).scope.contains(&"admin".to_owned()));
}

#[test]
fn an_access_token_of_an_ended_or_expired_session_is_inactive() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let (session, token) = world.sign_in(&ada, Duration::days(30));
    let (_, short) = world.sign_in(&ada, Duration::minutes(10));

    let mut unit = world.store.begin().expect("begins");
    assert!(unit.sessions().delete_session(session.id).expect("deletes"));
    unit.commit().expect("commits");
    assert_eq!(world.introspect(token.token.expose()), Introspection::Inactive);

    assert!(matches!(world.introspect(short.token.expose()), Introspection::Active(_)));
    world.clock.advance(Duration::minutes(10));
    assert!(world.tokens.verify_access_token(short.token.expose()).is_ok(), "the token itself still verifies");
    assert_eq!(world.introspect(short.token.expose()), Introspection::Inactive);
}

#[test]
fn an_access_token_of_a_disabled_or_deleted_user_is_inactive() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let (_, token) = world.sign_in(&ada, Duration::days(30));
    let now = world.now();

    world.edit_user(ada.id, |user| user.set_disabled(true, now));
    assert_eq!(world.introspect(token.token.expose()), Introspection::Inactive);
    world.edit_user(ada.id, |user| user.set_disabled(false, now));
    assert!(matches!(world.introspect(token.token.expose()), Introspection::Active(_)));

    let mut unit = world.store.begin().expect("begins");
    assert!(unit.users().delete(ada.id).expect("deletes"));
    unit.commit().expect("commits");
    assert_eq!(world.introspect(token.token.expose()), Introspection::Inactive);
}

#[test]
fn an_expired_access_token_and_garbage_are_inactive() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let (_, token) = world.sign_in(&ada, Duration::days(30));
    world.clock.advance(world.tokens.access_ttl());
    assert_eq!(world.introspect(token.token.expose()), Introspection::Inactive);

    for garbage in ["", "garbage", "fake.", "fake.a|b|c", "Bearer abc", "eyJhbGciOi.e30.sig", "PC_notakey"] {
        assert_eq!(world.introspect(garbage), Introspection::Inactive, "{garbage:?}");
    }
}

#[test]
fn an_unknown_signing_key_asks_for_a_reload() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let key = world.create_key(&ada, &["introspect"], None);
    let tokens = UnknownKeys(FakeTokenService::new(Arc::new(world.clock.clone())));
    let handler: Arc<dyn IntrospectUseCase> = module_builder(&world.store, &world.clock)
        .with_component_override::<dyn TokenService>(Box::new(tokens))
        .build()
        .resolve();

    assert!(matches!(handler.introspect("header.payload.signature"), Err(IntrospectError::UnknownKey)));
    assert!(matches!(handler.introspect(key.secret.expose()), Ok(Introspection::Active(_))), "keys need no JWT keys");
}

#[test]
fn a_live_api_key_is_active_and_its_use_is_not_recorded() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user", "billing"]);
    let end = world.now() + Duration::days(1);
    let forever = world.create_key(&ada, &["introspect", "billing.read"], None);
    let ending = world.create_key(&ada, &[], Some(end));

    let answer = active(world.introspect(forever.secret.expose()));
    assert_eq!(
        answer,
        ActiveToken {
            token_type: TokenKind::ApiKey,
            sub: ada.id,
            username: "ada@example.com".to_owned(),
            scope: vec!["billing.read".to_owned(), "introspect".to_owned()],
            exp: None,
            roles: vec!["billing".to_owned(), "user".to_owned()],
        }
    );
    let answer = active(world.introspect(ending.secret.expose()));
    assert_eq!((answer.scope, answer.exp), (vec!["profile:read".to_owned()], Some(end)));
    assert!(world.store.api_keys().iter().all(|key| key.last_used_at.is_none()), "introspection is not use");
}

#[test]
fn an_expired_revoked_or_wrong_api_key_is_inactive() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let expiring = world.create_key(&ada, &["introspect"], Some(world.now() + Duration::hours(1)));
    let revoked = world.create_key(&ada, &["introspect"], None);
    let kept = world.create_key(&ada, &["introspect"], None);

    world.api_keys_handler().delete(ada.id, revoked.key.id).expect("deletes");
    assert_eq!(world.introspect(revoked.secret.expose()), Introspection::Inactive);

    assert!(matches!(world.introspect(expiring.secret.expose()), Introspection::Active(_)));
    world.clock.advance(Duration::hours(1));
    assert_eq!(world.introspect(expiring.secret.expose()), Introspection::Inactive);

    let text = kept.secret.expose();
    let wrong = format!("{}{}", &text[..text.len() - 2], if text.ends_with("AA") { "BB" } else { "AA" });
    for bad in ["pc_", "pc_short", wrong.as_str(), &format!("pc_{}", "z".repeat(43))] {
        assert_eq!(world.introspect(bad), Introspection::Inactive, "{bad:?}");
    }
    assert!(matches!(world.introspect(text), Introspection::Active(_)));
}

#[test]
fn an_api_key_of_a_disabled_owner_is_inactive() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let key = world.create_key(&ada, &["introspect"], None);
    let now = world.now();

    world.edit_user(ada.id, |user| user.set_disabled(true, now));
    assert_eq!(world.introspect(key.secret.expose()), Introspection::Inactive);
}

#[test]
fn storage_failures_are_errors_not_inactive_answers() {
    let world = World::new();
    let ada = world.add_user("ada@example.com", &["user"]);
    let key = world.create_key(&ada, &["introspect"], None);
    let (_, token) = world.sign_in(&ada, Duration::days(30));
    world.store.set_unavailable(true);
    let handler = world.handler();

    assert!(matches!(handler.introspect(key.secret.expose()), Err(IntrospectError::Port(_))));
    assert!(matches!(handler.introspect(token.token.expose()), Err(IntrospectError::Port(_))));
    assert_eq!(handler.introspect("garbage").expect("no storage needed"), Introspection::Inactive);
}
