use diesel::prelude::*;
use portcullis_application::ports::{PortError, SecondFactorRepository};
use portcullis_domain::{AuthMethod, AuthMethods, MfaChallenge, SecretHash, TotpCredential, TotpSecret, UserId};

use super::models::naive;
use super::schema::{mfa_challenges, recovery_codes, totp_credentials};
use super::{DbConnection, db_error};
use crate::sealing::SecretSealer;

/// TOTP credentials, recovery codes and second-step challenges in the database, inside the
/// caller's transaction. The single-use rules are single statements: a compare-and-set on the
/// TOTP step, a `DELETE` of a recovery code or a challenge that only one caller can win.
pub struct DieselSecondFactorRepository<'c> {
    conn: &'c mut DbConnection,
    sealer: &'c SecretSealer,
}

impl<'c> DieselSecondFactorRepository<'c> {
    /// A repository over a connection that is inside a unit of work; TOTP secrets are
    /// stored as `sealer` seals them.
    pub fn new(conn: &'c mut DbConnection, sealer: &'c SecretSealer) -> Self {
        Self { conn, sealer }
    }
}

/// The associated data that binds a sealed TOTP secret to its user.
fn sealing_context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// Seals again, with the current encryption key, every TOTP secret not sealed by it (by a
/// compare-and-set on the stored value). Returns how many were written.
///
/// # Errors
/// [`PortError`] when the database fails or a stored secret does not open.
pub fn reseal_totp_secrets(pool: &super::DbPool, sealer: &SecretSealer) -> Result<usize, PortError> {
    if !sealer.is_enabled() {
        return Ok(0);
    }
    let mut conn = pool.get().map_err(|error| PortError::unavailable("second_factors.reseal", error))?;
    let rows: Vec<(String, String)> = totp_credentials::table
        .select((totp_credentials::user_id, totp_credentials::secret))
        .load(&mut **conn)
        .map_err(db_error("second_factors.reseal"))?;
    let mut written = 0;
    for (user_id, stored) in rows.into_iter().filter(|(_, stored)| sealer.needs_resealing(stored)) {
        let context = sealing_context(&user_id);
        let plain = sealer
            .open(&stored, &context)
            .map_err(|error| PortError::internal("second_factors.reseal", error.to_string()))?;
        written += diesel::update(
            totp_credentials::table
                .filter(totp_credentials::user_id.eq(&user_id))
                .filter(totp_credentials::secret.eq(&stored)),
        )
        .set(totp_credentials::secret.eq(sealer.seal(plain.expose(), &context)))
        .execute(&mut **conn)
        .map_err(db_error("second_factors.reseal"))?;
    }
    Ok(written)
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = totp_credentials)]
struct TotpRow {
    user_id: String,
    secret: String,
    confirmed_at: Option<chrono::NaiveDateTime>,
    last_used_step: Option<i64>,
    created_at: chrono::NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Debug)]
#[diesel(table_name = mfa_challenges)]
struct ChallengeRow {
    token_hash: String,
    user_id: String,
    first_factor: String,
    failures: i32,
    created_at: chrono::NaiveDateTime,
    expires_at: chrono::NaiveDateTime,
}

fn corrupt(what: &str) -> PortError {
    PortError::internal("second_factors.read", format!("stored second factor has a bad {what}"))
}

impl TotpRow {
    fn into_credential(self, sealer: &SecretSealer) -> Result<TotpCredential, PortError> {
        let secret = sealer
            .open(&self.secret, &sealing_context(&self.user_id))
            .map_err(|error| PortError::internal("second_factors.read", error.to_string()))?;
        let row = self;
        Ok(TotpCredential {
            user_id: row.user_id.parse().map_err(|_| corrupt("user id"))?,
            secret: TotpSecret::from_base32(secret.expose()).ok_or_else(|| corrupt("secret"))?,
            confirmed_at: row.confirmed_at.map(|time| time.and_utc()),
            last_used_step: row
                .last_used_step
                .map(|step| u64::try_from(step).map_err(|_| corrupt("step")))
                .transpose()?,
            created_at: row.created_at.and_utc(),
        })
    }
}

impl TryFrom<ChallengeRow> for MfaChallenge {
    type Error = PortError;

    fn try_from(row: ChallengeRow) -> Result<Self, PortError> {
        Ok(Self {
            token_hash: SecretHash::from_stored(row.token_hash),
            user_id: row.user_id.parse().map_err(|_| corrupt("user id"))?,
            first_factor: AuthMethods::from_claims(row.first_factor.split_whitespace())
                .map_err(|_| corrupt("first factor"))?,
            failures: u32::try_from(row.failures).map_err(|_| corrupt("failure count"))?,
            created_at: row.created_at.and_utc(),
            expires_at: row.expires_at.and_utc(),
        })
    }
}

fn step(step: u64) -> Result<i64, PortError> {
    i64::try_from(step).map_err(|_| PortError::internal("second_factors.step", "TOTP step out of range"))
}

