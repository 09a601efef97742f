//! The admin API: list, read, change (roles, disabled) and delete users.
//!
//! Every operation first re-reads the acting user and requires them to be an active admin
//! (role `admin`, not disabled) in storage: the roles in an access token may be up to its
//! lifetime stale. No operation may leave the service without an active admin.

use std::sync::Arc;

use portcullis_domain::{Roles, User, UserId, UserInfo};
use shaku::Component;

use crate::ports::{Clock, PortError, UnitOfWork, UnitOfWorkFactory, UserQuery};
use crate::validation::ValidationErrors;

/// Most users one page of [`AdminUseCase::list_users`] holds; larger limits are lowered to it.
pub const MAX_USERS_PAGE: usize = 100;

/// A user as an administrator sees them: the public view plus whether the account is disabled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminUserView {
    /// The user's public data.
    pub user: UserInfo,
    /// Whether the account is disabled (cannot log in or refresh).
    pub disabled: bool,
}

impl From<&User> for AdminUserView {
    fn from(user: &User) -> Self {
        Self { user: user.info(), disabled: user.disabled }
    }
}

/// Input of [`AdminUseCase::list_users`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListUsersQuery {
    /// The administrator asking.
    pub actor: UserId,
    /// A case-insensitive substring of the email or the name; blank means everyone.
    pub search: Option<String>,
    /// The previous page's `next_cursor`.
    pub after: Option<UserId>,
    /// Page size, 1..=100 (validated by the caller; clamped here).
    pub limit: usize,
}

/// One page of users, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPage {
    /// The users on this page.
    pub items: Vec<AdminUserView>,
    /// The cursor for the next page; `None` on the last page.
    pub next_cursor: Option<UserId>,
}

/// Input of [`AdminUseCase::update_user`]. `None` leaves a field as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateUserCommand {
    /// The administrator asking.
    pub actor: UserId,
    /// The user to change.
    pub user_id: UserId,
    /// The complete new set of role names (replaces the old one); must not be empty.
    pub roles: Option<Vec<String>>,
    /// Disable (`true`) or re-enable (`false`) the account.
    pub disabled: Option<bool>,
}

/// Why users could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListUsersError {
    /// The actor is not an active admin (or no longer exists).
    #[error("administrator role required")]
    Forbidden,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a user could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    /// The actor is not an active admin (or no longer exists).
    #[error("administrator role required")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a user could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    /// The actor is not an active admin (or no longer exists).
    #[error("administrator role required")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The input breaks the rules (field `roles`).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// An administrator may not disable or demote themself.
    #[error("an administrator cannot disable or demote themself")]
    SelfLockout,
    /// The change would leave no active administrator.
    #[error("the last active administrator cannot be disabled or demoted")]
    LastAdmin,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a user could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    /// The actor is not an active admin (or no longer exists).
    #[error("administrator role required")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The user is the last active administrator (the actor included).
    #[error("the last active administrator cannot be deleted")]
    LastAdmin,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a user's second factors could not be reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetSecondFactorsError {
    /// The actor is not an active admin (or no longer exists).
    #[error("administrator role required")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// User administration. Implemented by [`AdminHandler`]; the HTTP layer and embedders call
/// it through this trait. Every operation answers `Forbidden` unless `actor` is, in storage,
/// an existing, enabled user with role `admin`.
pub trait AdminUseCase: shaku::Interface {
    /// One page of users in creation order, filtered by `query.search`.
    ///
    /// # Errors
    /// See [`ListUsersError`].
    fn list_users(&self, query: ListUsersQuery) -> Result<UserPage, ListUsersError>;

    /// One user.
    ///
    /// # Errors
    /// See [`GetUserError`].
    fn get_user(&self, actor: UserId, user_id: UserId) -> Result<AdminUserView, GetUserError>;

