//! `ChangePasswordHandler`, `ForgotPasswordHandler` and `ResetPasswordHandler` over the
//! in-memory fakes.

use chrono::Duration;
use portcullis_application::LoginError;
use portcullis_application::commands::passwords::{
    ChangePasswordCommand, ChangePasswordError, ForgotPasswordCommand, ForgotPasswordError, ResetPasswordCommand,
    ResetPasswordError,
};
use portcullis_application::in_memory::UnitsBegun;
use portcullis_application::ports::{PortError, UnitOfWorkFactory};
use portcullis_domain::{
    AccountTokenPurpose, PlainPassword, SecretHash, SecretString, SessionId, UserId, WeakPassword,
};

use crate::support::{Bench, PASSWORD, PUBLIC_URL, field_codes, login_command};

const ADA: &str = "ada@example.com";
const NEW_PASSWORD: &str = "a brand new passphrase for ada";

fn change(
    bench: &Bench,
    user_id: UserId,
    session_id: SessionId,
    current: &str,
    new: &str,
) -> Result<(), ChangePasswordError> {
    bench.change_password_handler().handle(ChangePasswordCommand {
        user_id,
        session: bench.auth(session_id),
        current_password: Some(SecretString::new(current)),
        new_password: SecretString::new(new),
    })
}

fn forgot(bench: &Bench, email: &str) -> Result<(), ForgotPasswordError> {
    bench.forgot_password_handler().handle(ForgotPasswordCommand { email: email.to_owned() })
}

fn reset(bench: &Bench, token: &SecretString, new: &str) -> Result<(), ResetPasswordError> {
    bench
        .reset_password_handler()
        .handle(ResetPasswordCommand { token: token.clone(), new_password: SecretString::new(new) })
}

fn password_is(bench: &Bench, user_id: UserId, password: &str) -> bool {
    let user = bench.store.user(user_id).expect("user exists");
    user.password.as_ref().expect("has a password").verify(&PlainPassword::parse(password).expect("valid"))
}

fn reset_tokens(bench: &Bench) -> usize {
    bench.store.account_tokens().iter().filter(|t| t.purpose == AccountTokenPurpose::ResetPassword).count()
}

// ---------------------------------------------------------------- change

#[test]
fn change_stores_the_new_hash_and_ends_every_other_session() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    let laptop = bench.login(ADA);
    let phone = bench.login(ADA);
    let tablet = bench.login(ADA);
    let bo = bench.signup("Bo", "bo@example.com");
    let bos = bench.login("bo@example.com");
    forgot(&bench, ADA).expect("a reset is pending");
    let pending_reset = bench.token_mailed_to(ADA);
    bench.clock.advance(Duration::minutes(1));

    change(&bench, ada.user_id, phone.session_id, PASSWORD, NEW_PASSWORD).expect("changes");

    assert!(password_is(&bench, ada.user_id, NEW_PASSWORD));
    assert!(!password_is(&bench, ada.user_id, PASSWORD));
    assert_eq!(bench.store.user(ada.user_id).expect("user").updated_at, bench.now());
    let sessions: Vec<SessionId> = bench.store.sessions().iter().map(|s| s.id).collect();
    assert!(sessions.contains(&phone.session_id), "the caller's session survives");
    assert!(!sessions.contains(&laptop.session_id) && !sessions.contains(&tablet.session_id));
    assert!(sessions.contains(&bos.session_id), "other users are untouched");
    assert!(bench.refresh(&laptop.refresh_token).is_err(), "an ended session cannot refresh");
    bench.refresh(&phone.refresh_token).expect("the caller's session still refreshes");
    assert!(password_is(&bench, bo.user_id, PASSWORD));

    assert_eq!(reset_tokens(&bench), 0, "pending reset tokens are deleted");
    assert!(matches!(
        reset(&bench, &pending_reset, "yet another passphrase here"),
        Err(ResetPasswordError::InvalidToken)
    ));

    let old = bench.login_handler().handle(login_command(ADA, PASSWORD));
    assert!(matches!(old, Err(LoginError::InvalidCredentials)), "{old:?}");
    bench.login_handler().handle(login_command(ADA, NEW_PASSWORD)).expect("the new password logs in");
}

