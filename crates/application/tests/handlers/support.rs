//! A test bench: the in-memory fakes and every handler in one shaku module, [`TestModule`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_application::account_mail::{TemplatedAccountMail, TemplatedAccountMailParameters};
use portcullis_application::commands::login::LoginHandlerParameters;
use portcullis_application::commands::refresh::RefreshHandlerParameters;
use portcullis_application::defaults::{
    InlinePasswordHasher, InlinePasswordHasherParameters, OpenSignup, StrengthPasswordPolicy,
};
use portcullis_application::in_memory::{
    FakeTokenService, FakeUpstream, FakeUpstreams, FixedClock, InMemoryLockoutStore, InMemoryMailer, InMemoryStore,
    UnitsBegun,
};
use portcullis_application::ports::{Clock, OutgoingMail, PasswordHasher, TokenService, UnitOfWorkFactory};
use portcullis_application::{
    AdminHandler, ApiKeysHandler, ChangePasswordHandler, ChangePasswordUseCase, DeleteAccountHandler,
    DeleteAccountUseCase, ForgotPasswordHandler, ForgotPasswordUseCase, IdentitiesHandler, IdentitiesUseCase,
    IntrospectHandler, IssuedTokens, LoginCommand, LoginHandler, LoginUseCase, LogoutHandler, LogoutUseCase,
    MfaVerifyHandler, MfaVerifyUseCase, ProviderSignInHandler, ProviderSignInUseCase, RefreshCommand, RefreshError,
    RefreshHandler, RefreshUseCase, ResendVerificationHandler, ResendVerificationUseCase, ResetPasswordHandler,
    ResetPasswordUseCase, SecondFactorHandler, SecondFactorUseCase, SessionPolicy, SessionsHandler, SignupCommand,
    SignupHandler, SignupUseCase, UpdateProfileHandler, UpdateProfileUseCase, VerifyAccessTokenHandler,
    VerifyAccessTokenUseCase, VerifyEmailHandler, VerifyEmailUseCase,
};
use portcullis_domain::{
    BcryptCost, LinkingPolicy, LockoutPolicy, RefreshTokenSecret, SecretString, SessionMetadata, User, UserId, UserInfo,
};
use shaku::{HasComponent, ModuleBuilder, module};

// Every handler over the in-memory fakes, with the real hasher, password policy and mail
// templates.
module! {
    pub TestModule {
        components = [
            InMemoryStore, FixedClock, FakeTokenService, InMemoryLockoutStore,
            InlinePasswordHasher, StrengthPasswordPolicy, OpenSignup, TemplatedAccountMail,
            SignupHandler, LoginHandler, RefreshHandler, LogoutHandler, VerifyAccessTokenHandler, UpdateProfileHandler,
            SessionsHandler, AdminHandler, ApiKeysHandler, IntrospectHandler, VerifyEmailHandler,
            ResendVerificationHandler, ChangePasswordHandler, ForgotPasswordHandler, ResetPasswordHandler,
            DeleteAccountHandler, FakeUpstreams, ProviderSignInHandler, IdentitiesHandler, SecondFactorHandler,
            MfaVerifyHandler,
        ],
        providers = []
    }
}

/// The password every bench user signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where the bench's mails link to.
pub const PUBLIC_URL: &str = "http://localhost:8080";

/// bcrypt's cheapest cost, for every hasher of the tests.
pub fn cheapest_cost() -> BcryptCost {
    BcryptCost::new(4).expect("cost 4 is valid")
}

/// The test module's builder over `store` and `clock` (the module's components share their
/// state with them); every other component at its default, hashing at the cheapest cost and
/// mail linking to [`PUBLIC_URL`]. A test overrides or sets parameters before `build()`.
pub fn module_builder(store: &InMemoryStore, clock: &FixedClock) -> ModuleBuilder<TestModule> {
    TestModule::builder()
        .with_component_parameters::<InMemoryStore>(store.clone())
        .with_component_parameters::<FixedClock>(clock.clone())
        .with_component_parameters::<InlinePasswordHasher>(InlinePasswordHasherParameters { cost: cheapest_cost() })
        .with_component_parameters::<TemplatedAccountMail>(TemplatedAccountMailParameters {
            public_url: PUBLIC_URL.to_owned(),
        })
}

/// One store, one clock, one token service, one hasher, shared by all handlers of a test.
pub struct Bench {
    pub store: InMemoryStore,
    pub clock: FixedClock,
    pub tokens: FakeTokenService,
    pub hasher: InlinePasswordHasher,
    pub policy: SessionPolicy,
    /// Failed-login records, for handlers made with [`Bench::login_handler_with_lockout`].
    pub lockouts: InMemoryLockoutStore,
    /// Every mail the handlers' committed units put in their outbox and the store delivered
    /// (a [`TemplatedAccountMail`] linking to [`PUBLIC_URL`]).
    pub mailer: InMemoryMailer,
    /// Provider `corp` (linking `explicit`) of [`Bench::provider_sign_in_handler`].
    pub corp: FakeUpstream,
    /// Provider `trusty` (linking `verified_email`).
    pub trusty: FakeUpstream,
    /// The module the handlers are resolved from, built from the fields above.
    module: TestModule,
}

