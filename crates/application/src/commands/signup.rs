//! `SignupCommand`: make an account.

use std::sync::Arc;

use portcullis_domain::{
    AccountToken, AccountTokenPurpose, AvatarUrl, Email, NewUser, PlainPassword, Roles, SecretString, User, UserInfo,
    UserName, WeakPassword,
};
use shaku::Component;

use crate::account_mail::{AccountMail, VERIFICATION_TOKEN_TTL};
use crate::ports::{
    AddUserError, Clock, PasswordHasher, PasswordPolicy, PortError, SignupPolicy, TokenService, UnitOfWorkFactory,
};
use crate::validation::ValidationErrors;

/// Input of a signup, as received; the handler validates it.
#[derive(Clone, Debug)]
pub struct SignupCommand {
    /// Display name.
    pub name: String,
    /// Login address.
    pub email: String,
    /// Chosen password.
    pub password: SecretString,
    /// Optional picture link.
    pub avatar_url: Option<String>,
}

/// A signup's input after every rule passed.
#[derive(Debug)]
pub struct ValidSignup {
    /// Display name.
    pub name: UserName,
    /// Login address.
    pub email: Email,
    /// Chosen password.
    pub password: PlainPassword,
    /// Optional picture link.
    pub avatar_url: Option<AvatarUrl>,
}

impl SignupCommand {
    /// Checks every field, reporting one error per bad field.
    ///
    /// # Errors
    /// [`ValidationErrors`] listing each bad field.
    pub fn validate(&self) -> Result<ValidSignup, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", UserName::parse(&self.name));
        let email = errors.check("email", Email::parse(&self.email));
        let password = errors.check("password", PlainPassword::parse(self.password.expose()));
        let avatar_url = match self.avatar_url.as_deref() {
            Some(raw) => errors.check("avatar_url", AvatarUrl::parse(raw)).map(Some),
            None => Some(None),
        };
        match (name, email, password, avatar_url) {
            (Some(name), Some(email), Some(password), Some(avatar_url)) => {
                Ok(ValidSignup { name, email, password, avatar_url })
            }
            _ => Err(errors),
        }
    }
}

/// Why a signup failed.
#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    /// One or more fields break the input rules.
    #[error("{0}")]
    Validation(ValidationErrors),
    /// Every field is well-formed, but the password is too easy to guess (common, or
    /// below the required strength score); the error's message says why.
    #[error("weak password: {0}")]
    WeakPassword(WeakPassword),
    /// The email belongs to an existing account.
    #[error("email already registered")]
    EmailTaken,
    /// Storage or hashing failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Handles [`SignupCommand`].
#[derive(Component)]
#[shaku(interface = SignupUseCase)]
pub struct SignupHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    hasher: Arc<dyn PasswordHasher>,
    #[shaku(inject)]
    password_policy: Arc<dyn PasswordPolicy>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
    #[shaku(inject)]
    tokens: Arc<dyn TokenService>,
    #[shaku(inject)]
    account_mail: Arc<dyn AccountMail>,
    #[shaku(inject)]
    signup_policy: Arc<dyn SignupPolicy>,
}

/// Signs a user up. Implemented by [`SignupHandler`]; the HTTP layer and embedders call it through this trait.
pub trait SignupUseCase: shaku::Interface {
    /// Validates the input, checks the password against the [`PasswordPolicy`], hashes it
    /// (outside any transaction) and stores the user with role `user`, unverified, together
    /// with an email-verification token (24 hours) and the mail carrying it, in the same
    /// unit of work: the mail goes out after the commit, retried while the mail server is
    /// away, and exists only if the signup was committed.
    ///
    /// # Errors
    /// See [`SignupError`].
    fn handle(&self, command: SignupCommand) -> Result<UserInfo, SignupError>;

    /// As [`SignupUseCase::handle`], with chosen roles and without the [`SignupPolicy`] (used
    /// by `portcullis user create --admin`: the operator decides).
    ///
    /// # Errors
    /// See [`SignupError`].
    fn handle_with_roles(&self, command: SignupCommand, roles: Roles) -> Result<UserInfo, SignupError>;
}

impl SignupHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "signup"))]
    fn create(&self, signup: ValidSignup, roles: Roles, apply_policy: bool) -> Result<UserInfo, SignupError> {
        if apply_policy {
            self.signup_policy.check(&signup).map_err(SignupError::Validation)?;
        }
        self.store_and_mail(signup, roles)
    }
}

impl SignupUseCase for SignupHandler {
    fn handle(&self, command: SignupCommand) -> Result<UserInfo, SignupError> {
        let signup = command.validate().map_err(SignupError::Validation)?;
        self.create(signup, Roles::default_for_new_user(), true)
    }

    fn handle_with_roles(&self, command: SignupCommand, roles: Roles) -> Result<UserInfo, SignupError> {
        let signup = command.validate().map_err(SignupError::Validation)?;
        self.create(signup, roles, false)
    }
}

impl SignupHandler {
    fn store_and_mail(&self, signup: ValidSignup, roles: Roles) -> Result<UserInfo, SignupError> {
        let ValidSignup { name, email, password, avatar_url } = signup;
        self.password_policy.check(&password, &name, &email).map_err(SignupError::WeakPassword)?;
        let password = self.hasher.hash(&password)?;
        let now = self.clock.now();
        let user = User::create(NewUser { name, email, password: Some(password), avatar_url, roles }, now);
        let secret = self.tokens.generate_secret();
        let verification = AccountToken::issue(
            &secret,
            user.id,
            AccountTokenPurpose::VerifyEmail,
            user.email.as_str(),
            now,
            VERIFICATION_TOKEN_TTL,
        );

        let mut unit = self.units.begin()?;
        unit.users().add(&user).map_err(|error| match error {
            AddUserError::EmailTaken => SignupError::EmailTaken,
            AddUserError::Port(port) => SignupError::Port(port),
        })?;
        unit.account_tokens().add(&verification)?;
        unit.outbox().add(&self.account_mail.verification(&user, &secret), now)?;
        unit.commit()?;
        tracing::info!(user_id = %user.id, "user signed up");
        Ok(user.info())
    }
}
