use portcullis_domain::{
    Email, MinPasswordScore, PasswordStrengthRule, PersonalWords, PlainPassword, UserName, WeakPassword,
};
use shaku::{Component, Interface};

/// Decides whether a new password (one that already passed the length rules) is strong
/// enough for this user. Consulted by signup, and meant for password change and reset too.
pub trait PasswordPolicy: Interface {
    /// Checks `password` as the new password of the user called `name` at `email`.
    ///
    /// # Errors
    /// [`WeakPassword`], whose message tells the user why.
    fn check(&self, password: &PlainPassword, name: &UserName, email: &Email) -> Result<(), WeakPassword>;
}

/// The service's policy: the domain's [`PasswordStrengthRule`] — the shipped list of common
/// passwords (at any score) and the zxcvbn estimate with the user's name and email as
/// context, at a configured minimum score (`PORTCULLIS_MIN_PASSWORD_SCORE`, default 3).
/// Pure CPU (a few milliseconds), no I/O.
#[derive(Component, Clone, Copy, Debug, Default)]
#[shaku(interface = PasswordPolicy)]
pub struct StrengthPasswordPolicy {
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