#[test]
fn change_with_a_wrong_current_password_changes_nothing() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let first = bench.login(ADA);
    let second = bench.login(ADA);

    for wrong in ["not the password at all", "short", ""] {
        let result = change(&bench, ada.user_id, first.session_id, wrong, NEW_PASSWORD);
        assert!(matches!(result, Err(ChangePasswordError::InvalidCredentials)), "{wrong:?}: {result:?}");
    }
    assert!(password_is(&bench, ada.user_id, PASSWORD));
    assert_eq!(bench.store.sessions().len(), 2, "{:?} kept", second.session_id);
}

#[test]
fn change_validates_the_new_password_under_its_field_name() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let tokens = bench.login(ADA);
    let Err(ChangePasswordError::Validation(errors)) =
        change(&bench, ada.user_id, tokens.session_id, PASSWORD, "short")
    else {
        panic!("expected validation errors");
    };
    assert_eq!(field_codes(&errors), vec![("new_password", "too_short")]);

    let too_long = "x".repeat(257);
    let Err(ChangePasswordError::Validation(errors)) =
        change(&bench, ada.user_id, tokens.session_id, PASSWORD, &too_long)
    else {
        panic!("expected validation errors");
    };
    assert_eq!(field_codes(&errors), vec![("new_password", "too_long")]);
    assert!(password_is(&bench, ada.user_id, PASSWORD));
}

#[test]
fn change_refuses_a_weak_new_password_using_the_users_name_and_email() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    let tokens = bench.login(ADA);

    let result = change(&bench, ada.user_id, tokens.session_id, PASSWORD, "password123");
    assert!(matches!(result, Err(ChangePasswordError::WeakPassword(WeakPassword::Common))), "{result:?}");
    let result = change(&bench, ada.user_id, tokens.session_id, PASSWORD, "Lovelace2024");
    let Err(ChangePasswordError::WeakPassword(WeakPassword::Guessable { hint, .. })) = result else {
        panic!("a password made of the name is refused: {result:?}");
    };
    assert!(hint.contains("name or email"), "{hint}");
    assert!(password_is(&bench, ada.user_id, PASSWORD));
}

#[test]
fn change_for_a_missing_user_is_not_found() {
    let bench = Bench::new();
    let result = change(&bench, UserId::generate(), SessionId::generate(), PASSWORD, NEW_PASSWORD);
    assert!(matches!(result, Err(ChangePasswordError::NotFound)), "{result:?}");
}

#[test]
fn change_reports_storage_failures_and_rolls_back() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let first = bench.login(ADA);
    bench.login(ADA);

    bench.store.set_unavailable(true);
    let result = change(&bench, ada.user_id, first.session_id, PASSWORD, NEW_PASSWORD);
    assert!(matches!(result, Err(ChangePasswordError::Port(PortError::Unavailable(_)))), "{result:?}");
    bench.store.set_unavailable(false);

    bench.store.set_failing_commits(true);
    let result = change(&bench, ada.user_id, first.session_id, PASSWORD, NEW_PASSWORD);
    assert!(matches!(result, Err(ChangePasswordError::Port(PortError::Internal(_)))), "{result:?}");
    bench.store.set_failing_commits(false);
    assert!(password_is(&bench, ada.user_id, PASSWORD));
    assert_eq!(bench.store.sessions().len(), 2);
}

#[test]
fn change_command_debug_hides_both_passwords() {
    let command = ChangePasswordCommand {
        user_id: UserId::generate(),
        session: Bench::new().auth(SessionId::generate()),
        current_password: Some(SecretString::new(PASSWORD)),
        new_password: SecretString::new(NEW_PASSWORD),
    };
    let debug = format!("{command:?}");
    assert!(!debug.contains(PASSWORD) && !debug.contains(NEW_PASSWORD), "{debug}");
}

// ---------------------------------------------------------------- forgot