    /// Replaces a user's roles and/or disables or re-enables them; disabling ends every
    /// session of theirs in the same transaction. Returns the updated user.
    ///
    /// # Errors
    /// See [`UpdateUserError`]. When the actor is the only active admin and would demote or
    /// disable themself, the answer is [`UpdateUserError::LastAdmin`]; when another active
    /// admin remains, [`UpdateUserError::SelfLockout`].
    fn update_user(&self, command: UpdateUserCommand) -> Result<AdminUserView, UpdateUserError>;

    /// Deletes a user and everything of theirs (sessions, API keys, mailed tokens).
    ///
    /// # Errors
    /// See [`DeleteUserError`].
    fn delete_user(&self, actor: UserId, user_id: UserId) -> Result<(), DeleteUserError>;

    /// For a user who lost every second factor: removes their TOTP, recovery codes and
    /// passkeys, and ends every session of theirs.
    ///
    /// # Errors
    /// See [`ResetSecondFactorsError`].
    fn reset_second_factors(&self, actor: UserId, user_id: UserId) -> Result<(), ResetSecondFactorsError>;
}

/// Handles the admin API.
#[derive(Component)]
#[shaku(interface = AdminUseCase)]
pub struct AdminHandler {
    #[shaku(inject)]
    units: Arc<dyn UnitOfWorkFactory>,
    #[shaku(inject)]
    clock: Arc<dyn Clock>,
}

/// `Ok` when `actor` is, in this unit, an existing and active admin; `forbidden` otherwise.
fn require_admin<E: From<PortError>>(unit: &mut dyn UnitOfWork, actor: UserId, forbidden: E) -> Result<(), E> {
    let is_admin = unit.users().find_by_id(actor)?.is_some_and(|user| user.is_active_admin());
    if is_admin { Ok(()) } else { Err(forbidden) }
}

