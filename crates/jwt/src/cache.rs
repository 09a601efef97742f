//! [`check`](crate::check) behind a bounded cache of tokens already verified.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use moka::Expiry;
use moka::sync::Cache;

use crate::check::{CheckError, Expectations, RegisteredClaims, check_signed, check_times};
use crate::keys::VerifyingKeys;

/// The default bound of a [`TokenChecker`]'s cache: 16 MiB, some 10 000 tokens of the usual
/// size.
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// What the cache keeps of a verified token.
struct Verified<C> {
    claims: C,
    kid: String,
    /// From insertion to `exp`: the entry lives no longer.
    lifetime: Duration,
    /// Roughly the bytes the entry holds (token text, claims, bookkeeping).
    weight: u32,
}

/// Evicts each entry when its token expires.
struct UntilExpiry;

impl<C> Expiry<Box<str>, Arc<Verified<C>>> for UntilExpiry {
    fn expire_after_create(&self, _token: &Box<str>, entry: &Arc<Verified<C>>, _at: Instant) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

/// Checks tokens against a key set and expectations, remembering the tokens that passed.
///
/// A hit is a token whose exact text passed [`check`](crate::check) before: its signature,
/// form and `iss`/`aud` are not checked again (the text is the same, the expectations are
/// this checker's own), but its `exp` and `nbf` are compared with `now` on every use and the
/// key that signed it must still be in the key set given. Anything else is checked in full.
/// Refused tokens are never cached, so garbage cannot crowd out good tokens.
pub struct TokenChecker<C> {
    expect: Expectations,
    cache: Option<Cache<Box<str>, Arc<Verified<C>>>>,
}

impl<C> std::fmt::Debug for TokenChecker<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenChecker")
            .field("expect", &self.expect)
            .field("cached", &self.cache.as_ref().map_or(0, Cache::entry_count))
            .finish()
    }
}

impl<C: RegisteredClaims + Clone + Send + Sync + 'static> TokenChecker<C> {
    /// A checker with a cache of [`DEFAULT_CACHE_BYTES`].
    pub fn new(expect: Expectations) -> Self {
        Self::with_cache_bytes(expect, DEFAULT_CACHE_BYTES)
    }

    /// A checker whose cache holds about `max_bytes`; `0` turns the cache off.
    pub fn with_cache_bytes(expect: Expectations, max_bytes: u64) -> Self {
        let cache = (max_bytes > 0).then(|| {
            Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_token, entry: &Arc<Verified<C>>| entry.weight)
                .expire_after(UntilExpiry)
                .build()
        });
        Self { expect, cache }
    }

    /// What tokens must say.
    pub fn expectations(&self) -> &Expectations {
        &self.expect
    }

    /// Checks `token` with `keys` at `now` (seconds since the epoch), from the cache when
    /// the same token passed before.
    ///
    /// # Errors
    /// [`CheckError`] saying why the token is refused.
    pub fn check(&self, token: &str, keys: &VerifyingKeys, now: i64) -> Result<C, CheckError> {
        let Some(cache) = &self.cache else {
            return check_signed::<C>(token, keys, &self.expect, now).map(|checked| checked.claims);
        };
        if let Some(entry) = cache.get(token)
            && keys.contains(&entry.kid)
        {
            check_times(entry.claims.expires_at(), entry.claims.not_before(), now, self.expect.leeway_secs)?;
            return Ok(entry.claims.clone());
        }
        let checked = check_signed::<C>(token, keys, &self.expect, now)?;
        let remaining = u64::try_from(checked.claims.expires_at().saturating_sub(now)).unwrap_or(0);
        if remaining > 0 {
            let weight = token.len().saturating_mul(3).saturating_add(256);
            let entry = Verified {
                claims: checked.claims.clone(),
                kid: checked.kid,
                lifetime: Duration::from_secs(remaining),
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
            };
            cache.insert(token.into(), Arc::new(entry));
        }
        Ok(checked.claims)
    }

    /// [`check`](Self::check) at the system clock's present second.
    ///
    /// # Errors
    /// [`CheckError`] saying why the token is refused.
    pub fn check_now(&self, token: &str, keys: &VerifyingKeys) -> Result<C, CheckError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        self.check(token, keys, i64::try_from(now).unwrap_or(i64::MAX))
    }

    /// How many tokens the cache holds (approximate: counts settle as the cache works).
    pub fn cached_tokens(&self) -> u64 {
        self.cache.as_ref().map_or(0, |cache| {
            cache.run_pending_tasks();
            cache.entry_count()
        })
    }
}
