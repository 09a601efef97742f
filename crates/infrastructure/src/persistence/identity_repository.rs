use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::{IdentityRepository, PortError};
use portcullis_domain::{Email, ExternalIdentity, ProviderId, UserId};

use super::models::naive;
use super::schema::external_identities;
use super::{DbConnection, db_error};

/// Linked provider identities in the database, inside the caller's transaction. The
/// primary key (provider, subject) and the unique (user, provider) pair are what refuse a
/// second link, so two instances linking at once cannot both succeed.
pub struct DieselIdentityRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselIdentityRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = external_identities)]
struct IdentityRow {
    provider: String,
    subject: String,
    user_id: String,
    email: Option<String>,
    linked_at: chrono::NaiveDateTime,
}

impl From<&ExternalIdentity> for IdentityRow {
    fn from(identity: &ExternalIdentity) -> Self {
        Self {
            provider: identity.provider.as_str().to_owned(),
            subject: identity.subject.clone(),
            user_id: identity.user_id.to_string(),
            email: identity.email.as_ref().map(|email| email.as_str().to_owned()),
            linked_at: naive(identity.linked_at),
        }
    }
}

impl TryFrom<IdentityRow> for ExternalIdentity {
    type Error = PortError;

    fn try_from(row: IdentityRow) -> Result<Self, PortError> {
        let corrupt = |what: &str| PortError::internal("identities.read", format!("stored identity has a bad {what}"));
        Ok(Self {
            user_id: row.user_id.parse().map_err(|_| corrupt("user id"))?,
            provider: ProviderId::parse(&row.provider).map_err(|_| corrupt("provider id"))?,
            subject: row.subject,
            // An address the provider gave that no longer parses is only display data.
            email: row.email.and_then(|email| Email::parse(&email).ok()),
            linked_at: row.linked_at.and_utc(),
        })
    }
}

impl IdentityRepository for DieselIdentityRepository<'_> {
    fn link(&mut self, identity: &ExternalIdentity) -> Result<bool, PortError> {
        match diesel::insert_into(external_identities::table).values(IdentityRow::from(identity)).execute(self.conn) {
            Ok(_) => Ok(true),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(other) => Err(db_error("identities.link")(other)),
        }
    }

    fn find(&mut self, provider: &ProviderId, subject: &str) -> Result<Option<ExternalIdentity>, PortError> {
        external_identities::table
            .find((provider.as_str(), subject))
            .select(IdentityRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("identities.find"))?
            .map(ExternalIdentity::try_from)
            .transpose()
    }

    fn identities_of_user(&mut self, user_id: UserId) -> Result<Vec<ExternalIdentity>, PortError> {
        external_identities::table
            .filter(external_identities::user_id.eq(user_id.to_string()))
            .order(external_identities::provider.asc())
            .select(IdentityRow::as_select())
            .load(self.conn)
            .map_err(db_error("identities.identities_of_user"))?
            .into_iter()
            .map(ExternalIdentity::try_from)
            .collect()
    }

    fn unlink(&mut self, user_id: UserId, provider: &ProviderId) -> Result<bool, PortError> {
        let deleted = diesel::delete(
            external_identities::table
                .filter(external_identities::user_id.eq(user_id.to_string()))
                .filter(external_identities::provider.eq(provider.as_str())),
        )
        .execute(self.conn)
        .map_err(db_error("identities.unlink"))?;
        Ok(deleted > 0)
    }
}
