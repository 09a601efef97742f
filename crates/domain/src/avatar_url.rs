use std::fmt;

use crate::FieldRule;

/// Longest avatar URL accepted, in characters.
pub const MAX_AVATAR_URL_CHARS: usize = 2048;

/// A link to a picture: an absolute `http` or `https` URL of at most 2048 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvatarUrl(String);

/// Why a string is not an acceptable avatar URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvatarUrlError {
    /// Over 2048 characters.
    #[error("avatar_url must be at most {MAX_AVATAR_URL_CHARS} characters")]
    TooLong,
    /// Not an absolute URL with a host.
    #[error("avatar_url must be an absolute http(s) URL")]
    Invalid,
    /// A scheme other than http or https (`javascript:`, `data:`, `file:` ...).
    #[error("avatar_url must use http or https")]
    UnsupportedScheme,
}

impl FieldRule for AvatarUrlError {
    fn code(&self) -> &'static str {
        match self {
            AvatarUrlError::TooLong => "too_long",
            AvatarUrlError::Invalid => "invalid",
            AvatarUrlError::UnsupportedScheme => "invalid_scheme",
        }
    }
}

impl AvatarUrl {
    /// Checks a URL. The text is kept as given (trimmed), not re-serialised.
    ///
    /// # Errors
    /// [`AvatarUrlError`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, AvatarUrlError> {
        let value = raw.trim();
        if value.chars().count() > MAX_AVATAR_URL_CHARS {
            return Err(AvatarUrlError::TooLong);
        }
        // The URL parser drops tabs and newlines and percent-encodes other controls, but the
        // text is kept as given: refuse them here (PostgreSQL cannot even store a NUL).
        if value.chars().any(char::is_control) {
            return Err(AvatarUrlError::Invalid);
        }
        let parsed = url::Url::parse(value).map_err(|_| AvatarUrlError::Invalid)?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AvatarUrlError::UnsupportedScheme);
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(AvatarUrlError::Invalid);
        }
        Ok(Self(value.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AvatarUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        assert!(AvatarUrl::parse("https://example.com/a.png").is_ok());
        assert!(AvatarUrl::parse("http://cdn.example.com:8080/x?y=1").is_ok());
    }

    #[test]
    fn rejects_other_schemes_relative_and_long() {
        assert_eq!(AvatarUrl::parse("javascript:alert(1)"), Err(AvatarUrlError::UnsupportedScheme));
        assert_eq!(AvatarUrl::parse("ftp://example.com/a.png"), Err(AvatarUrlError::UnsupportedScheme));
        assert_eq!(AvatarUrl::parse("/a.png"), Err(AvatarUrlError::Invalid));
        assert_eq!(AvatarUrl::parse("not a url"), Err(AvatarUrlError::Invalid));
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(AvatarUrl::parse(&long), Err(AvatarUrlError::TooLong));
    }
}
