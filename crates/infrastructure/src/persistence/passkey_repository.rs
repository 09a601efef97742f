use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use portcullis_application::ports::{PasskeyRepository, PasskeyUse, PortError};
use portcullis_domain::{
    CeremonyPurpose, CredentialId, Passkey, PasskeyCeremony, PasskeyId, PasskeyName, PasskeyRecord, SecretHash, UserId,
};

use super::models::naive;
use super::schema::{passkey_ceremonies, passkeys};
use super::{DbConnection, db_error};

/// Passkeys and passkey ceremonies in the database, inside the caller's transaction. The
/// single-use rules are single statements: a `DELETE` of a ceremony only one caller wins, a
/// compare-and-set on the signature counter.
pub struct DieselPasskeyRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselPasskeyRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = passkeys)]
struct PasskeyRow {
    id: String,
    user_id: String,
    credential_id: String,
    name: String,
    record: String,
    sign_count: i64,
    created_at: chrono::NaiveDateTime,
    last_used_at: Option<chrono::NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = passkey_ceremonies)]
struct CeremonyRow {
    id_hash: String,
    user_id: Option<String>,
    state: String,
    created_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

fn corrupt(what: &str) -> PortError {
    PortError::internal("passkeys.read", format!("stored passkey has a bad {what}"))
}

impl TryFrom<PasskeyRow> for Passkey {
    type Error = PortError;

    fn try_from(row: PasskeyRow) -> Result<Self, PortError> {
        Ok(Self {
            id: row.id.parse().map_err(|_| corrupt("id"))?,
            user_id: row.user_id.parse().map_err(|_| corrupt("user id"))?,
            credential_id: CredentialId::from_stored(row.credential_id),
            name: PasskeyName::parse(&row.name).map_err(|_| corrupt("name"))?,
            record: PasskeyRecord::new(row.record),
            sign_count: u32::try_from(row.sign_count).map_err(|_| corrupt("counter"))?,
            created_at: row.created_at.and_utc(),
            last_used_at: row.last_used_at.map(|time| time.and_utc()),
        })
    }
}

impl From<&Passkey> for PasskeyRow {
    fn from(passkey: &Passkey) -> Self {
        Self {
            id: passkey.id.to_string(),
            user_id: passkey.user_id.to_string(),
            credential_id: passkey.credential_id.as_str().to_owned(),
            name: passkey.name.as_str().to_owned(),
            record: passkey.record.as_str().to_owned(),
            sign_count: i64::from(passkey.sign_count),
            created_at: naive(passkey.created_at),
            last_used_at: passkey.last_used_at.map(naive),
        }
    }
}

impl TryFrom<CeremonyRow> for PasskeyCeremony {
    type Error = PortError;

    fn try_from(row: CeremonyRow) -> Result<Self, PortError> {
        let purpose = match row.user_id {
            Some(user_id) => CeremonyPurpose::Registration(user_id.parse().map_err(|_| corrupt("ceremony user"))?),
            None => CeremonyPurpose::SignIn,
        };
        Ok(Self {
            id_hash: SecretHash::from_stored(row.id_hash),
            purpose,
            state: row.state,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.and_utc(),
        })
    }
}

fn read_all(rows: Vec<PasskeyRow>) -> Result<Vec<Passkey>, PortError> {
    rows.into_iter().map(Passkey::try_from).collect()
}

impl PasskeyRepository for DieselPasskeyRepository<'_> {
    fn add(&mut self, passkey: &Passkey) -> Result<bool, PortError> {
        match diesel::insert_into(passkeys::table).values(PasskeyRow::from(passkey)).execute(self.conn) {
            Ok(_) => Ok(true),
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
            Err(other) => Err(db_error("passkeys.add")(other)),
        }
    }

    fn of_user(&mut self, user_id: UserId) -> Result<Vec<Passkey>, PortError> {
        let rows = passkeys::table
            .filter(passkeys::user_id.eq(user_id.to_string()))
            .order((passkeys::created_at.asc(), passkeys::id.asc()))
            .select(PasskeyRow::as_select())
            .load(self.conn)
            .map_err(db_error("passkeys.of_user"))?;
        read_all(rows)
    }

