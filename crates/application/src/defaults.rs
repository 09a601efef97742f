//! Ready-made adapters of the ports that need no infrastructure: the system clock, hashing on
//! the caller's thread, the password-strength policy, and the default extension points. Each
//! is a shaku component, so a composition root lists it in its module (and overrides it with
//! `with_component_override` where a team brings its own).

use chrono::{DateTime, Utc};
use portcullis_domain::{
    BcryptCost, Email, MinPasswordScore, PasswordHash, PasswordStrengthRule, PersonalWords, PlainPassword, UserInfo,
    UserName, WeakPassword,
};
use serde_json::{Map, Value};
use shaku::{Component, Module, ModuleBuildContext};

use crate::commands::signup::ValidSignup;
use crate::ports::{ClaimsExtension, Clock, PasswordHasher, PasswordPolicy, PortError, SignupPolicy};
use crate::validation::ValidationErrors;

/// The system's clock.
#[derive(Component, Debug, Default, Clone, Copy)]
#[shaku(interface = Clock)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Hashes on the caller's thread, unbounded: for embedding, tools and tests.
///
/// As a shaku component its one parameter is the cost ([`InlinePasswordHasherParameters`],
/// [`BcryptCost::DEFAULT`] unless set); the dummy hash is made when the module is built.
#[derive(Debug, Clone)]
pub struct InlinePasswordHasher {
    cost: BcryptCost,
    /// The hash [`PasswordHasher::verify_dummy`] checks against, or why it could not be made.
    dummy: Result<PasswordHash, PortError>,
}

impl InlinePasswordHasher {
    /// A hasher at `cost`; makes its dummy hash now (one hash's time).
    ///
    /// # Errors
    /// [`PortError::Internal`] if the dummy hash cannot be made.
    pub fn with_cost(cost: BcryptCost) -> Result<Self, PortError> {
        Ok(Self { cost, dummy: Ok(dummy_hash(cost)?) })
    }
}

/// Parameters of the [`InlinePasswordHasher`] component.
#[derive(Clone, Copy, Debug)]
pub struct InlinePasswordHasherParameters {
    /// The bcrypt cost of new hashes and of the dummy hash.
    pub cost: BcryptCost,
}

impl Default for InlinePasswordHasherParameters {
    /// [`BcryptCost::DEFAULT`].
    fn default() -> Self {
        Self { cost: BcryptCost::DEFAULT }
    }
}

impl<M: Module> Component<M> for InlinePasswordHasher {
    type Interface = dyn PasswordHasher;
    type Parameters = InlinePasswordHasherParameters;

    /// Makes the dummy hash now. Building cannot fail: should the dummy hash fail (bcrypt
    /// refusing a valid cost), that is logged and every [`PasswordHasher::verify_dummy`]
    /// answers the error.
    fn build(_context: &mut ModuleBuildContext<M>, params: Self::Parameters) -> Box<dyn PasswordHasher> {
        let dummy = dummy_hash(params.cost);
        if let Err(error) = &dummy {
            tracing::error!(error = %error.detail(), "the inline password hasher could not make its dummy hash");
        }
        Box::new(Self { cost: params.cost, dummy })
    }
}

impl PasswordHasher for InlinePasswordHasher {
    fn hash(&self, password: &PlainPassword) -> Result<PasswordHash, PortError> {
        PasswordHash::from_plain(password, self.cost).map_err(|e| PortError::internal("password_hasher.hash", e))
    }

    fn verify(&self, password: &PlainPassword, hash: &PasswordHash) -> Result<bool, PortError> {
        Ok(hash.verify(password))
    }

    fn verify_dummy(&self) -> Result<(), PortError> {
        let dummy = self.dummy.as_ref().map_err(PortError::clone)?;
        if let Some(attempt) = dummy_attempt() {
            let _ = dummy.verify(&attempt);
        }
        Ok(())
    }
}

/// A hash of a fixed, never-accepted password at `cost`, for a hasher's
/// [`PasswordHasher::verify_dummy`].
///
/// # Errors
/// [`PortError::Internal`] if hashing fails.
pub fn dummy_hash(cost: BcryptCost) -> Result<PasswordHash, PortError> {
    let placeholder = PlainPassword::parse("portcullis-dummy-password")
        .map_err(|e| PortError::internal("password_hasher.dummy_hash", e))?;
    PasswordHash::from_plain(&placeholder, cost).map_err(|e| PortError::internal("password_hasher.dummy_hash", e))
}

/// The password checked against [`dummy_hash`].
pub fn dummy_attempt() -> Option<PlainPassword> {
    PlainPassword::parse("not-the-dummy-password").ok()
}

/// The service's [`PasswordPolicy`]: the domain's [`PasswordStrengthRule`] — the shipped list
/// of common passwords (at any score) and the zxcvbn estimate with the user's name and email
/// as context, at a configured minimum score (`PORTCULLIS_MIN_PASSWORD_SCORE`, default 3).
/// Pure CPU (a few milliseconds), no I/O.
#[derive(Component, Clone, Copy, Debug, Default)]
#[shaku(interface = PasswordPolicy)]
pub struct StrengthPasswordPolicy {
    /// The score a new password must reach (default: [`MinPasswordScore::default`]).
    #[shaku(default)]
    min_score: MinPasswordScore,
}

impl StrengthPasswordPolicy {
    /// A policy requiring `min_score`.
    pub fn new(min_score: MinPasswordScore) -> Self {
        Self { min_score }
    }
}

impl PasswordPolicy for StrengthPasswordPolicy {
    fn check(&self, password: &PlainPassword, name: &UserName, email: &Email) -> Result<(), WeakPassword> {
        PasswordStrengthRule::new(self.min_score).check(password, &PersonalWords::of_user(name, email))
    }
}

/// The default [`SignupPolicy`]: anyone with valid input may sign up.
#[derive(Component, Debug, Default, Clone, Copy)]
#[shaku(interface = SignupPolicy)]
pub struct OpenSignup;

impl SignupPolicy for OpenSignup {
    fn check(&self, _signup: &ValidSignup) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

/// The default [`ClaimsExtension`]: nothing extra.
#[derive(Component, Debug, Default, Clone, Copy)]
#[shaku(interface = ClaimsExtension)]
pub struct NoExtraClaims;

impl ClaimsExtension for NoExtraClaims {
    fn extra_claims(&self, _user: &UserInfo) -> Map<String, Value> {
        Map::new()
    }
}

#[cfg(test)]
mod tests {
    use shaku::{HasComponent, module};

    use super::*;

    module! {
        HasherModule {
            components = [InlinePasswordHasher],
            providers = []
        }
    }

    #[test]
    fn the_hasher_component_hashes_at_its_parameter_cost() {
        let cost = BcryptCost::new(4).expect("valid");
        let module = HasherModule::builder()
            .with_component_parameters::<InlinePasswordHasher>(InlinePasswordHasherParameters { cost })
            .build();
        let hasher: std::sync::Arc<dyn PasswordHasher> = module.resolve();
        let password = PlainPassword::parse("a fine password").expect("valid");
        let hash = hasher.hash(&password).expect("hashes");
        assert!(hash.as_stored().contains("$2b$04$"), "cost 4");
        assert!(hasher.verify(&password, &hash).expect("verifies"));
        hasher.verify_dummy().expect("the dummy verifies");
    }

    #[test]
    fn the_hasher_parameters_default_to_the_production_cost() {
        assert_eq!(InlinePasswordHasherParameters::default().cost, BcryptCost::DEFAULT);
    }
}
