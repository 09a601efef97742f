use std::sync::Arc;

use chrono::Duration;
use portcullis_application::defaults::{StrengthPasswordPolicy, StrengthPasswordPolicyParameters};
use portcullis_application::ports::{PasswordPolicy, PortError, SignupPolicy};
use portcullis_application::{SignupError, SignupUseCase};
use portcullis_domain::{
    AccountTokenPurpose, Email, MinPasswordScore, PlainPassword, Role, Roles, SecretHash, UserName, WeakPassword,
};
use shaku::HasComponent;

use crate::support::{Bench, PASSWORD, PUBLIC_URL, field_codes, signup_command, token_in};

#[test]
fn signup_stores_a_user_with_role_user_and_a_lower_cased_email() {
    let bench = Bench::new();
    let info = bench
        .signup_handler()
        .handle(signup_command("  Ada Lovelace ", " Ada@Example.COM", PASSWORD, Some("https://example.com/ada.png")))
        .expect("signup succeeds");

    assert_eq!(info.name, "Ada Lovelace");
    assert_eq!(info.email, "ada@example.com");
    assert_eq!(info.roles, vec!["user"]);
    assert_eq!(info.avatar_url.as_deref(), Some("https://example.com/ada.png"));
    assert!(!info.email_verified);
    assert_eq!(info.created_at, bench.now());

    let users = bench.store.users();
    assert_eq!(users.len(), 1);
    let stored = &users[0];
    assert_eq!(stored.info(), info);
    assert!(!stored.disabled);
    assert!(stored.password.as_ref().expect("has a password").verify(&PlainPassword::parse(PASSWORD).expect("valid")));
    assert!(
        !stored
            .password
            .as_ref()
            .expect("has a password")
            .verify(&PlainPassword::parse("correct horse battery stapler").expect("valid"))
    );
    assert!(!stored.password.as_ref().expect("has a password").as_stored().contains(PASSWORD));
}

#[test]
fn signup_reports_one_error_per_bad_field() {
    let bench = Bench::new();
    let command = signup_command("   ", "not-an-email", "short", Some("javascript:alert(1)"));
    let Err(SignupError::Validation(errors)) = bench.signup_handler().handle(command) else {
        panic!("expected validation errors");
    };
    assert_eq!(
        field_codes(&errors),
        vec![("name", "required"), ("email", "invalid"), ("password", "too_short"), ("avatar_url", "invalid_scheme")]
    );
    assert!(errors.errors().iter().all(|error| !error.message.is_empty()));
    assert!(bench.store.users().is_empty());
}

#[test]
fn signup_reports_other_rules_and_only_the_bad_fields() {
    let bench = Bench::new();
    let command = signup_command("Ada\nLovelace", "  ", PASSWORD, Some("/relative/ada.png"));
    let Err(SignupError::Validation(errors)) = bench.signup_handler().handle(command) else {
        panic!("expected validation errors");
    };
    assert_eq!(
        field_codes(&errors),
        vec![("name", "invalid_characters"), ("email", "required"), ("avatar_url", "invalid")]
    );

    let too_long = "x".repeat(257);
    let Err(SignupError::Validation(errors)) =
        bench.signup_handler().handle(signup_command("Ada", "ada@example.com", &too_long, None))
    else {
        panic!("expected validation errors");
    };
    assert_eq!(field_codes(&errors), vec![("password", "too_long")]);
    assert!(bench.store.users().is_empty());
}

#[test]
fn signup_with_a_taken_email_in_another_case_is_refused() {
    let bench = Bench::new();
    let first = bench.signup("Ada", "ada@example.com");
    let result = bench.signup_handler().handle(signup_command("Impostor", "ADA@example.com ", PASSWORD, None));
    assert!(matches!(result, Err(SignupError::EmailTaken)), "{result:?}");
    let users = bench.store.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].info(), first);
}

#[test]
fn signup_with_roles_makes_an_admin() {
    let bench = Bench::new();
    let info = bench
        .signup_handler()
        .handle_with_roles(
            signup_command("Root", "root@example.com", PASSWORD, None),
            Roles::new([Role::user(), Role::admin()]),
        )
        .expect("signup succeeds");
    assert_eq!(info.roles, vec!["admin", "user"]);
    assert!(bench.store.users()[0].roles.contains(Role::ADMIN));
}

#[test]
fn signup_reports_an_unavailable_store_as_a_port_error() {
    let bench = Bench::new();
    bench.store.set_unavailable(true);
    let result = bench.signup_handler().handle(signup_command("Ada", "ada@example.com", PASSWORD, None));
    assert!(matches!(result, Err(SignupError::Port(PortError::Unavailable(_)))), "{result:?}");
    bench.store.set_unavailable(false);
    assert!(bench.store.users().is_empty());
}

