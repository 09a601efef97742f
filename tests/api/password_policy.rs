//! The password policy: `422 weak_password` for a common or guessable password, on signup and
//! on `portcullis user create`; `PORTCULLIS_MIN_PASSWORD_SCORE` sets the strength required,
//! and the common-password list applies at every score.

use portcullis::config::Config;
use serde_json::json;

use crate::support::cli::{command, describe, run};
use crate::support::problem::field_errors;
use crate::support::*;

/// Eight random characters: not on any list, but only about 10^8 guesses (zxcvbn score 2).
const SHORT_RANDOM: &str = "Zq7!vK2#";

/// Asserts a `422 weak_password` whose `errors` is exactly one `password` entry; returns
/// its message after checking that the detail says the same and the password is not echoed.
fn assert_weak_password(response: &TestResponse, password: &str) -> String {
    let body = assert_problem(response, 422, "weak_password");
    assert_eq!(
        field_errors(&body),
        vec![("password".to_owned(), "weak_password".to_owned())],
        "one entry, for the password: {body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap_or_default().to_owned();
    assert!(!message.is_empty(), "{body}");
    assert_eq!(body["detail"].as_str(), Some(message.as_str()), "the detail says why too: {body}");
    assert!(!response.text().contains(password), "the password is never echoed: {body}");
    message
}

backend_tests!(a_common_password_is_refused_with_weak_password, |app| async move {
    for common in ["password123", "PassWord123", "qwertyuiop", "iloveyou1", "12345678"] {
        let response = app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": common})).await;
        let message = assert_weak_password(&response, common);
        assert!(message.contains("most common passwords"), "{common}: {message}");
    }
    // Nothing was stored: the address is still free.
    app.signup("Ada", "ada@example.com").await;
});

backend_tests!(a_password_made_of_the_name_or_email_is_refused, |app| async move {
    for derived in ["adalovelace1", "AdaLovelace1", "lovelace2024"] {
        let response =
            app.signup_raw(&json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": derived})).await;
        let message = assert_weak_password(&response, derived);
        assert!(message.contains("name or email"), "{derived}: {message}");
    }
    // The same password says nothing about Grace.
    let response = app
        .signup_raw(&json!({"name": "Grace Hopper", "email": "grace@example.com", "password": "adalovelace1"}))
        .await;
    response.assert_status(201);
});

backend_tests!(a_guessable_password_is_refused_at_the_default_score, |app| async move {
    for weak in [SHORT_RANDOM, "whitehorse", "aaaaaaaaaaaa"] {
        let response = app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": weak})).await;
        let message = assert_weak_password(&response, weak);
        assert!(message.contains("too easy to guess"), "{weak}: {message}");
    }
});

backend_tests!(field_rules_come_first_then_the_policy, |app| async move {
    // A bad field answers `validation_failed` for that field alone; the weak password is judged
    // only once every field is well-formed.
    let response = app.signup_raw(&json!({"name": "Ada", "email": "not-an-email", "password": "password123"})).await;
    assert_validation(&response, &[("email", "invalid")]);
    let response = app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": "short"})).await;
    assert_validation(&response, &[("password", "too_short")]);
});

backend_tests!(the_strong_test_password_is_accepted_and_logs_in, |app| async move {
    let response =
        app.signup_raw(&json!({"name": "Ada Lovelace", "email": "ada@example.com", "password": PASSWORD})).await;
    response.assert_status(201);
    app.login("ada@example.com", PASSWORD).await;
});

backend_tests!(
    score_zero_still_refuses_the_common_list,
    config = |config| Config { min_password_score: portcullis::config::MinPasswordScore::NONE, ..config },
    |app| async move {
        let response =
            app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": "Password123"})).await;
        let message = assert_weak_password(&response, "Password123");
        assert!(message.contains("most common passwords"), "{message}");
        // What only the estimator would refuse is allowed at score 0.
        let response =
            app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": SHORT_RANDOM})).await;
        response.assert_status(201);
        app.login("ada@example.com", SHORT_RANDOM).await;
    }
);

backend_tests!(
    score_four_refuses_a_score_three_password,
    config = |config| Config { min_password_score: portcullis::config::MinPasswordScore::MAX, ..config },
    |app| async move {
        // Ten random characters: about 10^10 guesses, zxcvbn score 3.
        let response =
            app.signup_raw(&json!({"name": "Ada", "email": "ada@example.com", "password": "Zq7!vK2#mW"})).await;
        assert_weak_password(&response, "Zq7!vK2#mW");
        app.signup("Ada", "ada@example.com").await;
    }
);

backend_tests!(user_create_applies_the_same_policy, database_only, |db| async move {
    let output =
        run(command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada"]), "Password123\n").await;
    assert!(!output.status.success(), "a common password is refused: {}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(stderr.contains("weak") && stderr.contains("most common passwords"), "{}", describe(&output));
    assert!(!stderr.contains("password123"), "the password is never printed: {}", describe(&output));

    let output = run(
        command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada Lovelace"]),
        "adalovelace1\n",
    )
    .await;
    assert!(!output.status.success(), "a name-derived password is refused: {}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("name or email"), "{}", describe(&output));

    // PORTCULLIS_MIN_PASSWORD_SCORE reaches the command too.
    let mut lenient = command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada"]);
    lenient.env("PORTCULLIS_MIN_PASSWORD_SCORE", "0");
    let output = run(lenient, &format!("{SHORT_RANDOM}\n")).await;
    assert!(output.status.success(), "score 0 allows it: {}", describe(&output));

    let app = TestApp::start(db.config(), std::sync::Arc::clone(&db)).await;
    app.login("ada@example.com", SHORT_RANDOM).await;
    app.stop().await;
});
