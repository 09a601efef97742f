use chrono::{DateTime, Utc};
use portcullis_domain::{
    AccountToken, AccountTokenPurpose, ApiKey, ApiKeyId, CredentialId, Email, ExternalIdentity, MfaChallenge,
    OAuthFlow, Passkey, PasskeyCeremony, PasskeyId, PasskeyName, PasskeyRecord, ProviderId, RefreshToken,
    RefreshTokenHash, SecretHash, Session, SessionId, TotpCredential, User, UserId,
};

use super::PortError;

/// Why a user could not be added.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AddUserError {
    /// Another user has this email (a unique-constraint violation in storage).
    #[error("email already registered")]
    EmailTaken,
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Users, as the article's `IUserRepository`.
pub trait UserRepository {
    /// Stores a new user.
    ///
    /// # Errors
    /// [`AddUserError::EmailTaken`] if the email is in use.
    fn add(&mut self, user: &User) -> Result<(), AddUserError>;

    /// The user with this (normalised) email.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_by_email(&mut self, email: &Email) -> Result<Option<User>, PortError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_by_id(&mut self, id: UserId) -> Result<Option<User>, PortError>;

    /// Saves every field of an existing user.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn update(&mut self, user: &User) -> Result<(), PortError>;

    /// Deletes a user and, with them, everything of theirs: sessions, refresh tokens, API
    /// keys, mailed tokens, lockout records. `false` if there was no such user.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete(&mut self, id: UserId) -> Result<bool, PortError>;

    /// One page of users in creation order (by id: ids are time-ordered UUID v7), those
    /// after `query.after` only, at most `query.limit`, filtered by `query.search`.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn list(&mut self, query: &UserQuery) -> Result<Vec<User>, PortError>;

    /// How many users have role `admin` and are not disabled.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn count_active_admins(&mut self) -> Result<u64, PortError>;
}

/// Which users [`UserRepository::list`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// A case-insensitive substring of the email or the name; `None` matches everyone.
    /// Matched literally (`%` and `_` are not wildcards).
    pub search: Option<String>,
    /// Only users whose id sorts after this one (the previous page's last id).
    pub after: Option<UserId>,
    /// At most this many.
    pub limit: usize,
}

/// Mailed single-use tokens (email verification, password reset), stored by hash.
pub trait AccountTokenRepository {
    /// Stores a new token.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add(&mut self, token: &AccountToken) -> Result<(), PortError>;

    /// The token with this hash.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find(&mut self, hash: &SecretHash) -> Result<Option<AccountToken>, PortError>;

    /// Marks an unused token used at `now`; `true` only for the one caller that did so
    /// (compare-and-set).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn mark_used(&mut self, hash: &SecretHash, now: DateTime<Utc>) -> Result<bool, PortError>;

    /// Deletes every token of `user_id` for `purpose` (when a newer one replaces them, or
    /// after one was used); returns how many.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_for_user(&mut self, user_id: UserId, purpose: AccountTokenPurpose) -> Result<usize, PortError>;
}

/// API keys, stored by hash and found by their visible prefix.
pub trait ApiKeyRepository {
    /// Stores a new key.
    ///
    /// # Errors
    /// [`PortError`] when storage fails (including a prefix already in use).
    fn add(&mut self, key: &ApiKey) -> Result<(), PortError>;

    /// The keys of a user, oldest first.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn keys_of_user(&mut self, user_id: UserId) -> Result<Vec<ApiKey>, PortError>;

    /// The key with this prefix.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_by_prefix(&mut self, prefix: &str) -> Result<Option<ApiKey>, PortError>;

    /// Deletes `user_id`'s key `id`; `false` if they have no such key.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete(&mut self, user_id: UserId, id: ApiKeyId) -> Result<bool, PortError>;

    /// Records that the key authenticated a request at `now`.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn touch(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> Result<(), PortError>;
}

/// Provider identities linked to users: who may sign in through which provider.
pub trait IdentityRepository {
    /// Links an identity. `false` when that identity is linked already (to anyone) or the
    /// user already has one of that provider; nothing is changed then, and the unit should
    /// end there (on PostgreSQL the refused insert ends the transaction: a commit then rolls
    /// back).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn link(&mut self, identity: &ExternalIdentity) -> Result<bool, PortError>;

    /// The identity `subject` of `provider`, whoever it is linked to.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find(&mut self, provider: &ProviderId, subject: &str) -> Result<Option<ExternalIdentity>, PortError>;

    /// A user's linked identities, by provider id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn identities_of_user(&mut self, user_id: UserId) -> Result<Vec<ExternalIdentity>, PortError>;

    /// Unlinks `user_id`'s identity of `provider`; `false` if they have none.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn unlink(&mut self, user_id: UserId, provider: &ProviderId) -> Result<bool, PortError>;
}

/// Sign-in flows in progress at upstream providers, stored by the hash of their `state`, so
/// that any instance on the database can finish a flow another one started.
pub trait OAuthFlowRepository {
    /// Stores a new flow.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add(&mut self, flow: &OAuthFlow) -> Result<(), PortError>;

    /// Removes and returns the flow whose `state` hashes to `state_hash` (expired or not:
    /// the caller checks). Single use: of two callers taking the same flow at once, at most
    /// one gets it.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn take(&mut self, state_hash: &SecretHash) -> Result<Option<OAuthFlow>, PortError>;
}

/// Second factors: a user's TOTP credential and recovery codes (stored as hashes), and the
/// challenges between a first factor and the second step (by the hash of their token).
pub trait SecondFactorRepository {
    /// The user's TOTP credential, pending or active.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn totp(&mut self, user_id: UserId) -> Result<Option<TotpCredential>, PortError>;

