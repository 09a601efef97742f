//! How guessable a new password is: the rule behind `422 weak_password`.
//!
//! A password that passed the length rules of [`PlainPassword`] is refused when
//! - it is on the list of common passwords shipped in this crate (`data/common-passwords.txt`,
//!   compared case-insensitively), whatever the configured score; or
//! - the zxcvbn strength estimator, told the user's name and email address, scores it below
//!   the required [`MinPasswordScore`] (0..=4; 3 by default).
//!
//! Pure CPU, no I/O: the list is compiled into the binary and nothing is fetched.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use zxcvbn::matching::patterns::MatchPattern;

use crate::{Email, FieldRule, PlainPassword, UserName};

/// The common-password list, one lower-case password per line; `#` lines are comments.
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_PASSWORDS.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect()
});

/// Whether `password` is on the shipped list of common passwords, ignoring case.
pub fn is_common_password(password: &str) -> bool {
    COMMON.contains(password.to_lowercase().as_str())
}

/// The strength-estimator score a new password must reach: 0 (anything the length rules
/// and the common list allow) to 4 (hardest to guess). zxcvbn's scale: 3 means more than
/// about 10^8 guesses, 4 more than about 10^10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinPasswordScore(u8);

/// A score outside 0..=4.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the minimum password score must be between 0 and 4")]
pub struct MinPasswordScoreError;

impl MinPasswordScore {
    /// The production default, 3.
    pub const DEFAULT: MinPasswordScore = MinPasswordScore(3);
    /// No strength rule beyond the length limits, 0.
    pub const NONE: MinPasswordScore = MinPasswordScore(0);
    /// The strictest score, 4.
    pub const MAX: MinPasswordScore = MinPasswordScore(4);

    /// Checks a score.
    ///
    /// # Errors
    /// [`MinPasswordScoreError`] outside 0..=4.
    pub fn new(score: u8) -> Result<Self, MinPasswordScoreError> {
        if score <= Self::MAX.0 { Ok(Self(score)) } else { Err(MinPasswordScoreError) }
    }

    /// The number.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for MinPasswordScore {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Why a password is refused as too weak. Its `Display` is a sentence for the user saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// On the shipped list of common passwords.
    #[error("This is one of the most common passwords; choose one that is not.")]
    Common,
    /// The estimator scored it below the required score.
    #[error("{hint}")]
    Guessable {
        /// What the estimator gave, 0..=4.
        score: u8,
        /// What is required.
        required: u8,
        /// Why it is guessable and how to do better, for people.
        hint: String,
    },
}

impl FieldRule for WeakPassword {
    fn code(&self) -> &'static str {
        "weak_password"
    }
}

/// Words about the user that a password must not lean on: the name (whole, without spaces,
/// and word by word), the email address, its local part and the pieces of it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PersonalWords(Vec<String>);

impl PersonalWords {
    /// No personal words (checks the password on its own).
    pub fn none() -> Self {
        Self::default()
    }

    /// The words of a user called `name` with address `email`.
    pub fn of_user(name: &UserName, email: &Email) -> Self {
        Self::from_parts(name.as_str(), email.as_str())
    }

    /// The words of a user called `name` with address `email`, as plain text.
    pub fn from_parts(name: &str, email: &str) -> Self {
        let mut words = Vec::new();
        let name = name.trim().to_lowercase();
        words.push(name.clone());
        words.push(name.split_whitespace().collect::<String>());
        words.extend(pieces(&name));
        let email = email.trim().to_lowercase();
        words.push(email.clone());
        if let Some((local, domain)) = email.rsplit_once('@') {
            words.push(local.to_owned());
            words.extend(pieces(local));
            words.push(local.chars().filter(|c| c.is_alphanumeric()).collect());
            // The domain's name without its top-level label: "example" of "example.com".
            if let Some((name, _tld)) = domain.rsplit_once('.') {
                words.extend(pieces(name));
            }
        }
        let mut unique: Vec<String> = Vec::with_capacity(words.len());
        for word in words {
            if word.chars().count() >= 2 && !unique.contains(&word) {
                unique.push(word);
            }
        }
        Self(unique)
    }

