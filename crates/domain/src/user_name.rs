use std::fmt;

use crate::FieldRule;

/// Longest display name, in characters after trimming.
pub const MAX_NAME_CHARS: usize = 100;

/// A display name: 1..=100 characters after trimming, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserName(String);

/// Why a string is not an acceptable name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    /// Nothing left after trimming.
    #[error("name is required")]
    Empty,
    /// Over 100 characters.
    #[error("name must be at most {MAX_NAME_CHARS} characters")]
    TooLong,
    /// Contains a control character (newline, tab, NUL, ...).
    #[error("name must not contain control characters")]
    ControlCharacter,
}

impl FieldRule for UserNameError {
    fn code(&self) -> &'static str {
        match self {
            UserNameError::Empty => "required",
            UserNameError::TooLong => "too_long",
            UserNameError::ControlCharacter => "invalid_characters",
        }
    }
}

impl UserName {
    /// Trims and checks a name.
    ///
    /// # Errors
    /// [`UserNameError`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, UserNameError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(UserNameError::Empty);
        }
        if value.chars().count() > MAX_NAME_CHARS {
            return Err(UserNameError::TooLong);
        }
        if value.chars().any(char::is_control) {
            return Err(UserNameError::ControlCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_counts_characters_not_bytes() {
        assert_eq!(UserName::parse("  Ada ").expect("valid").as_str(), "Ada");
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(UserName::parse(&"é".repeat(101)), Err(UserNameError::TooLong));
    }

    #[test]
    fn rejects_empty_and_control_characters() {
        assert_eq!(UserName::parse(" \t "), Err(UserNameError::Empty));
        assert_eq!(UserName::parse("Ada\nLovelace"), Err(UserNameError::ControlCharacter));
        assert_eq!(UserName::parse("Ada\u{0}"), Err(UserNameError::ControlCharacter));
    }
}