#[test]
fn forgot_mails_a_reset_link_valid_for_30_minutes_and_stores_only_its_hash() {
    let bench = Bench::new();
    let ada = bench.signup("Ada <Admin>", ADA);
    forgot(&bench, "  ADA@Example.com ").expect("accepted");

    let mails = bench.mailer.sent_to(ADA);
    assert_eq!(mails.len(), 2, "the signup mail, then the reset mail");
    let mail = &mails[1];
    assert_eq!(mail.subject, "Reset your password");
    let token = bench.token_mailed_to(ADA);
    let link = format!("{PUBLIC_URL}/reset-password?token={}", token.expose());
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(mail.html.contains(&format!("href=\"{link}\"")), "{}", mail.html);
    assert!(mail.text.contains("30 minutes") && mail.html.contains("30 minutes"));
    assert!(mail.text.contains("If you did not ask for this, ignore this mail"));
    assert!(mail.html.contains("Ada &lt;Admin&gt;") && !mail.html.contains("<Admin>"));

    let stored: Vec<_> =
        bench.store.account_tokens().into_iter().filter(|t| t.purpose == AccountTokenPurpose::ResetPassword).collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user_id, ada.user_id);
    assert_eq!(stored[0].hash, SecretHash::of(token.expose()));
    assert_eq!(stored[0].expires_at, bench.now() + Duration::minutes(30));
    assert!(!format!("{:?}", bench.store.account_tokens()).contains(token.expose()), "the token text is not stored");
}

#[test]
fn forgot_for_an_unknown_address_answers_the_same_and_does_nothing() {
    let bench = Bench::new();
    bench.signup("Ada", ADA);
    let before = bench.store.account_tokens();

    forgot(&bench, "nobody@example.com").expect("the same answer as for a known address");
    assert!(bench.mailer.sent_to("nobody@example.com").is_empty());
    assert_eq!(bench.mailer.sent().len(), 1, "only Ada's signup mail");
    assert_eq!(bench.store.account_tokens(), before);
}

#[test]
fn forgot_for_a_disabled_account_does_nothing() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    bench.edit_user(ada.user_id, |user| user.set_disabled(true, user.updated_at));

    forgot(&bench, ADA).expect("the same answer");
    assert_eq!(bench.mailer.sent_to(ADA).len(), 1, "only the signup mail");
    assert_eq!(reset_tokens(&bench), 0);
}

#[test]
fn forgot_validates_the_email() {
    let bench = Bench::new();
    for bad in ["not-an-email", "  "] {
        let Err(ForgotPasswordError::Validation(errors)) = forgot(&bench, bad) else {
            panic!("{bad:?} is refused");
        };
        assert_eq!(errors.errors().len(), 1);
        assert_eq!(errors.errors()[0].field, "email");
    }
}

#[test]
fn forgot_again_replaces_the_earlier_token() {
    let bench = Bench::new();
    bench.signup("Ada", ADA);
    forgot(&bench, ADA).expect("first");
    let first = bench.token_mailed_to(ADA);
    bench.clock.advance(Duration::minutes(2));
    forgot(&bench, ADA).expect("second");
    let second = bench.token_mailed_to(ADA);
    assert_ne!(first, second);
    assert_eq!(reset_tokens(&bench), 1);

    let result = reset(&bench, &first, NEW_PASSWORD);
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)), "the replaced token stops working: {result:?}");
    reset(&bench, &second, NEW_PASSWORD).expect("the newest works");
}

#[test]
fn forgot_whose_mail_fails_still_succeeds_and_commits_the_token() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    bench.mailer.set_failing(true);
    forgot(&bench, ADA).expect("a mail failure is not an error");
    assert_eq!(bench.mailer.sent_to(ADA).len(), 1, "only the signup mail went out");
    let stored = bench.store.account_tokens();
    assert!(stored.iter().any(|t| t.purpose == AccountTokenPurpose::ResetPassword && t.user_id == ada.user_id));
}

#[test]
fn forgot_reports_an_unavailable_store() {
    let bench = Bench::new();
    bench.signup("Ada", ADA);
    bench.store.set_unavailable(true);
    let result = forgot(&bench, ADA);
    assert!(matches!(result, Err(ForgotPasswordError::Port(PortError::Unavailable(_)))), "{result:?}");
    bench.store.set_unavailable(false);
    assert_eq!(bench.mailer.sent().len(), 1, "no reset mail");
}

// ---------------------------------------------------------------- reset

