//! One sign-in (or linking) flow at an upstream provider, from the redirect to the provider
//! until its callback: what is stored of it, what only the browser holds, and where it may
//! lead back to.
//!
//! Two secrets make a flow: the `state` sent through the provider and back in the callback
//! URL, and a binding secret kept in the browser's `oauth_flow` cookie. The store keeps only
//! their hashes; the PKCE verifier and the OpenID nonce are derived from the binding secret
//! (HMAC-SHA-256 with a label each), so no one who reads the database can finish a flow, and
//! a callback without the cookie that started it fails.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::Url;

use crate::{OpaqueSecret, ProviderId, SecretHash, SecretString, UserId, whole_seconds};

/// How long a started flow may be finished: 10 minutes.
pub const FLOW_LIFETIME_SECONDS: i64 = 600;

/// Where a flow goes when it names no usable `next`.
pub const DEFAULT_NEXT: &str = "/account";

/// The two secrets of one flow. Never stored: the store keeps [`OAuthFlow::state_hash`] and
/// [`OAuthFlow::binding_hash`].
#[derive(Clone, Debug)]
pub struct FlowSecrets {
    /// Sent to the provider as `state`, comes back in the callback.
    pub state: OpaqueSecret,
    /// Kept in the browser's `oauth_flow` cookie.
    pub binding: OpaqueSecret,
}

impl FlowSecrets {
    /// The PKCE `code_verifier` of this flow (43 characters of base64url).
    pub fn pkce_verifier(&self) -> SecretString {
        self.derive(b"portcullis oauth pkce verifier")
    }

    /// The OpenID Connect `nonce` of this flow.
    pub fn nonce(&self) -> SecretString {
        self.derive(b"portcullis oauth nonce")
    }

    fn derive(&self, label: &[u8]) -> SecretString {
        use base64::Engine;
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.binding.expose().as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(label);
        SecretString::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

/// A flow as stored, found again by the hash of its `state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthFlow {
    /// Hash of the `state` parameter: the key.
    pub state_hash: SecretHash,
    /// Hash of the `oauth_flow` cookie's secret.
    pub binding_hash: SecretHash,
    /// The provider the flow went to.
    pub provider: ProviderId,
    /// Where to go afterwards: a path on this site ([`SameSitePath`]).
    pub next: String,
    /// The signed-in user who started the flow to link the provider; `None` for a sign-in.
    pub linking_user: Option<UserId>,
    /// When it started (whole seconds).
    pub created_at: DateTime<Utc>,
    /// When it can no longer be finished.
    pub expires_at: DateTime<Utc>,
}

/// Why a callback does not finish a stored flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowMismatch {
    /// The browser presenting the callback is not the one that started the flow (no
    /// `oauth_flow` cookie, or another flow's).
    #[error("the callback comes from another browser than the flow")]
    ForeignBrowser,
    /// The callback arrived at another provider's endpoint.
    #[error("the callback is for another provider")]
    WrongProvider,
    /// Started more than [`FLOW_LIFETIME_SECONDS`] ago.
    #[error("the flow has expired")]
    Expired,
}

impl OAuthFlow {
    /// A flow to `provider` started at `now` with `secrets`.
    pub fn start(
        secrets: &FlowSecrets,
        provider: ProviderId,
        next: SameSitePath,
        linking_user: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Self {
        let now = whole_seconds(now);
        Self {
            state_hash: secrets.state.hash(),
            binding_hash: secrets.binding.hash(),
            provider,
            next: next.into_string(),
            linking_user,
            created_at: now,
            expires_at: now + Duration::seconds(FLOW_LIFETIME_SECONDS),
        }
    }

    /// Checks that a callback at `provider`'s endpoint, from a browser holding `binding` (the
    /// `oauth_flow` cookie), at `now`, may finish this flow. The binding is compared in
    /// constant time.
    ///
    /// # Errors
    /// [`FlowMismatch`] naming the first rule broken.
    pub fn admit(
        &self,
        provider: &ProviderId,
        binding: Option<&OpaqueSecret>,
        now: DateTime<Utc>,
    ) -> Result<(), FlowMismatch> {
        let Some(binding) = binding else {
            return Err(FlowMismatch::ForeignBrowser);
        };
        let same: bool = binding.hash().as_str().as_bytes().ct_eq(self.binding_hash.as_str().as_bytes()).into();
        if !same {
            return Err(FlowMismatch::ForeignBrowser);
        }
        if &self.provider != provider {
            return Err(FlowMismatch::WrongProvider);
        }
        if now >= self.expires_at {
            return Err(FlowMismatch::Expired);
        }
        Ok(())
    }
}

/// A `next` target that stays on this site: a path starting with a single `/` (not `//`),
/// with no `\` and no control character, that resolved against the public URL keeps its
/// origin. Anything else becomes [`DEFAULT_NEXT`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SameSitePath(String);

/// Longest `next` kept.
const MAX_NEXT_CHARS: usize = 2048;

impl SameSitePath {
    /// `raw` when it is a same-site path under `public_url`, else [`DEFAULT_NEXT`].
    pub fn parse_or_default(raw: Option<&str>, public_url: &Url) -> Self {
        raw.and_then(|raw| Self::parse(raw, public_url)).unwrap_or_else(Self::default_next)
    }

