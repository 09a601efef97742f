//! `VerifyEmailHandler` and `ResendVerificationHandler` over the in-memory fakes.

use chrono::Duration;
use portcullis_application::commands::email_verification::{
    ResendOutcome, ResendVerificationCommand, ResendVerificationError, VerifyEmailCommand, VerifyEmailError,
};
use portcullis_application::commands::passwords::ForgotPasswordCommand;
use portcullis_application::ports::{PortError, UnitOfWorkFactory};
use portcullis_domain::{AccountTokenPurpose, Email, SecretHash, SecretString, UserId, UserInfo};

use crate::support::{Bench, PUBLIC_URL, token_in};

const ADA: &str = "ada@example.com";

fn verify(bench: &Bench, token: &SecretString) -> Result<UserInfo, VerifyEmailError> {
    bench.verify_email_handler().handle(VerifyEmailCommand { token: token.clone() })
}

fn resend(bench: &Bench, user_id: UserId) -> Result<ResendOutcome, ResendVerificationError> {
    bench.resend_verification_handler().handle(ResendVerificationCommand { user_id })
}

#[test]
fn the_mailed_token_verifies_the_address_once() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let token = bench.token_mailed_to(ADA);
    bench.clock.advance(Duration::hours(1));

    let info = verify(&bench, &token).expect("verifies");
    assert!(info.email_verified);
    assert_eq!(info.user_id, ada.user_id);
    let stored = bench.store.user(ada.user_id).expect("user");
    assert!(stored.email_verified);
    assert_eq!(stored.updated_at, bench.now());
    assert!(
        bench.store.account_tokens().iter().all(|t| t.purpose != AccountTokenPurpose::VerifyEmail),
        "no verification token is left"
    );

    let again = verify(&bench, &token);
    assert!(matches!(again, Err(VerifyEmailError::InvalidToken)), "single use: {again:?}");
}

#[test]
fn a_token_expires_after_24_hours() {
    let bench = Bench::new();
    bench.signup("Ada", ADA);
    bench.signup("Bo", "bo@example.com");
    let adas = bench.token_mailed_to(ADA);
    let bos = bench.token_mailed_to("bo@example.com");

    bench.clock.advance(Duration::hours(24) - Duration::seconds(1));
    verify(&bench, &adas).expect("still valid one second before the end");
    bench.clock.advance(Duration::seconds(1));
    let result = verify(&bench, &bos);
    assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "{result:?}");
    assert!(!bench.store.users().iter().find(|u| u.email.as_str() == "bo@example.com").expect("bo").email_verified);
}

#[test]
fn unknown_and_wrong_purpose_tokens_are_invalid() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    for garbage in ["", "not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let result = verify(&bench, &SecretString::new(garbage));
        assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "{garbage:?}: {result:?}");
    }

    bench.forgot_password_handler().handle(ForgotPasswordCommand { email: ADA.to_owned() }).expect("forgot");
    let reset = bench.token_mailed_to(ADA);
    let result = verify(&bench, &reset);
    assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "a reset token does not verify: {result:?}");
    assert!(!bench.store.user(ada.user_id).expect("user").email_verified);
    let token = bench.store.account_tokens().into_iter().find(|t| t.purpose == AccountTokenPurpose::ResetPassword);
    assert!(token.expect("the reset token is still there").used_at.is_none(), "and it is not spent");
}

#[test]
fn a_token_sent_to_an_address_the_account_no_longer_has_is_invalid() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let token = bench.token_mailed_to(ADA);
    bench.edit_user(ada.user_id, |user| user.email = Email::parse("ada@new.example.com").expect("valid"));

    let result = verify(&bench, &token);
    assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "{result:?}");
    assert!(!bench.store.user(ada.user_id).expect("user").email_verified);
}

#[test]
fn the_token_of_a_deleted_account_is_invalid() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let token = bench.token_mailed_to(ADA);
    let mut unit = bench.store.begin().expect("begins");
    assert!(unit.users().delete(ada.user_id).expect("deletes"));
    unit.commit().expect("commits");

    let result = verify(&bench, &token);
    assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "{result:?}");
}

#[test]
fn resend_replaces_the_earlier_token() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let first = bench.token_mailed_to(ADA);
    bench.clock.advance(Duration::minutes(5));

    assert_eq!(resend(&bench, ada.user_id).expect("resends"), ResendOutcome::Sent);
    let mails = bench.mailer.sent_to(ADA);
    assert_eq!(mails.len(), 2);
    let second = bench.token_mailed_to(ADA);
    assert_ne!(first, second);
    assert!(mails[1].text.contains(&format!("{PUBLIC_URL}/verify-email?token={}", second.expose())));

    let tokens = bench.store.account_tokens();
    assert_eq!(tokens.len(), 1, "the earlier token was deleted");
    assert_eq!(tokens[0].expires_at, bench.now() + Duration::hours(24));

    let result = verify(&bench, &first);
    assert!(matches!(result, Err(VerifyEmailError::InvalidToken)), "the replaced token stops working: {result:?}");
    assert!(verify(&bench, &second).expect("the new one works").email_verified);
}

#[test]
fn resend_to_a_verified_address_sends_nothing() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    verify(&bench, &bench.token_mailed_to(ADA)).expect("verifies");

    assert_eq!(resend(&bench, ada.user_id).expect("answers"), ResendOutcome::AlreadyVerified);
    assert_eq!(bench.mailer.sent_to(ADA).len(), 1, "only the signup mail");
    assert!(bench.store.account_tokens().is_empty());
}

#[test]
fn resend_for_a_missing_user_is_not_found() {
    let bench = Bench::new();
    let result = resend(&bench, UserId::generate());
    assert!(matches!(result, Err(ResendVerificationError::NotFound)), "{result:?}");
    assert!(bench.mailer.sent().is_empty());
}

#[test]
fn resend_whose_mail_fails_still_commits_the_new_token() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let first = bench.token_mailed_to(ADA);
    bench.mailer.set_failing(true);

    assert_eq!(resend(&bench, ada.user_id).expect("a mail failure is not an error"), ResendOutcome::Sent);
    let tokens = bench.store.account_tokens();
    assert_eq!(tokens.len(), 1);
    assert_ne!(tokens[0].hash, SecretHash::of(first.expose()), "the new token replaced the first");
}

#[test]
fn an_unavailable_store_is_a_port_error() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let token = SecretString::new(token_in(&bench.last_mail_to(ADA).text));
    bench.store.set_unavailable(true);
    assert!(matches!(verify(&bench, &token), Err(VerifyEmailError::Port(PortError::Unavailable(_)))));
    assert!(matches!(resend(&bench, ada.user_id), Err(ResendVerificationError::Port(PortError::Unavailable(_)))));
    bench.store.set_unavailable(false);
    verify(&bench, &token).expect("the token was not spent");
}

#[test]
fn a_failed_commit_leaves_the_token_usable() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let token = bench.token_mailed_to(ADA);
    bench.store.set_failing_commits(true);
    assert!(matches!(verify(&bench, &token), Err(VerifyEmailError::Port(PortError::Internal(_)))));
    bench.store.set_failing_commits(false);
    assert!(!bench.store.user(ada.user_id).expect("user").email_verified);
    verify(&bench, &token).expect("rolled back: the token still works");
}

#[test]
fn the_command_debug_hides_the_token() {
    let command = VerifyEmailCommand { token: SecretString::new("very-secret-token") };
    assert!(!format!("{command:?}").contains("very-secret-token"));
}