#[test]
fn signup_whose_commit_fails_leaves_no_user() {
    let bench = Bench::new();
    bench.store.set_failing_commits(true);
    let result = bench.signup_handler().handle(signup_command("Ada", "ada@example.com", PASSWORD, None));
    assert!(matches!(result, Err(SignupError::Port(PortError::Internal(_)))), "{result:?}");
    bench.store.set_failing_commits(false);
    assert!(bench.store.users().is_empty());
    bench.signup("Ada", "ada@example.com");
    assert_eq!(bench.store.users().len(), 1);
}

#[test]
fn signup_command_debug_hides_the_password() {
    let command = signup_command("Ada", "ada@example.com", PASSWORD, None);
    assert!(!format!("{command:?}").contains(PASSWORD));
}

#[test]
fn signup_refuses_a_common_password_in_any_case_and_stores_nothing() {
    let bench = Bench::new();
    for common in ["password123", "PASSWORD123", "Qwertyuiop"] {
        let result = bench.signup_handler().handle(signup_command("Ada", "ada@example.com", common, None));
        let Err(SignupError::WeakPassword(weak)) = result else {
            panic!("{common} is refused as weak: {result:?}");
        };
        assert_eq!(weak, WeakPassword::Common);
        assert!(weak.to_string().contains("most common passwords"), "{weak}");
    }
    assert!(bench.store.users().is_empty());
}

#[test]
fn signup_refuses_a_password_made_of_the_users_name_or_email() {
    let bench = Bench::new();
    for derived in ["adalovelace1", "Lovelace2024", "ada@example.com1"] {
        let result = bench.signup_handler().handle(signup_command("Ada Lovelace", "ada@example.com", derived, None));
        let Err(SignupError::WeakPassword(WeakPassword::Guessable { hint, .. })) = result else {
            panic!("{derived} is refused for Ada: {result:?}");
        };
        assert!(hint.contains("name or email"), "{hint}");
    }
    assert!(bench.store.users().is_empty());
    // Someone else may use it: it says nothing about them.
    bench.signup_handler().handle(signup_command("Grace", "grace@example.com", "adalovelace1", None)).expect("allowed");
}

#[test]
fn the_policy_is_consulted_only_once_every_field_is_valid() {
    let bench = Bench::new();
    let Err(SignupError::Validation(errors)) =
        bench.signup_handler().handle(signup_command("Ada", "not-an-email", "password123", None))
    else {
        panic!("expected validation errors");
    };
    assert_eq!(field_codes(&errors), vec![("email", "invalid")]);
}

#[test]
fn the_minimum_score_is_the_policys() {
    let bench = Bench::new();
    // Eight random characters: zxcvbn score 2, below the default 3.
    let result = bench.signup_handler().handle(signup_command("Ada", "ada@example.com", "Zq7!vK2#", None));
    assert!(matches!(result, Err(SignupError::WeakPassword(WeakPassword::Guessable { score: 2, required: 3, .. }))));

    let lenient: Arc<dyn SignupUseCase> = bench
        .module_builder()
        .with_component_parameters::<StrengthPasswordPolicy>(StrengthPasswordPolicyParameters {
            min_score: MinPasswordScore::new(0).expect("valid"),
        })
        .build()
        .resolve();
    lenient.handle(signup_command("Ada", "ada@example.com", "Zq7!vK2#", None)).expect("score 0 allows it");
    let result = lenient.handle(signup_command("Bo", "bo@example.com", "password123", None));
    assert!(matches!(result, Err(SignupError::WeakPassword(WeakPassword::Common))), "the list still applies");
}

/// An embedder's own policy: refuses every password, naming the user it was asked about.
struct RefuseEverything;

impl PasswordPolicy for RefuseEverything {
    fn check(&self, _password: &PlainPassword, name: &UserName, email: &Email) -> Result<(), WeakPassword> {
        Err(WeakPassword::Guessable {
            score: 0,
            required: 4,
            hint: format!("nothing is good enough for {} <{}>", name.as_str(), email.as_str()),
        })
    }
}

#[test]
fn signup_asks_the_configured_policy_with_the_validated_name_and_email() {
    let bench = Bench::new();
    let handler: Arc<dyn SignupUseCase> = bench
        .module_builder()
        .with_component_override::<dyn PasswordPolicy>(Box::new(RefuseEverything))
        .build()
        .resolve();
    let result = handler.handle(signup_command(" Ada ", "ADA@example.com", PASSWORD, None));
    let Err(SignupError::WeakPassword(weak)) = result else {
        panic!("the custom policy refuses: {result:?}");
    };
    assert_eq!(weak.to_string(), "nothing is good enough for Ada <ada@example.com>");
    assert!(bench.store.users().is_empty());
}

