//! Second factors: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, the step before and
//! after accepted, each code once), recovery codes (ten, single use, stored as hashes), and
//! the short-lived challenge between a correct first factor and the second step.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

use crate::{AuthMethods, OpaqueSecret, SecretHash, SecretString, UserId, user::whole_seconds};

/// Seconds per TOTP step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: usize = 6;
/// Recovery codes made at a time.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long the second step may take after the first factor.
pub const MFA_CHALLENGE_SECONDS: i64 = 300;
/// Wrong codes after which a challenge is dead.
pub const MFA_MAX_FAILURES: u32 = 5;

/// A TOTP shared secret: 160 bits (RFC 4226's recommended length). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    /// A secret derived from `seed`, 256 fresh random bits (SHA-256 of them, cut to 160).
    pub fn from_seed(seed: &OpaqueSecret) -> Self {
        Self(Sha256::digest(seed.expose().as_bytes())[..20].to_vec())
    }

    /// A secret read back from storage (its base32 text).
    pub fn from_base32(text: &str) -> Option<Self> {
        let bytes = totp_rs::Secret::Encoded(text.to_owned()).to_bytes().ok()?;
        (bytes.len() >= 16).then_some(Self(bytes))
    }

    /// The base32 text (RFC 4648, no padding): what authenticator apps are given, and stored.
    pub fn to_base32(&self) -> SecretString {
        SecretString::new(self.totp(None, String::new()).get_secret_base32())
    }

    fn totp(&self, issuer: Option<String>, account: String) -> TOTP {
        TOTP::new_unchecked(Algorithm::SHA1, TOTP_DIGITS, 0, TOTP_STEP_SECONDS, self.0.clone(), issuer, account)
    }

    /// The code of `step` (`unix seconds / 30`).
    fn code_at(&self, step: u64) -> String {
        self.totp(None, String::new()).generate(step * TOTP_STEP_SECONDS)
    }

    /// The `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
    /// URL authenticator apps scan (the key-URI format; the defaults spelled out).
    pub fn otpauth_url(&self, issuer: &str, account: &str) -> SecretString {
        let url = self.totp(Some(issuer.replace(':', "")), account.to_owned()).get_url();
        SecretString::new(format!("{url}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}"))
    }
}

/// The TOTP step of `now`.
pub fn totp_step(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp()).unwrap_or(0) / TOTP_STEP_SECONDS
}

/// A user's TOTP: pending until confirmed with a first code, then active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotpCredential {
    /// Whose.
    pub user_id: UserId,
    /// The shared secret.
    pub secret: TotpSecret,
    /// When a first code confirmed it; `None` while pending.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The newest step whose code was accepted: that code and every older one are spent.
    pub last_used_step: Option<u64>,
    /// When enrolment began.
    pub created_at: DateTime<Utc>,
}

impl TotpCredential {
    /// A pending credential with `secret`, begun at `now`.
    pub fn enroll(user_id: UserId, secret: TotpSecret, now: DateTime<Utc>) -> Self {
        Self { user_id, secret, confirmed_at: None, last_used_step: None, created_at: whole_seconds(now) }
    }

    /// Whether a first code confirmed it.
    pub fn is_active(&self) -> bool {
        self.confirmed_at.is_some()
    }