impl Bench {
    pub fn new() -> Self {
        Self::with_policy(SessionPolicy::default())
    }

    pub fn with_policy(policy: SessionPolicy) -> Self {
        let mailer = InMemoryMailer::new();
        let store = InMemoryStore::delivering_to(Arc::new(mailer.clone()));
        let clock = FixedClock::default();
        let tokens = FakeTokenService::new(Arc::new(clock.clone()));
        let hasher = InlinePasswordHasher::with_cost(cheapest_cost()).expect("hasher");
        let lockouts = InMemoryLockoutStore::new();
        let corp = FakeUpstream::new("corp", LinkingPolicy::Explicit);
        let trusty = FakeUpstream::new("trusty", LinkingPolicy::VerifiedEmail);
        let upstreams = FakeUpstreams::new(vec![corp.clone(), trusty.clone()]);
        let module = Self::builder_of(&store, &clock, &tokens, &hasher, policy, &lockouts)
            .with_component_parameters::<FakeUpstreams>(upstreams)
            .build();
        Self { store, clock, tokens, hasher, policy, lockouts, mailer, corp, trusty, module }
    }

    fn builder_of(
        store: &InMemoryStore,
        clock: &FixedClock,
        tokens: &FakeTokenService,
        hasher: &InlinePasswordHasher,
        policy: SessionPolicy,
        lockouts: &InMemoryLockoutStore,
    ) -> ModuleBuilder<TestModule> {
        module_builder(store, clock)
            .with_component_override::<dyn TokenService>(Box::new(tokens.clone()))
            .with_component_override::<dyn PasswordHasher>(Box::new(hasher.clone()))
            .with_component_parameters::<InMemoryLockoutStore>(lockouts.clone())
            .with_component_parameters::<LoginHandler>(LoginHandlerParameters {
                policy,
                lockout: LockoutPolicy::disabled(),
            })
            .with_component_parameters::<RefreshHandler>(RefreshHandlerParameters { policy })
    }