#[test]
fn signup_stores_a_verification_token_by_hash_and_mails_its_link() {
    let bench = Bench::new();
    let info = bench.signup("Ada <b>&</b>", "ada@example.com");

    let mails = bench.mailer.sent_to("ada@example.com");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.to_name, "Ada <b>&</b>");
    assert_eq!(mail.subject, "Confirm your email address");
    let token = token_in(&mail.text);
    let link = format!("{PUBLIC_URL}/verify-email?token={token}");
    assert!(mail.text.contains(&link), "{}", mail.text);
    assert!(mail.html.contains(&format!("href=\"{link}\"")), "{}", mail.html);
    assert!(mail.text.contains("24 hours") && mail.html.contains("24 hours"));
    assert!(mail.text.contains("If you did not ask for this, ignore this mail"));
    assert!(mail.html.contains("Hello Ada &lt;b&gt;&amp;&lt;/b&gt;,"), "{}", mail.html);
    assert!(!mail.html.contains("<b>&</b>"));
    assert!(!format!("{mail:?}").contains(&token), "Debug of a mail hides the token");

    let stored = bench.store.account_tokens();
    assert_eq!(stored.len(), 1);
    let stored = &stored[0];
    assert_eq!(stored.hash, SecretHash::of(&token));
    assert_eq!(stored.user_id, info.user_id);
    assert_eq!(stored.purpose, AccountTokenPurpose::VerifyEmail);
    assert_eq!(stored.email, "ada@example.com");
    assert_eq!(stored.expires_at, bench.now() + Duration::hours(24));
    assert!(stored.used_at.is_none());
    assert!(!format!("{stored:?}").contains(&token), "only the hash is stored");
}

#[test]
fn signup_succeeds_and_is_committed_when_the_mail_cannot_be_sent() {
    let bench = Bench::new();
    bench.mailer.set_failing(true);
    let info = bench
        .signup_handler()
        .handle(signup_command("Ada", "ada@example.com", PASSWORD, None))
        .expect("a mail failure does not fail the signup");
    assert!(bench.mailer.sent().is_empty());
    assert_eq!(bench.store.users().len(), 1);
    assert_eq!(bench.store.account_tokens().len(), 1, "the token is committed");
    assert_eq!(bench.store.account_tokens()[0].user_id, info.user_id);
    // The mail was committed with the signup and waits in the outbox until it can go out.
    let pending = bench.store.pending_mail();
    assert_eq!(pending.iter().map(|mail| mail.to.as_str()).collect::<Vec<_>>(), ["ada@example.com"]);
    assert_eq!(bench.store.deliver_pending(), 0, "not while the mailer fails");
    bench.mailer.set_failing(false);
    assert_eq!(bench.store.deliver_pending(), 1);
    assert_eq!(bench.mailer.sent_to("ada@example.com").len(), 1);
    assert!(bench.store.pending_mail().is_empty());
}

#[test]
fn a_failed_signup_sends_no_mail_and_stores_no_token() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    let result = bench.signup_handler().handle(signup_command("Impostor", "ada@example.com", PASSWORD, None));
    assert!(matches!(result, Err(SignupError::EmailTaken)), "{result:?}");
    assert_eq!(bench.mailer.sent().len(), 1);
    assert_eq!(bench.store.account_tokens().len(), 1);

    bench.store.set_failing_commits(true);
    let result = bench.signup_handler().handle(signup_command("Bo", "bo@example.com", PASSWORD, None));
    assert!(matches!(result, Err(SignupError::Port(_))), "{result:?}");
    assert!(bench.mailer.sent_to("bo@example.com").is_empty(), "no mail for an uncommitted signup");
}

/// A team's rule: only `example.org` addresses.
struct OnlyExampleOrg;

impl SignupPolicy for OnlyExampleOrg {
    fn check(
        &self,
        signup: &portcullis_application::ValidSignup,
    ) -> Result<(), portcullis_application::ValidationErrors> {
        if signup.email.as_str().ends_with("@example.org") {
            return Ok(());
        }
        let mut errors = portcullis_application::ValidationErrors::new();
        errors.add("email", "domain_not_allowed", "only example.org");
        Err(errors)
    }
}

#[test]
fn a_signup_policy_refuses_before_anything_is_stored_and_the_operator_path_skips_it() {
    let bench = Bench::new();
    let handler: Arc<dyn SignupUseCase> =
        bench.module_builder().with_component_override::<dyn SignupPolicy>(Box::new(OnlyExampleOrg)).build().resolve();
    let refused = handler.handle(signup_command("Eve", "eve@example.com", PASSWORD, None));
    match refused {
        Err(SignupError::Validation(errors)) => {
            assert_eq!(field_codes(&errors), vec![("email", "domain_not_allowed")]);
        }
        other => panic!("expected the policy's refusal, got {other:?}"),
    }
    assert!(bench.store.users().is_empty(), "nothing stored");
    assert!(bench.mailer.sent().is_empty(), "nothing mailed");

    handler.handle(signup_command("Ada", "ada@example.org", PASSWORD, None)).expect("an allowed domain");
    handler
        .handle_with_roles(signup_command("Op", "op@example.com", PASSWORD, None), Roles::default_for_new_user())
        .expect("the operator's path (portcullis user create) is not subject to the policy");
    assert_eq!(bench.store.users().len(), 2);
}