    /// The words, lower-cased, without duplicates.
    pub fn words(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for PersonalWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names and addresses are personal data: only say how many.
        write!(f, "PersonalWords({} words)", self.0.len())
    }
}

/// `text` split at everything that is not a letter or digit.
fn pieces(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric()).filter(|piece| !piece.is_empty()).map(str::to_owned)
}

/// The password-strength rule: the common list, then the estimator at `min_score`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PasswordStrengthRule {
    min_score: MinPasswordScore,
}

impl PasswordStrengthRule {
    /// A rule requiring `min_score`.
    pub fn new(min_score: MinPasswordScore) -> Self {
        Self { min_score }
    }

    /// The score it requires.
    pub fn min_score(&self) -> MinPasswordScore {
        self.min_score
    }

    /// Checks a new password of the user described by `personal`.
    ///
    /// # Errors
    /// [`WeakPassword::Common`] for a listed password (at any score);
    /// [`WeakPassword::Guessable`] when the estimator scores it below the required score.
    pub fn check(&self, password: &PlainPassword, personal: &PersonalWords) -> Result<(), WeakPassword> {
        if is_common_password(password.expose()) {
            return Err(WeakPassword::Common);
        }
        if self.min_score.get() == 0 {
            return Ok(());
        }
        let inputs: Vec<&str> = personal.words().iter().map(String::as_str).collect();
        let estimate = zxcvbn::zxcvbn(password.expose(), &inputs);
        let score = u8::from(estimate.score());
        if score >= self.min_score.get() {
            return Ok(());
        }
        let uses_personal_words = estimate.sequence().iter().any(|found| match &found.pattern {
            MatchPattern::Dictionary(pattern) => personal.words().contains(&pattern.matched_word),
            _ => false,
        });
        let mut hint = String::from("This password is too easy to guess.");
        if uses_personal_words {
            hint.push_str(" It is based on your name or email address.");
        }
        match estimate.feedback() {
            Some(feedback) => {
                match feedback.warning() {
                    Some(warning) if !uses_personal_words => {
                        hint.push(' ');
                        hint.push_str(&warning.to_string());
                    }
                    _ => {}
                }
                for suggestion in feedback.suggestions() {
                    hint.push(' ');
                    hint.push_str(&suggestion.to_string());
                }
            }
            None => hint.push_str(" Make it longer: add another word or two. Uncommon words are better."),
        }
        Err(WeakPassword::Guessable { score, required: self.min_score.get(), hint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> PlainPassword {
        PlainPassword::parse(text).expect("long enough")
    }

    fn ada() -> PersonalWords {
        PersonalWords::from_parts("Ada Lovelace", "ada@example.com")
    }

    #[test]
    fn the_list_is_loaded_lower_case_and_long_enough() {
        assert!(COMMON.len() > 1000, "{} entries", COMMON.len());
        for entry in COMMON.iter() {
            assert_eq!(*entry, entry.to_lowercase(), "{entry:?} is lower-case");
            assert!(entry.chars().count() >= crate::password::MIN_PASSWORD_CHARS, "{entry:?} is long enough");
        }
        for listed in ["password", "password1", "12345678", "qwertyuiop", "iloveyou1", "password123"] {
            assert!(is_common_password(listed), "{listed} is listed");
        }
    }

    #[test]
    fn common_passwords_are_refused_ignoring_case_at_every_score() {
        for score in 0..=4 {
            let rule = PasswordStrengthRule::new(MinPasswordScore::new(score).expect("valid"));
            for listed in ["password123", "PASSWORD123", "Password123", "QwertyUiop", "iLoveYou1"] {
                assert_eq!(rule.check(&password(listed), &PersonalWords::none()), Err(WeakPassword::Common));
            }
        }
        let message = WeakPassword::Common.to_string();
        assert!(message.contains("most common passwords"), "{message}");
        assert_eq!(WeakPassword::Common.code(), "weak_password");
    }

    #[test]
    fn a_password_made_of_the_users_name_or_email_is_refused() {
        let rule = PasswordStrengthRule::default();
        for derived in ["adalovelace1", "AdaLovelace1", "lovelace2024", "ada@example.com1"] {
            let Err(WeakPassword::Guessable { score, required, hint }) = rule.check(&password(derived), &ada()) else {
                panic!("{derived} is refused for Ada");
            };
            assert!(score < required, "{derived}: {score} < {required}");
            assert!(hint.contains("name or email"), "{derived}: {hint}");
        }
        // The same password for someone else is not about them.
        let grace = PersonalWords::from_parts("Grace Hopper", "grace@example.org");
        assert!(rule.check(&password("adalovelace1"), &grace).is_ok());
    }

    #[test]
    fn a_strong_password_is_accepted_at_the_strictest_score() {
        let rule = PasswordStrengthRule::new(MinPasswordScore::MAX);
        for strong in ["Trellis-Quartz-Harbor-48", "correct horse battery staple", "Lantern-Orchid-Velvet-93"] {
            assert_eq!(rule.check(&password(strong), &ada()), Ok(()), "{strong}");
        }
    }

    #[test]
    fn the_score_threshold_is_honoured() {
        // Eight random characters: about 10^8 guesses, zxcvbn score 2, and not on the list.
        let weakish = password("Zq7!vK2#");
        let at = |score| PasswordStrengthRule::new(MinPasswordScore::new(score).expect("valid"));
        assert_eq!(at(0).check(&weakish, &PersonalWords::none()), Ok(()));
        assert_eq!(at(2).check(&weakish, &PersonalWords::none()), Ok(()));
        let Err(WeakPassword::Guessable { score: 2, required: 3, hint }) =
            at(3).check(&weakish, &PersonalWords::none())
        else {
            panic!("score 3 refuses it");
        };
        assert!(hint.starts_with("This password is too easy to guess."), "{hint}");
        // A word by itself: zxcvbn explains.
        let Err(WeakPassword::Guessable { hint, .. }) = at(3).check(&password("whitehorse"), &PersonalWords::none())
        else {
            panic!("a single word is refused");
        };
        assert!(hint.contains("A word by itself is easy to guess."), "{hint}");
        // At score 0 only the list applies: even a name-derived password passes.
        assert_eq!(at(0).check(&password("adalovelace1"), &ada()), Ok(()));
    }

    #[test]
    fn score_three_passwords_get_a_hint_when_four_is_required() {
        let rule = PasswordStrengthRule::new(MinPasswordScore::MAX);
        let Err(WeakPassword::Guessable { score: 3, required: 4, hint }) =
            rule.check(&password("Zq7!vK2#mW"), &PersonalWords::none())
        else {
            panic!("ten random characters score 3");
        };
        assert!(hint.contains("add another word"), "{hint}");
    }

    #[test]
    fn personal_words_cover_the_name_and_the_email() {
        let words = PersonalWords::from_parts("  Ada King Lovelace ", "Ada.King+auth@Example.co.uk");
        for expected in [
            "ada king lovelace",
            "adakinglovelace",
            "ada",
            "king",
            "lovelace",
            "ada.king+auth@example.co.uk",
            "ada.king+auth",
            "auth",
            "adakingauth",
            "example",
        ] {
            assert!(words.words().iter().any(|w| w == expected), "{expected} in {:?}", words.words());
        }
        assert!(!format!("{words:?}").contains("lovelace"), "Debug hides personal data");
    }

    #[test]
    fn min_score_is_bounded() {
        assert!(MinPasswordScore::new(5).is_err());
        assert_eq!(MinPasswordScore::new(3), Ok(MinPasswordScore::DEFAULT));
        assert_eq!(MinPasswordScore::default().get(), 3);
    }
}
