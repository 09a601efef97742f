//! Single-use tokens mailed to a user: email verification and password reset.

use chrono::{DateTime, Duration, Utc};

use crate::{OpaqueSecret, SecretHash, UserId, user::whole_seconds};

/// What a mailed token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountTokenPurpose {
    /// Confirm the address the mail went to (`/verify-email?token=`).
    VerifyEmail,
    /// Choose a new password (`/reset-password?token=`).
    ResetPassword,
}

impl AccountTokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// Reads a stored name back.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A mailed token as stored: only its hash, whose it is, what for, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountToken {
    /// SHA-256 of the token.
    pub hash: SecretHash,
    /// The account it acts on.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: AccountTokenPurpose,
    /// For verification: the address the mail was sent to (a token verifies only that address).
    pub email: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was used; a token works once.
    pub used_at: Option<DateTime<Utc>>,
}

impl AccountToken {
    /// Issues `secret` for `purpose` on `user_id`'s account at `now`, valid for `ttl`.
    pub fn issue(
        secret: &OpaqueSecret,
        user_id: UserId,
        purpose: AccountTokenPurpose,
        email: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Self {
        let now = whole_seconds(now);
        Self {
            hash: secret.hash(),
            user_id,
            purpose,
            email: email.to_owned(),
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        }
    }

    /// Whether it may still be redeemed at `now` for `purpose`.
    pub fn is_redeemable(&self, purpose: AccountTokenPurpose, now: DateTime<Utc>) -> bool {
        self.purpose == purpose && self.used_at.is_none() && now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_once_for_its_purpose_until_it_expires() {
        let now = Utc::now();
        let secret = OpaqueSecret::from_random_bytes([3; 32]);
        let mut token = AccountToken::issue(
            &secret,
            UserId::generate(),
            AccountTokenPurpose::ResetPassword,
            "ada@example.com",
            now,
            Duration::minutes(30),
        );
        assert_eq!(token.hash, secret.hash());
        assert!(token.is_redeemable(AccountTokenPurpose::ResetPassword, now));
        assert!(!token.is_redeemable(AccountTokenPurpose::VerifyEmail, now));
        assert!(!token.is_redeemable(AccountTokenPurpose::ResetPassword, now + Duration::minutes(31)));
        token.used_at = Some(now);
        assert!(!token.is_redeemable(AccountTokenPurpose::ResetPassword, now));
    }

    #[test]
    fn purposes_round_trip_through_their_names() {
        for purpose in [AccountTokenPurpose::VerifyEmail, AccountTokenPurpose::ResetPassword] {
            assert_eq!(AccountTokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(AccountTokenPurpose::parse("other"), None);
    }
}
