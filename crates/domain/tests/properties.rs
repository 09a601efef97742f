//! Property tests (proptest) of the domain's parsers that face the network: every value
//! object a request body, a header, a cookie or a token claim is turned into.
//!
//! Covered: `Email`, `UserName`, `ApiKeyName`, `AvatarUrl`, `PlainPassword` and the
//! password-strength rule (common list, zxcvbn), `Role`/`Roles`, `Scope`/`Scopes`,
//! `ProviderId`, `PasskeyName`, `CredentialId` (base64url), `OpaqueSecret`/`SecretHash`,
//! `ApiKeySecret::prefix`, `PasswordHash::from_stored`, the id types' `FromStr`,
//! `AccountTokenPurpose::parse`, `AuthMethods::from_claims` (the `amr` claim), second-factor
//! codes (TOTP and recovery codes as typed) and `SameSitePath` (the `next` parameter).
//!
//! For each: parsing arbitrary input (any Unicode, control characters, a few KB) never
//! panics; what parses satisfies the documented rules and round-trips through its text;
//! input generated valid is accepted; input generated to break exactly one rule is refused
//! with that rule's error. Every block runs at most 256 cases, so the file takes seconds.

use std::collections::BTreeSet;

use portcullis_domain::{
    AccountTokenPurpose, ApiKeyName, ApiKeySecret, AuthMethod, AuthMethods, AvatarUrl, AvatarUrlError, CredentialId,
    DEFAULT_PASSKEY_NAME, Email, EmailError, MAX_PASSKEY_NAME_CHARS, MAX_SCOPE_CHARS, MAX_SCOPES, MinPasswordScore,
    OpaqueSecret, PasskeyName, PasskeyNameError, PasswordError, PasswordHash, PasswordHashError, PasswordStrengthRule,
    PersonalWords, PlainPassword, ProviderId, RecoveryCode, Role, RoleError, Roles, SameSitePath, Scope, ScopeError,
    Scopes, SecondFactorCode, SecretHash, SessionId, TotpCredential, TotpSecret, UserId, UserName, UserNameError,
    WeakPassword, is_common_password, presented_recovery_code, totp_step,
};
use proptest::prelude::*;

const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;
const MAX_AVATAR_URL_CHARS: usize = 2048;
const MIN_PASSWORD_CHARS: usize = 8;
const MAX_PASSWORD_CHARS: usize = 256;

/// `cases` cases; failures are printed, not written into the source tree.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Characters that tend to break text handling: controls, NUL, odd whitespace, combining
/// marks, characters whose case mapping changes their length, bidi controls, a BOM.
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => any::<char>(),
        2 => proptest::char::range('\u{20}', '\u{7e}'),
        1 => proptest::sample::select(vec![
            '\u{0}', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{1b}', '\u{7f}', '\u{85}', '\u{a0}', '\u{200b}',
            '\u{2028}', '\u{3000}', '\u{feff}', '\u{202e}', '\u{301}', '\u{130}', '\u{1e9e}', '\u{212a}', 'ß',
            'İ', 'ı', '@', '.', '-', '/', '\\', ':', '%', '$', '"', '\'', ' ',
        ]),
    ]
}

/// Arbitrary text of up to `max` characters, biased towards [`nasty_char`].
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(nasty_char(), 0..=max).prop_map(String::from_iter)
}

/// Text of up to a few KB: short arbitrary text, or a piece of it repeated (cheap to make).
fn long_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![text(200), (text(40), 1..=max / 40).prop_map(|(piece, times)| piece.repeat(times))]
}

/// Whitespace that `str::trim` removes.
fn padding() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(vec![' ', '\t', '\n', '\r', '\u{a0}', '\u{3000}']), 0..4)
        .prop_map(String::from_iter)
}

/// A printable character that is not whitespace (so trimming leaves it alone).
fn printable_char() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("printable, not whitespace", |c| !c.is_control() && !c.is_whitespace())
}

/// `len` characters, none a control, neither end whitespace.
fn display_text(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![proptest::char::range(' ', '~'), printable_char()], len)
        .prop_map(String::from_iter)
        .prop_filter("no whitespace at the ends", |s| s.trim() == s && !s.is_empty())
}

/// A control character that `str::trim` does not remove (so it survives into the value).
fn inner_control() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{0}', '\u{8}'),
        proptest::char::range('\u{e}', '\u{1f}'),
        proptest::char::range('\u{7f}', '\u{84}'),
        proptest::char::range('\u{86}', '\u{9f}'),
    ]
}

/// Inserts `c` into `s` after `at` characters (clamped), never at either end.
/// Inserts `c` into `s` after `at` characters (modulo), never first; last only when `s`
/// has a single character.
fn insert_inside(s: &str, at: usize, c: char) -> String {
    let chars: Vec<char> = s.chars().collect();
    let at = if chars.len() >= 2 { 1 + at % (chars.len() - 1) } else { chars.len() };
    let mut out: String = chars[..at].iter().collect();
    out.push(c);
    out.extend(&chars[at..]);
    out
}

