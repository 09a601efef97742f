//! Extension points for teams that build on Portcullis: their own rules, plugged into the
//! shaku module in place of the defaults in [`crate::defaults`]
//! (`module_builder(..).with_component_override`).

use portcullis_domain::UserInfo;
use serde_json::{Map, Value};
use shaku::Interface;

use crate::commands::signup::ValidSignup;
use crate::validation::ValidationErrors;

/// A team's own rule on who may sign up (allowed email domains, invitation codes, …). It runs
/// after the input rules and before the password policy and hashing; a refusal is reported
/// per field, like any validation failure (`422 validation_failed`). `portcullis user create`
/// does not apply it: the operator decides there.
pub trait SignupPolicy: Interface {
    /// `Ok(())` to let the signup go on.
    ///
    /// # Errors
    /// The fields that break the rule, each with a stable code and a sentence.
    fn check(&self, signup: &ValidSignup) -> Result<(), ValidationErrors>;
}

/// Extra claims a team adds to every access token (a tenant, a plan, a feature flag). Claim
/// names Portcullis sets itself ([`RESERVED_CLAIMS`]) are ignored: an extension cannot change
/// `sub`, `roles` or any other standard claim. Called at every issue (login and refresh), on
/// the blocking pool; keep it cheap and free of secrets — access tokens are readable by anyone
/// who holds them.
pub trait ClaimsExtension: Interface {
    /// The claims to add for `user`.
    fn extra_claims(&self, user: &UserInfo) -> Map<String, Value>;
}

/// The claims Portcullis itself puts in an access token.
pub const RESERVED_CLAIMS: [&str; 16] = [
    "iss",
    "aud",
    "sub",
    "sid",
    "exp",
    "iat",
    "nbf",
    "jti",
    "name",
    "email",
    "avatar_url",
    "roles",
    "email_verified",
    "created_at",
    "auth_time",
    "amr",
];
