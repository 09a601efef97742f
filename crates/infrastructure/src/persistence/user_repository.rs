use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::{AddUserError, PortError, UserRepository};
use portcullis_domain::{Email, User, UserId};

use super::models::UserRow;
use super::schema::users;
use super::{DbConnection, db_error};

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
                other => AddUserError::Port(db_error(other)),
            },
        )?;
        Ok(())
    }

    fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, PortError> {
        users::table
            .filter(users::email.eq(email.as_str()))
            .select(UserRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error)?
            .map(User::try_from)
            .transpose()
    }

    fn find_by_id(&mut self, id: UserId) -> Result<Option<User>, PortError> {
        users::table
            .find(id.to_string())
            .select(UserRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error)?
            .map(User::try_from)
            .transpose()
    }

    fn update(&mut self, user: &User) -> Result<(), PortError> {
        let row = UserRow::from(user);
        diesel::update(users::table.find(&row.id)).set(&row).execute(self.conn).map_err(db_error)?;
        Ok(())
    }
}
