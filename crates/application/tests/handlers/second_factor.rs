//! `SecondFactorHandler` and `MfaVerifyHandler` over the in-memory fakes; codes from totp-lite.

use chrono::Duration;
use portcullis_application::{LoginError, MfaVerifyCommand, MfaVerifyError, SecondFactorError};
use portcullis_domain::{AuthMethod, OpaqueSecret, SessionMetadata};

use crate::support::{Bench, PASSWORD, login_command};

const ADA: &str = "ada@example.com";

/// The code of `secret` (base32) `offset` steps from the bench's now.
fn code(bench: &Bench, secret: &str, offset: i64) -> String {
    let bytes = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).expect("base32");
    let at = u64::try_from(bench.now().timestamp() + offset * 30).expect("after 1970");
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &bytes, at)
}

/// Ada signed in with TOTP on; her secret and recovery codes.
fn with_totp(bench: &Bench) -> (portcullis_domain::UserId, String, Vec<String>) {
    let tokens = bench.signed_in();
    let user_id = tokens.user.user_id;
    let handler = bench.second_factor_handler();
    let enrollment = handler.begin_totp(user_id).expect("begins");
    let secret = enrollment.secret.expose().to_owned();
    assert!(enrollment.otpauth_url.expose().contains(&secret));
    assert!(matches!(handler.confirm_totp(user_id, tokens.session_id, "000000"), Err(SecondFactorError::InvalidCode)));
    let codes = handler.confirm_totp(user_id, tokens.session_id, &code(bench, &secret, 0)).expect("confirms");
    (user_id, secret, codes.iter().map(|code| code.expose().to_owned()).collect())
}

fn second_step(bench: &Bench) -> OpaqueSecret {
    match bench.login_handler().handle(login_command(ADA, PASSWORD)) {
        Err(LoginError::MfaRequired { mfa_token }) => mfa_token,
        other => panic!("expected mfa_required, got {other:?}"),
    }
}

fn verify(
    bench: &Bench,
    token: &OpaqueSecret,
    code: &str,
) -> Result<portcullis_application::IssuedTokens, MfaVerifyError> {
    bench.mfa_verify_handler().verify(MfaVerifyCommand {
        mfa_token: token.clone(),
        code: code.to_owned(),
        metadata: SessionMetadata::default(),
    })
}

#[test]
fn confirming_keeps_this_session_ends_the_others_and_stores_only_hashes() {
    let bench = Bench::new();
    let other = bench.signup("Bob", "bob@example.com");
    bench.login("bob@example.com");
    let (user_id, _, codes) = with_totp(&bench);
    assert_eq!(codes.len(), 10);
    let sessions: Vec<_> = bench.store.sessions().into_iter().filter(|session| session.user_id == user_id).collect();
    assert_eq!(sessions.len(), 1, "only the confirming session is left");
    assert!(bench.store.sessions().iter().any(|session| session.user_id == other.user_id), "others' sessions stay");
    assert_eq!(bench.second_factor_handler().status(user_id).expect("status"), (true, 10));
    assert!(matches!(bench.second_factor_handler().begin_totp(user_id), Err(SecondFactorError::Conflict)));
}

#[test]
fn the_second_step_takes_each_code_once_and_dies_after_five_wrong_ones() {
    let bench = Bench::new();
    let (_, secret, recovery) = with_totp(&bench);
    let token = second_step(&bench);
    assert!(bench.store.sessions().len() == 1, "the password alone started no session");
    assert!(
        matches!(verify(&bench, &token, &code(&bench, &secret, 0)), Err(MfaVerifyError::InvalidCode)),
        "spent at confirm"
    );
    let tokens = verify(&bench, &token, &code(&bench, &secret, 1)).expect("signed in");
    let session = bench.store.sessions().into_iter().find(|s| s.id == tokens.session_id).expect("the session");
    assert!(session.methods.contains(AuthMethod::Password) && session.methods.contains(AuthMethod::OneTimeCode));
    assert!(matches!(verify(&bench, &token, &recovery[0]), Err(MfaVerifyError::Expired)), "the token is spent");

    let token = second_step(&bench);
    for _ in 0..5 {
        assert!(matches!(verify(&bench, &token, "123456"), Err(MfaVerifyError::InvalidCode)));
    }
    assert!(matches!(verify(&bench, &token, &recovery[0]), Err(MfaVerifyError::Expired)), "five wrong ones");

    let token = second_step(&bench);
    bench.clock.advance(Duration::seconds(301));
    assert!(matches!(verify(&bench, &token, &recovery[0]), Err(MfaVerifyError::Expired)), "five minutes");
}

#[test]
fn recovery_codes_work_once_and_new_ones_void_the_old() {
    let bench = Bench::new();
    let (user_id, _, recovery) = with_totp(&bench);
    let token = second_step(&bench);
    verify(&bench, &token, &recovery[0]).expect("a recovery code signs in");
    let token = second_step(&bench);
    assert!(matches!(verify(&bench, &token, &recovery[0]), Err(MfaVerifyError::InvalidCode)));
    let handler = bench.second_factor_handler();
    let renewed = handler.new_recovery_codes(user_id, &recovery[1]).expect("renewed");
    assert!(
        matches!(handler.disable_totp(user_id, &recovery[2]), Err(SecondFactorError::InvalidCode)),
        "old ones void"
    );
    handler.disable_totp(user_id, renewed[0].expose()).expect("off");
    assert_eq!(handler.status(user_id).expect("status"), (false, 0));
    bench.login(ADA);
}
