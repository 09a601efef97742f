//! Delivery over SMTP (lettre's blocking transport, rustls for TLS).

use std::fmt;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use portcullis_application::ports::{MailError, Mailer, OutgoingMail};
use portcullis_domain::SecretString;
use shaku::Component;
use url::{Host, Url};

use super::MailConfigError;
use super::message::{FromAddress, build_message};

/// How long one connect, read or write with the SMTP server may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://host` (default port 587): plain connection upgraded with `STARTTLS`, which is
    /// required — a server that does not offer it is an error.
    StartTls,
    /// `smtps://host` (default port 465): TLS from the first byte.
    ImplicitTls,
    /// `smtp://host?tls=none` (default port 25): no encryption at all, for a relay on the
    /// same host or a test sink. Credentials, if any, travel in clear text.
    None,
}

impl fmt::Display for SmtpSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StartTls => "STARTTLS",
            Self::ImplicitTls => "implicit TLS",
            Self::None => "no TLS",
        })
    }
}

/// An SMTP server to deliver through, read from a URL such as
/// `smtp://user:password@smtp.example.com:587`:
///
/// - `smtp://` requires `STARTTLS` (port 587 unless given);
/// - `smtp://…?tls=none` sends in clear text (port 25 unless given);
/// - `smtps://` uses implicit TLS (port 465 unless given).
///
/// User name and password are optional (both or neither) and percent-decoded. Server
/// certificates are checked against the Mozilla root store (rustls, no OpenSSL). The
/// password never appears in `Debug`, `Display` or an error.
#[derive(Clone)]
pub struct SmtpRelay {
    host: String,
    port: u16,
    security: SmtpSecurity,
    user: Option<String>,
    transport: SmtpTransport,
}

/// Why an SMTP URL is not usable; the text never holds the URL itself.
fn invalid(reason: impl Into<String>) -> MailConfigError {
    MailConfigError::InvalidSmtpUrl(reason.into())
}

/// Decodes `%XX` escapes of a URL's user-info part.
fn percent_decode(raw: &str, what: &str) -> Result<String, MailConfigError> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(format!("the {what} has a bad %-escape")))?;
            decoded.push(byte);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| invalid(format!("the {what} is not UTF-8")))
}

impl SmtpRelay {
    /// Reads an SMTP URL (see the type's documentation), with [`SMTP_TIMEOUT`].
    ///
    /// # Errors
    /// [`MailConfigError::InvalidSmtpUrl`] saying what is wrong, without the password.
    pub fn from_url(url: &SecretString) -> Result<Self, MailConfigError> {
        Self::from_url_with_timeout(url, SMTP_TIMEOUT)
    }

    /// As [`from_url`](Self::from_url), with another time limit for each network step.
    ///
    /// # Errors
    /// [`MailConfigError::InvalidSmtpUrl`] saying what is wrong, without the password.
    pub fn from_url_with_timeout(url: &SecretString, timeout: Duration) -> Result<Self, MailConfigError> {
        // url's own error messages never quote the input.
        let url = Url::parse(url.expose().trim()).map_err(|e| invalid(e.to_string()))?;
        let mut security = match url.scheme() {
            "smtp" => SmtpSecurity::StartTls,
            "smtps" => SmtpSecurity::ImplicitTls,
            _ => return Err(invalid("the scheme must be smtp:// or smtps://")),
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref(), security) {
                ("tls", "none", SmtpSecurity::StartTls) => security = SmtpSecurity::None,
                ("tls", "starttls" | "required", SmtpSecurity::StartTls) => {}
                ("tls", _, SmtpSecurity::ImplicitTls) => {
                    return Err(invalid("the tls parameter applies to smtp:// only (smtps:// is always TLS)"));
                }
                ("tls", _, _) => return Err(invalid("tls must be none or starttls")),
                (other, _, _) => return Err(invalid(format!("unknown parameter {other:?} (only tls is known)"))),
            }
        }
        if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
            return Err(invalid("an SMTP URL has no path or fragment"));
        }
        let host = match url.host() {
            Some(Host::Domain(domain)) if !domain.is_empty() => domain.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(invalid("the URL names no host")),
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::ImplicitTls => 465,
            SmtpSecurity::None => 25,
        });
        let user = percent_decode(url.username(), "user name")?;
        let password = url.password().map(|p| percent_decode(p, "password")).transpose()?;
        let credentials = match (user.is_empty(), password) {
            (true, None) => None,
            (false, Some(password)) => Some(Credentials::new(user.clone(), password)),
            (false, None) => return Err(invalid("a user name needs a password (smtp://user:password@host)")),
            (true, Some(_)) => return Err(invalid("a password needs a user name (smtp://user:password@host)")),
        };
        let tls_parameters =
            || TlsParameters::new_rustls(host.clone()).map_err(|e| invalid(format!("TLS cannot be set up: {e}")));
        let tls = match security {
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_parameters()?),
            SmtpSecurity::None => Tls::None,
        };
        let mut builder = SmtpTransport::builder_dangerous(host.clone()).port(port).tls(tls).timeout(Some(timeout));
        let user = match credentials {
            Some(credentials) => {
                builder = builder.credentials(credentials);
                Some(user)
            }
            None => None,
        };
        Ok(Self { host, port, security, user, transport: builder.build() })
    }

    /// The server's host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How the connection is protected.
    pub fn security(&self) -> SmtpSecurity {
        self.security
    }

    /// The user name it logs in with, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
}

