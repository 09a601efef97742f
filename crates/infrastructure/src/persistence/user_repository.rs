use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Text;
use portcullis_application::ports::{AddUserError, PortError, UserQuery, UserRepository};
use portcullis_domain::{Email, Role, User, UserId};

use super::models::UserRow;
use super::schema::users;
use super::{DbConnection, database_failure, db_error};

diesel::define_sql_function! {
    /// SQL `lower(text)`: applied to both sides of a search so that PostgreSQL matches
    /// case-insensitively like SQLite's `LIKE`.
    fn lower(x: Text) -> Text;
}

/// The escape character of the search patterns.
const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern matching `needle` literally anywhere: `%`, `_` and the escape character
/// itself are escaped.
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Users in the database, inside the caller's transaction.
pub struct DieselUserRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselUserRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

impl UserRepository for DieselUserRepository<'_> {
    fn add(&mut self, user: &User) -> Result<(), AddUserError> {
        diesel::insert_into(users::table).values(UserRow::from(user)).execute(self.conn).map_err(
            |error| match error {
                Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => AddUserError::EmailTaken,
                other => AddUserError::Port(database_failure("users.add", other)),
            },
        )?;
        Ok(())
    }

    fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, PortError> {
        users::table
            .filter(users::email.eq(email.as_str()))
            .select(UserRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("users.find_by_email"))?
            .map(User::try_from)
            .transpose()
    }

    fn find_by_id(&mut self, id: UserId) -> Result<Option<User>, PortError> {
        users::table
            .find(id.to_string())
            .select(UserRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("users.find_by_id"))?
            .map(User::try_from)
            .transpose()
    }

    fn update(&mut self, user: &User) -> Result<(), PortError> {
        let row = UserRow::from(user);
        diesel::update(users::table.find(&row.id)).set(&row).execute(self.conn).map_err(db_error("users.update"))?;
        Ok(())
    }

    fn delete(&mut self, id: UserId) -> Result<bool, PortError> {
        // Sessions (and through them refresh tokens), mailed tokens, API keys and lockout
        // records go with the user: every referencing table has `ON DELETE CASCADE`, and
        // SQLite connections are opened with `PRAGMA foreign_keys = ON`.
        let deleted =
            diesel::delete(users::table.find(id.to_string())).execute(self.conn).map_err(db_error("users.delete"))?;
        Ok(deleted > 0)
    }

    fn list(&mut self, query: &UserQuery) -> Result<Vec<User>, PortError> {
        let mut select = users::table.select(UserRow::as_select()).order(users::id.asc()).into_boxed();
        if let Some(after) = query.after {
            select = select.filter(users::id.gt(after.to_string()));
        }
        if let Some(search) = query.search.as_deref() {
            let pattern = contains_pattern(search);
            select = select.filter(
                lower(users::email)
                    .like(lower(pattern.clone()))
                    .escape(LIKE_ESCAPE)
                    .or(lower(users::name).like(lower(pattern)).escape(LIKE_ESCAPE)),
            );
        }
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        select.limit(limit).load(self.conn).map_err(db_error("users.list"))?.into_iter().map(User::try_from).collect()
    }

    fn count_active_admins(&mut self) -> Result<u64, PortError> {
        // Roles are stored comma-separated. `LIKE` narrows to candidates on any backend;
        // the exact whole-role comparison is made here, so `superadmin` does not count.
        let candidates: Vec<String> = users::table
            .filter(users::disabled.eq(false))
            .filter(users::roles.like(format!("%{}%", Role::ADMIN)))
            .select(users::roles)
            .load(self.conn)
            .map_err(db_error("users.count_active_admins"))?;
        let admins = candidates.iter().filter(|roles| roles.split(',').any(|role| role == Role::ADMIN)).count();
        Ok(admins as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn search_patterns_match_literally() {
        assert_eq!(contains_pattern("ada"), "%ada%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
