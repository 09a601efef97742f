//! Sign-in through upstream providers (OAuth 2.0 / OpenID Connect): the provider id, the
//! identity a provider vouches for, the link between such an identity and a user, and the
//! rules that decide, on a good callback, who signs in (account resolution) — plus the rule
//! that a user never loses their last way in.

use chrono::{DateTime, Utc};

use crate::{AvatarUrl, Email, NewUser, Roles, User, UserId, UserName, whole_seconds};

/// Longest provider id.
pub const MAX_PROVIDER_ID_CHARS: usize = 32;

/// A configured provider's id: `[a-z0-9_]{1,32}` (`google`, `github`, `acme_sso`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(String);

/// Why a provider id was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderIdError {
    /// Empty, longer than [`MAX_PROVIDER_ID_CHARS`], or a character outside `[a-z0-9_]`.
    #[error("a provider id is 1 to 32 characters of a-z, 0-9 and _")]
    Invalid,
}

impl ProviderId {
    /// Parses a provider id exactly (no trimming, no case folding: ids come from configuration).
    ///
    /// # Errors
    /// [`ProviderIdError::Invalid`] when it breaks the pattern.
    pub fn parse(raw: &str) -> Result<Self, ProviderIdError> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_PROVIDER_ID_CHARS
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid { Ok(Self(raw.to_owned())) } else { Err(ProviderIdError::Invalid) }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ProviderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a provider vouched for on a good callback (after its ID token or API answers were
/// checked): the subject, which never changes for that provider, and what it says about the
/// person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderIdentity {
    /// The provider that vouched.
    pub provider: ProviderId,
    /// The provider's stable id of the person (`sub`, GitHub's numeric `id`).
    pub subject: String,
    /// Their email address, when the provider gave one that parses.
    pub email: Option<Email>,
    /// Whether the provider says it verified that address.
    pub email_verified: bool,
    /// Their name, as the provider has it.
    pub name: Option<String>,
    /// A picture URL, as the provider has it.
    pub picture: Option<String>,
}

impl ProviderIdentity {
    /// The address, only when the provider says it is verified.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }
}

/// The name a new user made through a provider gets when the provider gave none that
/// passes the name rules and the address's local part does not either.
const FALLBACK_NAME: &str = "User";

impl ProviderIdentity {
    /// The account a [`Resolution::CreateUser`] makes: the provider's verified address
    /// (`email_verified: true`), its name (else the address's local part), its picture when
    /// it is an `http(s)` URL, no password, the default roles. `None` when the provider
    /// vouches for no address.
    pub fn new_user(&self, now: DateTime<Utc>) -> Option<User> {
        let email = self.verified_email()?.clone();
        let from_provider =
            self.name.as_deref().map(|name| name.chars().take(crate::user_name::MAX_NAME_CHARS).collect::<String>());
        let local_part = email.as_str().split('@').next().unwrap_or_default().to_owned();
        let name = from_provider
            .iter()
            .chain(std::iter::once(&local_part))
            .find_map(|candidate| UserName::parse(candidate).ok())
            .or_else(|| UserName::parse(FALLBACK_NAME).ok())?;
        let avatar_url = self.picture.as_deref().and_then(|url| AvatarUrl::parse(url).ok());
        let new = NewUser { name, email, password: None, avatar_url, roles: Roles::default_for_new_user() };
        let mut user = User::create(new, now);
        user.mark_email_verified(now);
        Some(user)
    }
}

/// A provider identity linked to a user: that person may sign in through the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// Whose it is.
    pub user_id: UserId,
    /// The provider.
    pub provider: ProviderId,
    /// The provider's subject.
    pub subject: String,
    /// The address the provider gave when it was linked or last used.
    pub email: Option<Email>,
    /// When it was linked (whole seconds).
    pub linked_at: DateTime<Utc>,
}

impl ExternalIdentity {
    /// Links `identity` to `user_id` at `now`.
    pub fn link(user_id: UserId, identity: &ProviderIdentity, now: DateTime<Utc>) -> Self {
        Self {
            user_id,
            provider: identity.provider.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            linked_at: whole_seconds(now),
        }
    }
}

