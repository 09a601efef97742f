//! The mail outbox table: written inside a unit of work ([`DieselMailOutbox`]), read and
//! updated by the delivery worker (the functions below), one statement at a time.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamp};
use portcullis_application::ports::{MailOutbox, OutgoingMail, PortError};
use portcullis_domain::SecretString;
use serde::{Deserialize, Serialize};

use super::models::naive;
use super::schema::mail_outbox;
use super::{DbConnection, db_error};
use crate::sealing::SecretSealer;

/// A mail waiting for its first delivery or a retry.
const PENDING: &str = "pending";
/// A mail the transport accepted.
const SENT: &str = "sent";
/// A mail given up on.
const FAILED: &str = "failed";

/// The associated data that binds a sealed message to its row.
fn sealing_context(id: &str) -> String {
    format!("mail_outbox:{id}")
}

/// The stored form of an [`OutgoingMail`].
#[derive(Serialize, Deserialize)]
struct StoredMail {
    to: String,
    to_name: String,
    subject: String,
    text: String,
    html: String,
}

impl From<&OutgoingMail> for StoredMail {
    fn from(mail: &OutgoingMail) -> Self {
        Self {
            to: mail.to.clone(),
            to_name: mail.to_name.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
        }
    }
}

impl From<StoredMail> for OutgoingMail {
    fn from(mail: StoredMail) -> Self {
        Self { to: mail.to, to_name: mail.to_name, subject: mail.subject, text: mail.text, html: mail.html }
    }
}

#[derive(Insertable)]
#[diesel(table_name = mail_outbox)]
struct NewOutboxRow {
    id: String,
    message: String,
    status: &'static str,
    attempts: i32,
    created_at: chrono::NaiveDateTime,
    next_attempt_at: chrono::NaiveDateTime,
}

/// The outbox of one unit of work: each mail a row of its transaction, its message sealed
/// when an encryption key is set.
pub struct DieselMailOutbox<'c> {
    conn: &'c mut DbConnection,
    sealer: &'c SecretSealer,
    /// Set when a mail was added, so the unit can wake the worker after its commit.
    added: &'c mut bool,
}

impl<'c> DieselMailOutbox<'c> {
    /// An outbox over a connection inside a unit of work; `added` is set on every add.
    pub fn new(conn: &'c mut DbConnection, sealer: &'c SecretSealer, added: &'c mut bool) -> Self {
        Self { conn, sealer, added }
    }
}

impl MailOutbox for DieselMailOutbox<'_> {
    fn add(&mut self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<(), PortError> {
        let id = uuid::Uuid::now_v7().to_string();
        let json = serde_json::to_string(&StoredMail::from(mail))
            .map_err(|error| PortError::internal("mail_outbox.add", error.to_string()))?;
        let row = NewOutboxRow {
            message: self.sealer.seal(&json, &sealing_context(&id)),
            id,
            status: PENDING,
            attempts: 0,
            created_at: naive(now),
            next_attempt_at: naive(now),
        };
        diesel::insert_into(mail_outbox::table).values(row).execute(self.conn).map_err(db_error("mail_outbox.add"))?;
        *self.added = true;
        Ok(())
    }
}

/// A mail a worker claimed: nobody else takes it until its lease ends.
pub struct ClaimedMail {
    /// The row's id.
    pub id: String,
    /// The message, opened; `Err` with the reason when it cannot be read.
    pub mail: Result<OutgoingMail, String>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the mail was written.
    pub created_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    message: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamp)]
    created_at: chrono::NaiveDateTime,
}

/// The claim: the oldest due pending mail moved `lease` into the future, in one statement.
/// PostgreSQL skips rows another worker's claim holds locked at this instant.
const CLAIM_ON_POSTGRES: &str = "UPDATE mail_outbox SET next_attempt_at = $1, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= $2 \
     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
     RETURNING id, message, attempts, created_at";

/// The same on SQLite, where the statement holds the write lock, so no two workers claim one mail.
const CLAIM_ON_SQLITE: &str = "UPDATE mail_outbox SET next_attempt_at = ?1, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM mail_outbox WHERE status = 'pending' AND next_attempt_at <= ?2 \
     ORDER BY next_attempt_at, id LIMIT 1) \
     RETURNING id, message, attempts, created_at";

