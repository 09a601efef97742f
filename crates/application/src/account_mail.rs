//! The mails that carry single-use account tokens: email verification and password reset.
//!
//! Handlers write them into the [`MailOutbox`](crate::ports::MailOutbox) of the unit of work
//! that issues the token, so the mail exists exactly when the token was committed; a worker
//! delivers it afterwards and retries while the mail server is away.

use chrono::{DateTime, Duration, Utc};
use portcullis_domain::{AccountToken, AccountTokenPurpose, OpaqueSecret, User};
use shaku::{Component, Interface};

use crate::ports::{OutgoingMail, PortError, TokenService, UnitOfWork};

/// How long an email-verification token works: 24 hours.
pub const VERIFICATION_TOKEN_TTL: Duration = Duration::hours(24);

/// How long a password-reset token works: 30 minutes.
pub const RESET_TOKEN_TTL: Duration = Duration::minutes(30);

/// The path of the page that redeems a verification token.
const VERIFY_EMAIL_PATH: &str = "/verify-email";

/// The path of the page that redeems a reset token.
const RESET_PASSWORD_PATH: &str = "/reset-password";

/// Writes the mails carrying account tokens (the handlers put them in the outbox).
pub trait AccountMail: Interface {
    /// The mail that gives `user` a link confirming their current address with `token`.
    fn verification(&self, user: &User, token: &OpaqueSecret) -> OutgoingMail;

    /// The mail that gives `user` a link to choose a new password with `token`.
    fn password_reset(&self, user: &User, token: &OpaqueSecret) -> OutgoingMail;
}

/// [`AccountMail`] from fixed English templates, each with a plain-text and an HTML body,
/// linking to the pages under `public_url` (the address people reach the service at, such
/// as `https://auth.example.com`; a trailing slash is ignored).
#[derive(Component)]
#[shaku(interface = AccountMail)]
pub struct TemplatedAccountMail {
    public_url: String,
}

impl TemplatedAccountMail {
    /// Builds the templates, linking to pages under `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self { public_url: public_url.into() }
    }

    /// `{public_url}{path}?token={token}`. Tokens are base64url, so they need no escaping.
    fn link(&self, path: &str, token: &OpaqueSecret) -> String {
        format!("{}{path}?token={}", self.public_url.trim_end_matches('/'), token.expose())
    }
}

/// The parts of one templated mail.
struct Template<'a> {
    subject: &'a str,
    /// What the link does, as the end of "To … open this link".
    action: &'a str,
    /// Why the mail came, one sentence.
    reason: String,
    /// What ignoring the mail means, one sentence.
    if_not_you: &'a str,
    link: String,
    ttl: Duration,
}

impl Template<'_> {
    fn render(&self, user: &User) -> OutgoingMail {
        let name = user.name.as_str();
        let lifetime = describe(self.ttl);
        let text = format!(
            "Hello {name},\n\n{reason}\n\nTo {action}, open this link:\n\n{link}\n\n\
             The link works once and expires in {lifetime}.\n\n\
             If you did not ask for this, ignore this mail. {if_not_you}\n",
            reason = self.reason,
            action = self.action,
            link = self.link,
            if_not_you = self.if_not_you,
        );
        let link = escape_html(&self.link);
        let html = format!(
            "<!DOCTYPE html>\n<html><body>\n<p>Hello {name},</p>\n<p>{reason}</p>\n\
             <p>To {action}, open this link:</p>\n<p><a href=\"{link}\">{link}</a></p>\n\
             <p>The link works once and expires in {lifetime}.</p>\n\
             <p>If you did not ask for this, ignore this mail. {if_not_you}</p>\n</body></html>\n",
            name = escape_html(name),
            reason = escape_html(&self.reason),
            action = escape_html(self.action),
            if_not_you = escape_html(self.if_not_you),
        );
        OutgoingMail {
            to: user.email.as_str().to_owned(),
            to_name: name.to_owned(),
            subject: self.subject.to_owned(),
            text,
            html,
        }
    }
}

impl AccountMail for TemplatedAccountMail {
    fn verification(&self, user: &User, token: &OpaqueSecret) -> OutgoingMail {
        Template {
            subject: "Confirm your email address",
            action: "confirm this address",
            reason: format!("Please confirm that {} is your email address.", user.email.as_str()),
            if_not_you: "Nothing will change.",
            link: self.link(VERIFY_EMAIL_PATH, token),
            ttl: VERIFICATION_TOKEN_TTL,
        }
        .render(user)
    }

    fn password_reset(&self, user: &User, token: &OpaqueSecret) -> OutgoingMail {
        Template {
            subject: "Reset your password",
            action: "choose a new password",
            reason: format!("We received a request to reset the password of the account {}.", user.email.as_str()),
            if_not_you: "Your password stays as it is.",
            link: self.link(RESET_PASSWORD_PATH, token),
            ttl: RESET_TOKEN_TTL,
        }
        .render(user)
    }
}

/// How long a mailed token of `purpose` lasts.
pub fn token_ttl(purpose: AccountTokenPurpose) -> Duration {
    match purpose {
        AccountTokenPurpose::VerifyEmail => VERIFICATION_TOKEN_TTL,
        AccountTokenPurpose::ResetPassword => RESET_TOKEN_TTL,
    }
}

/// Inside `unit`: replaces `user`'s tokens for `purpose` with a fresh one issued at `now`
/// and puts the mail carrying it in the unit's outbox; both are committed together.
pub(crate) fn replace_mailed_token(
    unit: &mut dyn UnitOfWork,
    tokens: &dyn TokenService,
    mail: &dyn AccountMail,
    user: &User,
    purpose: AccountTokenPurpose,
    now: DateTime<Utc>,
) -> Result<(), PortError> {
    let secret = tokens.generate_secret();
    let token = AccountToken::issue(&secret, user.id, purpose, user.email.as_str(), now, token_ttl(purpose));
    unit.account_tokens().delete_for_user(user.id, purpose)?;
    unit.account_tokens().add(&token)?;
    let message = match purpose {
        AccountTokenPurpose::VerifyEmail => mail.verification(user, &secret),
        AccountTokenPurpose::ResetPassword => mail.password_reset(user, &secret),
    };
    unit.outbox().add(&message, now)
}

/// "24 hours", "30 minutes", "1 hour": a lifetime as people say it.
fn describe(ttl: Duration) -> String {
    let (count, unit) = if ttl.num_minutes() % 60 == 0 && ttl.num_hours() > 0 {
        (ttl.num_hours(), "hour")
    } else {
        (ttl.num_minutes(), "minute")
    };
    let mut text = format!("{count} {unit}");
    if count != 1 {
        text.push('s');
    }
    text
}

/// Escapes text for HTML element content and double-quoted attribute values.
fn escape_html(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(describe(VERIFICATION_TOKEN_TTL), "24 hours");
        assert_eq!(describe(RESET_TOKEN_TTL), "30 minutes");
        assert_eq!(describe(Duration::hours(1)), "1 hour");
        assert_eq!(describe(Duration::minutes(90)), "90 minutes");
    }

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }
}
