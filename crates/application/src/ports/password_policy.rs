use portcullis_domain::{Email, PlainPassword, UserName, WeakPassword};
use shaku::Interface;

/// Decides whether a new password (one that already passed the length rules) is strong
/// enough for this user. Consulted by signup, and meant for password change and reset too.
pub trait PasswordPolicy: Interface {
    /// Checks `password` as the new password of the user called `name` at `email`.
    ///
    /// # Errors
    /// [`WeakPassword`], whose message tells the user why.
    fn check(&self, password: &PlainPassword, name: &UserName, email: &Email) -> Result<(), WeakPassword>;
}
