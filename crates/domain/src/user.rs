use chrono::{DateTime, Utc};

use crate::{AvatarUrl, Email, PasswordHash, Role, Roles, UserId, UserName};

/// A person who can log in. The aggregate root of the domain.
#[derive(Clone, Debug)]
pub struct User {
    /// Never changes.
    pub id: UserId,
    /// Display name.
    pub name: UserName,
    /// Login address, unique across users.
    pub email: Email,
    /// The stored password hash; `None` for a user made through a provider who never set one.
    pub password: Option<PasswordHash>,
    /// Optional picture link.
    pub avatar_url: Option<AvatarUrl>,
    /// Roles, `["user"]` by default.
    pub roles: Roles,
    /// Whether the address was confirmed through a mailed link.
    pub email_verified: bool,
    /// A disabled user cannot log in or refresh.
    pub disabled: bool,
    /// When the account was made (whole seconds, UTC).
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What [`User::create`] needs: everything already validated.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Display name.
    pub name: UserName,
    /// Login address.
    pub email: Email,
    /// Hash of the chosen password; `None` for a user made through a provider.
    pub password: Option<PasswordHash>,
    /// Optional picture link.
    pub avatar_url: Option<AvatarUrl>,
    /// Roles to start with.
    pub roles: Roles,
}

/// What may be shown about a user: never a password, hash or token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// The user's id.
    pub user_id: UserId,
    /// Display name.
    pub name: String,
    /// Login address.
    pub email: String,
    /// Optional picture link.
    pub avatar_url: Option<String>,
    /// Role names, sorted.
    pub roles: Vec<String>,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// A new account with a fresh v7 id, unverified, enabled, stamped `now` (to the second).
    pub fn create(new: NewUser, now: DateTime<Utc>) -> Self {
        let now = whole_seconds(now);
        Self {
            id: UserId::generate(),
            name: new.name,
            email: new.email,
            password: new.password,
            avatar_url: new.avatar_url,
            roles: new.roles,
            email_verified: false,
            disabled: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// The shareable view of this user.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            user_id: self.id,
            name: self.name.as_str().to_owned(),
            email: self.email.as_str().to_owned(),
            avatar_url: self.avatar_url.as_ref().map(|url| url.as_str().to_owned()),
            roles: self.roles.names(),
            email_verified: self.email_verified,
            created_at: self.created_at,
        }
    }

    /// Changes the display name.
    pub fn rename(&mut self, name: UserName, now: DateTime<Utc>) {
        self.name = name;
        self.updated_at = whole_seconds(now);
    }

    /// Sets or clears the avatar.
    pub fn set_avatar(&mut self, avatar_url: Option<AvatarUrl>, now: DateTime<Utc>) {
        self.avatar_url = avatar_url;
        self.updated_at = whole_seconds(now);
    }

    /// Whether this user may log in or refresh.
    pub fn can_authenticate(&self) -> bool {
        !self.disabled
    }

    /// Whether this user is an administrator who can still act (has role `admin`, not disabled).
    pub fn is_active_admin(&self) -> bool {
        !self.disabled && self.roles.contains(Role::ADMIN)
    }

    /// Records that the address was confirmed.
    pub fn mark_email_verified(&mut self, now: DateTime<Utc>) {
        self.email_verified = true;
        self.updated_at = whole_seconds(now);
    }

    /// Whether the user can sign in with a password.
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// Sets or replaces the password hash.
    pub fn change_password(&mut self, password: PasswordHash, now: DateTime<Utc>) {
        self.password = Some(password);
        self.updated_at = whole_seconds(now);
    }

    /// Replaces the roles.
    pub fn set_roles(&mut self, roles: Roles, now: DateTime<Utc>) {
        self.roles = roles;
        self.updated_at = whole_seconds(now);
    }

    /// Disables or re-enables the account.
    pub fn set_disabled(&mut self, disabled: bool, now: DateTime<Utc>) {
        self.disabled = disabled;
        self.updated_at = whole_seconds(now);
    }
}

/// Drops sub-second precision: times are shown, stored and put in tokens to the second.
pub fn whole_seconds(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(time.timestamp(), 0).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BcryptCost, PlainPassword};

    fn new_user() -> NewUser {
        let password = PlainPassword::parse("a good password").expect("valid");
        NewUser {
            name: UserName::parse("Ada").expect("valid"),
            email: Email::parse("Ada@Example.com").expect("valid"),
            password: Some(PasswordHash::from_plain(&password, BcryptCost::new(4).expect("cost")).expect("hash")),
            avatar_url: None,
            roles: Roles::default_for_new_user(),
        }
    }

    #[test]
    fn create_stamps_and_info_hides_the_password() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00.750Z").expect("time").with_timezone(&Utc);
        let user = User::create(new_user(), now);
        assert_eq!(user.created_at.timestamp_subsec_nanos(), 0);
        assert_eq!(user.created_at, user.updated_at);
        assert!(!user.email_verified && !user.disabled);
        let info = user.info();
        assert_eq!(info.email, "ada@example.com");
        assert_eq!(info.roles, vec!["user"]);
        assert!(!format!("{info:?}").contains("$2b$"));
    }

    #[test]
    fn profile_changes_move_updated_at() {
        let start = Utc::now();
        let mut user = User::create(new_user(), start);
        let later = start + chrono::Duration::seconds(5);
        user.rename(UserName::parse("Ada L.").expect("valid"), later);
        assert_eq!(user.info().name, "Ada L.");
        assert!(user.updated_at > user.created_at);
        user.set_avatar(Some(AvatarUrl::parse("https://example.com/a.png").expect("valid")), later);
        assert_eq!(user.info().avatar_url.as_deref(), Some("https://example.com/a.png"));
    }

    #[test]
    fn an_active_admin_has_the_role_and_is_enabled() {
        let now = Utc::now();
        let mut user = User::create(new_user(), now);
        assert!(!user.is_active_admin());
        user.set_roles(Roles::new([Role::user(), Role::admin()]), now);
        assert!(user.is_active_admin());
        user.set_disabled(true, now);
        assert!(!user.is_active_admin() && !user.can_authenticate());
        user.mark_email_verified(now);
        assert!(user.info().email_verified);
    }
}
