//! Housekeeping: deleting expired sessions, refresh and mailed tokens, unfinished sign-in
//! flows, and signing keys whose
//! tokens have all expired. Safe on every instance at any time; the server runs it every
//! ten minutes, an embedding program whenever it likes.

use chrono::{DateTime, Utc};
use portcullis_infrastructure::persistence::{DbPool, sweep_expired};
use portcullis_infrastructure::tokens::prune_retired_keys;

/// How long after its successor a retired key is kept beyond the access-token lifetime: time
/// for every instance to start signing with the successor, plus clock skew.
pub const KEY_RETIREMENT_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// How many rows one round of housekeeping deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
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
    /// Signing keys no live token can name.
    pub signing_keys: usize,
}

/// Why a round of housekeeping stopped.
#[derive(Debug, thiserror::Error)]
pub enum HousekeepingError {
    /// Deleting expired sessions or tokens failed.
    #[error("sweeping expired sessions and tokens")]
    Sweep(#[source] portcullis_application::ports::PortError),
    /// Deleting retired signing keys failed.
    #[error("pruning retired signing keys")]
    Keys(#[source] portcullis_infrastructure::tokens::KeyStoreError),
}

/// Runs housekeeping over one database. Cheap to clone.
#[derive(Clone)]
pub struct Housekeeper {
    pool: DbPool,
    keep_retired_keys_for: chrono::Duration,
}

impl Housekeeper {
    /// Housekeeping over `pool`, keeping retired keys for `access_ttl` plus
    /// [`KEY_RETIREMENT_MARGIN`].
    pub fn new(pool: DbPool, access_ttl: chrono::Duration) -> Self {
        Self { pool, keep_retired_keys_for: access_ttl + KEY_RETIREMENT_MARGIN }
    }

    /// One round at `now`.
    ///
    /// # Errors
    /// [`HousekeepingError`] when the database fails; what was deleted before stays deleted.
    pub fn run(&self, now: DateTime<Utc>) -> Result<HousekeepingReport, HousekeepingError> {
        let swept = sweep_expired(&self.pool, now).map_err(HousekeepingError::Sweep)?;
        let signing_keys =
            prune_retired_keys(&self.pool, now, self.keep_retired_keys_for).map_err(HousekeepingError::Keys)?;
        Ok(HousekeepingReport {
            sessions: swept.sessions,
            refresh_tokens: swept.refresh_tokens,
            account_tokens: swept.account_tokens,
            oauth_flows: swept.oauth_flows,
            mfa_challenges: swept.mfa_challenges,
            passkey_ceremonies: swept.passkey_ceremonies,
            signing_keys,
        })
    }

    /// [`Housekeeper::run`] now.
    ///
    /// # Errors
    /// As [`Housekeeper::run`].
    pub fn run_now(&self) -> Result<HousekeepingReport, HousekeepingError> {
        self.run(Utc::now())
    }
}