/// How a provider's verified email may link to an existing account (`PORTCULLIS_PROVIDER_X_LINKING`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkingPolicy {
    /// Only a signed-in user links a provider, from their account page (the default).
    #[default]
    Explicit,
    /// A provider's verified email also links to a local account whose email is verified.
    VerifiedEmail,
}

/// What a good callback found, read by the caller before resolving.
#[derive(Clone, Copy, Debug)]
pub struct ResolutionFacts<'a> {
    /// The user the identity is already linked to, if any.
    pub linked_owner: Option<&'a User>,
    /// The signed-in user who started the flow to link, if it is a linking flow.
    pub linking_user: Option<&'a User>,
    /// The user whose email equals the provider's address, if any.
    pub email_owner: Option<&'a User>,
    /// The provider's linking policy.
    pub policy: LinkingPolicy,
}

/// Who signs in on a good callback, or why no one does (API.md, account resolution).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The identity is linked to this user: they sign in.
    SignIn(UserId),
    /// A linking flow: link the identity to this (signed-in) user; no new session.
    LinkToCurrentUser(UserId),
    /// A linking flow for a user the identity is already linked to: nothing to do.
    AlreadyLinked(UserId),
    /// Nobody has the provider's verified address: make a user (no password) and sign in.
    CreateUser,
    /// Link to the local account with the same verified address and sign in
    /// ([`LinkingPolicy::VerifiedEmail`] only).
    LinkAndSignIn(UserId),
    /// Refused: `account_disabled`.
    AccountDisabled,
    /// Refused: `identity_taken` — a linking flow for an identity linked to someone else.
    IdentityTaken,
    /// Refused: `account_exists` — an account has that address; never a silent takeover.
    AccountExists,
    /// Refused: `email_unverified` — the provider vouches for no address.
    EmailUnverified,
}

impl Resolution {
    /// The stable `/login?error=` code of a refusal; `None` for the outcomes that succeed.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::AccountDisabled => Some("account_disabled"),
            Self::IdentityTaken => Some("identity_taken"),
            Self::AccountExists => Some("account_exists"),
            Self::EmailUnverified => Some("email_unverified"),
            Self::SignIn(_)
            | Self::LinkToCurrentUser(_)
            | Self::AlreadyLinked(_)
            | Self::CreateUser
            | Self::LinkAndSignIn(_) => None,
        }
    }
}

/// Resolves a good callback for `identity` from `facts`: a linking flow links to the
/// signed-in user (unless the identity is someone else's); otherwise a linked identity signs
/// its owner in; an unknown verified address makes a new user; an address that is taken links
/// only under [`LinkingPolicy::VerifiedEmail`] with both sides verified; an unverified one is
/// refused.
pub fn resolve(identity: &ProviderIdentity, facts: ResolutionFacts<'_>) -> Resolution {
    if let Some(linking) = facts.linking_user {
        return match facts.linked_owner {
            Some(owner) if owner.id == linking.id => Resolution::AlreadyLinked(linking.id),
            Some(_) => Resolution::IdentityTaken,
            None => Resolution::LinkToCurrentUser(linking.id),
        };
    }
    if let Some(owner) = facts.linked_owner {
        return if owner.can_authenticate() { Resolution::SignIn(owner.id) } else { Resolution::AccountDisabled };
    }
    match (facts.email_owner, identity.verified_email()) {
        (None, Some(_)) => Resolution::CreateUser,
        (None, None) => Resolution::EmailUnverified,
        (Some(owner), verified) => {
            let may_link = facts.policy == LinkingPolicy::VerifiedEmail && verified.is_some() && owner.email_verified;
            match (may_link, owner.can_authenticate()) {
                (true, true) => Resolution::LinkAndSignIn(owner.id),
                (true, false) => Resolution::AccountDisabled,
                (false, _) => Resolution::AccountExists,
            }
        }
    }
}

/// The ways a user can sign in, counted: whether removing one would leave none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignInMethods {
    /// Whether the user has a password.
    pub password: bool,
    /// Linked provider identities.
    pub identities: usize,
    /// Registered passkeys.
    pub passkeys: usize,
}