    /// A builder of another module over this bench's fakes (lockout off, the bench's
    /// session policy), for a test that overrides a component or sets a parameter.
    pub fn module_builder(&self) -> ModuleBuilder<TestModule> {
        Self::builder_of(&self.store, &self.clock, &self.tokens, &self.hasher, self.policy, &self.lockouts)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The units of work `run` began on the bench's store, writing and read-only.
    pub fn units_begun_by(&self, run: impl FnOnce()) -> UnitsBegun {
        let before = self.store.units_begun();
        run();
        let after = self.store.units_begun();
        UnitsBegun { writes: after.writes - before.writes, reads: after.reads - before.reads }
    }

    pub fn signup_handler(&self) -> Arc<dyn SignupUseCase> {
        self.module.resolve()
    }

    pub fn verify_email_handler(&self) -> Arc<dyn VerifyEmailUseCase> {
        self.module.resolve()
    }

    pub fn resend_verification_handler(&self) -> Arc<dyn ResendVerificationUseCase> {
        self.module.resolve()
    }

    pub fn change_password_handler(&self) -> Arc<dyn ChangePasswordUseCase> {
        self.module.resolve()
    }

    pub fn forgot_password_handler(&self) -> Arc<dyn ForgotPasswordUseCase> {
        self.module.resolve()
    }

    pub fn reset_password_handler(&self) -> Arc<dyn ResetPasswordUseCase> {
        self.module.resolve()
    }

    pub fn delete_account_handler(&self) -> Arc<dyn DeleteAccountUseCase> {
        self.module.resolve()
    }

    pub fn provider_sign_in_handler(&self) -> Arc<dyn ProviderSignInUseCase> {
        self.module.resolve()
    }

    pub fn identities_handler(&self) -> Arc<dyn IdentitiesUseCase> {
        self.module.resolve()
    }

    pub fn second_factor_handler(&self) -> Arc<dyn SecondFactorUseCase> {
        self.module.resolve()
    }

    pub fn mfa_verify_handler(&self) -> Arc<dyn MfaVerifyUseCase> {
        self.module.resolve()
    }

    /// The last mail sent to `address`.
    pub fn last_mail_to(&self, address: &str) -> OutgoingMail {
        self.mailer.sent_to(address).pop().unwrap_or_else(|| panic!("a mail was sent to {address}"))
    }

    /// The token in the link of the last mail sent to `address`.
    pub fn token_mailed_to(&self, address: &str) -> SecretString {
        SecretString::new(token_in(&self.last_mail_to(address).text))
    }

    /// A login handler with lockout off.
    pub fn login_handler(&self) -> Arc<dyn LoginUseCase> {
        self.module.resolve()
    }

    /// A login handler locking accounts under `lockout`, with its records in [`Bench::lockouts`].
    pub fn login_handler_with_lockout(&self, lockout: LockoutPolicy) -> Arc<dyn LoginUseCase> {
        self.module_builder()
            .with_component_parameters::<LoginHandler>(LoginHandlerParameters { policy: self.policy, lockout })
            .build()
            .resolve()
    }

    pub fn refresh_handler(&self) -> Arc<dyn RefreshUseCase> {
        self.module.resolve()
    }

    pub fn logout_handler(&self) -> Arc<dyn LogoutUseCase> {
        self.module.resolve()
    }

    pub fn verify_access_token_handler(&self) -> Arc<dyn VerifyAccessTokenUseCase> {
        self.module.resolve()
    }

    pub fn update_profile_handler(&self) -> Arc<dyn UpdateProfileUseCase> {
        self.module.resolve()
    }

    /// Signs up `email` with [`PASSWORD`].
    pub fn signup(&self, name: &str, email: &str) -> UserInfo {
        self.signup_handler().handle(signup_command(name, email, PASSWORD, None)).expect("signup succeeds")
    }

    /// Logs `email` in with [`PASSWORD`].
    pub fn login(&self, email: &str) -> IssuedTokens {
        self.login_handler().handle(login_command(email, PASSWORD)).expect("login succeeds")
    }

    /// Signs up and logs in a fresh user.
    /// The sign-in of `session_id` as an access token issued now would carry it (a password login).
    pub fn auth(&self, session_id: portcullis_domain::SessionId) -> portcullis_domain::SessionAuth {
        portcullis_domain::SessionAuth {
            session_id,
            auth_time: self.now(),
            methods: portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        }
    }

    pub fn signed_in(&self) -> IssuedTokens {
        self.signup("Ada Lovelace", "ada@example.com");
        self.login("ada@example.com")
    }

    pub fn refresh(&self, token: &RefreshTokenSecret) -> Result<IssuedTokens, RefreshError> {
        self.refresh_handler().handle(RefreshCommand { refresh_token: token.clone() })
    }

    /// Changes a stored user through a committed unit of work, as another request would.
    pub fn edit_user(&self, id: UserId, change: impl FnOnce(&mut User)) {
        let mut unit = self.store.begin().expect("begins");
        let mut user = unit.users().find_by_id(id).expect("reads").expect("user exists");
        change(&mut user);
        unit.users().update(&user).expect("updates");
        unit.commit().expect("commits");
    }
}

/// The token of the first `?token=` link in `text`.
pub fn token_in(text: &str) -> String {
    let (_, rest) = text.split_once("?token=").expect("the mail has a link with a token");
    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

pub fn signup_command(name: &str, email: &str, password: &str, avatar_url: Option<&str>) -> SignupCommand {
    SignupCommand {
        name: name.to_owned(),
        email: email.to_owned(),
        password: SecretString::new(password),
        avatar_url: avatar_url.map(str::to_owned),
    }
}

pub fn login_command(email: &str, password: &str) -> LoginCommand {
    LoginCommand {
        email: email.to_owned(),
        password: SecretString::new(password),
        metadata: SessionMetadata::default(),
    }
}

/// `(field, code)` of every validation error, in order.
pub fn field_codes(errors: &portcullis_application::ValidationErrors) -> Vec<(&str, &str)> {
    errors.errors().iter().map(|error| (error.field.as_str(), error.code.as_str())).collect()
}

/// A stored bcrypt hash for users made directly in a store (nobody logs in with it).
pub const SOME_HASH: &str = "$2b$04$abcdefghijklmnopqrstuuJ9b7uWcKZ0n1sXvP4gkT0yYbq7m3J6W";

/// Stores a user named `name` with `email` and `roles` straight into `store`, made at `now`.
pub fn store_user(
    store: &InMemoryStore,
    name: &str,
    email: &str,
    roles: &[&str],
    now: chrono::DateTime<chrono::Utc>,
) -> portcullis_domain::User {
    let user = portcullis_domain::User::create(
        portcullis_domain::NewUser {
            name: portcullis_domain::UserName::parse(name).expect("valid name"),
            email: portcullis_domain::Email::parse(email).expect("valid email"),
            password: Some(portcullis_domain::PasswordHash::from_stored(SOME_HASH).expect("known scheme")),
            avatar_url: None,
            roles: portcullis_domain::Roles::parse(roles.iter().copied()).expect("valid roles"),
        },
        now,
    );
    let mut unit = store.begin().expect("begins");
    unit.users().add(&user).expect("adds");
    unit.commit().expect("commits");
    user
}

/// Changes a stored user with `change` and saves it.
pub fn edit_user(store: &InMemoryStore, id: UserId, change: impl FnOnce(&mut portcullis_domain::User)) {
    let mut unit = store.begin().expect("begins");
    let mut user = unit.users().find_by_id(id).expect("reads").expect("exists");
    change(&mut user);
    unit.users().update(&user).expect("updates");
    unit.commit().expect("commits");
}