    /// Stores the user's credential, replacing one they had.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn save_totp(&mut self, credential: &TotpCredential) -> Result<(), PortError>;

    /// Removes the user's credential and every recovery code; `false` if there was none.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_totp(&mut self, user_id: UserId) -> Result<bool, PortError>;

    /// Records `step` as the newest accepted one when the stored one is older (compare-and-set):
    /// `false` when another request spent that step or a newer one first.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn spend_totp_step(&mut self, user_id: UserId, step: u64) -> Result<bool, PortError>;

    /// Replaces the user's recovery codes with these hashes.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn replace_recovery_codes(&mut self, user_id: UserId, hashes: &[SecretHash]) -> Result<(), PortError>;

    /// Removes the user's recovery code with this hash: `true` only for the caller that did.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn spend_recovery_code(&mut self, user_id: UserId, hash: &SecretHash) -> Result<bool, PortError>;

    /// How many unused recovery codes the user has.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn recovery_codes_left(&mut self, user_id: UserId) -> Result<u32, PortError>;

    /// Stores a new challenge.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_challenge(&mut self, challenge: &MfaChallenge) -> Result<(), PortError>;

    /// The challenge whose token hashes to `token_hash` (dead or alive: the caller checks).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_challenge(&mut self, token_hash: &SecretHash) -> Result<Option<MfaChallenge>, PortError>;

    /// Counts one wrong code on the challenge (atomically); its failures now, `None` if it is gone.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn count_challenge_failure(&mut self, token_hash: &SecretHash) -> Result<Option<u32>, PortError>;

    /// Removes the challenge: `true` only for the caller that did (single use).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn take_challenge(&mut self, token_hash: &SecretHash) -> Result<bool, PortError>;
}

/// A counter and record change after a passkey signed in.
#[derive(Clone, Debug)]
pub struct PasskeyUse<'a> {
    /// The passkey.
    pub id: PasskeyId,
    /// The counter it had when the sign-in read it (compare-and-set).
    pub previous_count: u32,
    /// The counter presented.
    pub sign_count: u32,
    /// The record to store, when it changed.
    pub record: Option<&'a PasskeyRecord>,
    /// When it signed in.
    pub at: DateTime<Utc>,
}

/// Passkeys and the ceremonies that add them or sign in with them.
pub trait PasskeyRepository {
    /// Stores a new passkey: `false` when its credential id is registered already (to
    /// anyone), and nothing was stored.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add(&mut self, passkey: &Passkey) -> Result<bool, PortError>;

    /// The user's passkeys, oldest first.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn of_user(&mut self, user_id: UserId) -> Result<Vec<Passkey>, PortError>;

    /// The passkey with this credential id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn by_credential_id(&mut self, credential_id: &CredentialId) -> Result<Option<Passkey>, PortError>;

    /// Records a sign-in when the counter is still `previous_count`: `false` when another
    /// sign-in with the same key came first.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn record_use(&mut self, change: &PasskeyUse<'_>) -> Result<bool, PortError>;

    /// Renames the user's passkey: `false` when they have none with that id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn rename(&mut self, user_id: UserId, id: PasskeyId, name: &PasskeyName) -> Result<bool, PortError>;

    /// Removes the user's passkey: `false` when they have none with that id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete(&mut self, user_id: UserId, id: PasskeyId) -> Result<bool, PortError>;

    /// Removes every passkey of the user; how many there were.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_all_of_user(&mut self, user_id: UserId) -> Result<usize, PortError>;

    /// Stores a started ceremony.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_ceremony(&mut self, ceremony: &PasskeyCeremony) -> Result<(), PortError>;

    /// Removes and answers the ceremony whose `challenge_id` hashes to `id_hash` (dead or
    /// alive: the caller checks); `None` when it is unknown or another caller took it.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn take_ceremony(&mut self, id_hash: &SecretHash) -> Result<Option<PasskeyCeremony>, PortError>;
}

/// Sessions and their refresh-token families (the article's `IRefreshTokenRepository`).
pub trait SessionRepository {
    /// Stores a new session.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_session(&mut self, session: &Session) -> Result<(), PortError>;

    /// The session with this id.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_session(&mut self, id: SessionId) -> Result<Option<Session>, PortError>;

    /// Records a refresh of the session. `false` if it does not exist (any more).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn touch_session(&mut self, id: SessionId, now: DateTime<Utc>) -> Result<bool, PortError>;

    /// Ends a session and every refresh token of its family. `false` if it did not exist.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_session(&mut self, id: SessionId) -> Result<bool, PortError>;

    /// Every session of a user, oldest first (expired ones included; callers filter).
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn sessions_of_user(&mut self, user_id: UserId) -> Result<Vec<Session>, PortError>;

    /// Ends every session of a user with their refresh tokens; returns how many ended.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn delete_sessions_of_user(&mut self, user_id: UserId) -> Result<usize, PortError>;

    /// Stores a new refresh token of a session's family.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn add_refresh_token(&mut self, token: &RefreshToken) -> Result<(), PortError>;

    /// The refresh token with this hash.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn find_refresh_token(&mut self, hash: &RefreshTokenHash) -> Result<Option<RefreshToken>, PortError>;

    /// Marks an unused token used at `now`; `true` only for the one caller that did so
    /// (compare-and-set), `false` if it was already used.
    ///
    /// # Errors
    /// [`PortError`] when storage fails.
    fn mark_refresh_token_used(&mut self, hash: &RefreshTokenHash, now: DateTime<Utc>) -> Result<bool, PortError>;
}
