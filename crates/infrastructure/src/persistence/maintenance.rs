//! Housekeeping: deleting rows nobody can use any more, so tables do not grow forever.
//!
//! Safe to run on every instance at any time (plain `DELETE`s of rows past their end; two
//! instances deleting the same rows is harmless).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use portcullis_application::ports::PortError;

use super::schema::{account_tokens, mfa_challenges, oauth_flows, passkey_ceremonies, refresh_tokens, sessions};
use super::{DbPool, db_error};

/// How many rows one sweep deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Sessions past their absolute end (their refresh tokens went with them).
    pub sessions: usize,
    /// Refresh tokens past their end in sessions that live on.
    pub refresh_tokens: usize,
    /// Mailed verification and reset tokens past their end.
    pub account_tokens: usize,
    /// Sign-in flows at upstream providers that were never finished.
    pub oauth_flows: usize,
    /// Second-step challenges past their five minutes.
    pub mfa_challenges: usize,
    /// Passkey ceremonies past their five minutes.
    pub passkey_ceremonies: usize,
    /// Mails sent or given up on more than [`FINISHED_MAIL_KEPT`] ago.
    pub finished_mail: usize,
}

/// How long a sent or failed mail's row (with its message emptied) is kept: seven days.
pub const FINISHED_MAIL_KEPT: chrono::Duration = chrono::Duration::days(7);

/// Deletes sessions, refresh tokens, mailed tokens, unfinished sign-in flows, second-step
/// challenges and passkey ceremonies whose end is before `now`, and the outbox's rows of
/// mail finished more than [`FINISHED_MAIL_KEPT`] ago. An expired
/// refresh token is refused whether it is stored or not, so nothing observable changes.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn sweep_expired(pool: &DbPool, now: DateTime<Utc>) -> Result<SweepReport, PortError> {
    let mut conn = pool.get().map_err(|error| PortError::unavailable("housekeeping.sweep_expired", error))?;
    let finished_mail = super::mail_outbox::delete_finished_mail(&mut conn, now - FINISHED_MAIL_KEPT)?;
    let now = now.naive_utc();
    let sessions = diesel::delete(sessions::table.filter(sessions::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    let refresh_tokens = diesel::delete(refresh_tokens::table.filter(refresh_tokens::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    let account_tokens = diesel::delete(account_tokens::table.filter(account_tokens::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    let oauth_flows = diesel::delete(oauth_flows::table.filter(oauth_flows::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    let mfa_challenges = diesel::delete(mfa_challenges::table.filter(mfa_challenges::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    let passkey_ceremonies = diesel::delete(passkey_ceremonies::table.filter(passkey_ceremonies::expires_at.lt(now)))
        .execute(&mut **conn)
        .map_err(db_error("housekeeping.sweep_expired"))?;
    Ok(SweepReport {
        sessions,
        refresh_tokens,
        account_tokens,
        oauth_flows,
        mfa_challenges,
        passkey_ceremonies,
        finished_mail,
    })
}
