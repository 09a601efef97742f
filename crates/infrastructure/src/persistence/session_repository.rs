use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::{PortError, RefreshContext, RefreshRotation, RotationOutcome, SessionRepository};
use portcullis_domain::{RefreshToken, RefreshTokenHash, Session, SessionId, User, UserId};

use super::models::{RefreshTokenRow, SessionRow, UserRow, naive};
use super::schema::{refresh_tokens, sessions, users};
use super::{DbConnection, db_error};

/// Sessions and refresh tokens in the database, inside the caller's transaction.
pub struct DieselSessionRepository<'c> {
    conn: &'c mut DbConnection,
}

impl<'c> DieselSessionRepository<'c> {
    /// A repository over a connection that is inside a unit of work.
    pub fn new(conn: &'c mut DbConnection) -> Self {
        Self { conn }
    }
}

impl SessionRepository for DieselSessionRepository<'_> {
    fn add_session(&mut self, session: &Session) -> Result<(), PortError> {
        diesel::insert_into(sessions::table)
            .values(SessionRow::from(session))
            .execute(self.conn)
            .map_err(db_error("sessions.add_session"))?;
        Ok(())
    }

    fn find_session(&mut self, id: SessionId) -> Result<Option<Session>, PortError> {
        sessions::table
            .find(id.to_string())
            .select(SessionRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error("sessions.find_session"))?
            .map(Session::try_from)
            .transpose()
    }

    fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let updated = diesel::update(sessions::table.find(id.to_string()))
            .set(sessions::last_used_at.eq(naive(now)))
            .execute(self.conn)
            .map_err(db_error("sessions.touch_session"))?;
        Ok(updated == 1)
    }

    fn delete_session(&mut self, id: SessionId) -> Result<bool, PortError> {
        let id = id.to_string();
        // Explicit, so the family ends even where foreign-key cascades are off.
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq(&id)))
            .execute(self.conn)
            .map_err(db_error("sessions.delete_session"))?;
        let deleted = diesel::delete(sessions::table.find(&id))
            .execute(self.conn)
            .map_err(db_error("sessions.delete_session"))?;
        Ok(deleted > 0)
    }

    fn sessions_of_user(&mut self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        sessions::table
            .filter(sessions::user_id.eq(user_id.to_string()))
            .order((sessions::created_at.asc(), sessions::id.asc()))
            .select(SessionRow::as_select())
            .load(self.conn)
            .map_err(db_error("sessions.sessions_of_user"))?
            .into_iter()
            .map(Session::try_from)
            .collect()
    }

    fn delete_sessions_of_user(&mut self, user_id: UserId) -> Result<usize, PortError> {
        let user_id = user_id.to_string();
        let family = sessions::table.filter(sessions::user_id.eq(&user_id)).select(sessions::id);
        diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(family)))
            .execute(self.conn)
            .map_err(db_error("sessions.delete_sessions_of_user"))?;
        diesel::delete(sessions::table.filter(sessions::user_id.eq(&user_id)))
            .execute(self.conn)
            .map_err(db_error("sessions.delete_sessions_of_user"))
    }

    fn add_refresh_token(&mut self, token: &RefreshToken) -> Result<(), PortError> {
        diesel::insert_into(refresh_tokens::table)
            .values(RefreshTokenRow::from(token))
            .execute(self.conn)
            .map_err(db_error("sessions.add_refresh_token"))?;
        Ok(())
    }

    fn find_refresh_token(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshToken>, PortError> {
        refresh_tokens::table
            .find(hash.as_str())
            .select(RefreshTokenRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error("sessions.find_refresh_token"))?
            .map(RefreshToken::try_from)
            .transpose()
    }

    fn mark_refresh_token_used(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool, PortError> {
        let updated = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(hash.as_str()))
                .filter(refresh_tokens::used_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(Some(naive(now))))
        .execute(self.conn)
        .map_err(db_error("sessions.mark_refresh_token_used"))?;
        Ok(updated == 1)
    }
}

/// A refresh token with its session and user in one statement (two inner joins): what
/// [`portcullis_application::ports::UnitOfWork::refresh_context`] answers.
pub(super) fn find_refresh_context(
    conn: &mut DbConnection,
    hash: &RefreshTokenHash,
) -> Result<Option<RefreshContext>, PortError> {
    let row = refresh_tokens::table
        .inner_join(sessions::table.inner_join(users::table))
        .filter(refresh_tokens::token_hash.eq(hash.as_str()))
        .select((RefreshTokenRow::as_select(), SessionRow::as_select(), UserRow::as_select()))
        .first::<(RefreshTokenRow, SessionRow, UserRow)>(conn)
        .optional()
        .map_err(db_error("sessions.find_refresh_context"))?;
    let Some((token, session, user)) = row else {
        return Ok(None);
    };
    Ok(Some(RefreshContext {
        token: RefreshToken::try_from(token)?,
        session: Session::try_from(session)?,
        user: User::try_from(user)?,
    }))
}

/// [`portcullis_application::ports::UnitOfWork::rotate_refresh_token`] on PostgreSQL as one
/// statement, atomic by itself: the session is touched (its row lock orders this rotation
/// against a concurrent logout), the presented token is marked used when asked and still
/// unused (compare-and-set), and the successor is inserted — the last two only when the
/// session was there.
const ROTATE_ON_POSTGRES: &str = "\
WITH live AS (
    UPDATE sessions SET last_used_at = $2 WHERE id = $1 RETURNING id
), won AS (
    UPDATE refresh_tokens SET used_at = $2
    WHERE token_hash = $3 AND used_at IS NULL AND $4 AND EXISTS (SELECT 1 FROM live)
    RETURNING 1
), successor AS (
    INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at, used_at)
    SELECT $5, live.id, $6, $7, NULL FROM live
    RETURNING 1
)
SELECT (SELECT count(*) FROM live) AS alive, (SELECT count(*) FROM won) AS won";

/// The answer of [`ROTATE_ON_POSTGRES`].
#[derive(diesel::QueryableByName)]
struct RotationRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    alive: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    won: i64,
}

/// Runs a rotation as [`ROTATE_ON_POSTGRES`]: one round trip, no transaction needed.
pub(super) fn rotate_on_postgres(
    conn: &mut diesel::pg::PgConnection,
    rotation: &RefreshRotation<'_>,
) -> Result<RotationOutcome, PortError> {
    use diesel::sql_types::{Bool, Text, Timestamp};
    let successor = RefreshTokenRow::from(rotation.successor);
    let row: RotationRow = diesel::sql_query(ROTATE_ON_POSTGRES)
        .bind::<Text, _>(rotation.session_id.to_string())
        .bind::<Timestamp, _>(naive(rotation.now))
        .bind::<Text, _>(rotation.presented.as_str())
        .bind::<Bool, _>(rotation.mark_used)
        .bind::<Text, _>(&successor.token_hash)
        .bind::<Timestamp, _>(successor.created_at)
        .bind::<Timestamp, _>(successor.expires_at)
        .get_result(conn)
        .map_err(db_error("sessions.rotate_refresh_token"))?;
    if row.alive == 0 {
        return Ok(RotationOutcome::SessionGone);
    }
    Ok(RotationOutcome::Rotated { won: row.won == 1 })
}