impl fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.user.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl fmt::Display for SmtpRelay {
    /// `SMTP relay smtp.example.com:587 (STARTTLS)`: no credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        write!(f, "SMTP relay {host}:{} ({})", self.port, self.security)
    }
}

/// A [`Mailer`] delivering each message at once through an SMTP server, blocking until the
/// server accepted or refused it. The [`super::OutboxWorker`] calls it off the request path, so that requests
/// never wait on the network.
#[derive(Component, Debug)]
#[shaku(interface = Mailer)]
pub struct SmtpMailer {
    relay: SmtpRelay,
    from: FromAddress,
}

impl SmtpMailer {
    /// A mailer sending through `relay` with `from` as sender.
    pub fn new(relay: SmtpRelay, from: FromAddress) -> Self {
        Self { relay, from }
    }

    /// The server it delivers through.
    pub fn relay(&self) -> &SmtpRelay {
        &self.relay
    }
}

impl Mailer for SmtpMailer {
    fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        let message = build_message(&self.from, &mail)?;
        self.relay.transport.send(&message).map_err(|e| MailError::Transport(format!("{}: {e}", self.relay)))?;
        tracing::debug!(relay = %self.relay, "mail handed to the SMTP relay");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(url: &str) -> Result<SmtpRelay, MailConfigError> {
        SmtpRelay::from_url(&SecretString::new(url))
    }

    #[test]
    fn schemes_and_the_tls_parameter_choose_the_protection_and_default_port() {
        let starttls = relay("smtp://mailer:s3cr%40t@smtp.example.com").expect("valid");
        assert_eq!((starttls.security(), starttls.port()), (SmtpSecurity::StartTls, 587));
        assert_eq!(starttls.user(), Some("mailer"));
        let implicit = relay("smtps://smtp.example.com").expect("valid");
        assert_eq!((implicit.security(), implicit.port(), implicit.user()), (SmtpSecurity::ImplicitTls, 465, None));
        let plain = relay("smtp://127.0.0.1:2525?tls=none").expect("valid");
        assert_eq!((plain.security(), plain.port(), plain.host()), (SmtpSecurity::None, 2525, "127.0.0.1"));
        assert_eq!(relay("smtp://[::1]?tls=none").expect("valid").host(), "::1");
        assert_eq!(relay("smtp://h.example?tls=starttls").expect("valid").security(), SmtpSecurity::StartTls);
    }

    #[test]
    fn bad_urls_are_refused_without_showing_the_password() {
        for url in [
            "http://user:hunter2-secret@smtp.example.com",
            "smtp://user:hunter2-secret@smtp.example.com?tls=maybe",
            "smtps://user:hunter2-secret@smtp.example.com?tls=none",
            "smtp://user:hunter2-secret@smtp.example.com?foo=bar",
            "smtp://user:hunter2-secret@smtp.example.com/path",
            "smtp://user:hunter2-secret@smtp.example.com:99999",
            "smtp://:hunter2-secret@smtp.example.com",
            "smtp://user@smtp.example.com",
            "smtp://user:hunter2-secret@",
            "hunter2-secret",
        ] {
            let error = relay(url).expect_err(url);
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("PORTCULLIS_SMTP_URL"), "{shown}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let relay = relay("smtp://mailer:hunter2-secret@smtp.example.com:2525").expect("valid");
        let shown = format!("{relay:?} {relay}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("smtp.example.com:2525") && shown.contains("[redacted]"), "{shown}");
    }
}