/// A way in that a user asks to remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInMethod {
    /// One linked provider identity.
    Identity,
    /// One passkey.
    Passkey,
}

impl SignInMethods {
    /// How many ways in there are.
    pub fn count(&self) -> usize {
        usize::from(self.password) + self.identities + self.passkeys
    }

    /// Whether `method` may be removed: never the last way in (`409 last_sign_in_method`),
    /// and never one the user does not have.
    pub fn may_remove(&self, method: SignInMethod) -> bool {
        let has = match method {
            SignInMethod::Identity => self.identities > 0,
            SignInMethod::Passkey => self.passkeys > 0,
        };
        has && self.count() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewUser, PasswordHash, Roles, UserName};

    fn user(email: &str, verified: bool, disabled: bool) -> User {
        let mut user = User::create(
            NewUser {
                name: UserName::parse("Ada").expect("a name"),
                email: Email::parse(email).expect("an email"),
                password: Some(
                    PasswordHash::from_stored("$2b$04$abcdefghijklmnopqrstuuMQ5uIYhj0y5C0o0hq2F8H3HGLfHtm1S")
                        .expect("a hash"),
                ),
                avatar_url: None,
                roles: Roles::default_for_new_user(),
            },
            Utc::now(),
        );
        user.email_verified = verified;
        user.disabled = disabled;
        user
    }

    fn identity(email: Option<&str>, verified: bool) -> ProviderIdentity {
        ProviderIdentity {
            provider: ProviderId::parse("google").expect("an id"),
            subject: "1234".into(),
            email: email.map(|e| Email::parse(e).expect("an email")),
            email_verified: verified,
            name: None,
            picture: None,
        }
    }

