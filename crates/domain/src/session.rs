use chrono::{DateTime, Duration, Utc};

use crate::{AuthMethods, RefreshTokenHash, RefreshTokenSecret, SessionAuth, SessionId, UserId, user::whole_seconds};

/// A session's last use is recorded at most once per this many seconds: a refresh sooner
/// than that after the recorded one leaves `last_used_at` as it is (one write fewer per
/// refresh for a busy client; the sessions list shows the time to the minute anyway).
pub const SESSION_USE_GRANULARITY_SECONDS: i64 = 60;

/// Longest user agent or IP text kept with a session; longer values are cut.
const MAX_METADATA_CHARS: usize = 512;

/// One login on one device: the family of refresh tokens that login and its refreshes made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session's id, carried in access tokens as `sid`.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the login happened.
    pub created_at: DateTime<Utc>,
    /// When a refresh last used it, to within [`SESSION_USE_GRANULARITY_SECONDS`].
    pub last_used_at: DateTime<Utc>,
    /// Absolute end: no refresh extends a session past this.
    pub expires_at: DateTime<Utc>,
    /// Device description as sent at login.
    pub user_agent: Option<String>,
    /// Client IP at login.
    pub ip: Option<String>,
    /// How the person signed in (`amr`); the sign-in time (`auth_time`) is `created_at`.
    pub methods: AuthMethods,
}

/// Where a login came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMetadata {
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The client's IP address.
    pub ip: Option<String>,
}

impl Session {
    /// Starts a session for a sign-in by `methods` at `now` that ends for good after `max_lifetime`.
    pub fn start(
        user_id: UserId,
        methods: AuthMethods,
        metadata: SessionMetadata,
        now: DateTime<Utc>,
        max_lifetime: Duration,
    ) -> Self {
        let now = whole_seconds(now);
        Self {
            id: SessionId::generate(),
            user_id,
            created_at: now,
            last_used_at: now,
            expires_at: now + max_lifetime,
            user_agent: metadata.user_agent.map(cut_metadata),
            ip: metadata.ip.map(cut_metadata),
            methods,
        }
    }

    /// How and when this session signed in, as its access tokens carry it.
    pub fn auth(&self) -> SessionAuth {
        SessionAuth { session_id: self.id, auth_time: self.created_at, methods: self.methods }
    }

    /// Whether the absolute lifetime is over.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// Whether a use at `now` should be recorded: the recorded one is at least
    /// [`SESSION_USE_GRANULARITY_SECONDS`] old.
    pub fn use_is_due(&self, now: DateTime<Utc>) -> bool {
        now - self.last_used_at >= Duration::seconds(SESSION_USE_GRANULARITY_SECONDS)
    }
}

fn cut_metadata(value: String) -> String {
    let clean: String = value.chars().filter(|c| !c.is_control()).take(MAX_METADATA_CHARS).collect();
    clean.trim().to_owned()
}

/// One refresh token of a session's family, as stored (by hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// Hash of the token.
    pub hash: RefreshTokenHash,
    /// The session (family) it belongs to.
    pub session_id: SessionId,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working, never after its session's end.
    pub expires_at: DateTime<Utc>,
    /// When it was exchanged for a new one; a token is single-use.
    pub used_at: Option<DateTime<Utc>>,
}

/// What presenting a stored refresh token at `now` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshTokenState {
    /// Never used and not expired: exchange it.
    Fresh,
    /// Already used, but within the grace window (a parallel tab): exchange again.
    ReusedWithinGrace,
    /// Already used, after the grace window: a replay, so the whole session must end.
    Replayed,
    /// Past its lifetime.
    Expired,
}

impl RefreshToken {
    /// Issues the token `secret` for `session` at `now`, living `ttl` but never past the session.
    pub fn issue(secret: &RefreshTokenSecret, session: &Session, now: DateTime<Utc>, ttl: Duration) -> Self {
        let now = whole_seconds(now);
        Self {
            hash: secret.hash(),
            session_id: session.id,
            created_at: now,
            expires_at: (now + ttl).min(session.expires_at),
            used_at: None,
        }
    }

    /// Classifies a presentation of this token at `now` with reuse grace `grace`.
    pub fn state(&self, now: DateTime<Utc>, grace: Duration) -> RefreshTokenState {
        match self.used_at {
            Some(used_at) if now <= used_at + grace && now < self.expires_at => RefreshTokenState::ReusedWithinGrace,
            Some(_) => RefreshTokenState::Replayed,
            None if now >= self.expires_at => RefreshTokenState::Expired,
            None => RefreshTokenState::Fresh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: DateTime<Utc>) -> Session {
        let meta = SessionMetadata { user_agent: Some("curl/8\n".into()), ip: Some("127.0.0.1".into()) };
        Session::start(
            UserId::generate(),
            AuthMethods::only(crate::AuthMethod::Password),
            meta,
            now,
            Duration::days(30),
        )
    }

    #[test]
    fn a_use_is_recorded_at_most_once_a_minute() {
        let now = Utc::now();
        let s = session(now);
        assert!(!s.use_is_due(now));
        assert!(!s.use_is_due(now + Duration::seconds(SESSION_USE_GRANULARITY_SECONDS - 1)));
        assert!(s.use_is_due(now + Duration::seconds(SESSION_USE_GRANULARITY_SECONDS)));
    }

    #[test]
    fn session_keeps_clean_metadata_and_expires_absolutely() {
        let now = Utc::now();
        let s = session(now);
        assert_eq!(s.user_agent.as_deref(), Some("curl/8"));
        assert!(!s.is_expired(now + Duration::days(29)));
        assert!(s.is_expired(now + Duration::days(30) + Duration::seconds(1)));
    }

    #[test]
    fn secrets_are_long_hashed_and_redacted() {
        let secret = RefreshTokenSecret::from_random_bytes([7; 32]);
        assert_eq!(secret.expose().len(), 43);
        assert_eq!(secret.hash(), RefreshTokenHash::of(secret.expose()));
        assert_eq!(secret.hash().as_str().len(), 64);
        assert_ne!(secret.hash().as_str(), secret.expose());
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }

    #[test]
    fn token_never_outlives_its_session() {
        let now = Utc::now();
        let mut s = session(now);
        s.expires_at = now + Duration::days(1);
        let token = RefreshToken::issue(&RefreshTokenSecret::from_random_bytes([1; 32]), &s, now, Duration::days(7));
        assert_eq!(token.expires_at, s.expires_at);
    }

    #[test]
    fn states_follow_use_grace_and_expiry() {
        let now = whole_seconds(Utc::now());
        let s = session(now);
        let grace = Duration::seconds(10);
        let mut token =
            RefreshToken::issue(&RefreshTokenSecret::from_random_bytes([2; 32]), &s, now, Duration::days(7));
        assert_eq!(token.state(now, grace), RefreshTokenState::Fresh);
        assert_eq!(token.state(now + Duration::days(8), grace), RefreshTokenState::Expired);
        token.used_at = Some(now);
        assert_eq!(token.state(now + Duration::seconds(10), grace), RefreshTokenState::ReusedWithinGrace);
        assert_eq!(token.state(now + Duration::seconds(11), grace), RefreshTokenState::Replayed);
    }
}
