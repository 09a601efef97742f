use chrono::{DateTime, Utc};
use shaku::Interface;

use portcullis_domain::{ApiKey, RefreshToken, RefreshTokenHash, Session, SessionId, User};

use super::{
    AccountTokenRepository, ApiKeyRepository, IdentityRepository, MailOutbox, OAuthFlowRepository, PasskeyRepository,
    PortError, SecondFactorRepository, SessionRepository, UserRepository,
};

/// A refresh token with its session and that session's user: everything a refresh decides
/// on, read together.
#[derive(Clone, Debug)]
pub struct RefreshContext {
    /// The presented refresh token, as stored.
    pub token: RefreshToken,
    /// The session it belongs to.
    pub session: Session,
    /// The session's user.
    pub user: User,
}

/// The writes of one refresh-token rotation, decided on a [`RefreshContext`]: the presented
/// token marked used (compare-and-set) when it was fresh, its successor added to the
/// family, and, when due, the session's last use set to `now` — all or nothing, and only
/// while the session still exists.
#[derive(Clone, Copy, Debug)]
pub struct RefreshRotation<'a> {
    /// The session (family) being rotated.
    pub session_id: SessionId,
    /// The presented token.
    pub presented: &'a RefreshTokenHash,
    /// Whether to mark the presented token used (it was fresh); `false` for a reuse within
    /// the grace window, which is already marked.
    pub mark_used: bool,
    /// The new token of the family.
    pub successor: &'a RefreshToken,
    /// Whether to record the use on the session ([`Session::use_is_due`]); a store may
    /// record it anyway.
    pub touch_session: bool,
    /// The time of the refresh.
    pub now: DateTime<Utc>,
}

/// What a [`RefreshRotation`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The successor was stored. `won` is whether this rotation marked the presented token
    /// used; `false` when it was asked to and another rotation got there first (two tabs
    /// at once: counted as a reuse within the grace window), or when it was not asked to.
    Rotated {
        /// This rotation marked the presented token used.
        won: bool,
    },
    /// The session was ended meanwhile (revoked, logged out): nothing was written.
    SessionGone,
}

/// One transaction: hands out repositories that share it, commits once.
/// Dropping a unit that was not committed rolls it back.
pub trait UnitOfWork {
    /// The users in this transaction.
    fn users(&mut self) -> Box<dyn UserRepository + '_>;

    /// The sessions in this transaction.
    fn sessions(&mut self) -> Box<dyn SessionRepository + '_>;

    /// The mailed single-use tokens in this transaction.
    fn account_tokens(&mut self) -> Box<dyn AccountTokenRepository + '_>;

    /// The API keys in this transaction.
    fn api_keys(&mut self) -> Box<dyn ApiKeyRepository + '_>;

    /// The linked provider identities in this transaction.
    fn identities(&mut self) -> Box<dyn IdentityRepository + '_>;

    /// The sign-in flows in progress at upstream providers in this transaction.
    fn oauth_flows(&mut self) -> Box<dyn OAuthFlowRepository + '_>;

    /// The second factors and second-step challenges in this transaction.
    fn second_factors(&mut self) -> Box<dyn SecondFactorRepository + '_>;

    /// The passkeys and passkey ceremonies in this transaction.
    fn passkeys(&mut self) -> Box<dyn PasskeyRepository + '_>;

    /// The mail this transaction sends once committed.
    fn outbox(&mut self) -> Box<dyn MailOutbox + '_>;

