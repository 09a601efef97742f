//! In-memory fakes of the ports, for handler tests here and for embedders' own tests. Only
//! built with the feature `test-support` (enable it in `[dev-dependencies]`, never in a
//! production build: [`FakeTokenService`] issues unsigned tokens).
//!
//! - [`InMemoryStore`] is a [`UnitOfWorkFactory`]: each unit of work works on a private copy
//!   of the store and writes it back on commit, so a unit dropped without commit really rolls
//!   back. It keeps the storage rules the handlers rely on: emails are unique, ending a
//!   session ends its refresh tokens, marking a token used is a compare-and-set, a read-only
//!   unit may not write. It counts the units it began ([`InMemoryStore::units_begun`]).
//!   Mail a unit puts in its outbox is kept once the unit commits, and handed at once to the
//!   mailer of [`InMemoryStore::delivering_to`] (kept while that mailer refuses).
//! - [`FixedClock`] is a [`Clock`] that only moves when told to.
//! - [`FakeTokenService`] is a [`TokenService`] whose access tokens are readable, unsigned
//!   text (`fake.` followed by `|`-separated claims): good for tests, worthless as security.
//! - [`InMemoryRateLimiter`] and [`InMemoryLockoutStore`] keep request counts and failed-login
//!   records in memory, with the domain's rules.
//! - [`InMemoryMailer`] keeps every message it is given, and can be told to fail.
//! - [`FakeRelyingParty`] is a [`crate::ports::PasskeyRelyingParty`] without cryptography:
//!   the authenticator's answers are plain JSON a test writes, checked for the ceremony's
//!   challenge, user verification and a signature counter that goes up. It can be switched
//!   off ([`FakeRelyingParty::disabled`]).
//!
//! Password hashing needs no fake: use [`crate::defaults::InlinePasswordHasher`] with
//! `BcryptCost::new(4)`, the cheapest cost.
//!
//! Every fake is a shaku component, so a test module lists them beside the handlers. The
//! fakes whose clones share their state (all but [`FakeTokenService`]) take themselves as
//! parameters: a test keeps one and hands the module a clone
//! (`with_component_parameters::<InMemoryStore>(store.clone())`); left unset, the module
//! builds a fresh one (its `Default`). [`FakeTokenService`] is given the module's [`Clock`].
//!
//! ```
//! use std::sync::Arc;
//!
//! use portcullis_application::in_memory::{FakeTokenService, FixedClock, InMemoryStore};
//! use portcullis_application::ports::{Clock, TokenService, UnitOfWorkFactory};
//!
//! let store = InMemoryStore::new();
//! let clock = FixedClock::default();
//! let tokens = FakeTokenService::new(Arc::new(clock.clone()));
//! let units: Arc<dyn UnitOfWorkFactory> = Arc::new(store.clone());
//! assert!(units.begin().is_ok());
//! assert!(store.users().is_empty());
//! assert_eq!(store.units_begun().writes, 1);
//! assert!(tokens.verify_access_token("not a token").is_err());
//! assert_eq!(clock.now(), FixedClock::default().now());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use portcullis_domain::{
    AccountToken, AccountTokenPurpose, ApiKey, ApiKeyId, AuthMethod, AuthMethods, CeremonyPurpose, Email,
    ExternalIdentity, MfaChallenge, OAuthFlow, Passkey, PasskeyCeremony, PasskeyId, ProviderId, RefreshToken,
    RefreshTokenHash, RefreshTokenSecret, SecretHash, SecretString, Session, SessionAuth, SessionId, TotpCredential,
    User, UserId, UserInfo, whole_seconds,
};
use shaku::{Component, HasComponent, Module, ModuleBuildContext};
use uuid::Uuid;

/// Makes `$fake`, whose clones share their state, the shaku component of `$interface` whose
/// parameters are a clone of the fake itself.
macro_rules! shared_fake_component {
    ($fake:ty, $interface:path) => {
        impl<M: ::shaku::Module> ::shaku::Component<M> for $fake {
            type Interface = dyn $interface;
            type Parameters = Self;

            fn build(_context: &mut ::shaku::ModuleBuildContext<M>, shared: Self) -> Box<dyn $interface> {
                Box::new(shared)
            }
        }
    };
}

mod limits;
mod mailer;
mod passkeys;
mod relying_party;
mod second_factors;
mod upstream;

pub use limits::{InMemoryLockoutStore, InMemoryRateLimiter};
pub use mailer::InMemoryMailer;
pub use relying_party::FakeRelyingParty;
pub use upstream::{FakeUpstream, FakeUpstreams};

use crate::ports::{
    AccessClaims, AccessToken, AccountTokenRepository, AddUserError, ApiKeyRepository, Clock, IdentityRepository,
    MailOutbox, Mailer, OAuthFlowRepository, OutgoingMail, PasskeyRepository, PortError, SecondFactorRepository,
    SessionRepository, TokenIssueError, TokenService, TokenVerifyError, UnitOfWork, UnitOfWorkFactory, UserQuery,
    UserRepository,
};