// ----- Email -----------------------------------------------------------------------------

/// A local part the rules accept: allowed characters, no dot at either end, no `..`.
fn local_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}){0,2}"
}

/// A domain label: alphanumerics and inner hyphens (never an IDNA `xn--` label).
fn label() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?".prop_filter("not punycode", |l| !l.to_lowercase().starts_with("xn--"))
}

/// A host name: one to three labels and an alphabetic top-level label (an all-digit last
/// label would make a URL parser read an IPv4 address).
fn domain() -> impl Strategy<Value = String> {
    (proptest::collection::vec(label(), 1..=3), "[A-Za-z]{2,10}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn valid_email() -> impl Strategy<Value = (String, String)> {
    (local_part(), domain())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn email_parse_never_panics_and_what_parses_is_normalised(raw in text(400)) {
        match Email::parse(&raw) {
            Ok(email) => {
                let value = email.as_str();
                prop_assert_eq!(value, raw.trim().to_lowercase());
                prop_assert!(value.chars().count() <= MAX_EMAIL_CHARS);
                prop_assert!(!value.chars().any(char::is_whitespace), "{:?}", value);
                prop_assert!(!value.chars().any(char::is_control), "{:?}", value);
                prop_assert_eq!(value.to_lowercase(), value);
                let (local, domain) = value.rsplit_once('@').expect("an accepted address has an @");
                prop_assert!(!local.is_empty() && domain.contains('.'));
                // Round trip: the normalised text parses to the same address.
                prop_assert_eq!(Email::parse(&email.to_string()), Ok(email.clone()));
            }
            Err(EmailError::Empty) => prop_assert!(raw.trim().is_empty()),
            Err(EmailError::TooLong) => prop_assert!(raw.trim().to_lowercase().chars().count() > MAX_EMAIL_CHARS),
            Err(EmailError::Invalid) => {}
        }
    }

    #[test]
    fn valid_emails_are_accepted_trimmed_and_lower_cased(
        (local, domain) in valid_email(),
        before in padding(),
        after in padding(),
    ) {
        let raw = format!("{before}{local}@{domain}{after}");
        let email = Email::parse(&raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
        prop_assert_eq!(email.as_str(), format!("{local}@{domain}").to_lowercase());
        prop_assert_eq!(Email::parse(&email.as_str().to_uppercase()), Ok(email.clone()));
    }

    #[test]
    fn emails_breaking_one_rule_are_refused(
        (local, domain) in valid_email(),
        rule in 0..8usize,
        bad in proptest::sample::select(
            vec![' ', '(', ')', ',', ';', '<', '>', '[', ']', '\\', '"', '\u{0}', '\u{7f}'],
        ),
    ) {
        let (raw, expected) = match rule {
            0 => (format!("{local}{domain}").replace('@', ""), EmailError::Invalid),
            1 => (format!(".{local}@{domain}"), EmailError::Invalid),
            2 => (format!("{local}.@{domain}"), EmailError::Invalid),
            3 => (format!("{local}..x@{domain}"), EmailError::Invalid),
            4 => (format!("{local}@{}", domain.replace('.', "")), EmailError::Invalid),
            5 => (format!("{local}@-{domain}"), EmailError::Invalid),
            6 => (format!("{}@{domain}", "a".repeat(65)), EmailError::Invalid),
            _ => (format!("{}{bad}@{domain}", local), EmailError::Invalid),
        };
        prop_assert_eq!(Email::parse(&raw), Err(expected), "{:?}", raw);
    }

    #[test]
    fn too_long_and_blank_emails_get_their_own_errors(blank in padding(), extra in 1..200usize) {
        prop_assert_eq!(Email::parse(&blank), Err(EmailError::Empty));
        let domain = format!("{}.{}.{}.com", "a".repeat(63), "b".repeat(63), "c".repeat(63));
        let ok = format!("{}@{domain}", "x".repeat(MAX_EMAIL_CHARS - 1 - domain.len()));
        prop_assert!(Email::parse(&ok).is_ok());
        let long = format!("{}{ok}", "y".repeat(extra));
        prop_assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}

proptest! {
    // Inputs of a few KB: fewer cases.
    #![proptest_config(config(64))]

    #[test]
    fn email_parse_survives_huge_inputs(raw in long_text(4000)) {
        let result = Email::parse(&raw);
        if raw.trim().to_lowercase().chars().count() > MAX_EMAIL_CHARS {
            prop_assert_eq!(result, Err(EmailError::TooLong));
        }
    }
}

// ----- UserName, ApiKeyName, PasskeyName ---------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn names_never_panic_and_what_parses_follows_the_rules(raw in text(400)) {
        match UserName::parse(&raw) {
            Ok(name) => {
                prop_assert_eq!(name.as_str(), raw.trim());
                let chars = name.as_str().chars().count();
                prop_assert!((1..=MAX_NAME_CHARS).contains(&chars));
                prop_assert!(!name.as_str().chars().any(char::is_control));
                prop_assert_eq!(UserName::parse(&name.to_string()), Ok(name.clone()));
            }
            Err(UserNameError::Empty) => prop_assert!(raw.trim().is_empty()),
            Err(UserNameError::TooLong) => prop_assert!(raw.trim().chars().count() > MAX_NAME_CHARS),
            Err(UserNameError::ControlCharacter) => prop_assert!(raw.trim().chars().any(char::is_control)),
        }
        // An API key's label has exactly a user name's rules.
        prop_assert_eq!(
            ApiKeyName::parse(&raw).map(|n| n.as_str().to_owned()),
            UserName::parse(&raw).map(|n| n.as_str().to_owned())
        );
        match PasskeyName::parse(&raw) {
            Ok(name) => {
                prop_assert_eq!(name.as_str(), raw.trim());
                prop_assert!((1..=MAX_PASSKEY_NAME_CHARS).contains(&name.as_str().chars().count()));
                prop_assert!(!name.as_str().chars().any(char::is_control));
                prop_assert_eq!(PasskeyName::parse(name.as_str()), Ok(name.clone()));
            }
            Err(PasskeyNameError::Empty) => prop_assert!(raw.trim().is_empty()),
            Err(PasskeyNameError::TooLong) => prop_assert!(raw.trim().chars().count() > MAX_PASSKEY_NAME_CHARS),
            Err(PasskeyNameError::ControlCharacter) => prop_assert!(raw.trim().chars().any(char::is_control)),
        }
    }

    #[test]
    fn valid_names_are_accepted_trimmed(
        name in display_text(1..=MAX_NAME_CHARS),
        before in padding(),
        after in padding(),
    ) {
        let parsed = UserName::parse(&format!("{before}{name}{after}"));
        prop_assert_eq!(parsed.map(|n| n.as_str().to_owned()), Ok(name.clone()));
        let passkey = PasskeyName::parse(&format!("{before}{name}{after}"));
        if name.chars().count() <= MAX_PASSKEY_NAME_CHARS {
            prop_assert_eq!(passkey.map(|n| n.as_str().to_owned()), Ok(name));
        } else {
            prop_assert_eq!(passkey, Err(PasskeyNameError::TooLong));
        }
    }

    #[test]
    fn names_breaking_one_rule_get_that_rules_error(
        name in display_text(1..=MAX_PASSKEY_NAME_CHARS),
        control in inner_control(),
        at in any::<usize>(),
        blank in padding(),
        long in display_text(MAX_NAME_CHARS + 1..=MAX_NAME_CHARS + 300),
    ) {
        prop_assert_eq!(UserName::parse(&blank), Err(UserNameError::Empty));
        prop_assert_eq!(PasskeyName::parse(&blank), Err(PasskeyNameError::Empty));
        prop_assert_eq!(UserName::parse(&long), Err(UserNameError::TooLong));
        prop_assert_eq!(PasskeyName::parse(&long), Err(PasskeyNameError::TooLong));
        let with_control = insert_inside(&name, at, control);
        if with_control.chars().count() <= MAX_PASSKEY_NAME_CHARS {
            prop_assert_eq!(PasskeyName::parse(&with_control), Err(PasskeyNameError::ControlCharacter));
        }
        prop_assert_eq!(UserName::parse(&with_control), Err(UserNameError::ControlCharacter), "{:?}", with_control);
    }

    #[test]
    fn a_blank_or_missing_passkey_name_is_the_default(blank in padding(), name in display_text(1..=20)) {
        prop_assert_eq!(
            PasskeyName::or_default(None).map(|n| n.as_str().to_owned()),
            Ok(DEFAULT_PASSKEY_NAME.to_owned())
        );
        prop_assert_eq!(
            PasskeyName::or_default(Some(&blank)).map(|n| n.as_str().to_owned()),
            Ok(DEFAULT_PASSKEY_NAME.to_owned())
        );
        prop_assert_eq!(PasskeyName::or_default(Some(&name)), PasskeyName::parse(&name));
    }
}

// ----- AvatarUrl ---------------------------------------------------------------------------

fn url_path() -> impl Strategy<Value = String> {
    "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,30}){0,4}(\\?[A-Za-z0-9=&]{0,20})?(#[a-z0-9]{0,10})?"
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn avatar_urls_never_panic_and_what_parses_is_http(raw in prop_oneof![
        text(300),
        (
            proptest::sample::select(vec!["http://", "https://", "HTTP://", "javascript:", "data:", "//", "http:"]),
            text(200),
        )
            .prop_map(|(scheme, rest)| format!("{scheme}{rest}")),
    ]) {
        match AvatarUrl::parse(&raw) {
            Ok(url) => {
                prop_assert_eq!(url.as_str(), raw.trim());
                prop_assert!(url.as_str().chars().count() <= MAX_AVATAR_URL_CHARS);
                let parsed = url::Url::parse(url.as_str()).expect("an accepted URL parses");
                prop_assert!(matches!(parsed.scheme(), "http" | "https"));
                prop_assert!(parsed.host_str().is_some_and(|h| !h.is_empty()));
                prop_assert_eq!(AvatarUrl::parse(&url.to_string()), Ok(url.clone()));
            }
            Err(AvatarUrlError::TooLong) => prop_assert!(raw.trim().chars().count() > MAX_AVATAR_URL_CHARS),
            Err(AvatarUrlError::UnsupportedScheme) => {
                let parsed = url::Url::parse(raw.trim()).expect("a scheme was read");
                prop_assert!(!matches!(parsed.scheme(), "http" | "https"));
            }
            Err(AvatarUrlError::Invalid) => {}
        }
    }

    #[test]
    fn valid_avatar_urls_are_accepted_as_given(
        https in any::<bool>(),
        host in domain(),
        port in proptest::option::of(1..=65535u16),
        path in url_path(),
        before in padding(),
        after in padding(),
    ) {
        let scheme = if https { "https" } else { "http" };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("{scheme}://{host}{port}{path}");
        let parsed = AvatarUrl::parse(&format!("{before}{url}{after}"));
        prop_assert_eq!(parsed.map(|u| u.as_str().to_owned()), Ok(url));
    }

    #[test]
    fn avatar_urls_breaking_one_rule_get_that_rules_error(
        scheme in "[a-z][a-z0-9+.-]{0,8}".prop_filter("not http(s)", |s| s != "http" && s != "https"),
        host in domain(),
        path in url_path(),
        extra in 1..500usize,
    ) {
        prop_assert_eq!(
            AvatarUrl::parse(&format!("{scheme}://{host}{path}")),
            Err(AvatarUrlError::UnsupportedScheme)
        );
        // Relative: no scheme.
        prop_assert_eq!(AvatarUrl::parse(&format!("/{host}{path}")), Err(AvatarUrlError::Invalid));
        prop_assert_eq!(AvatarUrl::parse(&format!("{host}{path}")), Err(AvatarUrlError::Invalid));
        let long = format!("https://{host}/{}", "a".repeat(MAX_AVATAR_URL_CHARS + extra));
        prop_assert_eq!(AvatarUrl::parse(&long), Err(AvatarUrlError::TooLong));
    }

    /// The text of an accepted URL is stored and put into tokens and pages as it is, so a
    /// control character anywhere refuses it (PostgreSQL cannot even store a NUL).
    #[test]
    fn avatar_urls_with_a_control_character_are_invalid(
        host in domain(),
        path in url_path(),
        control in prop_oneof![proptest::char::range('\u{0}', '\u{1f}'), proptest::char::range('\u{7f}', '\u{9f}')],
        at in any::<usize>(),
        leading in any::<bool>(),
    ) {
        let url = format!("https://{host}{path}");
        let raw = if leading { format!("{control}{url}") } else { insert_inside(&url, at, control) };
        if leading && control.is_whitespace() {
            // Leading whitespace (a tab, a newline) is trimmed like spaces are.
            prop_assert_eq!(AvatarUrl::parse(&raw).map(|u| u.as_str().to_owned()), Ok(url));
        } else {
            prop_assert_eq!(AvatarUrl::parse(&raw), Err(AvatarUrlError::Invalid), "{:?}", raw);
        }
    }
}

// ----- Passwords ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn password_length_rules_count_characters_and_never_trim(raw in prop_oneof![
        text(MAX_PASSWORD_CHARS + 20),
        long_text(2000),
    ]) {
        let chars = raw.chars().count();
        match PlainPassword::parse(&raw) {
            Ok(password) => {
                prop_assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars));
                prop_assert_eq!(password.expose(), raw.as_str());
                prop_assert_eq!(format!("{password:?}"), "PlainPassword([redacted])");
            }
            Err(PasswordError::TooShort) => prop_assert!(chars < MIN_PASSWORD_CHARS),
            Err(PasswordError::TooLong) => prop_assert!(chars > MAX_PASSWORD_CHARS),
        }
    }

    #[test]
    fn passwords_at_and_past_the_bounds(c in printable_char(), len in MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS) {
        let s = |n: usize| std::iter::repeat_n(c, n).collect::<String>();
        prop_assert!(PlainPassword::parse(&s(len)).is_ok());
        let short = len % MIN_PASSWORD_CHARS;
        prop_assert_eq!(PlainPassword::parse(&s(short)).err(), Some(PasswordError::TooShort));
        let long = MAX_PASSWORD_CHARS + 1 + (len - MIN_PASSWORD_CHARS);
        prop_assert_eq!(PlainPassword::parse(&s(long)).err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn stored_hashes_are_read_back_only_in_known_schemes(
        raw in text(200),
        known in any::<bool>(),
        prefixed in any::<bool>(),
    ) {
        let raw = if known {
            format!("{}$2b${}", if prefixed { "bcrypt-sha384:" } else { "" }, raw.replace('$', ""))
        } else {
            raw
        };
        let bare = raw.strip_prefix("bcrypt-sha384:").unwrap_or(&raw);
        let expected = ["$2a$", "$2b$", "$2y$"].iter().any(|p| bare.starts_with(p));
        match PasswordHash::from_stored(raw.clone()) {
            Ok(hash) => {
                prop_assert!(expected);
                prop_assert_eq!(hash.as_stored(), raw.as_str());
                // A malformed hash verifies nothing (and does not panic).
                let password = PlainPassword::parse("correct horse battery").expect("valid");
                prop_assert!(!hash.verify(&password));
            }
            Err(error) => {
                prop_assert!(!expected);
                prop_assert_eq!(error, PasswordHashError::UnknownScheme);
            }
        }
    }
}

proptest! {
    // zxcvbn is slow in a debug build: fewer cases.
    #![proptest_config(config(48))]

    #[test]
    fn the_strength_rule_never_panics_on_any_password_or_user(
        password in proptest::collection::vec(nasty_char(), MIN_PASSWORD_CHARS..=48).prop_map(String::from_iter),
        name in text(40),
        email in text(40),
        score in 0..=4u8,
    ) {
        let password = PlainPassword::parse(&password).expect("valid length");
        let rule = PasswordStrengthRule::new(MinPasswordScore::new(score).expect("0..=4"));
        let personal = PersonalWords::from_parts(&name, &email);
        prop_assert!(personal.words().iter().all(|w| w.chars().count() >= 2 && w.to_lowercase() == *w));
        match rule.check(&password, &personal) {
            Ok(()) => prop_assert!(!is_common_password(password.expose())),
            Err(WeakPassword::Common) => prop_assert!(is_common_password(password.expose())),
            Err(WeakPassword::Guessable { score: got, required, hint }) => {
                prop_assert!(got < required && required == score);
                prop_assert!(!hint.is_empty());
            }
        }
    }
}

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn common_password() -> impl Strategy<Value = String> {
    let list: Vec<String> = COMMON_PASSWORDS
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#') && line.chars().count() >= MIN_PASSWORD_CHARS)
        .map(str::to_owned)
        .collect();
    proptest::sample::select(list)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn common_passwords_are_refused_in_any_case_at_any_score(
        word in common_password(),
        flips in proptest::collection::vec(any::<bool>(), 64),
        score in 0..=4u8,
    ) {
        let spelled: String = word
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
            .collect();
        prop_assert!(is_common_password(&spelled), "{:?}", spelled);
        let password = PlainPassword::parse(&spelled).expect("valid length");
        let rule = PasswordStrengthRule::new(MinPasswordScore::new(score).expect("0..=4"));
        prop_assert_eq!(rule.check(&password, &PersonalWords::none()), Err(WeakPassword::Common));
    }
}

// ----- Role, Scope, ProviderId -------------------------------------------------------------

/// Text near a `[set]{1,max}` pattern: mostly the set, some other characters, lengths around
/// the bounds.
fn near_pattern(set: &'static str, max: usize) -> impl Strategy<Value = String> {
    let allowed: Vec<char> = set.chars().collect();
    let c = prop_oneof![
        8 => proptest::sample::select(allowed),
        1 => nasty_char(),
        1 => proptest::char::range('A', 'Z'),
    ];
    proptest::collection::vec(c, 0..=max + 3).prop_map(String::from_iter)
}

const ROLE_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_-";
const SCOPE_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789:._-";
const PROVIDER_CHARS: &str = "abcdefghijklmnopqrstuvwxyz0123456789_";

fn matches_set(raw: &str, set: &str, max: usize) -> bool {
    !raw.is_empty() && raw.len() <= max && raw.chars().all(|c| set.contains(c))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn roles_are_exactly_the_pattern(raw in prop_oneof![near_pattern(ROLE_CHARS, 32), text(100)]) {
        let expected = matches_set(&raw, ROLE_CHARS, 32);
        match Role::parse(&raw) {
            Ok(role) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(role.as_str(), raw.as_str());
                prop_assert_eq!(Role::parse(&role.to_string()), Ok(role.clone()));
            }
            Err(RoleError::Invalid) => prop_assert!(!expected, "{:?} refused", raw),
        }
    }

    #[test]
    fn role_sets_are_sorted_and_deduplicated(names in proptest::collection::vec("[a-z0-9_-]{1,32}", 0..10)) {
        let roles = Roles::parse(names.iter().map(String::as_str)).expect("valid names");
        let expected: Vec<String> = names.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        prop_assert_eq!(roles.names(), expected);
        for name in &names {
            prop_assert!(roles.contains(name));
        }
    }

    #[test]
    fn one_bad_role_spoils_the_set(
        names in proptest::collection::vec("[a-z0-9_-]{1,32}", 0..5),
        bad in prop_oneof![Just(String::new()), "[a-z]{33,40}", "[a-z]{0,5}[A-Z ./@][a-z]{0,5}"],
        at in any::<usize>(),
    ) {
        let mut all = names.clone();
        all.insert(at % (names.len() + 1), bad);
        prop_assert_eq!(Roles::parse(all.iter().map(String::as_str)), Err(RoleError::Invalid));
    }

    #[test]
    fn scopes_are_exactly_the_pattern(raw in prop_oneof![near_pattern(SCOPE_CHARS, MAX_SCOPE_CHARS), text(100)]) {
        let expected = matches_set(&raw, SCOPE_CHARS, MAX_SCOPE_CHARS);
        match Scope::parse(&raw) {
            Ok(scope) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(scope.as_str(), raw.as_str());
            }
            Err(ScopeError::Invalid) => prop_assert!(!expected, "{:?} refused", raw),
            Err(ScopeError::TooMany) => prop_assert!(false, "one scope is never too many"),
        }
    }

    #[test]
    fn scope_lists_are_sorted_deduplicated_bounded_and_default(
        names in proptest::collection::vec("[a-z0-9:._-]{1,64}", 0..30),
        repeats in 1..3usize,
    ) {
        let repeated: Vec<&str> = std::iter::repeat_n(names.iter().map(String::as_str), repeats).flatten().collect();
        let distinct: Vec<String> = names.iter().cloned().collect::<BTreeSet<_>>().into_iter().collect();
        match Scopes::parse(repeated) {
            Ok(scopes) if distinct.is_empty() => prop_assert_eq!(scopes, Scopes::default_for_new_key()),
            Ok(scopes) => {
                prop_assert!(distinct.len() <= MAX_SCOPES);
                prop_assert_eq!(scopes.names(), distinct);
            }
            Err(ScopeError::TooMany) => prop_assert!(distinct.len() > MAX_SCOPES),
            Err(ScopeError::Invalid) => prop_assert!(false, "every scope was valid"),
        }
    }

    #[test]
    fn an_invalid_scope_is_reported_before_too_many(
        count in 0..40usize,
        bad in prop_oneof![Just(String::new()), "[a-z]{65,70}", "[a-z]{0,5}[A-Z /@#][a-z]{0,5}"],
    ) {
        let mut names: Vec<String> = (0..count).map(|i| format!("s{i}")).collect();
        names.push(bad);
        prop_assert_eq!(Scopes::parse(names.iter().map(String::as_str)), Err(ScopeError::Invalid));
    }

    #[test]
    fn provider_ids_are_exactly_the_pattern(raw in prop_oneof![near_pattern(PROVIDER_CHARS, 32), text(60)]) {
        let expected = matches_set(&raw, PROVIDER_CHARS, 32);
        match ProviderId::parse(&raw) {
            Ok(id) => {
                prop_assert!(expected, "{:?} accepted", raw);
                prop_assert_eq!(id.as_str(), raw.as_str());
                prop_assert_eq!(ProviderId::parse(&id.to_string()), Ok(id.clone()));
            }
            Err(_) => prop_assert!(!expected, "{:?} refused", raw),
        }
    }
}