    /// The refresh token with this hash, its session and the session's user; `None` when
    /// any of the three is missing. By default three reads through the repositories; a
    /// store may answer it in one round trip (the diesel unit joins the three tables).
    ///
    /// # Errors
    /// [`PortError`] when the store fails.
    fn refresh_context(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshContext>, PortError> {
        refresh_context_by_reads(self, hash)
    }

    /// The API key with this prefix and its owner; `None` when either is missing. By
    /// default two reads through the repositories; a store may answer it in one round trip.
    ///
    /// # Errors
    /// [`PortError`] when the store fails.
    fn api_key_with_owner(&mut self, prefix: &str) -> Result<Option<(ApiKey, User)>, PortError> {
        api_key_with_owner_by_reads(self, prefix)
    }

    /// Applies a rotation atomically. By default three steps through the repositories
    /// ([`rotate_refresh_token_by_steps`], atomic inside this unit's transaction); a store
    /// may do it in one statement, atomic by itself (the diesel unit on PostgreSQL). A store
    /// whose [`UnitOfWorkFactory::begin_autocommit`] opens no transaction must make this one
    /// atomic write.
    ///
    /// # Errors
    /// [`PortError`] when the store fails.
    fn rotate_refresh_token(&mut self, rotation: &RefreshRotation<'_>) -> Result<RotationOutcome, PortError> {
        rotate_refresh_token_by_steps(self, rotation)
    }

    /// Makes every change of this unit durable.
    ///
    /// # Errors
    /// [`PortError`] if the commit fails; nothing was changed then.
    fn commit(self: Box<Self>) -> Result<(), PortError>;
}

/// [`UnitOfWork::refresh_context`] as three reads through `unit`'s repositories (the
/// default, and what a store uses where one joined statement is no faster).
///
/// # Errors
/// [`PortError`] when the store fails.
pub fn refresh_context_by_reads<U: UnitOfWork + ?Sized>(
    unit: &mut U,
    hash: &RefreshTokenHash,
) -> Result<Option<RefreshContext>, PortError> {
    let Some(token) = unit.sessions().find_refresh_token(hash)? else {
        return Ok(None);
    };
    let Some(session) = unit.sessions().find_session(token.session_id)? else {
        return Ok(None);
    };
    let Some(user) = unit.users().find_by_id(session.user_id)? else {
        return Ok(None);
    };
    Ok(Some(RefreshContext { token, session, user }))
}

/// [`UnitOfWork::rotate_refresh_token`] as steps through `unit`'s repositories: the
/// session touched when due, else read (either tells whether it still exists), the
/// presented token marked used, the successor added. Atomic only inside a transaction.
///
/// # Errors
/// [`PortError`] when the store fails.
pub fn rotate_refresh_token_by_steps<U: UnitOfWork + ?Sized>(
    unit: &mut U,
    rotation: &RefreshRotation<'_>,
) -> Result<RotationOutcome, PortError> {
    let alive = if rotation.touch_session {
        unit.sessions().touch_session(rotation.session_id, rotation.now)?
    } else {
        unit.sessions().find_session(rotation.session_id)?.is_some()
    };
    if !alive {
        return Ok(RotationOutcome::SessionGone);
    }
    let won = rotation.mark_used && unit.sessions().mark_refresh_token_used(rotation.presented, rotation.now)?;
    unit.sessions().add_refresh_token(rotation.successor)?;
    Ok(RotationOutcome::Rotated { won })
}

/// [`UnitOfWork::api_key_with_owner`] as two reads through `unit`'s repositories.
///
/// # Errors
/// [`PortError`] when the store fails.
pub fn api_key_with_owner_by_reads<U: UnitOfWork + ?Sized>(
    unit: &mut U,
    prefix: &str,
) -> Result<Option<(ApiKey, User)>, PortError> {
    let Some(key) = unit.api_keys().find_by_prefix(prefix)? else {
        return Ok(None);
    };
    Ok(unit.users().find_by_id(key.user_id)?.map(|owner| (key, owner)))
}

/// Opens units of work; one per command.
pub trait UnitOfWorkFactory: Interface {
    /// Begins a transaction that may write.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn begin(&self) -> Result<Box<dyn UnitOfWork>, PortError>;

    /// Begins a transaction that only reads (a consistent snapshot). It must not write: a
    /// store may refuse writes in it. Reads here never wait for writers, so hot read paths
    /// (API-key checks, listings, introspection) use it. By default the same as
    /// [`begin`](Self::begin).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn begin_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.begin()
    }

    /// Repositories for a step that makes exactly one read: no transaction is opened, so
    /// the read costs one round trip instead of three (begin, read, commit) and sees its own
    /// consistent snapshot. Not for several reads that must agree, and never for writes.
    /// `commit` ends it. By default the same as [`begin_read`](Self::begin_read).
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn single_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.begin_read()
    }

    /// Repositories with no transaction around them where the store can skip it (on
    /// PostgreSQL: no `BEGIN` and `COMMIT` round trips; each statement commits on its own).
    /// Only for reads that need not agree with each other and for
    /// [`rotate_refresh_token`](UnitOfWork::rotate_refresh_token), which every store makes
    /// atomic by itself — a refresh: one [`refresh_context`](UnitOfWork::refresh_context),
    /// then one rotation. Any other write belongs in [`begin`](Self::begin). `commit` ends
    /// it. By default the same as [`begin`](Self::begin), which is stronger.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when no connection can be had in time.
    fn begin_autocommit(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.begin()
    }
}
