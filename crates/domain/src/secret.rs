use std::fmt;

/// A string that must never be printed: passwords, tokens, keys.
///
/// `Debug` and `Display` print `[redacted]`; the value is reachable only through
/// [`SecretString::expose`], which makes every use visible in review.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = SecretString::new("hunter22-very-secret");
        assert!(!format!("{secret:?}").contains("hunter22"));
        assert!(!format!("{secret}").contains("hunter22"));
        assert_eq!(secret.expose(), "hunter22-very-secret");
    }
}
