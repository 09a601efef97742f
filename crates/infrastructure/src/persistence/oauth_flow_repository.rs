use diesel::prelude::*;
use portcullis_application::ports::{OAuthFlowRepository, PortError};
use portcullis_domain::{OAuthFlow, ProviderId, SecretHash};

use super::DbConnection;
use super::db_error;
use super::models::naive;
use super::schema::oauth_flows;

/// Sign-in flows in the database, inside the caller's transaction.
pub struct DieselOAuthFlowRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselOAuthFlowRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = oauth_flows)]
struct FlowRow {
    state_hash: String,
    binding_hash: String,
    provider: String,
    next_path: String,
    linking_user_id: Option<String>,
    created_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

impl From<&OAuthFlow> for FlowRow {
    fn from(flow: &OAuthFlow) -> Self {
        Self {
            state_hash: flow.state_hash.as_str().to_owned(),
            binding_hash: flow.binding_hash.as_str().to_owned(),
            provider: flow.provider.as_str().to_owned(),
            next_path: flow.next.clone(),
            linking_user_id: flow.linking_user.map(|id| id.to_string()),
            created_at: naive(flow.created_at),
            expires_at: naive(flow.expires_at),
        }
    }
}

impl TryFrom<FlowRow> for OAuthFlow {
    type Error = PortError;

    fn try_from(row: FlowRow) -> Result<Self, PortError> {
        let corrupt = |what: &str| PortError::internal("oauth_flows.read", format!("stored flow has a bad {what}"));
        Ok(Self {
            state_hash: SecretHash::from_stored(row.state_hash),
            binding_hash: SecretHash::from_stored(row.binding_hash),
            provider: ProviderId::parse(&row.provider).map_err(|_| corrupt("provider id"))?,
            next: row.next_path,
            linking_user: row.linking_user_id.map(|id| id.parse()).transpose().map_err(|_| corrupt("user id"))?,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.and_utc(),
        })
    }
}

impl OAuthFlowRepository for DieselOAuthFlowRepository<'_> {
    fn add(&mut self, flow: &OAuthFlow) -> Result<(), PortError> {
        diesel::insert_into(oauth_flows::table)
            .values(FlowRow::from(flow))
            .execute(self.conn)
            .map_err(db_error("oauth_flows.add"))?;
        Ok(())
    }

    /// Reads the row, then deletes it; only the caller whose delete removed it gets the
    /// flow (on PostgreSQL a concurrent delete waits for this one and then removes nothing).
    fn take(&mut self, state_hash: &SecretHash) -> Result<Option<OAuthFlow>, PortError> {
        let Some(row) = oauth_flows::table
            .find(state_hash.as_str())
            .select(FlowRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("oauth_flows.take"))?
        else {
            return Ok(None);
        };
        let deleted = diesel::delete(oauth_flows::table.find(state_hash.as_str()))
            .execute(self.conn)
            .map_err(db_error("oauth_flows.take"))?;
        if deleted == 0 {
            return Ok(None);
        }
        OAuthFlow::try_from(row).map(Some)
    }
}
