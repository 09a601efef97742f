//! A test bench: the in-memory fakes wired into every handler.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_application::account_mail::{AccountMail, TemplatedAccountMail};
use portcullis_application::commands::delete_account::DeleteAccountHandler;
use portcullis_application::commands::email_verification::{ResendVerificationHandler, VerifyEmailHandler};
use portcullis_application::commands::passwords::{ChangePasswordHandler, ForgotPasswordHandler, ResetPasswordHandler};
use portcullis_application::defaults::{InlinePasswordHasher, StrengthPasswordPolicy};
use portcullis_application::in_memory::{
    FakeTokenService, FixedClock, InMemoryLockoutStore, InMemoryMailer, InMemoryStore,
};
use portcullis_application::ports::{
    Clock, OutgoingMail, PasswordHasher, PasswordPolicy, TokenService, UnitOfWorkFactory,
};
use portcullis_application::{
    GetCurrentUserHandler, IssuedTokens, LoginCommand, LoginHandler, LoginUseCase, LogoutHandler, RefreshCommand,
    RefreshError, RefreshHandler, RefreshUseCase, SessionPolicy, SignupCommand, SignupHandler, SignupUseCase,
    UpdateProfileHandler,
};
use portcullis_domain::{
    BcryptCost, LockoutPolicy, RefreshTokenSecret, SecretString, SessionMetadata, User, UserId, UserInfo,
};

/// The password every bench user signs up with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where the bench's mails link to.
pub const PUBLIC_URL: &str = "http://localhost:8080";

/// One store, one clock, one token service, one hasher, shared by all handlers of a test.
pub struct Bench {
    pub store: InMemoryStore,
    pub clock: FixedClock,
    pub tokens: Arc<FakeTokenService>,
    pub hasher: Arc<InlinePasswordHasher>,
    /// The real password policy at the default score; a test may swap it.
    pub password_policy: Arc<dyn PasswordPolicy>,
    pub policy: SessionPolicy,
    /// Failed-login records, for handlers made with [`Bench::login_handler_with_lockout`].
    pub lockouts: InMemoryLockoutStore,
    /// Every mail the handlers sent, through a [`TemplatedAccountMail`] linking to [`PUBLIC_URL`].
    pub mailer: InMemoryMailer,
}

impl Bench {
    pub fn new() -> Self {
        Self::with_policy(SessionPolicy::default())
    }

    pub fn with_policy(policy: SessionPolicy) -> Self {
        let clock = FixedClock::default();
        let tokens = Arc::new(FakeTokenService::new(Arc::new(clock.clone())));
        let hasher =
            Arc::new(InlinePasswordHasher::with_cost(BcryptCost::new(4).expect("cost 4 is valid")).expect("hasher"));
        let password_policy = Arc::new(StrengthPasswordPolicy::default());
        let lockouts = InMemoryLockoutStore::new();
        let mailer = InMemoryMailer::new();
        Self { store: InMemoryStore::new(), clock, tokens, hasher, password_policy, policy, lockouts, mailer }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn units(&self) -> Arc<dyn UnitOfWorkFactory> {
        Arc::new(self.store.clone())
    }

    fn clock_port(&self) -> Arc<dyn Clock> {
        Arc::new(self.clock.clone())
    }

    fn token_port(&self) -> Arc<dyn TokenService> {
        self.tokens.clone()
    }

    fn hasher_port(&self) -> Arc<dyn PasswordHasher> {
        self.hasher.clone()
    }

    fn account_mail_port(&self) -> Arc<dyn AccountMail> {
        Arc::new(TemplatedAccountMail::new(Arc::new(self.mailer.clone()), PUBLIC_URL))
    }

    pub fn signup_handler(&self) -> SignupHandler {
        SignupHandler::new(
            self.units(),
            self.hasher_port(),
            self.password_policy.clone(),
            self.clock_port(),
            self.token_port(),
            self.account_mail_port(),
        )
    }

    pub fn verify_email_handler(&self) -> VerifyEmailHandler {
        VerifyEmailHandler::new(self.units(), self.clock_port())
    }

    pub fn resend_verification_handler(&self) -> ResendVerificationHandler {
        ResendVerificationHandler::new(self.units(), self.token_port(), self.clock_port(), self.account_mail_port())
    }

    pub fn change_password_handler(&self) -> ChangePasswordHandler {
        ChangePasswordHandler::new(self.units(), self.hasher_port(), self.password_policy.clone(), self.clock_port())
    }

    pub fn forgot_password_handler(&self) -> ForgotPasswordHandler {
        ForgotPasswordHandler::new(self.units(), self.token_port(), self.clock_port(), self.account_mail_port())
    }

    pub fn reset_password_handler(&self) -> ResetPasswordHandler {
        ResetPasswordHandler::new(self.units(), self.hasher_port(), self.password_policy.clone(), self.clock_port())
    }

    pub fn delete_account_handler(&self) -> DeleteAccountHandler {
        DeleteAccountHandler::new(self.units(), self.hasher_port())
    }

    /// The last mail sent to `address`.
    pub fn last_mail_to(&self, address: &str) -> OutgoingMail {
        self.mailer.sent_to(address).pop().unwrap_or_else(|| panic!("a mail was sent to {address}"))
    }

    /// The token in the link of the last mail sent to `address`.
    pub fn token_mailed_to(&self, address: &str) -> SecretString {
        SecretString::new(token_in(&self.last_mail_to(address).text))
    }

    pub fn login_handler(&self) -> LoginHandler {
        LoginHandler::new(self.units(), self.hasher_port(), self.token_port(), self.clock_port(), self.policy)
    }

    /// A login handler locking accounts under `lockout`, with its records in [`Bench::lockouts`].
    pub fn login_handler_with_lockout(&self, lockout: LockoutPolicy) -> LoginHandler {
        self.login_handler().with_lockout(Arc::new(self.lockouts.clone()), lockout)
    }

    pub fn refresh_handler(&self) -> RefreshHandler {
        RefreshHandler::new(self.units(), self.token_port(), self.clock_port(), self.policy)
    }

    pub fn logout_handler(&self) -> LogoutHandler {
        LogoutHandler::new(self.units())
    }

    pub fn current_user_handler(&self) -> GetCurrentUserHandler {
        GetCurrentUserHandler::new(self.token_port())
    }

    pub fn update_profile_handler(&self) -> UpdateProfileHandler {
        UpdateProfileHandler::new(self.units(), self.clock_port())
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
            password: portcullis_domain::PasswordHash::from_stored(SOME_HASH).expect("known scheme"),
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