    fn by_credential_id(&mut self, credential_id: &CredentialId) -> Result<Option<Passkey>, PortError> {
        passkeys::table
            .filter(passkeys::credential_id.eq(credential_id.as_str()))
            .select(PasskeyRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("passkeys.by_credential_id"))?
            .map(Passkey::try_from)
            .transpose()
    }

    fn record_use(&mut self, change: &PasskeyUse<'_>) -> Result<bool, PortError> {
        let target = passkeys::table
            .find(change.id.to_string())
            .filter(passkeys::sign_count.eq(i64::from(change.previous_count)));
        let at = Some(naive(portcullis_domain::whole_seconds(change.at)));
        let updated = match change.record {
            Some(record) => diesel::update(target)
                .set((
                    passkeys::sign_count.eq(i64::from(change.sign_count)),
                    passkeys::record.eq(record.as_str()),
                    passkeys::last_used_at.eq(at),
                ))
                .execute(self.conn),
            None => diesel::update(target)
                .set((passkeys::sign_count.eq(i64::from(change.sign_count)), passkeys::last_used_at.eq(at)))
                .execute(self.conn),
        }
        .map_err(db_error("passkeys.record_use"))?;
        Ok(updated == 1)
    }

    fn rename(&mut self, user_id: UserId, id: PasskeyId, name: &PasskeyName) -> Result<bool, PortError> {
        let updated =
            diesel::update(passkeys::table.find(id.to_string()).filter(passkeys::user_id.eq(user_id.to_string())))
                .set(passkeys::name.eq(name.as_str()))
                .execute(self.conn)
                .map_err(db_error("passkeys.rename"))?;
        Ok(updated == 1)
    }

    fn delete(&mut self, user_id: UserId, id: PasskeyId) -> Result<bool, PortError> {
        let deleted =
            diesel::delete(passkeys::table.find(id.to_string()).filter(passkeys::user_id.eq(user_id.to_string())))
                .execute(self.conn)
                .map_err(db_error("passkeys.delete"))?;
        Ok(deleted == 1)
    }

    fn delete_all_of_user(&mut self, user_id: UserId) -> Result<usize, PortError> {
        diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id.to_string())))
            .execute(self.conn)
            .map_err(db_error("passkeys.delete_all_of_user"))
    }

    fn add_ceremony(&mut self, ceremony: &PasskeyCeremony) -> Result<(), PortError> {
        let user_id = match ceremony.purpose {
            CeremonyPurpose::Registration(user_id) => Some(user_id.to_string()),
            CeremonyPurpose::SignIn => None,
        };
        let row = CeremonyRow {
            id_hash: ceremony.id_hash.as_str().to_owned(),
            user_id,
            state: ceremony.state.clone(),
            created_at: naive(ceremony.created_at),
            expires_at: naive(ceremony.expires_at),
        };
        diesel::insert_into(passkey_ceremonies::table)
            .values(row)
            .execute(self.conn)
            .map_err(db_error("passkeys.add_ceremony"))?;
        Ok(())
    }

    /// Reads the row, then deletes it; only the caller whose delete removed it gets the
    /// ceremony (on PostgreSQL a concurrent delete waits for this one and then removes nothing).
    fn take_ceremony(&mut self, id_hash: &SecretHash) -> Result<Option<PasskeyCeremony>, PortError> {
        let Some(row) = passkey_ceremonies::table
            .find(id_hash.as_str())
            .select(CeremonyRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("passkeys.take_ceremony"))?
        else {
            return Ok(None);
        };
        let deleted = diesel::delete(passkey_ceremonies::table.find(id_hash.as_str()))
            .execute(self.conn)
            .map_err(db_error("passkeys.take_ceremony"))?;
        if deleted == 0 {
            return Ok(None);
        }
        PasskeyCeremony::try_from(row).map(Some)
    }
}
