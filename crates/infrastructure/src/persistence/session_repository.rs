use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::{PortError, RefreshContext, SessionRepository};
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

    fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<(), PortError> {
        diesel::update(sessions::table.find(id.to_string()))
            .set(sessions::last_used_at.eq(naive(now)))
            .execute(self.conn)
            .map_err(db_error("sessions.touch_session"))?;
        Ok(())
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