/// Locks a mutex, carrying on with the data if another thread panicked while holding it
/// (a poisoned fake is still a usable fake).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything the store holds; a unit of work works on a clone of it.
#[derive(Clone, Default)]
struct State {
    users: BTreeMap<UserId, User>,
    sessions: BTreeMap<SessionId, Session>,
    /// Keyed by the token hash's text.
    refresh_tokens: BTreeMap<String, RefreshToken>,
    /// Keyed by the token hash's text.
    account_tokens: BTreeMap<String, AccountToken>,
    api_keys: BTreeMap<ApiKeyId, ApiKey>,
    /// Keyed by (provider, subject).
    identities: BTreeMap<(ProviderId, String), ExternalIdentity>,
    /// Keyed by the state hash's text.
    oauth_flows: BTreeMap<String, OAuthFlow>,
    totp: BTreeMap<UserId, TotpCredential>,
    /// The hashes' texts.
    recovery_codes: BTreeMap<UserId, std::collections::BTreeSet<String>>,
    /// Keyed by the token hash's text.
    mfa_challenges: BTreeMap<String, MfaChallenge>,
    passkeys: BTreeMap<PasskeyId, Passkey>,
    /// Keyed by the challenge id hash's text.
    passkey_ceremonies: BTreeMap<String, PasskeyCeremony>,
    /// Mail added by the unit holding this copy; moved to the outbox at its commit.
    new_mail: Vec<OutgoingMail>,
}

/// How many units of work a store began, of each kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitsBegun {
    /// Units from [`UnitOfWorkFactory::begin`], which may write.
    pub writes: u64,
    /// Units from [`UnitOfWorkFactory::begin_read`], which only read.
    pub reads: u64,
}

/// The store's shared insides.
#[derive(Default)]
struct Shared {
    state: State,
    /// Bumped by every commit that changed something.
    version: u64,
    /// The units begun so far.
    units: UnitsBegun,
    /// While set, `begin` fails with [`PortError::Unavailable`].
    unavailable: bool,
    /// While set, `commit` fails with [`PortError::Internal`] and writes nothing.
    failing_commits: bool,
    /// Committed mail not yet delivered, oldest first.
    outbox: Vec<OutgoingMail>,
    /// Where committed mail is delivered, if anywhere.
    mailer: Option<Arc<dyn Mailer>>,
}

/// An in-memory database of users, sessions and refresh tokens, shared by its clones.
///
/// As a [`UnitOfWorkFactory`], [`begin`](UnitOfWorkFactory::begin) snapshots the whole
/// store; the unit's repositories read and write that private copy; `commit` writes it back,
/// and dropping the unit without committing discards it. A unit that wrote something and
/// finds at commit that another unit committed changes since it began fails with
/// [`PortError::Unavailable`] (like a serialization failure) instead of overwriting them;
/// a unit that only read always commits. A unit from
/// [`begin_read`](UnitOfWorkFactory::begin_read) that wrote fails at commit with
/// [`PortError::Internal`], as a write in a read-only transaction does.
///
/// The inspection methods ([`users`](Self::users), [`sessions`](Self::sessions),
/// [`refresh_tokens`](Self::refresh_tokens)) show committed data only.
#[derive(Clone, Default)]
pub struct InMemoryStore {
    shared: Arc<Mutex<Shared>>,
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that, as a delivery worker would, hands each unit's mail to `mailer`
    /// right after the unit commits; mail the mailer refuses stays in the outbox (see
    /// [`pending_mail`](Self::pending_mail)) and is tried again after the next commit or on
    /// [`deliver_pending`](Self::deliver_pending).
    pub fn delivering_to(mailer: Arc<dyn Mailer>) -> Self {
        let store = Self::default();
        lock(&store.shared).mailer = Some(mailer);
        store
    }

    /// Committed mail not delivered yet, oldest first.
    pub fn pending_mail(&self) -> Vec<OutgoingMail> {
        lock(&self.shared).outbox.clone()
    }

    /// Tries to deliver every pending mail once; returns how many went out.
    pub fn deliver_pending(&self) -> usize {
        deliver_outbox(&mut lock(&self.shared))
    }

    /// Every committed user, ordered by id (that is, by creation for generated ids).
    pub fn users(&self) -> Vec<User> {
        lock(&self.shared).state.users.values().cloned().collect()
    }

    /// The committed user with this id.
    pub fn user(&self, id: UserId) -> Option<User> {
        lock(&self.shared).state.users.get(&id).cloned()
    }

    /// Every committed session, ordered by id.
    pub fn sessions(&self) -> Vec<Session> {
        lock(&self.shared).state.sessions.values().cloned().collect()
    }

    /// Every committed refresh token (stored by hash only), oldest first.
    pub fn refresh_tokens(&self) -> Vec<RefreshToken> {
        let mut tokens: Vec<RefreshToken> = lock(&self.shared).state.refresh_tokens.values().cloned().collect();
        tokens.sort_by_key(|token| token.created_at);
        tokens
    }

