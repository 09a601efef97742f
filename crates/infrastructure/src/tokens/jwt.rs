use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_application::defaults::NoExtraClaims;
use portcullis_application::ports::{
    AccessClaims, AccessToken, ClaimsExtension, JwksSource, RESERVED_CLAIMS, TokenIssueError, TokenService,
    TokenVerifyError,
};
use portcullis_domain::{AuthMethods, RefreshTokenSecret, SecretString, SessionAuth, SessionId, UserId, UserInfo};
use portcullis_jwt::{CheckError, Expectations, LEEWAY_SECS, TokenChecker};
use shaku::Component;

use super::claims::Claims;
use super::key_store::{KeyRing, SharedKeyRing};

/// What goes into every access token.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// `iss`: the public URL, no trailing slash.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Lifetime of an access token.
    pub access_ttl: Duration,
}

/// What access tokens say and how they are checked: the settings, and a checker that
/// remembers the tokens it verified (see [`portcullis_jwt::TokenChecker`]).
pub struct AccessTokenRules {
    settings: TokenSettings,
    checker: TokenChecker<Claims>,
}

impl std::fmt::Debug for AccessTokenRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenRules").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl AccessTokenRules {
    /// Rules for `settings`, with a verified-token cache of the default size.
    pub fn new(settings: TokenSettings) -> Self {
        let expect = Expectations {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway_secs: LEEWAY_SECS,
        };
        Self { settings, checker: TokenChecker::new(expect) }
    }
}

/// Issues EdDSA access tokens with the current key and verifies them against every known
/// key. Verification pins the algorithm and checks signature, `iss`, `aud`, `exp`, `nbf`;
/// a token verified before is answered from the rules' cache (its times and key still
/// checked on each use).
#[derive(Component)]
#[shaku(interface = TokenService)]
pub struct JwtTokenService {
    keys: SharedKeyRing,
    rules: AccessTokenRules,
    #[shaku(inject)]
    claims_extension: Arc<dyn ClaimsExtension>,
}

impl JwtTokenService {
    /// A token service over a shared key ring, adding no extra claims.
    pub fn new(keys: SharedKeyRing, settings: TokenSettings) -> Self {
        Self { keys, rules: AccessTokenRules::new(settings), claims_extension: Arc::new(NoExtraClaims) }
    }

    /// The same service, adding `extension`'s claims to every access token.
    #[must_use]
    pub fn with_claims_extension(mut self, extension: Arc<dyn ClaimsExtension>) -> Self {
        self.claims_extension = extension;
        self
    }

    fn extra_claims(&self, user: &UserInfo) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = self.claims_extension.extra_claims(user);
        extra.retain(|name, _| {
            let reserved = RESERVED_CLAIMS.contains(&name.as_str());
            if reserved {
                tracing::warn!(claim = %name, "a claims extension tried to set a standard claim; ignored");
            }
            !reserved
        });
        extra
    }

    fn ring(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }
}

/// 32 bytes from the operating system's random source.
///
/// # Panics
/// If the OS random source fails: an auth server cannot go on without randomness.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    if let Err(error) = getrandom::getrandom(&mut bytes) {
        panic!("the operating system's random source failed: {error}");
    }
    bytes
}

impl TokenService for JwtTokenService {
    fn issue_access_token(
        &self,
        user: &UserInfo,
        session: &SessionAuth,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, TokenIssueError> {
        let ring = self.ring();
        let expires_at = now + self.rules.settings.access_ttl;
        let claims = Claims {
            iss: self.rules.settings.issuer.clone(),
            aud: self.rules.settings.audience.clone(),
            sub: user.user_id.to_string(),
            sid: session.session_id.to_string(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            name: user.name.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
            roles: user.roles.clone(),
            email_verified: user.email_verified,
            created_at: user.created_at.timestamp(),
            auth_time: session.auth_time.timestamp(),
            amr: session.methods.claims().into_iter().map(str::to_owned).collect(),
            extra: self.extra_claims(user),
        };
        let token =
            portcullis_jwt::sign(&claims, &ring.current).map_err(|e| TokenIssueError::Signing(e.to_string()))?;
        Ok(AccessToken {
            token: SecretString::new(token),
            expires_in: u64::try_from(self.rules.settings.access_ttl.num_seconds()).unwrap_or(0),
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    fn verify_access_token(&self, token: &str) -> Result<AccessClaims, TokenVerifyError> {
        let ring = self.ring();
        let claims = self.rules.checker.check_now(token, &ring.verifying).map_err(|e| match e {
            CheckError::Expired => TokenVerifyError::Expired,
            CheckError::UnknownKey => TokenVerifyError::UnknownKey,
            CheckError::Invalid => TokenVerifyError::Invalid,
        })?;
        let user_id: UserId = claims.sub.parse().map_err(|_| TokenVerifyError::Invalid)?;
        let session_id: SessionId = claims.sid.parse().map_err(|_| TokenVerifyError::Invalid)?;
        let created_at = DateTime::from_timestamp(claims.created_at, 0).ok_or(TokenVerifyError::Invalid)?;
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or(TokenVerifyError::Invalid)?;
        let auth_time = DateTime::from_timestamp(claims.auth_time, 0).ok_or(TokenVerifyError::Invalid)?;
        let methods =
            AuthMethods::from_claims(claims.amr.iter().map(String::as_str)).map_err(|_| TokenVerifyError::Invalid)?;
        Ok(AccessClaims {
            user: UserInfo {
                user_id,
                name: claims.name,
                email: claims.email,
                avatar_url: claims.avatar_url,
                roles: claims.roles,
                email_verified: claims.email_verified,
                created_at,
            },
            session_id,
            auth_time,
            methods,
            expires_at,
            token_id: claims.jti,
        })
    }

    fn generate_secret(&self) -> RefreshTokenSecret {
        RefreshTokenSecret::from_random_bytes(random_bytes())
    }
}

/// [`JwksSource`] over the shared key ring.
#[derive(Component)]
#[shaku(interface = JwksSource)]
pub struct JwksDocument {
    keys: SharedKeyRing,
}

impl JwksDocument {
    /// A JWKS source over a shared key ring.
    pub fn new(keys: SharedKeyRing) -> Self {
        Self { keys }
    }
}

impl JwksSource for JwksDocument {
    fn jwks_json(&self) -> String {
        match self.keys.read() {
            Ok(guard) => guard.jwks.clone(),
            Err(poisoned) => poisoned.into_inner().jwks.clone(),
        }
    }
}
