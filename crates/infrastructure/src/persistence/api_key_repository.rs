use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::{ApiKeyRepository, PortError};
use portcullis_domain::{ApiKey, ApiKeyId, User, UserId, whole_seconds};

use super::models::{ApiKeyRow, UserRow, naive};
use super::schema::{api_keys, users};
use super::{DbConnection, db_error};

/// API keys in the database, inside the caller's transaction. Only their hashes are stored;
/// the visible prefix is unique and finds a presented key.
pub struct DieselApiKeyRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselApiKeyRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

impl ApiKeyRepository for DieselApiKeyRepository<'_> {
    fn add(&mut self, key: &ApiKey) -> Result<(), PortError> {
        // A prefix already in use violates the unique constraint: `PortError::Internal`.
        diesel::insert_into(api_keys::table)
            .values(ApiKeyRow::from(key))
            .execute(self.conn)
            .map_err(db_error("api_keys.add"))?;
        Ok(())
    }

    fn keys_of_user(&mut self, user_id: UserId) -> Result<Vec<ApiKey>, PortError> {
        api_keys::table
            .filter(api_keys::user_id.eq(user_id.to_string()))
            .order((api_keys::created_at.asc(), api_keys::id.asc()))
            .select(ApiKeyRow::as_select())
            .load(self.conn)
            .map_err(db_error("api_keys.keys_of_user"))?
            .into_iter()
            .map(ApiKey::try_from)
            .collect()
    }

    fn find_by_prefix(&mut self, prefix: &str) -> Result<Option<ApiKey>, PortError> {
        api_keys::table
            .filter(api_keys::prefix.eq(prefix))
            .select(ApiKeyRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("api_keys.find_by_prefix"))?
            .map(ApiKey::try_from)
            .transpose()
    }

    fn delete(&mut self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError> {
        let deleted = diesel::delete(
            api_keys::table.filter(api_keys::id.eq(id.to_string())).filter(api_keys::user_id.eq(user_id.to_string())),
        )
        .execute(self.conn)
        .map_err(db_error("api_keys.delete"))?;
        Ok(deleted > 0)
    }

    fn touch(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<(), PortError> {
        diesel::update(api_keys::table.find(id.to_string()))
            .set(api_keys::last_used_at.eq(Some(naive(whole_seconds(now)))))
            .execute(self.conn)
            .map_err(db_error("api_keys.touch"))?;
        Ok(())
    }
}

/// The API key with this prefix and its owner in one statement (an inner join): what
/// [`portcullis_application::ports::UnitOfWork::api_key_with_owner`] answers.
pub(super) fn find_with_owner(conn: &mut DbConnection, prefix: &str) -> Result<Option<(ApiKey, User)>, PortError> {
    let row = api_keys::table
        .inner_join(users::table)
        .filter(api_keys::prefix.eq(prefix))
        .select((ApiKeyRow::as_select(), UserRow::as_select()))
        .first::<(ApiKeyRow, UserRow)>(conn)
        .optional()
        .map_err(db_error("api_keys.find_with_owner"))?;
    row.map(|(key, owner)| Ok((ApiKey::try_from(key)?, User::try_from(owner)?))).transpose()
}