impl SecondFactorRepository for DieselSecondFactorRepository<'_> {
    fn totp(&mut self, user_id: UserId) -> Result<Option<TotpCredential>, PortError> {
        totp_credentials::table
            .find(user_id.to_string())
            .select(TotpRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("second_factors.totp"))?
            .map(|row| row.into_credential(self.sealer))
            .transpose()
    }

    fn save_totp(&mut self, credential: &TotpCredential) -> Result<(), PortError> {
        let row = TotpRow {
            user_id: credential.user_id.to_string(),
            secret: self
                .sealer
                .seal(credential.secret.to_base32().expose(), &sealing_context(&credential.user_id.to_string())),
            confirmed_at: credential.confirmed_at.map(naive),
            last_used_step: credential.last_used_step.map(step).transpose()?,
            created_at: naive(credential.created_at),
        };
        diesel::delete(totp_credentials::table.find(&row.user_id))
            .execute(self.conn)
            .map_err(db_error("second_factors.save_totp"))?;
        diesel::insert_into(totp_credentials::table)
            .values(row)
            .execute(self.conn)
            .map_err(db_error("second_factors.save_totp"))?;
        Ok(())
    }

    fn delete_totp(&mut self, user_id: UserId) -> Result<bool, PortError> {
        let id = user_id.to_string();
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&id)))
            .execute(self.conn)
            .map_err(db_error("second_factors.delete_totp"))?;
        let deleted = diesel::delete(totp_credentials::table.find(&id))
            .execute(self.conn)
            .map_err(db_error("second_factors.delete_totp"))?;
        Ok(deleted > 0)
    }

    fn spend_totp_step(&mut self, user_id: UserId, used: u64) -> Result<bool, PortError> {
        let used = step(used)?;
        let updated = diesel::update(
            totp_credentials::table
                .find(user_id.to_string())
                .filter(totp_credentials::last_used_step.is_null().or(totp_credentials::last_used_step.lt(used))),
        )
        .set(totp_credentials::last_used_step.eq(used))
        .execute(self.conn)
        .map_err(db_error("second_factors.spend_totp_step"))?;
        Ok(updated == 1)
    }

    fn replace_recovery_codes(&mut self, user_id: UserId, hashes: &[SecretHash]) -> Result<(), PortError> {
        let id = user_id.to_string();
        diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(&id)))
            .execute(self.conn)
            .map_err(db_error("second_factors.replace_recovery_codes"))?;
        let rows: Vec<_> = hashes
            .iter()
            .map(|hash| {
                (recovery_codes::user_id.eq(id.clone()), recovery_codes::code_hash.eq(hash.as_str().to_owned()))
            })
            .collect();
        for row in rows {
            diesel::insert_into(recovery_codes::table)
                .values(row)
                .execute(self.conn)
                .map_err(db_error("second_factors.replace_recovery_codes"))?;
        }
        Ok(())
    }

    fn spend_recovery_code(&mut self, user_id: UserId, hash: &SecretHash) -> Result<bool, PortError> {
        let deleted = diesel::delete(recovery_codes::table.find((user_id.to_string(), hash.as_str())))
            .execute(self.conn)
            .map_err(db_error("second_factors.spend_recovery_code"))?;
        Ok(deleted == 1)
    }

    fn recovery_codes_left(&mut self, user_id: UserId) -> Result<u32, PortError> {
        let count: i64 = recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id.to_string()))
            .count()
            .get_result(self.conn)
            .map_err(db_error("second_factors.recovery_codes_left"))?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    fn add_challenge(&mut self, challenge: &MfaChallenge) -> Result<(), PortError> {
        let row = ChallengeRow {
            token_hash: challenge.token_hash.as_str().to_owned(),
            user_id: challenge.user_id.to_string(),
            first_factor: challenge.first_factor.iter().map(AuthMethod::claim).collect::<Vec<_>>().join(" "),
            failures: i32::try_from(challenge.failures).unwrap_or(i32::MAX),
            created_at: naive(challenge.created_at),
            expires_at: naive(challenge.expires_at),
        };
        diesel::insert_into(mfa_challenges::table)
            .values(row)
            .execute(self.conn)
            .map_err(db_error("second_factors.add_challenge"))?;
        Ok(())
    }

    fn find_challenge(&mut self, token_hash: &SecretHash) -> Result<Option<MfaChallenge>, PortError> {
        mfa_challenges::table
            .find(token_hash.as_str())
            .select(ChallengeRow::as_select())
            .get_result(self.conn)
            .optional()
            .map_err(db_error("second_factors.find_challenge"))?
            .map(MfaChallenge::try_from)
            .transpose()
    }

    fn count_challenge_failure(&mut self, token_hash: &SecretHash) -> Result<Option<u32>, PortError> {
        let updated = diesel::update(mfa_challenges::table.find(token_hash.as_str()))
            .set(mfa_challenges::failures.eq(mfa_challenges::failures + 1))
            .execute(self.conn)
            .map_err(db_error("second_factors.count_challenge_failure"))?;
        if updated == 0 {
            return Ok(None);
        }
        Ok(self.find_challenge(token_hash)?.map(|challenge| challenge.failures))
    }

    fn take_challenge(&mut self, token_hash: &SecretHash) -> Result<bool, PortError> {
        let deleted = diesel::delete(mfa_challenges::table.find(token_hash.as_str()))
            .execute(self.conn)
            .map_err(db_error("second_factors.take_challenge"))?;
        Ok(deleted == 1)
    }
}
