use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::{AccountTokenRepository, PortError};
use portcullis_domain::{AccountToken, AccountTokenPurpose, SecretHash, UserId, whole_seconds};

use super::models::{AccountTokenRow, naive};
use super::schema::account_tokens;
use super::{DbConnection, db_error};

/// Mailed single-use tokens (email verification, password reset) in the database, inside
/// the caller's transaction. Only their hashes are stored.
pub struct DieselAccountTokenRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselAccountTokenRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

impl AccountTokenRepository for DieselAccountTokenRepository<'_> {
    fn add(&mut self, token: &AccountToken) -> Result<(), PortError> {
        diesel::insert_into(account_tokens::table)
            .values(AccountTokenRow::from(token))
            .execute(self.conn)
            .map_err(db_error("account_tokens.add"))?;
        Ok(())
    }

    fn find(&mut self, hash: &SecretHash) -> Result<Option<AccountToken>, PortError> {
        account_tokens::table
            .find(hash.as_str())
            .select(AccountTokenRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("account_tokens.find"))?
            .map(AccountToken::try_from)
            .transpose()
    }

    fn mark_used(&mut self, hash: &SecretHash, now: DateTime<Utc>) -> Result<bool, PortError> {
        // Compare-and-set: of concurrent redemptions only the one that finds `used_at`
        // still empty changes the row.
        let updated = diesel::update(
            account_tokens::table
                .filter(account_tokens::token_hash.eq(hash.as_str()))
                .filter(account_tokens::used_at.is_null()),
        )
        .set(account_tokens::used_at.eq(Some(naive(whole_seconds(now)))))
        .execute(self.conn)
        .map_err(db_error("account_tokens.mark_used"))?;
        Ok(updated == 1)
    }

    fn delete_for_user(&mut self, user_id: UserId, purpose: AccountTokenPurpose) -> Result<usize, PortError> {
        diesel::delete(
            account_tokens::table
                .filter(account_tokens::user_id.eq(user_id.to_string()))
                .filter(account_tokens::purpose.eq(purpose.as_str())),
        )
        .execute(self.conn)
        .map_err(db_error("account_tokens.delete_for_user"))
    }
}