#[test]
fn reset_sets_the_password_ends_every_session_and_verifies_the_address() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let first = bench.login(ADA);
    let second = bench.login(ADA);
    bench.signup("Bo", "bo@example.com");
    let bos = bench.login("bo@example.com");
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);
    bench.clock.advance(Duration::minutes(10));

    reset(&bench, &token, NEW_PASSWORD).expect("resets");

    assert!(password_is(&bench, ada.user_id, NEW_PASSWORD));
    let user = bench.store.user(ada.user_id).expect("user");
    assert!(user.email_verified, "reading the mail proved the address");
    assert_eq!(user.updated_at, bench.now());
    let sessions: Vec<SessionId> = bench.store.sessions().iter().map(|s| s.id).collect();
    assert_eq!(sessions, vec![bos.session_id], "every session of Ada ended, Bo's kept");
    assert!(bench.refresh(&first.refresh_token).is_err() && bench.refresh(&second.refresh_token).is_err());
    assert_eq!(reset_tokens(&bench), 0);

    let again = reset(&bench, &token, "a third passphrase for ada");
    assert!(matches!(again, Err(ResetPasswordError::InvalidToken)), "single use: {again:?}");
    assert!(password_is(&bench, ada.user_id, NEW_PASSWORD));
    bench.login_handler().handle(login_command(ADA, NEW_PASSWORD)).expect("logs in with the new password");
}

#[test]
fn a_reset_token_expires_after_30_minutes() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);

    bench.clock.advance(Duration::minutes(30));
    let result = reset(&bench, &token, NEW_PASSWORD);
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)), "{result:?}");
    assert!(password_is(&bench, ada.user_id, PASSWORD));

    bench.clock.advance(Duration::minutes(-1));
    reset(&bench, &token, NEW_PASSWORD).expect("valid until the 30 minutes are over");
}

#[test]
fn reset_refuses_unknown_and_verification_tokens() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let verification = bench.token_mailed_to(ADA);
    for token in [SecretString::new(""), SecretString::new("made-up"), verification] {
        let result = reset(&bench, &token, NEW_PASSWORD);
        assert!(matches!(result, Err(ResetPasswordError::InvalidToken)), "{result:?}");
    }
    assert!(password_is(&bench, ada.user_id, PASSWORD));
    let verify_token = &bench.store.account_tokens()[0];
    assert!(verify_token.used_at.is_none(), "a verification token is not spent by a reset attempt");
}

#[test]
fn reset_of_a_disabled_or_deleted_account_is_invalid() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);
    bench.edit_user(ada.user_id, |user| user.set_disabled(true, user.updated_at));
    let result = reset(&bench, &token, NEW_PASSWORD);
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)), "{result:?}");
    assert!(password_is(&bench, ada.user_id, PASSWORD));

    bench.signup("Bo", "bo@example.com");
    forgot(&bench, "bo@example.com").expect("forgot");
    let bos = bench.token_mailed_to("bo@example.com");
    let bo = bench.store.users().into_iter().find(|u| u.email.as_str() == "bo@example.com").expect("bo");
    let mut unit = bench.store.begin().expect("begins");
    unit.users().delete(bo.id).expect("deletes");
    unit.commit().expect("commits");
    let result = reset(&bench, &bos, NEW_PASSWORD);
    assert!(matches!(result, Err(ResetPasswordError::InvalidToken)), "{result:?}");
}

#[test]
fn reset_validates_and_checks_the_policy_without_spending_the_token() {
    let bench = Bench::new();
    let ada = bench.signup("Ada Lovelace", ADA);
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);

    let Err(ResetPasswordError::Validation(errors)) = reset(&bench, &token, "short") else {
        panic!("expected validation errors");
    };
    assert_eq!(field_codes(&errors), vec![("new_password", "too_short")]);
    let result = reset(&bench, &token, "password123");
    assert!(matches!(result, Err(ResetPasswordError::WeakPassword(WeakPassword::Common))), "{result:?}");
    let result = reset(&bench, &token, "adalovelace1");
    assert!(matches!(result, Err(ResetPasswordError::WeakPassword(WeakPassword::Guessable { .. }))), "{result:?}");

    assert!(password_is(&bench, ada.user_id, PASSWORD));
    reset(&bench, &token, NEW_PASSWORD).expect("the token still works after refused attempts");
}