    /// `raw` when it is a same-site path under `public_url`.
    pub fn parse(raw: &str, public_url: &Url) -> Option<Self> {
        let shaped = raw.starts_with('/')
            && !raw.starts_with("//")
            && raw.len() <= MAX_NEXT_CHARS
            && !raw.contains('\\')
            && !raw.chars().any(char::is_control);
        if !shaped {
            return None;
        }
        let resolved = public_url.join(raw).ok()?;
        (resolved.origin() == public_url.origin()).then(|| Self(raw.to_owned()))
    }

    /// [`DEFAULT_NEXT`].
    pub fn default_next() -> Self {
        Self(DEFAULT_NEXT.to_owned())
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(state: u8, binding: u8) -> FlowSecrets {
        FlowSecrets {
            state: OpaqueSecret::from_random_bytes([state; 32]),
            binding: OpaqueSecret::from_random_bytes([binding; 32]),
        }
    }

    fn public() -> Url {
        Url::parse("https://auth.example.com").expect("url")
    }

    #[test]
    fn derived_secrets_are_stable_distinct_and_valid_pkce() {
        let one = secrets(1, 2);
        assert_eq!(one.pkce_verifier().expose(), secrets(9, 2).pkce_verifier().expose(), "from the binding only");
        assert_ne!(one.pkce_verifier().expose(), one.nonce().expose());
        assert_ne!(one.pkce_verifier().expose(), secrets(1, 3).pkce_verifier().expose());
        let verifier = one.pkce_verifier();
        // RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~].
        assert_eq!(verifier.expose().len(), 43);
        assert!(verifier.expose().chars().all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c)));
    }

    #[test]
    fn a_stored_flow_keeps_only_hashes() {
        let s = secrets(1, 2);
        let flow = OAuthFlow::start(
            &s,
            ProviderId::parse("google").expect("id"),
            SameSitePath::default_next(),
            None,
            Utc::now(),
        );
        let printed = format!("{flow:?}");
        for secret in [s.state.expose(), s.binding.expose(), s.pkce_verifier().expose(), s.nonce().expose()] {
            assert!(!printed.contains(secret));
        }
        assert_eq!(flow.expires_at - flow.created_at, Duration::seconds(FLOW_LIFETIME_SECONDS));
    }

    #[test]
    fn only_the_starting_browser_at_the_right_provider_in_time_finishes_a_flow() {
        let s = secrets(1, 2);
        let google = ProviderId::parse("google").expect("id");
        let now = Utc::now();
        let flow = OAuthFlow::start(&s, google.clone(), SameSitePath::default_next(), None, now);
        assert_eq!(flow.admit(&google, Some(&s.binding), now), Ok(()));
        assert_eq!(flow.admit(&google, None, now), Err(FlowMismatch::ForeignBrowser));
        assert_eq!(flow.admit(&google, Some(&secrets(1, 3).binding), now), Err(FlowMismatch::ForeignBrowser));
        let github = ProviderId::parse("github").expect("id");
        assert_eq!(flow.admit(&github, Some(&s.binding), now), Err(FlowMismatch::WrongProvider));
        let late = now + Duration::seconds(FLOW_LIFETIME_SECONDS + 1);
        assert_eq!(flow.admit(&google, Some(&s.binding), late), Err(FlowMismatch::Expired));
    }

    #[test]
    fn next_stays_on_this_site() {
        for good in ["/account", "/", "/a/b?c=d#e", "/%2F%2Fevil.example"] {
            assert_eq!(SameSitePath::parse(good, &public()).map(SameSitePath::into_string).as_deref(), Some(good));
        }
        for bad in [
            "//evil.example",
            "https://evil.example/",
            "account",
            "/\\evil.example",
            "\\/evil.example",
            "/a\nb",
            "/a\tb",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(SameSitePath::parse(bad, &public()), None, "{bad:?}");
        }
        assert_eq!(SameSitePath::parse_or_default(Some("//evil"), &public()).as_str(), DEFAULT_NEXT);
        assert_eq!(SameSitePath::parse_or_default(None, &public()).as_str(), DEFAULT_NEXT);
        assert_eq!(SameSitePath::parse(&format!("/{}", "a".repeat(3000)), &public()), None);
    }
}
