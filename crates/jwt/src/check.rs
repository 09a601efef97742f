//! One full check of a token: form, header, signature, claims, times.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signature;
use jsonwebtoken::Algorithm;
use serde::de::DeserializeOwned;

use crate::keys::VerifyingKeys;

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// Malformed, badly signed, another algorithm, wrong `iss` or `aud`, or not yet valid.
    #[error("the token is invalid")]
    Invalid,
    /// Past its `exp` (plus the leeway).
    #[error("the token has expired")]
    Expired,
    /// Well formed, but signed with a key the set does not hold.
    #[error("the token names an unknown key")]
    UnknownKey,
}

/// Clock skew tolerated on `exp` and `nbf` by Portcullis and its verifier, in seconds (the
/// contract's maximum).
pub const LEEWAY_SECS: i64 = 5;

/// What a token must say to be accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectations {
    /// The exact `iss`.
    pub issuer: String,
    /// The exact `aud` (a single string).
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
}

/// The registered claims every accepted token carries. A claims type makes them required
/// by having them as plain (not optional) fields, so a token without one does not parse.
pub trait RegisteredClaims: DeserializeOwned {
    /// `iss`.
    fn issuer(&self) -> &str;
    /// `aud`.
    fn audience(&self) -> &str;
    /// `exp`, seconds since the epoch.
    fn expires_at(&self) -> i64;
    /// `nbf`, seconds since the epoch.
    fn not_before(&self) -> i64;
}

/// Implements [`RegisteredClaims`] for a claims struct whose registered claims are the plain
/// fields `iss: String`, `aud: String`, `exp: i64` and `nbf: i64`.
#[macro_export]
macro_rules! registered_claims {
    ($claims:ty) => {
        impl $crate::RegisteredClaims for $claims {
            fn issuer(&self) -> &str {
                &self.iss
            }

            fn audience(&self) -> &str {
                &self.aud
            }

            fn expires_at(&self) -> i64 {
                self.exp
            }

            fn not_before(&self) -> i64 {
                self.nbf
            }
        }
    };
}

/// Checks `exp` and `nbf` against `now` (seconds since the epoch) with the leeway: expired
/// once `exp < now - leeway`, not yet valid while `nbf > now + leeway`.
///
/// # Errors
/// [`CheckError::Expired`] or [`CheckError::Invalid`].
pub(crate) fn check_times(expires_at: i64, not_before: i64, now: i64, leeway: i64) -> Result<(), CheckError> {
    if expires_at < now.saturating_sub(leeway) {
        return Err(CheckError::Expired);
    }
    if not_before > now.saturating_add(leeway) {
        return Err(CheckError::Invalid);
    }
    Ok(())
}

/// A token that passed [`check`]: its claims and the `kid` of the key that signed it.
#[derive(Clone, Debug)]
pub(crate) struct Checked<C> {
    pub(crate) claims: C,
    pub(crate) kid: String,
}

/// Checks `token` completely: compact form (three base64url parts), header (`alg` is
/// `EdDSA`, `kid` present), the signature with the key named `kid` (strict Ed25519), the
/// claims parsed as `C`, `iss` and `aud` equal to `expect`'s, and the times at `now`
/// (seconds since the epoch).
///
/// # Errors
/// [`CheckError`] saying why the token is refused.
pub fn check<C: RegisteredClaims>(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations,
    now: i64,
) -> Result<C, CheckError> {
    check_signed(token, keys, expect, now).map(|checked| checked.claims)
}

pub(crate) fn check_signed<C: RegisteredClaims>(
    token: &str,
    keys: &VerifyingKeys,
    expect: &Expectations,
    now: i64,
) -> Result<Checked<C>, CheckError> {
    let (message, signature) = token.rsplit_once('.').ok_or(CheckError::Invalid)?;
    let (_, payload) = message.split_once('.').ok_or(CheckError::Invalid)?;
    if payload.contains('.') {
        return Err(CheckError::Invalid);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| CheckError::Invalid)?;
    if header.alg != Algorithm::EdDSA {
        return Err(CheckError::Invalid);
    }
    let kid = header.kid.ok_or(CheckError::Invalid)?;
    let key = keys.get(&kid).ok_or(CheckError::UnknownKey)?;

    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| CheckError::Invalid)?;
    let signature = Signature::from_slice(&signature).map_err(|_| CheckError::Invalid)?;
    key.verify_strict(message.as_bytes(), &signature).map_err(|_| CheckError::Invalid)?;

    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| CheckError::Invalid)?;
    let claims: C = serde_json::from_slice(&payload).map_err(|_| CheckError::Invalid)?;
    if claims.issuer() != expect.issuer || claims.audience() != expect.audience {
        return Err(CheckError::Invalid);
    }
    check_times(claims.expires_at(), claims.not_before(), now, expect.leeway_secs)?;
    Ok(Checked { claims, kid })
}
