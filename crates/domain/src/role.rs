use std::fmt;

/// A role name: 1..=32 characters of `[a-z0-9_-]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

/// Why a string is not a role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// Empty, too long, or a character outside `[a-z0-9_-]`.
    #[error("a role is 1 to 32 characters of a-z, 0-9, '_' and '-'")]
    Invalid,
}

impl Role {
    /// The role every user has unless told otherwise.
    pub const USER: &'static str = "user";
    /// The role that may use the admin API.
    pub const ADMIN: &'static str = "admin";

    /// Checks a role name.
    ///
    /// # Errors
    /// [`RoleError::Invalid`] when it breaks the naming rule.
    pub fn parse(raw: &str) -> Result<Self, RoleError> {
        let valid = !raw.is_empty()
            && raw.len() <= 32
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid { Ok(Self(raw.to_owned())) } else { Err(RoleError::Invalid) }
    }

    /// The default role, `user`.
    pub fn user() -> Self {
        Self(Self::USER.to_owned())
    }

    /// The administrator role, `admin`.
    pub fn admin() -> Self {
        Self(Self::ADMIN.to_owned())
    }

    /// The role name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user's roles: sorted, without duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Roles(Vec<Role>);

impl Roles {
    /// Builds a role set, sorting and removing duplicates.
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Self {
        let mut roles: Vec<Role> = roles.into_iter().collect();
        roles.sort();
        roles.dedup();
        Self(roles)
    }

    /// `["user"]`, what a new account gets.
    pub fn default_for_new_user() -> Self {
        Self(vec![Role::user()])
    }

    /// Whether the set holds the named role.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|role| role.as_str() == name)
    }

    /// The roles in order.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.0.iter()
    }

    /// The role names in order.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|role| role.as_str().to_owned()).collect()
    }

    /// Parses role names, e.g. read back from storage or from token claims.
    ///
    /// # Errors
    /// [`RoleError`] for the first invalid name.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, RoleError> {
        names.into_iter().map(Role::parse).collect::<Result<Vec<_>, _>>().map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_follow_the_rule() {
        assert!(Role::parse("admin").is_ok());
        assert!(Role::parse("billing-reader_2").is_ok());
        assert_eq!(Role::parse(""), Err(RoleError::Invalid));
        assert_eq!(Role::parse("Admin"), Err(RoleError::Invalid));
        assert_eq!(Role::parse(&"a".repeat(33)), Err(RoleError::Invalid));
    }

    #[test]
    fn roles_are_sorted_and_deduplicated() {
        let roles = Roles::parse(["user", "admin", "user"]).expect("valid");
        assert_eq!(roles.names(), vec!["admin", "user"]);
        assert!(roles.contains("admin"));
        assert!(!roles.contains("root"));
        assert_eq!(Roles::default_for_new_user().names(), vec!["user"]);
    }
}