/// Claims the oldest pending mail due at `now` until `lease_end`, if there is one.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn claim_due_mail(
    conn: &mut DbConnection,
    sealer: &SecretSealer,
    now: DateTime<Utc>,
    lease_end: DateTime<Utc>,
) -> Result<Option<ClaimedMail>, PortError> {
    let row = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(CLAIM_ON_POSTGRES)
            .bind::<Timestamp, _>(naive(lease_end))
            .bind::<Timestamp, _>(naive(now))
            .get_result::<ClaimedRow>(pg)
            .optional(),
        DbConnection::Sqlite(sqlite) => diesel::sql_query(CLAIM_ON_SQLITE)
            .bind::<Timestamp, _>(naive(lease_end))
            .bind::<Timestamp, _>(naive(now))
            .get_result::<ClaimedRow>(sqlite)
            .optional(),
    }
    .map_err(db_error("mail_outbox.claim"))?;
    Ok(row.map(|row| {
        let mail = sealer
            .open(&row.message, &sealing_context(&row.id))
            .map_err(|error| format!("the stored message cannot be opened: {error}"))
            .and_then(|json: SecretString| {
                serde_json::from_str::<StoredMail>(json.expose())
                    .map(OutgoingMail::from)
                    .map_err(|_| "the stored message is not a mail".to_owned())
            });
        ClaimedMail {
            id: row.id,
            mail,
            attempts: u32::try_from(row.attempts).unwrap_or(u32::MAX),
            created_at: row.created_at.and_utc(),
        }
    }))
}

/// Records that the transport accepted mail `id` at `now`: it is never sent again, and its
/// message is emptied.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn record_sent(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> Result<(), PortError> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq(SENT),
            mail_outbox::message.eq(""),
            mail_outbox::finished_at.eq(Some(naive(now))),
            mail_outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
        .map_err(db_error("mail_outbox.record_sent"))
}

/// Records a failed attempt of mail `id`: it is due again at `next_attempt`.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn record_retry(
    conn: &mut DbConnection,
    id: &str,
    next_attempt: DateTime<Utc>,
    error: &str,
) -> Result<(), PortError> {
    diesel::update(mail_outbox::table.find(id).filter(mail_outbox::status.eq(PENDING)))
        .set((mail_outbox::next_attempt_at.eq(naive(next_attempt)), mail_outbox::last_error.eq(Some(error))))
        .execute(conn)
        .map(drop)
        .map_err(db_error("mail_outbox.record_retry"))
}

/// Records that mail `id` is given up on at `now`, and why; its message is emptied.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn record_failed(conn: &mut DbConnection, id: &str, now: DateTime<Utc>, error: &str) -> Result<(), PortError> {
    diesel::update(mail_outbox::table.find(id))
        .set((
            mail_outbox::status.eq(FAILED),
            mail_outbox::message.eq(""),
            mail_outbox::finished_at.eq(Some(naive(now))),
            mail_outbox::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(drop)
        .map_err(db_error("mail_outbox.record_failed"))
}

/// What the outbox holds right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxDepth {
    /// Mails waiting to be delivered (pending).
    pub pending: u64,
    /// When the oldest of them was written.
    pub oldest: Option<DateTime<Utc>>,
}

/// How many mails wait, and since when the oldest.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn outbox_depth(conn: &mut DbConnection) -> Result<OutboxDepth, PortError> {
    let (pending, oldest): (i64, Option<chrono::NaiveDateTime>) = mail_outbox::table
        .filter(mail_outbox::status.eq(PENDING))
        .select((count_star(), min(mail_outbox::created_at)))
        .get_result(conn)
        .map_err(db_error("mail_outbox.depth"))?;
    Ok(OutboxDepth { pending: u64::try_from(pending).unwrap_or(0), oldest: oldest.map(|time| time.and_utc()) })
}

/// Deletes the sent and failed mails finished before `before`; returns how many.
///
/// # Errors
/// [`PortError`] when the database fails.
pub fn delete_finished_mail(conn: &mut DbConnection, before: DateTime<Utc>) -> Result<usize, PortError> {
    diesel::delete(
        mail_outbox::table.filter(mail_outbox::status.ne(PENDING)).filter(mail_outbox::finished_at.lt(naive(before))),
    )
    .execute(conn)
    .map_err(db_error("mail_outbox.delete_finished"))
}
