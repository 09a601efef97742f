//! One [`OutgoingMail`] as an RFC 5322 message: `multipart/alternative` with a plain-text
//! and an HTML part.

use std::fmt;

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use portcullis_application::ports::{MailError, OutgoingMail};

use super::MailConfigError;

/// The sender used when none is configured.
pub const DEFAULT_FROM: &str = "Portcullis <no-reply@localhost>";

/// The `From` of every message: a mailbox such as `Portcullis <no-reply@example.com>`.
#[derive(Clone, PartialEq, Eq)]
pub struct FromAddress(Mailbox);

impl FromAddress {
    /// Parses `Name <address>` or a bare address.
    ///
    /// # Errors
    /// [`MailConfigError::InvalidFrom`] when it is not a mailbox.
    pub fn parse(raw: &str) -> Result<Self, MailConfigError> {
        raw.trim().parse::<Mailbox>().map(Self).map_err(|e| MailConfigError::InvalidFrom(e.to_string()))
    }

    /// The domain of the address (used for `Message-ID`s).
    pub fn domain(&self) -> &str {
        self.0.email.domain()
    }
}

impl Default for FromAddress {
    fn default() -> Self {
        // A constant that parses; the fallback only keeps this free of `unwrap`.
        Self::parse(DEFAULT_FROM).unwrap_or_else(|_| {
            Self(Mailbox::new(Some("Portcullis".to_owned()), lettre::Address::new_dangerous("no-reply", "localhost")))
        })
    }
}

impl fmt::Debug for FromAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FromAddress({})", self.0)
    }
}

impl fmt::Display for FromAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest line RFC 5322 allows, in bytes, without the CRLF.
const MAX_LINE_BYTES: usize = 998;

/// A text body in the plainest encoding that carries it: `7bit` for ASCII, `8bit` for
/// other UTF-8 (lettre announces `BODY=8BITMIME` to the SMTP server then). Links therefore
/// stay whole and greppable in the message source: quoted-printable would wrap them at 76
/// characters and base64 would hide them. (lettre's own choice picks quoted-printable for
/// any line over 76 characters, so the body is prepared here: CRLF line ends, every line
/// within RFC 5322's 998 bytes.) Only a body that breaks that limit, or holds NUL or a bare
/// CR, is left to lettre's choice.
fn body(text: &str) -> Body {
    let mut lines: Vec<&str> = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    let plain = lines.iter().all(|line| line.len() <= MAX_LINE_BYTES && !line.contains(['\r', '\0']));
    if !plain {
        return Body::new(text.to_owned());
    }
    let mut crlf = String::with_capacity(text.len() + lines.len() * 2);
    for line in lines {
        crlf.push_str(line);
        crlf.push_str("\r\n");
    }
    let encoding = if crlf.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
}

/// Builds the message for `mail` from `from`.
///
/// # Errors
/// [`MailError::Message`] for a recipient that is not an address.
pub(crate) fn build_message(from: &FromAddress, mail: &OutgoingMail) -> Result<Message, MailError> {
    let address = mail
        .to
        .parse::<lettre::Address>()
        .map_err(|e| MailError::Message(format!("the recipient is not an address: {e}")))?;
    let name = mail.to_name.trim();
    let to = Mailbox::new((!name.is_empty()).then(|| name.to_owned()), address);
    let parts = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body(&mail.text)))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(body(&mail.html)));
    Message::builder()
        .from(from.0.clone())
        .to(to)
        .subject(mail.subject.as_str())
        .message_id(Some(format!("<{}@{}>", uuid::Uuid::now_v7().simple(), from.domain())))
        .multipart(parts)
        .map_err(|e| MailError::Message(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(text: &str) -> OutgoingMail {
        OutgoingMail {
            to: "zoe@example.com".to_owned(),
            to_name: "Zoë".to_owned(),
            subject: "Réinitialiser".to_owned(),
            text: text.to_owned(),
            html: format!("<p>{text}</p>"),
        }
    }

    #[test]
    fn the_default_sender_parses() {
        let from = FromAddress::default();
        assert_eq!(from.domain(), "localhost");
        assert_eq!(from.to_string(), DEFAULT_FROM);
        assert!(FromAddress::parse("not an address").is_err());
    }

    #[test]
    fn long_links_stay_on_one_line_in_any_text() {
        let link = format!("https://auth.example.com/reset-password?token={}", "A_b-9".repeat(9));
        for text in [format!("Hello Ada,\n\n{link}\n"), format!("Bonjour Zoë,\n\n{link}\n")] {
            let source =
                String::from_utf8(build_message(&FromAddress::default(), &mail(&text)).expect("builds").formatted())
                    .expect("utf-8");
            assert_eq!(source.matches(&link).count(), 2, "{source}");
            assert!(!source.contains("base64") && !source.contains("quoted-printable"), "{source}");
        }
    }

    #[test]
    fn bodies_get_crlf_line_ends_and_overlong_lines_an_encoding() {
        assert_eq!(body("a\nb\r\n").into_vec(), b"a\r\nb\r\n");
        assert_eq!(body("no newline").into_vec(), b"no newline\r\n");
        assert_eq!(body("Zoë").encoding(), ContentTransferEncoding::EightBit);
        assert_eq!(body("Ada").encoding(), ContentTransferEncoding::SevenBit);
        let long = "x".repeat(MAX_LINE_BYTES + 1);
        assert_ne!(body(&long).encoding(), ContentTransferEncoding::SevenBit);
    }

    #[test]
    fn a_bad_recipient_is_a_message_error() {
        let mut bad = mail("x");
        bad.to = "nobody".to_owned();
        assert!(matches!(build_message(&FromAddress::default(), &bad), Err(MailError::Message(_))));
    }
}