// ----- Opaque secrets, credential ids, API keys, ids -------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn credential_ids_round_trip_and_decode_canonically(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        raw in text(200),
    ) {
        let id = CredentialId::from_bytes(&bytes);
        prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(id.to_bytes(), Some(bytes));
        // Any stored text: no panic, and what decodes is the one encoding of its bytes.
        if let Some(decoded) = CredentialId::from_stored(raw.clone()).to_bytes() {
            let again = CredentialId::from_bytes(&decoded);
            prop_assert_eq!(again.as_str(), raw.as_str());
        }
    }

    #[test]
    fn opaque_secrets_are_base64url_of_32_bytes_and_hashed_as_sha256_hex(
        bytes in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        raw in text(300),
    ) {
        let secret = OpaqueSecret::from_random_bytes(bytes);
        prop_assert_eq!(secret.expose().len(), 43);
        prop_assert_eq!(CredentialId::from_stored(secret.expose()).to_bytes(), Some(bytes.to_vec()));
        let hash = secret.hash();
        prop_assert_eq!(hash.as_str().len(), 64);
        prop_assert!(hash.as_str().bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        prop_assert_eq!(OpaqueSecret::presented(secret.expose()).hash(), hash.clone());
        if bytes != other {
            prop_assert_ne!(OpaqueSecret::from_random_bytes(other).hash(), hash.clone());
        }
        let printed = format!("{secret:?}");
        prop_assert!(!printed.contains(secret.expose()));
        // A presented token of any text is hashed, never refused.
        prop_assert_eq!(OpaqueSecret::presented(raw.clone()).hash(), SecretHash::of(&raw));
    }

    #[test]
    fn api_key_prefixes_are_read_only_from_key_shaped_text(raw in prop_oneof![
        text(80),
        text(60).prop_map(|rest| format!("pc_{rest}")),
        "pc_[A-Za-z0-9_-]{0,50}",
    ], bytes in any::<[u8; 32]>()) {
        let key = ApiKeySecret::presented(raw.clone());
        let shaped = raw
            .strip_prefix("pc_")
            .is_some_and(|random| {
                random.len() > 8 && random.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        match key.prefix() {
            Some(prefix) => {
                prop_assert!(shaped);
                prop_assert_eq!(prefix.len(), 11);
                prop_assert!(raw.starts_with(prefix) && prefix.starts_with("pc_"));
            }
            None => prop_assert!(!shaped),
        }
        let made = ApiKeySecret::from_secret(&OpaqueSecret::from_random_bytes(bytes));
        prop_assert_eq!(made.expose().len(), 46);
        prop_assert!(made.prefix().is_some_and(|p| made.expose().starts_with(p)));
    }

    #[test]
    fn ids_round_trip_through_text_and_garbage_is_refused(n in any::<u128>(), raw in text(60)) {
        let id = UserId::from_uuid(uuid::Uuid::from_u128(n));
        prop_assert_eq!(id.to_string().parse::<UserId>(), Ok(id));
        let session = SessionId::from_uuid(uuid::Uuid::from_u128(n));
        prop_assert_eq!(session.to_string().parse::<SessionId>(), Ok(session));
        if let Ok(parsed) = raw.parse::<UserId>() {
            prop_assert_eq!(uuid::Uuid::parse_str(&raw).ok(), Some(parsed.as_uuid()));
        }
    }

    #[test]
    fn account_token_purposes_are_exactly_their_names(raw in prop_oneof![
        text(30),
        proptest::sample::select(
            ["verify_email", "reset_password", "Verify_Email", "reset_password "].map(str::to_owned).to_vec(),
        ),
    ]) {
        match AccountTokenPurpose::parse(&raw) {
            Some(purpose) => prop_assert_eq!(purpose.as_str(), raw.as_str()),
            None => prop_assert!(raw != "verify_email" && raw != "reset_password"),
        }
    }
}

// ----- amr claims ----------------------------------------------------------------------------

fn methods() -> impl Strategy<Value = AuthMethods> {
    proptest::sample::subsequence(AuthMethod::ALL.to_vec(), 0..=4)
        .prop_map(|list| list.into_iter().fold(AuthMethods::NONE, AuthMethods::with))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn amr_claims_round_trip_and_unknown_values_are_refused(
        set in methods(),
        shuffle in 0..8usize,
        unknown in text(10).prop_filter("not a known value", |s| {
            !["pwd", "otp", "fed", "hwk", "mfa"].contains(&s.as_str())
        }),
    ) {
        let mut claims = set.claims();
        prop_assert_eq!(claims.contains(&"mfa"), set.is_multi_factor());
        // Order and repetition do not matter; `mfa` is derived, not read.
        let len = claims.len();
        if len > 0 {
            claims.rotate_left(shuffle % len);
            claims.push(claims[0]);
        }
        prop_assert_eq!(AuthMethods::from_claims(claims.iter().copied()), Ok(set));
        let mut with_unknown: Vec<&str> = claims.clone();
        with_unknown.push(&unknown);
        let refused = AuthMethods::from_claims(with_unknown.iter().copied());
        prop_assert_eq!(refused.map_err(|e| e.0), Err(unknown.clone()));
    }
}

// ----- Second-factor codes as typed -------------------------------------------------------------

const BASE32: &str = "abcdefghijklmnopqrstuvwxyz234567";

/// Spaces, dashes and case changes a person might add to a code.
fn loosen(code: &str, noise: &[u8]) -> String {
    let mut out = String::new();
    for (c, n) in code.chars().zip(noise.iter().cycle()) {
        match n % 4 {
            0 => out.push(' '),
            1 => out.push('-'),
            _ => {}
        }
        out.push(if n % 3 == 0 { c.to_ascii_uppercase() } else { c });
    }
    out
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn typed_codes_never_panic_and_are_classified_by_shape(raw in text(80)) {
        let normalized: String =
            raw.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
        match SecondFactorCode::parse(&raw) {
            Some(SecondFactorCode::Totp(code)) => {
                prop_assert_eq!(code, raw.as_str());
                prop_assert!(normalized.len() == 6 && normalized.bytes().all(|b| b.is_ascii_digit()));
            }
            Some(SecondFactorCode::Recovery(hash)) => {
                prop_assert!(normalized.len() == 16 && normalized.chars().all(|c| BASE32.contains(c)));
                prop_assert_eq!(hash, SecretHash::of(&normalized));
            }
            None => prop_assert!(presented_recovery_code(&raw).is_none()),
        }
    }

    #[test]
    fn recovery_codes_are_accepted_however_they_are_typed(
        seed in any::<[u8; 32]>(),
        noise in proptest::collection::vec(any::<u8>(), 1..20),
    ) {
        let code = RecoveryCode::from_seed(&OpaqueSecret::from_random_bytes(seed));
        let shown = code.expose();
        prop_assert_eq!(shown.len(), 19);
        prop_assert_eq!(presented_recovery_code(shown), Some(code.hash()));
        let typed = loosen(shown, &noise);
        prop_assert_eq!(presented_recovery_code(&typed), Some(code.hash()), "{:?}", typed);
        prop_assert_eq!(SecondFactorCode::parse(&typed), Some(SecondFactorCode::Recovery(code.hash())));
    }

    #[test]
    fn recovery_codes_of_the_wrong_length_or_alphabet_are_refused(
        code in "[a-z2-7]{16}",
        cut in 1..16usize,
        extra in "[a-z2-7]{1,4}",
        bad in proptest::sample::select(vec!['0', '1', '8', '9', '!', '_', 'é']),
        at in 0..16usize,
    ) {
        prop_assert!(presented_recovery_code(&code).is_some());
        prop_assert_eq!(presented_recovery_code(&code[..cut]), None);
        prop_assert_eq!(presented_recovery_code(&format!("{code}{extra}")), None);
        let mut wrong: Vec<char> = code.chars().collect();
        wrong[at] = bad;
        prop_assert_eq!(presented_recovery_code(&String::from_iter(wrong)), None);
    }

    #[test]
    fn totp_codes_match_their_step_once_and_garbage_never(
        seed in any::<[u8; 32]>(),
        unix in 1_000_000_000i64..4_000_000_000,
        offset in 0..3u64,
        noise in proptest::collection::vec(any::<u8>(), 1..8),
        garbage in text(20),
    ) {
        let secret = TotpSecret::from_seed(&OpaqueSecret::from_random_bytes(seed));
        // The secret's text round-trips.
        let base32 = secret.to_base32();
        prop_assert_eq!(TotpSecret::from_base32(base32.expose()), Some(secret.clone()));
        let bytes = totp_rs::Secret::Encoded(base32.expose().to_owned()).to_bytes().expect("base32");
        let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, bytes, None, String::new());

        let now = chrono::DateTime::from_timestamp(unix, 0).expect("a time");
        let step = totp_step(now) + offset - 1;
        let code = totp.generate(step * 30);
        let mut credential = TotpCredential::enroll(UserId::generate(), secret, now);
        let typed = loosen(&code, &noise);
        prop_assert_eq!(credential.matching_step(&typed, now), Some(step), "{:?}", typed);
        credential.last_used_step = Some(step);
        prop_assert_eq!(credential.matching_step(&code, now), None, "a spent code");

        let normalized: String = garbage.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        if normalized.len() != 6 || !normalized.bytes().all(|b| b.is_ascii_digit()) {
            prop_assert_eq!(credential.matching_step(&garbage, now), None);
        }
    }

    #[test]
    fn stored_totp_secrets_never_panic(raw in prop_oneof![text(80), "[A-Z2-7]{0,64}"]) {
        if let Some(secret) = TotpSecret::from_base32(&raw) {
            prop_assert_eq!(TotpSecret::from_base32(secret.to_base32().expose()), Some(secret.clone()));
        }
    }
}

// ----- SameSitePath (`next`) -------------------------------------------------------------------

fn public_url() -> impl Strategy<Value = url::Url> {
    proptest::sample::select(vec![
        "https://auth.example.com",
        "http://localhost:8080",
        "https://example.com/auth/",
        "http://[::1]:3000",
    ])
    .prop_map(|u| url::Url::parse(u).expect("a URL"))
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn next_never_leaves_the_site(
        public in public_url(),
        raw in prop_oneof![
            text(200),
            (
                proptest::sample::select(vec![
                    "/", "//", "/\\", "\\", "/%2f", "/.", "/..", "/\t/", "https:", "/@", "/:",
                ]),
                text(60),
            )
                .prop_map(|(start, rest)| format!("{start}{rest}")),
            "/[A-Za-z0-9/._~%?#=&@:-]{0,60}",
        ],
    ) {
        match SameSitePath::parse(&raw, &public) {
            Some(next) => {
                prop_assert_eq!(next.as_str(), raw.as_str());
                prop_assert!(raw.starts_with('/') && !raw.starts_with("//"));
                prop_assert!(!raw.contains('\\') && !raw.chars().any(char::is_control));
                let resolved = public.join(&raw).expect("it resolved");
                prop_assert_eq!(resolved.origin(), public.origin());
            }
            None => prop_assert_eq!(SameSitePath::parse_or_default(Some(&raw), &public), SameSitePath::default_next()),
        }
    }

    #[test]
    fn plain_same_site_paths_are_kept(
        public in public_url(),
        path in "(/[A-Za-z0-9._~-]{1,20}){1,5}/?(\\?[a-z]{1,5}=[a-z0-9]{0,5})?",
    ) {
        prop_assert_eq!(SameSitePath::parse(&path, &public).map(SameSitePath::into_string), Some(path));
    }

    #[test]
    fn protocol_relative_and_absolute_next_are_refused(public in public_url(), host in domain(), path in url_path()) {
        let candidates = [
            format!("//{host}{path}"),
            format!("https://{host}{path}"),
            format!("/\\{host}{path}"),
            format!("{host}{path}"),
        ];
        for raw in candidates {
            prop_assert_eq!(SameSitePath::parse(&raw, &public), None, "{:?}", raw);
        }
    }
}