#[test]
fn a_reset_whose_commit_fails_changes_nothing_and_keeps_the_token() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let session = bench.login(ADA);
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);

    bench.store.set_failing_commits(true);
    let result = reset(&bench, &token, NEW_PASSWORD);
    assert!(matches!(result, Err(ResetPasswordError::Port(PortError::Internal(_)))), "{result:?}");
    bench.store.set_failing_commits(false);
    assert!(password_is(&bench, ada.user_id, PASSWORD));
    assert!(bench.store.sessions().iter().any(|s| s.id == session.session_id));
    reset(&bench, &token, NEW_PASSWORD).expect("the token was not spent");
}

#[test]
fn reset_does_not_verify_an_address_the_token_was_not_sent_to() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);
    bench.edit_user(ada.user_id, |user| user.email = portcullis_domain::Email::parse("ada@new.example").expect("ok"));

    reset(&bench, &token, NEW_PASSWORD).expect("the reset itself works");
    assert!(!bench.store.user(ada.user_id).expect("user").email_verified);
}

#[test]
fn reset_command_debug_hides_the_token_and_password() {
    let command = ResetPasswordCommand {
        token: SecretString::new("the-mailed-token"),
        new_password: SecretString::new(NEW_PASSWORD),
    };
    let debug = format!("{command:?}");
    assert!(!debug.contains("the-mailed-token") && !debug.contains(NEW_PASSWORD), "{debug}");
}

// ---------------------------------------------------------------- units of work

#[test]
fn change_and_reset_look_the_user_up_in_a_read_only_unit() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let session = bench.login(ADA).session_id;

    let units = bench.units_begun_by(|| change(&bench, ada.user_id, session, PASSWORD, NEW_PASSWORD).expect("changes"));
    assert_eq!(units, UnitsBegun { writes: 1, reads: 1 }, "a change reads the user, then writes once");
    let units = bench.units_begun_by(|| {
        let refused = change(&bench, ada.user_id, session, "not the password at all", PASSWORD);
        assert!(matches!(refused, Err(ChangePasswordError::InvalidCredentials)), "{refused:?}");
    });
    assert_eq!(units, UnitsBegun { writes: 0, reads: 1 }, "a refused change only reads");

    forgot(&bench, ADA).expect("forgot");
    let token = bench.token_mailed_to(ADA);
    let units = bench.units_begun_by(|| reset(&bench, &token, "yet another passphrase here").expect("resets"));
    assert_eq!(units, UnitsBegun { writes: 1, reads: 1 }, "a reset reads the token, then writes once");
    let units = bench.units_begun_by(|| {
        let refused = reset(&bench, &token, "and one more passphrase");
        assert!(matches!(refused, Err(ResetPasswordError::InvalidToken)), "{refused:?}");
    });
    assert_eq!(units, UnitsBegun { writes: 0, reads: 1 }, "a used token is found out by reading");
}

#[test]
fn a_user_without_a_password_sets_a_first_one_only_from_a_recent_sign_in() {
    let bench = Bench::new();
    let ada = bench.signed_in();
    bench.edit_user(ada.user.user_id, |user| user.password = None);
    let first = |auth| {
        bench.change_password_handler().handle(ChangePasswordCommand {
            user_id: ada.user.user_id,
            session: auth,
            current_password: None,
            new_password: SecretString::new(NEW_PASSWORD),
        })
    };
    let mut stale = bench.auth(ada.session_id);
    stale.auth_time = bench.now() - Duration::seconds(601);
    assert!(matches!(first(stale), Err(ChangePasswordError::ReauthenticationRequired)));
    assert!(bench.store.user(ada.user.user_id).expect("exists").password.is_none(), "nothing set");

    first(bench.auth(ada.session_id)).expect("a recent sign-in sets one");
    assert!(password_is(&bench, ada.user.user_id, NEW_PASSWORD));
    // From now on the current password is needed.
    let again = bench.change_password_handler().handle(ChangePasswordCommand {
        user_id: ada.user.user_id,
        session: bench.auth(ada.session_id),
        current_password: None,
        new_password: SecretString::new("yet another passphrase for ada"),
    });
    assert!(matches!(again, Err(ChangePasswordError::Validation(_))), "{again:?}");
}