    /// Every committed mailed token (stored by hash only), oldest first.
    pub fn account_tokens(&self) -> Vec<AccountToken> {
        let mut tokens: Vec<AccountToken> = lock(&self.shared).state.account_tokens.values().cloned().collect();
        tokens.sort_by_key(|token| token.created_at);
        tokens
    }

    /// Every committed sign-in flow in progress (stored by hashes only).
    pub fn oauth_flows(&self) -> Vec<OAuthFlow> {
        lock(&self.shared).state.oauth_flows.values().cloned().collect()
    }

    /// Every committed linked identity, by (provider, subject).
    pub fn identities(&self) -> Vec<ExternalIdentity> {
        lock(&self.shared).state.identities.values().cloned().collect()
    }

    /// Every committed API key (stored by hash only), ordered by id.
    pub fn api_keys(&self) -> Vec<ApiKey> {
        lock(&self.shared).state.api_keys.values().cloned().collect()
    }

    /// How many units of work have begun so far (committed or not), writing and read-only.
    pub fn units_begun(&self) -> UnitsBegun {
        lock(&self.shared).units
    }

    /// While `unavailable` is true, [`UnitOfWorkFactory::begin`] fails with
    /// [`PortError::Unavailable`], as a database that cannot be reached.
    pub fn set_unavailable(&self, unavailable: bool) {
        lock(&self.shared).unavailable = unavailable;
    }

    /// While `failing` is true, [`UnitOfWork::commit`] fails with [`PortError::Internal`]
    /// and the unit's changes are discarded.
    pub fn set_failing_commits(&self, failing: bool) {
        lock(&self.shared).failing_commits = failing;
    }
}

impl fmt::Debug for InMemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = lock(&self.shared);
        f.debug_struct("InMemoryStore")
            .field("users", &shared.state.users.len())
            .field("sessions", &shared.state.sessions.len())
            .field("refresh_tokens", &shared.state.refresh_tokens.len())
            .field("account_tokens", &shared.state.account_tokens.len())
            .field("api_keys", &shared.state.api_keys.len())
            .field("version", &shared.version)
            .field("units", &shared.units)
            .field("unavailable", &shared.unavailable)
            .field("failing_commits", &shared.failing_commits)
            .field("pending_mail", &shared.outbox.len())
            .finish()
    }
}

impl InMemoryStore {
    /// Begins a unit over a snapshot of the store, counting it.
    fn open(&self, read_only: bool) -> Result<Box<dyn UnitOfWork>, PortError> {
        let mut shared = lock(&self.shared);
        if shared.unavailable {
            return Err(PortError::unavailable("in_memory.open", "in-memory store switched to unavailable"));
        }
        if read_only {
            shared.units.reads += 1;
        } else {
            shared.units.writes += 1;
        }
        Ok(Box::new(InMemoryUnitOfWork {
            shared: Arc::clone(&self.shared),
            state: shared.state.clone(),
            began_at_version: shared.version,
            dirty: false,
            read_only,
        }))
    }
}

impl UnitOfWorkFactory for InMemoryStore {
    fn begin(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.open(false)
    }

    fn begin_read(&self) -> Result<Box<dyn UnitOfWork>, PortError> {
        self.open(true)
    }
}

shared_fake_component!(InMemoryStore, UnitOfWorkFactory);

/// One unit of work over a private copy of the store.
struct InMemoryUnitOfWork {
    shared: Arc<Mutex<Shared>>,
    state: State,
    began_at_version: u64,
    /// Whether any repository call changed `state`.
    dirty: bool,
    /// Whether the unit came from `begin_read`, and so must not write.
    read_only: bool,
}

