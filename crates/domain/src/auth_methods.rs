//! How a session signed in: the authentication methods of RFC 8176 that access tokens carry
//! as `amr`, and when (`auth_time`).

use chrono::{DateTime, Utc};

use crate::SessionId;

/// One way a person proved who they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// A password (`pwd`).
    Password,
    /// A one-time code: TOTP or a recovery code (`otp`).
    OneTimeCode,
    /// An upstream provider vouched (`fed`).
    Federated,
    /// A passkey, a key bound to hardware or a platform (`hwk`).
    HardwareKey,
}

impl AuthMethod {
    /// Every method, in the order `amr` lists them: the first factors (`pwd`, `fed`), then the
    /// second (`otp`), as API.md writes them (`fed`, `otp`, `mfa`).
    pub const ALL: [Self; 4] = [Self::Password, Self::Federated, Self::OneTimeCode, Self::HardwareKey];

    /// The RFC 8176 value.
    pub fn claim(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::OneTimeCode => "otp",
            Self::Federated => "fed",
            Self::HardwareKey => "hwk",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Self::Password => 1,
            Self::OneTimeCode => 2,
            Self::Federated => 4,
            Self::HardwareKey => 8,
        }
    }
}

/// The RFC 8176 value added when two factors were used, or a passkey verified the user.
pub const MULTI_FACTOR_CLAIM: &str = "mfa";

/// The set of methods a sign-in used. `mfa` is not stored: it follows from the set
/// ([`is_multi_factor`](Self::is_multi_factor)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AuthMethods(u8);

/// An `amr` value this version does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown authentication method {0:?}")]
pub struct UnknownAuthMethod(pub String);

impl AuthMethods {
    /// No method (a value to build on).
    pub const NONE: Self = Self(0);

    /// Just `method`.
    pub fn only(method: AuthMethod) -> Self {
        Self(method.bit())
    }

    /// This set with `method` added.
    #[must_use]
    pub fn with(self, method: AuthMethod) -> Self {
        Self(self.0 | method.bit())
    }

    /// Whether `method` was used.
    pub fn contains(self, method: AuthMethod) -> bool {
        self.0 & method.bit() != 0
    }

    /// Whether no method is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Two or more factors, or a passkey (which verified the user on the device): `mfa`.
    pub fn is_multi_factor(self) -> bool {
        self.0.count_ones() >= 2 || self.contains(AuthMethod::HardwareKey)
    }

    /// The methods used, in [`AuthMethod::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = AuthMethod> {
        AuthMethod::ALL.into_iter().filter(move |m| self.contains(*m))
    }

    /// The `amr` claim: each method's value, then `mfa` when [`is_multi_factor`](Self::is_multi_factor).
    pub fn claims(self) -> Vec<&'static str> {
        let mut claims: Vec<&'static str> = self.iter().map(AuthMethod::claim).collect();
        if self.is_multi_factor() {
            claims.push(MULTI_FACTOR_CLAIM);
        }
        claims
    }

    /// Reads an `amr` claim or a stored list back; `mfa` is skipped (it is derived).
    ///
    /// # Errors
    /// [`UnknownAuthMethod`] for a value that is neither a method nor `mfa`.
    pub fn from_claims<'a>(claims: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownAuthMethod> {
        let mut methods = Self::NONE;
        for claim in claims {
            if claim == MULTI_FACTOR_CLAIM {
                continue;
            }
            let method = AuthMethod::ALL
                .into_iter()
                .find(|m| m.claim() == claim)
                .ok_or_else(|| UnknownAuthMethod(claim.to_owned()))?;
            methods = methods.with(method);
        }
        Ok(methods)
    }
}

/// How and when a session signed in, as its access tokens carry it: `sid`, `auth_time`, `amr`.
/// A refresh keeps all three.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionAuth {
    /// The session (`sid`).
    pub session_id: SessionId,
    /// When it signed in (`auth_time`).
    pub auth_time: DateTime<Utc>,
    /// How (`amr`).
    pub methods: AuthMethods,
}

impl SessionAuth {
    /// Whether the sign-in happened at most `max_age_secs` before `now`: what an operation
    /// that wants a recent sign-in (re-authentication) checks.
    pub fn is_recent(&self, now: DateTime<Utc>, max_age_secs: u64) -> bool {
        let max_age = chrono::Duration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX / 1000));
        now - self.auth_time <= max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_list_methods_in_order_and_derive_mfa() {
        assert_eq!(AuthMethods::only(AuthMethod::Password).claims(), vec!["pwd"]);
        assert_eq!(AuthMethods::only(AuthMethod::Federated).claims(), vec!["fed"]);
        let fed_otp = AuthMethods::only(AuthMethod::OneTimeCode).with(AuthMethod::Federated);
        assert_eq!(fed_otp.claims(), vec!["fed", "otp", "mfa"]);
        assert_eq!(AuthMethods::only(AuthMethod::HardwareKey).claims(), vec!["hwk", "mfa"]);
        assert!(!AuthMethods::NONE.is_multi_factor());
        assert!(AuthMethods::NONE.claims().is_empty());
    }

    #[test]
    fn from_claims_reads_back_what_claims_wrote() {
        for bits in 0..16u8 {
            let methods = AuthMethod::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .fold(AuthMethods::NONE, |acc, (_, m)| acc.with(m));
            assert_eq!(AuthMethods::from_claims(methods.claims()), Ok(methods));
        }
        assert_eq!(AuthMethods::from_claims(["pwd", "sms"]), Err(UnknownAuthMethod("sms".to_owned())));
    }

    #[test]
    fn a_sign_in_is_recent_up_to_the_limit() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let auth = SessionAuth {
            session_id: SessionId::generate(),
            auth_time: now - chrono::Duration::seconds(600),
            methods: AuthMethods::only(AuthMethod::Password),
        };
        assert!(auth.is_recent(now, 600));
        assert!(!auth.is_recent(now, 599));
        assert!(auth.is_recent(now, u64::MAX));
    }
}