/// A trimmed, non-blank search term.
fn normalise_search(search: Option<String>) -> Option<String> {
    search.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

/// Parses the new role names: none given is fine, an empty list is not.
fn parse_roles(roles: Option<&[String]>) -> Result<Option<Roles>, ValidationErrors> {
    let Some(names) = roles else { return Ok(None) };
    let mut errors = ValidationErrors::new();
    if names.is_empty() {
        errors.add("roles", "required", "at least one role is required");
        return Err(errors);
    }
    match Roles::parse(names.iter().map(String::as_str)) {
        Ok(roles) => Ok(Some(roles)),
        Err(error) => {
            errors.add("roles", "invalid", error.to_string());
            Err(errors)
        }
    }
}

impl AdminUseCase for AdminHandler {
    #[tracing::instrument(name = "command", skip_all, fields(command = "admin_list_users"))]
    fn list_users(&self, query: ListUsersQuery) -> Result<UserPage, ListUsersError> {
        let limit = query.limit.clamp(1, MAX_USERS_PAGE);
        let mut unit = self.units.begin_read()?;
        require_admin(unit.as_mut(), query.actor, ListUsersError::Forbidden)?;
        let user_query = UserQuery { search: normalise_search(query.search), after: query.after, limit: limit + 1 };
        let mut users = unit.users().list(&user_query)?;
        unit.commit()?;

        let more = users.len() > limit;
        users.truncate(limit);
        let next_cursor = if more { users.last().map(|user| user.id) } else { None };
        Ok(UserPage { items: users.iter().map(AdminUserView::from).collect(), next_cursor })
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "admin_get_user"))]
    fn get_user(&self, actor: UserId, user_id: UserId) -> Result<AdminUserView, GetUserError> {
        let mut unit = self.units.begin_read()?;
        require_admin(unit.as_mut(), actor, GetUserError::Forbidden)?;
        let user = unit.users().find_by_id(user_id)?.ok_or(GetUserError::NotFound)?;
        unit.commit()?;
        Ok(AdminUserView::from(&user))
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "admin_update_user"))]
    fn update_user(&self, command: UpdateUserCommand) -> Result<AdminUserView, UpdateUserError> {
        let roles = parse_roles(command.roles.as_deref());
        let now = self.clock.now();
        let mut unit = self.units.begin()?;
        require_admin(unit.as_mut(), command.actor, UpdateUserError::Forbidden)?;
        let roles = roles.map_err(UpdateUserError::Validation)?;
        let mut user = unit.users().find_by_id(command.user_id)?.ok_or(UpdateUserError::NotFound)?;

        let was_active_admin = user.is_active_admin();
        if let Some(roles) = roles {
            user.set_roles(roles, now);
        }
        if let Some(disabled) = command.disabled {
            user.set_disabled(disabled, now);
        }
        if was_active_admin && !user.is_active_admin() {
            if unit.users().count_active_admins()? <= 1 {
                return Err(UpdateUserError::LastAdmin);
            }
            if user.id == command.actor {
                return Err(UpdateUserError::SelfLockout);
            }
        }

        if command.roles.is_some() || command.disabled.is_some() {
            unit.users().update(&user)?;
        }
        let ended = if command.disabled == Some(true) { unit.sessions().delete_sessions_of_user(user.id)? } else { 0 };
        unit.commit()?;
        tracing::info!(
            actor = %command.actor,
            user_id = %user.id,
            roles = ?user.roles.names(),
            disabled = user.disabled,
            sessions_ended = ended,
            "user changed by an administrator"
        );
        Ok(AdminUserView::from(&user))
    }

    #[tracing::instrument(name = "command", skip_all, fields(command = "admin_delete_user"))]
    fn delete_user(&self, actor: UserId, user_id: UserId) -> Result<(), DeleteUserError> {
        let mut unit = self.units.begin()?;
        require_admin(unit.as_mut(), actor, DeleteUserError::Forbidden)?;
        let user = unit.users().find_by_id(user_id)?.ok_or(DeleteUserError::NotFound)?;
        if user.is_active_admin() && unit.users().count_active_admins()? <= 1 {
            return Err(DeleteUserError::LastAdmin);
        }
        if !unit.users().delete(user_id)? {
            return Err(DeleteUserError::NotFound);
        }
        unit.commit()?;
        tracing::info!(%actor, %user_id, "user deleted by an administrator");
        Ok(())
    }
    #[tracing::instrument(name = "command", skip_all, fields(command = "admin_reset_second_factors"))]
    fn reset_second_factors(&self, actor: UserId, user_id: UserId) -> Result<(), ResetSecondFactorsError> {
        let mut unit = self.units.begin()?;
        require_admin(unit.as_mut(), actor, ResetSecondFactorsError::Forbidden)?;
        if unit.users().find_by_id(user_id)?.is_none() {
            return Err(ResetSecondFactorsError::NotFound);
        }
        unit.second_factors().delete_totp(user_id)?;
        let passkeys = unit.passkeys().delete_all_of_user(user_id)?;
        let ended = unit.sessions().delete_sessions_of_user(user_id)?;
        unit.commit()?;
        tracing::info!(%actor, %user_id, passkeys, sessions_ended = ended, "second factors reset by an administrator");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_searches_are_no_search() {
        assert_eq!(normalise_search(None), None);
        assert_eq!(normalise_search(Some("  \t ".to_owned())), None);
        assert_eq!(normalise_search(Some("  Ada ".to_owned())), Some("Ada".to_owned()));
    }

    #[test]
    fn roles_must_be_named_and_valid() {
        assert_eq!(parse_roles(None), Ok(None));
        let roles = parse_roles(Some(&["user".to_owned(), "admin".to_owned()])).expect("valid");
        assert_eq!(roles.map(|roles| roles.names()), Some(vec!["admin".to_owned(), "user".to_owned()]));
        let empty = parse_roles(Some(&[])).expect_err("empty");
        assert_eq!(empty.errors()[0].code, "required");
        let bad = parse_roles(Some(&["Root".to_owned()])).expect_err("invalid");
        assert_eq!((bad.errors()[0].field.as_str(), bad.errors()[0].code.as_str()), ("roles", "invalid"));
    }
}