    fn facts<'a>(
        linked: Option<&'a User>,
        linking: Option<&'a User>,
        email_owner: Option<&'a User>,
    ) -> ResolutionFacts<'a> {
        ResolutionFacts { linked_owner: linked, linking_user: linking, email_owner, policy: LinkingPolicy::Explicit }
    }

    #[test]
    fn provider_ids_follow_the_pattern() {
        for good in ["google", "github", "acme_sso", "a", "x1", &"a".repeat(32)] {
            assert!(ProviderId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Google", "acme-sso", "acme sso", "é", &"a".repeat(33)] {
            assert_eq!(ProviderId::parse(bad), Err(ProviderIdError::Invalid), "{bad}");
        }
    }

    #[test]
    fn a_linked_identity_signs_its_owner_in_unless_disabled() {
        let owner = user("ada@example.com", true, false);
        let theirs = identity(Some("other@example.com"), false);
        assert_eq!(resolve(&theirs, facts(Some(&owner), None, None)), Resolution::SignIn(owner.id));
        let disabled = user("ada@example.com", true, true);
        assert_eq!(resolve(&theirs, facts(Some(&disabled), None, None)), Resolution::AccountDisabled);
    }

    #[test]
    fn a_linking_flow_links_to_the_signed_in_user_or_refuses_someone_elses_identity() {
        let me = user("me@example.com", true, false);
        let someone = user("someone@example.com", true, false);
        let theirs = identity(Some("someone@example.com"), true);
        assert_eq!(resolve(&theirs, facts(None, Some(&me), Some(&someone))), Resolution::LinkToCurrentUser(me.id));
        assert_eq!(resolve(&theirs, facts(Some(&someone), Some(&me), None)), Resolution::IdentityTaken);
        assert_eq!(resolve(&theirs, facts(Some(&me), Some(&me), None)), Resolution::AlreadyLinked(me.id));
    }

    #[test]
    fn an_unknown_verified_address_makes_a_new_user_and_an_unverified_one_is_refused() {
        assert_eq!(resolve(&identity(Some("new@example.com"), true), facts(None, None, None)), Resolution::CreateUser);
        assert_eq!(
            resolve(&identity(Some("new@example.com"), false), facts(None, None, None)),
            Resolution::EmailUnverified
        );
        assert_eq!(resolve(&identity(None, true), facts(None, None, None)), Resolution::EmailUnverified);
    }

    #[test]
    fn a_taken_address_never_links_silently() {
        let owner = user("ada@example.com", true, false);
        let same = identity(Some("ada@example.com"), true);
        assert_eq!(resolve(&same, facts(None, None, Some(&owner))), Resolution::AccountExists);

        let verified_email =
            |owner| ResolutionFacts { policy: LinkingPolicy::VerifiedEmail, ..facts(None, None, owner) };
        assert_eq!(resolve(&same, verified_email(Some(&owner))), Resolution::LinkAndSignIn(owner.id));
        // Both sides must be verified.
        assert_eq!(
            resolve(&identity(Some("ada@example.com"), false), verified_email(Some(&owner))),
            Resolution::AccountExists
        );
        let unverified_owner = user("ada@example.com", false, false);
        assert_eq!(resolve(&same, verified_email(Some(&unverified_owner))), Resolution::AccountExists);
        let disabled_owner = user("ada@example.com", true, true);
        assert_eq!(resolve(&same, verified_email(Some(&disabled_owner))), Resolution::AccountDisabled);
    }

    #[test]
    fn refusals_carry_their_login_error_codes() {
        assert_eq!(Resolution::AccountExists.error_code(), Some("account_exists"));
        assert_eq!(Resolution::IdentityTaken.error_code(), Some("identity_taken"));
        assert_eq!(Resolution::EmailUnverified.error_code(), Some("email_unverified"));
        assert_eq!(Resolution::AccountDisabled.error_code(), Some("account_disabled"));
        assert_eq!(Resolution::CreateUser.error_code(), None);
    }

    #[test]
    fn the_last_way_in_is_never_removed() {
        let only_identity = SignInMethods { password: false, identities: 1, passkeys: 0 };
        assert!(!only_identity.may_remove(SignInMethod::Identity));
        let with_password = SignInMethods { password: true, ..only_identity };
        assert!(with_password.may_remove(SignInMethod::Identity));
        let two_passkeys = SignInMethods { password: false, identities: 0, passkeys: 2 };
        assert!(two_passkeys.may_remove(SignInMethod::Passkey));
        assert!(!two_passkeys.may_remove(SignInMethod::Identity), "nothing to remove");
        assert!(!SignInMethods { passkeys: 1, ..SignInMethods::default() }.may_remove(SignInMethod::Passkey));
    }

    #[test]
    fn a_new_user_from_a_provider_is_verified_and_has_no_password() {
        let now = Utc::now();
        let mut vouched = identity(Some("Ada@Example.com"), true);
        vouched.name = Some("  Ada Lovelace ".into());
        vouched.picture = Some("https://example.com/ada.png".into());
        let user = vouched.new_user(now).expect("a user");
        assert_eq!(user.email.as_str(), "ada@example.com");
        assert_eq!(user.name.as_str(), "Ada Lovelace");
        assert_eq!(user.avatar_url.as_ref().map(AvatarUrl::as_str), Some("https://example.com/ada.png"));
        assert!(user.email_verified && !user.has_password() && !user.disabled);
        assert_eq!(user.roles.names(), vec!["user"]);

        // A name that breaks the rules falls back to the address; a bad picture is dropped.
        vouched.name = Some("\u{7}".into());
        vouched.picture = Some("javascript:alert(1)".into());
        let user = vouched.new_user(now).expect("a user");
        assert_eq!(user.name.as_str(), "ada");
        assert!(user.avatar_url.is_none());
        // A long name is cut to the limit rather than refused.
        vouched.name = Some("x".repeat(300));
        assert_eq!(vouched.new_user(now).expect("a user").name.as_str().chars().count(), 100);

        assert!(identity(Some("ada@example.com"), false).new_user(now).is_none());
        assert!(identity(None, true).new_user(now).is_none());
    }

    #[test]
    fn linking_keeps_whole_seconds_and_the_providers_address() {
        let now = Utc::now();
        let linked = ExternalIdentity::link(UserId::generate(), &identity(Some("ada@example.com"), true), now);
        assert_eq!(linked.linked_at, whole_seconds(now));
        assert_eq!(linked.email.as_ref().map(Email::as_str), Some("ada@example.com"));
        assert_eq!(linked.subject, "1234");
    }
}