impl UnitOfWork for InMemoryUnitOfWork {
    fn users(&mut self) -> Box<dyn UserRepository + '_> {
        Box::new(InMemoryUsers { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn sessions(&mut self) -> Box<dyn SessionRepository + '_> {
        Box::new(InMemorySessions { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn account_tokens(&mut self) -> Box<dyn AccountTokenRepository + '_> {
        Box::new(InMemoryAccountTokens { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn api_keys(&mut self) -> Box<dyn ApiKeyRepository + '_> {
        Box::new(InMemoryApiKeys { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn identities(&mut self) -> Box<dyn IdentityRepository + '_> {
        Box::new(InMemoryIdentities { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn oauth_flows(&mut self) -> Box<dyn OAuthFlowRepository + '_> {
        Box::new(InMemoryOAuthFlows { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn second_factors(&mut self) -> Box<dyn SecondFactorRepository + '_> {
        Box::new(second_factors::InMemorySecondFactors { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn passkeys(&mut self) -> Box<dyn PasskeyRepository + '_> {
        Box::new(passkeys::InMemoryPasskeys { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn outbox(&mut self) -> Box<dyn MailOutbox + '_> {
        Box::new(InMemoryOutbox { state: &mut self.state, dirty: &mut self.dirty })
    }

    fn commit(self: Box<Self>) -> Result<(), PortError> {
        let mut shared = lock(&self.shared);
        if shared.failing_commits {
            return Err(PortError::internal("in_memory.commit", "in-memory store switched to failing commits"));
        }
        if !self.dirty {
            return Ok(());
        }
        if self.read_only {
            return Err(PortError::internal("in_memory.commit", "write in a read-only unit of work"));
        }
        if shared.version != self.began_at_version {
            return Err(PortError::unavailable(
                "in_memory.commit",
                "write conflict: the store changed since this unit began",
            ));
        }
        let mut state = self.state;
        shared.outbox.append(&mut state.new_mail);
        shared.state = state;
        shared.version += 1;
        deliver_outbox(&mut shared);
        Ok(())
    }
}

/// Hands every mail of the outbox to the store's mailer, keeping those it refuses.
fn deliver_outbox(shared: &mut Shared) -> usize {
    let Some(mailer) = shared.mailer.clone() else { return 0 };
    let before = shared.outbox.len();
    shared.outbox.retain(|mail| mailer.send(mail.clone()).is_err());
    before - shared.outbox.len()
}

/// The mail of one unit of work.
struct InMemoryOutbox<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl MailOutbox for InMemoryOutbox<'_> {
    fn add(&mut self, mail: &OutgoingMail, _now: chrono::DateTime<chrono::Utc>) -> Result<(), PortError> {
        self.state.new_mail.push(mail.clone());
        *self.dirty = true;
        Ok(())
    }
}

/// The users of one unit of work.
struct InMemoryUsers<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl UserRepository for InMemoryUsers<'_> {
    fn add(&mut self, user: &User) -> Result<(), AddUserError> {
        if self.state.users.values().any(|other| other.email == user.email) {
            return Err(AddUserError::EmailTaken);
        }
        if self.state.users.contains_key(&user.id) {
            return Err(AddUserError::Port(PortError::internal(
                "in_memory.add",
                format!("duplicate user id {}", user.id),
            )));
        }
        self.state.users.insert(user.id, user.clone());
        *self.dirty = true;
        Ok(())
    }

    fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, PortError> {
        Ok(self.state.users.values().find(|user| &user.email == email).cloned())
    }

    fn find_by_id(&mut self, id: UserId) -> Result<Option<User>, PortError> {
        Ok(self.state.users.get(&id).cloned())
    }

    fn update(&mut self, user: &User) -> Result<(), PortError> {
        if self.state.users.values().any(|other| other.id != user.id && other.email == user.email) {
            return Err(PortError::internal("in_memory.update", "unique constraint: email already registered"));
        }
        if let Some(stored) = self.state.users.get_mut(&user.id) {
            *stored = user.clone();
            *self.dirty = true;
        }
        Ok(())
    }

    fn delete(&mut self, id: UserId) -> Result<bool, PortError> {
        if self.state.users.remove(&id).is_none() {
            return Ok(false);
        }
        let sessions: Vec<SessionId> = self.state.sessions.values().filter(|s| s.user_id == id).map(|s| s.id).collect();
        self.state.sessions.retain(|_, session| session.user_id != id);
        self.state.refresh_tokens.retain(|_, token| !sessions.contains(&token.session_id));
        self.state.account_tokens.retain(|_, token| token.user_id != id);
        self.state.api_keys.retain(|_, key| key.user_id != id);
        self.state.identities.retain(|_, identity| identity.user_id != id);
        self.state.totp.remove(&id);
        self.state.recovery_codes.remove(&id);
        self.state.mfa_challenges.retain(|_, challenge| challenge.user_id != id);
        self.state.passkeys.retain(|_, passkey| passkey.user_id != id);
        self.state.passkey_ceremonies.retain(|_, ceremony| ceremony.purpose != CeremonyPurpose::Registration(id));
        *self.dirty = true;
        Ok(true)
    }

    fn list(&mut self, query: &UserQuery) -> Result<Vec<User>, PortError> {
        let needle = query.search.as_deref().map(str::to_lowercase);
        Ok(self
            .state
            .users
            .values()
            .filter(|user| query.after.is_none_or(|after| user.id > after))
            .filter(|user| {
                needle.as_deref().is_none_or(|needle| {
                    user.email.as_str().contains(needle) || user.name.as_str().to_lowercase().contains(needle)
                })
            })
            .take(query.limit)
            .cloned()
            .collect())
    }

    fn count_active_admins(&mut self) -> Result<u64, PortError> {
        Ok(self.state.users.values().filter(|user| user.is_active_admin()).count() as u64)
    }
}

/// The mailed tokens of one unit of work.
struct InMemoryAccountTokens<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl AccountTokenRepository for InMemoryAccountTokens<'_> {
    fn add(&mut self, token: &AccountToken) -> Result<(), PortError> {
        if !self.state.users.contains_key(&token.user_id) {
            return Err(PortError::internal("in_memory.add", format!("foreign key: no user {}", token.user_id)));
        }
        self.state.account_tokens.insert(token.hash.as_str().to_owned(), token.clone());
        *self.dirty = true;
        Ok(())
    }

    fn find(&mut self, hash: &SecretHash) -> Result<Option<AccountToken>, PortError> {
        Ok(self.state.account_tokens.get(hash.as_str()).cloned())
    }

    fn mark_used(&mut self, hash: &SecretHash, now: DateTime<Utc>) -> Result<bool, PortError> {
        match self.state.account_tokens.get_mut(hash.as_str()) {
            Some(token) if token.used_at.is_none() => {
                token.used_at = Some(whole_seconds(now));
                *self.dirty = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_for_user(&mut self, user_id: UserId, purpose: AccountTokenPurpose) -> Result<usize, PortError> {
        let before = self.state.account_tokens.len();
        self.state.account_tokens.retain(|_, token| !(token.user_id == user_id && token.purpose == purpose));
        let deleted = before - self.state.account_tokens.len();
        if deleted > 0 {
            *self.dirty = true;
        }
        Ok(deleted)
    }
}

/// The API keys of one unit of work.
struct InMemoryApiKeys<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl ApiKeyRepository for InMemoryApiKeys<'_> {
    fn add(&mut self, key: &ApiKey) -> Result<(), PortError> {
        if !self.state.users.contains_key(&key.user_id) {
            return Err(PortError::internal("in_memory.add", format!("foreign key: no user {}", key.user_id)));
        }
        if self.state.api_keys.values().any(|other| other.prefix == key.prefix || other.id == key.id) {
            return Err(PortError::internal("in_memory.add", "unique constraint: API key prefix or id in use"));
        }
        self.state.api_keys.insert(key.id, key.clone());
        *self.dirty = true;
        Ok(())
    }

    fn keys_of_user(&mut self, user_id: UserId) -> Result<Vec<ApiKey>, PortError> {
        let mut keys: Vec<ApiKey> =
            self.state.api_keys.values().filter(|key| key.user_id == user_id).cloned().collect();
        keys.sort_by_key(|key| (key.created_at, key.id));
        Ok(keys)
    }

    fn find_by_prefix(&mut self, prefix: &str) -> Result<Option<ApiKey>, PortError> {
        Ok(self.state.api_keys.values().find(|key| key.prefix == prefix).cloned())
    }

    fn delete(&mut self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError> {
        if self.state.api_keys.get(&id).is_none_or(|key| key.user_id != user_id) {
            return Ok(false);
        }
        self.state.api_keys.remove(&id);
        *self.dirty = true;
        Ok(true)
    }

    fn touch(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<(), PortError> {
        if let Some(key) = self.state.api_keys.get_mut(&id) {
            key.last_used_at = Some(whole_seconds(now));
            *self.dirty = true;
        }
        Ok(())
    }
}

/// The sign-in flows of one unit of work.
struct InMemoryOAuthFlows<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl OAuthFlowRepository for InMemoryOAuthFlows<'_> {
    fn add(&mut self, flow: &OAuthFlow) -> Result<(), PortError> {
        *self.dirty = true;
        self.state.oauth_flows.insert(flow.state_hash.as_str().to_owned(), flow.clone());
        Ok(())
    }

    fn take(&mut self, state_hash: &SecretHash) -> Result<Option<OAuthFlow>, PortError> {
        let flow = self.state.oauth_flows.remove(state_hash.as_str());
        if flow.is_some() {
            *self.dirty = true;
        }
        Ok(flow)
    }
}

/// The linked provider identities of one unit of work.
struct InMemoryIdentities<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl IdentityRepository for InMemoryIdentities<'_> {
    fn link(&mut self, identity: &ExternalIdentity) -> Result<bool, PortError> {
        if !self.state.users.contains_key(&identity.user_id) {
            return Err(PortError::internal("in_memory.link", format!("foreign key: no user {}", identity.user_id)));
        }
        let key = (identity.provider.clone(), identity.subject.clone());
        let taken = self.state.identities.contains_key(&key)
            || self
                .state
                .identities
                .values()
                .any(|other| other.user_id == identity.user_id && other.provider == identity.provider);
        if taken {
            return Ok(false);
        }
        self.state.identities.insert(key, identity.clone());
        *self.dirty = true;
        Ok(true)
    }

    fn find(&mut self, provider: &ProviderId, subject: &str) -> Result<Option<ExternalIdentity>, PortError> {
        Ok(self.state.identities.get(&(provider.clone(), subject.to_owned())).cloned())
    }

    fn identities_of_user(&mut self, user_id: UserId) -> Result<Vec<ExternalIdentity>, PortError> {
        // The map is ordered by provider first, so these come by provider id.
        Ok(self.state.identities.values().filter(|identity| identity.user_id == user_id).cloned().collect())
    }

    fn unlink(&mut self, user_id: UserId, provider: &ProviderId) -> Result<bool, PortError> {
        let before = self.state.identities.len();
        self.state.identities.retain(|_, identity| !(identity.user_id == user_id && &identity.provider == provider));
        let removed = self.state.identities.len() < before;
        *self.dirty |= removed;
        Ok(removed)
    }
}

/// The sessions and refresh tokens of one unit of work.
struct InMemorySessions<'a> {
    state: &'a mut State,
    dirty: &'a mut bool,
}

impl SessionRepository for InMemorySessions<'_> {
    fn add_session(&mut self, session: &Session) -> Result<(), PortError> {
        if self.state.sessions.contains_key(&session.id) {
            return Err(PortError::internal("in_memory.add_session", format!("duplicate session id {}", session.id)));
        }
        self.state.sessions.insert(session.id, session.clone());
        *self.dirty = true;
        Ok(())
    }

    fn find_session(&mut self, id: SessionId) -> Result<Option<Session>, PortError> {
        Ok(self.state.sessions.get(&id).cloned())
    }

    fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool, PortError> {
        let Some(session) = self.state.sessions.get_mut(&id) else {
            return Ok(false);
        };
        session.last_used_at = whole_seconds(now);
        *self.dirty = true;
        Ok(true)
    }

    fn delete_session(&mut self, id: SessionId) -> Result<bool, PortError> {
        if self.state.sessions.remove(&id).is_none() {
            return Ok(false);
        }
        self.state.refresh_tokens.retain(|_, token| token.session_id != id);
        *self.dirty = true;
        Ok(true)
    }

    fn sessions_of_user(&mut self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let mut sessions: Vec<Session> =
            self.state.sessions.values().filter(|s| s.user_id == user_id).cloned().collect();
        sessions.sort_by_key(|s| (s.created_at, s.id));
        Ok(sessions)
    }

    fn delete_sessions_of_user(&mut self, user_id: UserId) -> Result<usize, PortError> {
        let ids: Vec<SessionId> = self.state.sessions.values().filter(|s| s.user_id == user_id).map(|s| s.id).collect();
        for id in &ids {
            self.state.sessions.remove(id);
            self.state.refresh_tokens.retain(|_, token| token.session_id != *id);
        }
        if !ids.is_empty() {
            *self.dirty = true;
        }
        Ok(ids.len())
    }

    fn add_refresh_token(&mut self, token: &RefreshToken) -> Result<(), PortError> {
        if !self.state.sessions.contains_key(&token.session_id) {
            return Err(PortError::internal(
                "in_memory.add_refresh_token",
                format!("foreign key: no session {}", token.session_id),
            ));
        }
        let key = token.hash.as_str().to_owned();
        if self.state.refresh_tokens.contains_key(&key) {
            return Err(PortError::internal("in_memory.add_refresh_token", "duplicate refresh token hash"));
        }
        self.state.refresh_tokens.insert(key, token.clone());
        *self.dirty = true;
        Ok(())
    }

    fn find_refresh_token(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshToken>, PortError> {
        Ok(self.state.refresh_tokens.get(hash.as_str()).cloned())
    }

    fn mark_refresh_token_used(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool, PortError> {
        match self.state.refresh_tokens.get_mut(hash.as_str()) {
            Some(token) if token.used_at.is_none() => {
                token.used_at = Some(whole_seconds(now));
                *self.dirty = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// A [`Clock`] that stands still until [`set`](Self::set) or [`advance`](Self::advance)
/// moves it. Clones share one instant, so a test can keep a clone and move the clock that
/// its handlers and token service read.
#[derive(Clone, Debug)]
pub struct FixedClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl FixedClock {
    /// A clock showing `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { now: Arc::new(Mutex::new(now)) }
    }

    /// Moves the clock (and every clone) to `now`.
    pub fn set(&self, now: DateTime<Utc>) {
        *lock(&self.now) = now;
    }

    /// Moves the clock (and every clone) forward by `by` (backward if negative).
    pub fn advance(&self, by: Duration) {
        let mut now = lock(&self.now);
        *now += by;
    }
}

impl Default for FixedClock {
    /// A clock at 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self::new(DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_767_225_600))
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

shared_fake_component!(FixedClock, Clock);

/// The prefix of every [`FakeTokenService`] access token.
pub const FAKE_ACCESS_TOKEN_PREFIX: &str = "fake.";

/// The default access-token lifetime of [`FakeTokenService`]: 900 seconds.
pub const DEFAULT_FAKE_ACCESS_TTL_SECONDS: i64 = 900;

/// A [`TokenService`] for tests: access tokens are unsigned, readable text, checked only
/// for form and expiry; refresh tokens are random.
///
/// An access token is `fake.` followed by `|`-separated fields (user id, name, email,
/// avatar URL, roles, email verified, user created at, session id, expires at, token id),
/// with `%` and `|` inside fields written `%25` and `%7C`. Anyone can forge one: never use
/// this outside tests.
///
/// [`verify_access_token`](TokenService::verify_access_token) answers
/// [`TokenVerifyError::Expired`] once the held clock reaches the expiry, and
/// [`TokenVerifyError::Invalid`] for anything it cannot read.
///
/// Clones share the count of issued tokens. As a shaku component it reads the module's
/// [`Clock`], with the lifetime in [`FakeTokenServiceParameters`].
#[derive(Clone)]
pub struct FakeTokenService {
    clock: Arc<dyn Clock>,
    access_ttl: Duration,
    issued: Arc<AtomicU64>,
}

impl FakeTokenService {
    /// A service reading expiry against `clock`, with 900-second access tokens.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, access_ttl: Duration::seconds(DEFAULT_FAKE_ACCESS_TTL_SECONDS), issued: Arc::default() }
    }

    /// The same service with access tokens living `ttl`.
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// How long access tokens live.
    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    /// How many access tokens this service has issued.
    pub fn issued_count(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }
}

/// Parameters of the [`FakeTokenService`] component.
#[derive(Clone, Copy, Debug)]
pub struct FakeTokenServiceParameters {
    /// How long access tokens live; 900 seconds unless set.
    pub access_ttl: Duration,
}

impl Default for FakeTokenServiceParameters {
    fn default() -> Self {
        Self { access_ttl: Duration::seconds(DEFAULT_FAKE_ACCESS_TTL_SECONDS) }
    }
}

impl<M: Module + HasComponent<dyn Clock>> Component<M> for FakeTokenService {
    type Interface = dyn TokenService;
    type Parameters = FakeTokenServiceParameters;

    fn build(context: &mut ModuleBuildContext<M>, params: Self::Parameters) -> Box<dyn TokenService> {
        Box::new(Self::new(M::build_component(context)).with_access_ttl(params.access_ttl))
    }
}

impl fmt::Debug for FakeTokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTokenService")
            .field("access_ttl", &self.access_ttl)
            .field("issued", &self.issued_count())
            .finish_non_exhaustive()
    }
}

impl TokenService for FakeTokenService {
    fn issue_access_token(
        &self,
        user: &UserInfo,
        session: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenIssueError> {
        let expires_in = u64::try_from(self.access_ttl.num_seconds())
            .map_err(|_| TokenIssueError::Signing("negative access-token lifetime".to_owned()))?;
        let expires_at = whole_seconds(now) + self.access_ttl;
        let serial = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        let claims = AccessClaims {
            user: user.clone(),
            session_id: session.session_id,
            auth_time: session.auth_time,
            methods: session.methods,
            expires_at,
            token_id: format!("fake-jti-{serial}"),
        };
        Ok(AccessToken { token: SecretString::new(encode_claims(&claims)), expires_in, expires_at })
    }

    fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenVerifyError> {
        let claims = decode_claims(token).ok_or(TokenVerifyError::Invalid)?;
        if self.clock.now() >= claims.expires_at {
            return Err(TokenVerifyError::Expired);
        }
        Ok(claims)
    }

    fn generate_secret(&self) -> RefreshTokenSecret {
        let mut bytes = [0_u8; 32];
        bytes[..16].copy_from_slice(Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(Uuid::new_v4().as_bytes());
        RefreshTokenSecret::from_random_bytes(bytes)
    }
}

/// Number of `|`-separated fields in a fake access token.
const FAKE_TOKEN_FIELDS: usize = 12;

/// Writes `%`, `|` and `,` as `%25`, `%7C` and `%2C`, so a field never contains a separator.
fn escape_field(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '|' => escaped.push_str("%7C"),
            ',' => escaped.push_str("%2C"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Undoes [`escape_field`]; `None` for an escape it never writes.
fn unescape_field(value: &str) -> Option<String> {
    let mut plain = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        plain.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        plain.push(match code {
            "25" => '%',
            "7C" => '|',
            "2C" => ',',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    plain.push_str(rest);
    Some(plain)
}

fn encode_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn decode_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.with_timezone(&Utc))
}

fn encode_claims(claims: &AccessClaims) -> String {
    let user = &claims.user;
    let avatar = match &user.avatar_url {
        Some(url) => format!("={}", escape_field(url)),
        None => String::new(),
    };
    let fields = [
        user.user_id.to_string(),
        escape_field(&user.name),
        escape_field(&user.email),
        avatar,
        user.roles.iter().map(|role| escape_field(role)).collect::<Vec<_>>().join(","),
        user.email_verified.to_string(),
        encode_time(user.created_at),
        claims.session_id.to_string(),
        encode_time(claims.auth_time),
        claims.methods.iter().map(AuthMethod::claim).collect::<Vec<_>>().join(","),
        encode_time(claims.expires_at),
        escape_field(&claims.token_id),
    ];
    format!("{FAKE_ACCESS_TOKEN_PREFIX}{}", fields.join("|"))
}

fn decode_claims(token: &str) -> Option<AccessClaims> {
    let body = token.strip_prefix(FAKE_ACCESS_TOKEN_PREFIX)?;
    let fields: Vec<&str> = body.split('|').collect();
    let [
        user_id,
        name,
        email,
        avatar,
        roles,
        verified,
        created_at,
        session_id,
        auth_time,
        methods,
        expires_at,
        token_id,
    ] = <[&str; FAKE_TOKEN_FIELDS]>::try_from(fields).ok()?;
    let avatar_url = match avatar {
        "" => None,
        some => Some(unescape_field(some.strip_prefix('=')?)?),
    };
    let roles =
        if roles.is_empty() { Vec::new() } else { roles.split(',').map(unescape_field).collect::<Option<_>>()? };
    Some(AccessClaims {
        user: UserInfo {
            user_id: UserId::from_str(user_id).ok()?,
            name: unescape_field(name)?,
            email: unescape_field(email)?,
            avatar_url,
            roles,
            email_verified: bool::from_str(verified).ok()?,
            created_at: decode_time(created_at)?,
        },
        session_id: SessionId::from_str(session_id).ok()?,
        auth_time: decode_time(auth_time)?,
        methods: AuthMethods::from_claims(methods.split(',').filter(|m| !m.is_empty())).ok()?,
        expires_at: decode_time(expires_at)?,
        token_id: unescape_field(token_id)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(name: &str, avatar_url: Option<&str>, roles: &[&str]) -> AccessClaims {
        AccessClaims {
            user: UserInfo {
                user_id: UserId::generate(),
                name: name.to_owned(),
                email: "ada@example.com".to_owned(),
                avatar_url: avatar_url.map(str::to_owned),
                roles: roles.iter().map(|role| (*role).to_owned()).collect(),
                email_verified: true,
                created_at: FixedClock::default().now(),
            },
            session_id: SessionId::generate(),
            auth_time: FixedClock::default().now(),
            methods: AuthMethods::only(AuthMethod::Federated).with(AuthMethod::OneTimeCode),
            expires_at: FixedClock::default().now() + Duration::seconds(60),
            token_id: "fake-jti-1".to_owned(),
        }
    }

    fn any_session() -> Session {
        Session::start(
            UserId::generate(),
            portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
            portcullis_domain::SessionMetadata::default(),
            Utc::now(),
            Duration::days(1),
        )
    }

    #[test]
    fn claims_round_trip_through_the_text_form_even_with_separators() {
        for original in [
            claims("Ada", None, &["user"]),
            claims("A|d%7Ca %25,", Some("https://example.com/a|b%7C,.png"), &["ad,min", "us|er%"]),
            claims("", Some(""), &[]),
        ] {
            let text = encode_claims(&original);
            assert!(text.starts_with(FAKE_ACCESS_TOKEN_PREFIX));
            assert_eq!(text.matches('|').count(), FAKE_TOKEN_FIELDS - 1);
            assert_eq!(decode_claims(&text), Some(original));
        }
    }

    #[test]
    fn unreadable_tokens_decode_to_nothing() {
        let good = encode_claims(&claims("Ada", None, &["user"]));
        let bad_escape = good.replacen("Ada", "A%41a", 1);
        for bad in ["", "fake.", "jwt.a.b", &good.replacen("fake.", "", 1), &format!("{good}|extra"), &bad_escape] {
            assert_eq!(decode_claims(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_unit_that_only_read_commits_even_after_another_wrote() {
        let store = InMemoryStore::new();
        let mut reader = store.begin().expect("begins");
        let mut writer = store.begin().expect("begins");
        let session = any_session();
        writer.sessions().add_session(&session).expect("adds");
        writer.commit().expect("commits");
        assert_eq!(reader.sessions().find_session(session.id).expect("reads"), None);
        reader.commit().expect("a read-only unit commits");
        assert_eq!(store.sessions(), vec![session]);
    }

    #[test]
    fn a_read_only_unit_is_counted_and_may_not_write() {
        let store = InMemoryStore::new();
        store.begin_read().expect("begins").commit().expect("a unit that only read commits");
        let mut reader = store.begin_read().expect("begins");
        reader.sessions().add_session(&any_session()).expect("adds in its own copy");
        assert!(matches!(reader.commit(), Err(PortError::Internal(_))));
        assert!(store.sessions().is_empty(), "nothing was written");
        store.begin().expect("begins");
        assert_eq!(store.units_begun(), UnitsBegun { writes: 1, reads: 2 });
    }

    #[test]
    fn a_writing_unit_does_not_overwrite_a_later_commit() {
        let store = InMemoryStore::new();
        let mut first = store.begin().expect("begins");
        let mut second = store.begin().expect("begins");
        first.sessions().add_session(&any_session()).expect("adds");
        second.sessions().add_session(&any_session()).expect("adds");
        first.commit().expect("commits");
        assert!(matches!(second.commit(), Err(PortError::Unavailable(_))));
        assert_eq!(store.sessions().len(), 1);
    }
}