    /// The step `code` belongs to, when it is the code of the step before, at or after `now`'s
    /// and newer than the last one accepted (a code works once, and an older one never after
    /// a newer). Compared in constant time. The caller records the step
    /// ([`last_used_step`](Self::last_used_step)) with a compare-and-set so two requests
    /// cannot both spend it.
    pub fn matching_step(&self, code: &str, now: DateTime<Utc>) -> Option<u64> {
        let code = normalized_code(code);
        if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = totp_step(now);
        let mut found = None;
        // Every candidate is computed and compared, so the time does not tell which matched.
        for step in [current.saturating_sub(1), current, current + 1] {
            let same: bool = self.secret.code_at(step).as_bytes().ct_eq(code.as_bytes()).into();
            let fresh = self.last_used_step.is_none_or(|last| step > last);
            if same && fresh && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

/// A code as typed: spaces and dashes dropped, lower-cased.
fn normalized_code(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect()
}

/// One recovery code as shown to the user once (`xxxx-xxxx-xxxx-xxxx`, base32 lower-case:
/// 80 random bits). Only its [`RecoveryCode::hash`] is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(SecretString);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

impl RecoveryCode {
    /// A code derived from `seed`, 256 fresh random bits.
    pub fn from_seed(seed: &OpaqueSecret) -> Self {
        let digest = Sha256::digest(seed.expose().as_bytes());
        // 16 characters of 5 bits: the first 80 bits of the digest.
        let mut bits: u128 = 0;
        for byte in &digest[..10] {
            bits = (bits << 8) | u128::from(*byte);
        }
        let chars: String =
            (0..16).map(|i| char::from(BASE32[usize::try_from((bits >> (75 - 5 * i)) & 31).unwrap_or(0)])).collect();
        Self(SecretString::new(format!("{}-{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..12], &chars[12..])))
    }

    /// The code as shown.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// What is stored.
    pub fn hash(&self) -> SecretHash {
        recovery_code_hash(self.expose())
    }
}

/// The stored form of a recovery code as typed (spaces, dashes and case ignored); `None` for
/// what cannot be one.
pub fn presented_recovery_code(code: &str) -> Option<SecretHash> {
    let normalized = normalized_code(code);
    (normalized.len() == 16 && normalized.bytes().all(|b| BASE32.contains(&b))).then(|| recovery_code_hash(&normalized))
}

fn recovery_code_hash(code: &str) -> SecretHash {
    SecretHash::of(&normalized_code(code))
}

/// What is being asked for on the second step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecondFactorCode<'a> {
    /// Six digits from the authenticator app.
    Totp(&'a str),
    /// One of the recovery codes.
    Recovery(SecretHash),
}

impl<'a> SecondFactorCode<'a> {
    /// A typed code: six digits are a TOTP code, sixteen base32 characters a recovery code.
    pub fn parse(code: &'a str) -> Option<Self> {
        let normalized = normalized_code(code);
        if normalized.len() == TOTP_DIGITS && normalized.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Self::Totp(code));
        }
        presented_recovery_code(code).map(Self::Recovery)
    }
}

/// The time between a correct first factor and the second step, found by the hash of its
/// `mfa_token`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MfaChallenge {
    /// Hash of the `mfa_token`.
    pub token_hash: SecretHash,
    /// Who passed the first factor.
    pub user_id: UserId,
    /// How (password, provider): the session's methods once the second step passes.
    pub first_factor: AuthMethods,
    /// Wrong codes so far.
    pub failures: u32,
    /// When the first factor passed.
    pub created_at: DateTime<Utc>,
    /// When it dies.
    pub expires_at: DateTime<Utc>,
}

impl MfaChallenge {
    /// A challenge for `user_id`, who passed `first_factor` at `now`, named by `token`.
    pub fn start(token: &OpaqueSecret, user_id: UserId, first_factor: AuthMethods, now: DateTime<Utc>) -> Self {
        let now = whole_seconds(now);
        Self {
            token_hash: token.hash(),
            user_id,
            first_factor,
            failures: 0,
            created_at: now,
            expires_at: now + Duration::seconds(MFA_CHALLENGE_SECONDS),
        }
    }

    /// Whether a code may still be tried at `now`: not expired, fewer than five wrong ones.
    pub fn is_alive(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at && self.failures < MFA_MAX_FAILURES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> TotpSecret {
        TotpSecret::from_seed(&OpaqueSecret::from_random_bytes([9; 32]))
    }

    fn at(unix: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(unix, 0).expect("a time")
    }

    /// RFC 6238 appendix B, SHA-1, 8 digits cut to the last 6 (the same HOTP truncation).
    #[test]
    fn codes_follow_rfc_6238() {
        let rfc = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(rfc.code_at(59 / 30), "287082");
        assert_eq!(rfc.code_at(1_111_111_109 / 30), "081804");
        assert_eq!(rfc.code_at(2_000_000_000 / 30), "279037");
        assert_eq!(TotpSecret::from_base32(rfc.to_base32().expose()), Some(rfc));
    }

    #[test]
    fn the_steps_around_now_match_once_and_older_ones_never_after() {
        let now = at(1_800_000_015);
        let step = totp_step(now);
        let mut credential = TotpCredential::enroll(UserId::generate(), secret(), now);
        for offset in [0, 1, 2] {
            let code = credential.secret.code_at(step + offset - 1);
            assert_eq!(credential.matching_step(&code, now), Some(step + offset - 1), "offset {offset}");
        }
        assert_eq!(credential.matching_step(&credential.secret.code_at(step + 2), now), None, "too far ahead");
        assert_eq!(credential.matching_step(&credential.secret.code_at(step - 2), now), None, "too old");

        credential.last_used_step = Some(step);
        assert_eq!(credential.matching_step(&credential.secret.code_at(step), now), None, "spent");
        assert_eq!(credential.matching_step(&credential.secret.code_at(step - 1), now), None, "older than spent");
        assert_eq!(credential.matching_step(&credential.secret.code_at(step + 1), now), Some(step + 1));
        assert_eq!(credential.matching_step("12345", now), None);
        assert_eq!(credential.matching_step("abcdef", now), None);
    }

    #[test]
    fn otpauth_urls_carry_the_standard_parameters() {
        let url = secret().otpauth_url("Portcullis", "ada@example.com");
        let url = url.expose();
        assert!(url.starts_with("otpauth://totp/Portcullis:ada%40example.com?secret="), "{url}");
        for part in ["issuer=Portcullis", "algorithm=SHA1", "digits=6", "period=30"] {
            assert!(url.contains(part), "{part} in {url}");
        }
    }

    #[test]
    fn recovery_codes_are_typed_loosely_and_stored_by_hash() {
        let code = RecoveryCode::from_seed(&OpaqueSecret::from_random_bytes([3; 32]));
        let shown = code.expose().to_owned();
        assert_eq!(shown.len(), 19, "{shown}");
        assert_eq!(presented_recovery_code(&shown), Some(code.hash()));
        assert_eq!(presented_recovery_code(&shown.to_uppercase().replace('-', " ")), Some(code.hash()));
        assert_eq!(presented_recovery_code("not a code"), None);
        assert!(matches!(SecondFactorCode::parse("123 456"), Some(SecondFactorCode::Totp(_))));
        assert!(matches!(SecondFactorCode::parse(&shown), Some(SecondFactorCode::Recovery(_))));
        assert_ne!(code, RecoveryCode::from_seed(&OpaqueSecret::from_random_bytes([4; 32])));
        assert!(!format!("{code:?}").contains(&shown));
    }

    #[test]
    fn a_challenge_dies_after_five_minutes_or_five_wrong_codes() {
        let now = at(1_800_000_000);
        let token = OpaqueSecret::from_random_bytes([1; 32]);
        let mut challenge = MfaChallenge::start(&token, UserId::generate(), AuthMethods::default(), now);
        assert!(challenge.is_alive(now + Duration::seconds(299)));
        assert!(!challenge.is_alive(now + Duration::seconds(300)));
        challenge.failures = MFA_MAX_FAILURES;
        assert!(!challenge.is_alive(now));
    }
}
