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
            .get_result(self.conn)
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
        // Its refresh tokens go with it (`ON DELETE CASCADE`; SQLite connections are opened
        // with `foreign_keys = ON`). The session row is locked first, then its tokens: the
        // order a rotation takes them in, so a logout racing a refresh cannot deadlock.
        let deleted = diesel::delete(sessions::table.find(id.to_string()))
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
        // As in `delete_session`: sessions first, their tokens by cascade.
        diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id.to_string())))
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
            .get_result(self.conn)
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
/// statement, atomic by itself:
///
/// ```sql
/// WITH live AS (UPDATE sessions SET last_used_at = $now WHERE id = $session RETURNING id),
///   won AS (UPDATE refresh_tokens SET used_at = $now
///           WHERE token_hash = $presented AND used_at IS NULL AND $mark_used
///             AND EXISTS (SELECT 1 FROM live) RETURNING 1),
///   successor AS (INSERT INTO refresh_tokens (...) SELECT $hash, live.id, ... FROM live RETURNING 1)
/// SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM won)
/// ```
///
/// When the session's last use is not due to be written (`TOUCH` false), `live` only locks
/// the session row instead — `SELECT id FROM sessions WHERE id = $session FOR KEY SHARE` —
/// which writes no new row version. Either way the session row is locked before anything
/// else (the lock orders this rotation against a concurrent logout, whose `DELETE` waits for
/// it or makes `live` empty); the presented token is marked used when asked and still unused
/// (compare-and-set); the successor is inserted only when the session was there. Written as
/// a query fragment with a static query id (one per `TOUCH`), so diesel prepares each once
/// per connection (a `sql_query` would be parsed and planned on every refresh).
struct RotateOnPostgres<'a, const TOUCH: bool> {
    session_id: String,
    now: chrono::NaiveDateTime,
    presented: &'a str,
    mark_used: bool,
    successor: RefreshTokenRow,
}

impl<const TOUCH: bool> diesel::query_builder::QueryId for RotateOnPostgres<'_, TOUCH> {
    type QueryId = RotateOnPostgres<'static, TOUCH>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<const TOUCH: bool> diesel::query_builder::Query for RotateOnPostgres<'_, TOUCH> {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::BigInt);
}

impl<const TOUCH: bool> RunQueryDsl<diesel::pg::PgConnection> for RotateOnPostgres<'_, TOUCH> {}

impl<const TOUCH: bool> diesel::query_builder::QueryFragment<diesel::pg::Pg> for RotateOnPostgres<'_, TOUCH> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Bool, Text, Timestamp};
        if TOUCH {
            out.push_sql("WITH live AS (UPDATE sessions SET last_used_at = ");
            out.push_bind_param::<Timestamp, _>(&self.now)?;
            out.push_sql(" WHERE id = ");
            out.push_bind_param::<Text, _>(&self.session_id)?;
            out.push_sql(" RETURNING id)");
        } else {
            out.push_sql("WITH live AS (SELECT id FROM sessions WHERE id = ");
            out.push_bind_param::<Text, _>(&self.session_id)?;
            out.push_sql(" FOR KEY SHARE)");
        }
        out.push_sql(", won AS (UPDATE refresh_tokens SET used_at = ");
        out.push_bind_param::<Timestamp, _>(&self.now)?;
        out.push_sql(" WHERE token_hash = ");
        out.push_bind_param::<Text, _>(&self.presented)?;
        out.push_sql(" AND used_at IS NULL AND ");
        out.push_bind_param::<Bool, _>(&self.mark_used)?;
        out.push_sql(
            " AND EXISTS (SELECT 1 FROM live) RETURNING 1), successor AS (INSERT INTO refresh_tokens \
             (token_hash, session_id, created_at, expires_at, used_at) SELECT ",
        );
        out.push_bind_param::<Text, _>(&self.successor.token_hash)?;
        out.push_sql(", live.id, ");
        out.push_bind_param::<Timestamp, _>(&self.successor.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.successor.expires_at)?;
        out.push_sql(" , NULL FROM live RETURNING 1) SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM won)");
        Ok(())
    }
}

/// Runs a rotation as [`RotateOnPostgres`]: one round trip, no transaction needed.
pub(super) fn rotate_on_postgres(
    conn: &mut diesel::pg::PgConnection,
    rotation: &RefreshRotation<'_>,
) -> Result<RotationOutcome, PortError> {
    let session_id = rotation.session_id.to_string();
    let now = naive(rotation.now);
    let presented = rotation.presented.as_str();
    let successor = RefreshTokenRow::from(rotation.successor);
    let mark_used = rotation.mark_used;
    let counts: QueryResult<(i64, i64)> = if rotation.touch_session {
        RotateOnPostgres::<true> { session_id, now, presented, mark_used, successor }.get_result(conn)
    } else {
        RotateOnPostgres::<false> { session_id, now, presented, mark_used, successor }.get_result(conn)
    };
    let (alive, won) = counts.map_err(db_error("sessions.rotate_refresh_token"))?;
    if alive == 0 {
        return Ok(RotationOutcome::SessionGone);
    }
    Ok(RotationOutcome::Rotated { won: won == 1 })
}
