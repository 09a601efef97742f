use chrono::Duration;
use portcullis_application::{VerifyAccessToken, VerifyAccessTokenError};

use crate::support::Bench;

#[test]
fn a_valid_token_gives_the_user_and_session() {
    let bench = Bench::new();
    let login = bench.signed_in();
    bench.clock.advance(Duration::seconds(899));
    let claims = bench
        .verify_access_token_handler()
        .handle(VerifyAccessToken { access_token: login.access_token.token.expose() })
        .expect("valid until its expiry");
    assert_eq!(claims.user, login.user);
    assert_eq!(claims.user.email, "ada@example.com");
    assert_eq!(claims.user.roles, vec!["user"]);
    assert_eq!(claims.session_id, login.session_id);
    assert_eq!(claims.expires_at, login.access_token.expires_at);
}

#[test]
fn an_expired_token_is_reported_as_expired() {
    let bench = Bench::new();
    let login = bench.signed_in();
    bench.clock.advance(Duration::seconds(900));
    let result = bench
        .verify_access_token_handler()
        .handle(VerifyAccessToken { access_token: login.access_token.token.expose() });
    assert_eq!(result, Err(VerifyAccessTokenError::Expired));
}

#[test]
fn garbage_is_unauthorized() {
    let bench = Bench::new();
    let login = bench.signed_in();
    let real = login.access_token.token.expose();
    let truncated = &real[..real.len() / 2];
    let foreign = real.replacen("fake.", "eyJhbGciOiJFZERTQSJ9.", 1);
    for token in ["", "garbage", "fake.", truncated, &foreign] {
        let result = bench.verify_access_token_handler().handle(VerifyAccessToken { access_token: token });
        assert_eq!(result, Err(VerifyAccessTokenError::Unauthorized), "{token}");
    }
}
