//! `DeleteAccountHandler` over the in-memory fakes.

use portcullis_application::commands::delete_account::{DeleteAccountCommand, DeleteAccountError};
use portcullis_application::commands::passwords::ForgotPasswordCommand;
use portcullis_application::in_memory::UnitsBegun;
use portcullis_application::ports::{PortError, TokenService, UnitOfWorkFactory};
use portcullis_domain::{
    ApiKey, ApiKeyName, ApiKeySecret, NewApiKey, Role, Roles, Scopes, SecretString, UserId, UserInfo,
};

use crate::support::{Bench, PASSWORD, signup_command};

const ADA: &str = "ada@example.com";

fn delete(bench: &Bench, user_id: UserId, password: &str) -> Result<(), DeleteAccountError> {
    bench.delete_account_handler().handle(DeleteAccountCommand {
        user_id,
        session: bench.auth(portcullis_domain::SessionId::generate()),
        password: Some(SecretString::new(password)),
    })
}

fn add_api_key(bench: &Bench, user_id: UserId) {
    let secret = ApiKeySecret::from_secret(&bench.tokens.generate_secret());
    let new = NewApiKey {
        user_id,
        name: ApiKeyName::parse("ci").expect("valid"),
        scopes: Scopes::default_for_new_key(),
        expires_at: None,
    };
    let key = ApiKey::create(new, &secret, bench.now()).expect("a generated key has a prefix");
    let mut unit = bench.store.begin().expect("begins");
    unit.api_keys().add(&key).expect("adds");
    unit.commit().expect("commits");
}

fn signup_admin(bench: &Bench, name: &str, email: &str) -> UserInfo {
    bench
        .signup_handler()
        .handle_with_roles(signup_command(name, email, PASSWORD, None), Roles::new([Role::user(), Role::admin()]))
        .expect("signup succeeds")
}

#[test]
fn deleting_removes_the_user_and_everything_of_theirs() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    bench.login(ADA);
    bench.login(ADA);
    add_api_key(&bench, ada.user_id);
    bench.forgot_password_handler().handle(ForgotPasswordCommand { email: ADA.to_owned() }).expect("forgot");
    let bo = bench.signup("Bo", "bo@example.com");
    let bos = bench.login("bo@example.com");
    add_api_key(&bench, bo.user_id);
    assert_eq!(bench.store.account_tokens().iter().filter(|t| t.user_id == ada.user_id).count(), 2);

    delete(&bench, ada.user_id, PASSWORD).expect("deletes");

    assert!(bench.store.user(ada.user_id).is_none());
    assert!(bench.store.sessions().iter().all(|s| s.user_id != ada.user_id));
    assert!(bench.store.api_keys().iter().all(|k| k.user_id != ada.user_id));
    assert!(bench.store.account_tokens().iter().all(|t| t.user_id != ada.user_id));
    let live_sessions: Vec<_> = bench.store.sessions().iter().map(|s| s.id).collect();
    assert!(bench.store.refresh_tokens().iter().all(|t| live_sessions.contains(&t.session_id)));

    assert!(bench.store.user(bo.user_id).is_some(), "other users are untouched");
    assert_eq!(live_sessions, vec![bos.session_id]);
    assert_eq!(bench.store.api_keys().len(), 1);
    assert_eq!(bench.store.account_tokens().len(), 1, "Bo's verification token");
    bench.refresh(&bos.refresh_token).expect("Bo's session still works");

    let again = delete(&bench, ada.user_id, PASSWORD);
    assert!(matches!(again, Err(DeleteAccountError::NotFound)), "{again:?}");
    bench.signup("Ada again", ADA);
}

#[test]
fn a_wrong_password_deletes_nothing() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    bench.login(ADA);
    for wrong in ["not the password at all", "short", ""] {
        let result = delete(&bench, ada.user_id, wrong);
        assert!(matches!(result, Err(DeleteAccountError::InvalidCredentials)), "{wrong:?}: {result:?}");
    }
    assert!(bench.store.user(ada.user_id).is_some());
    assert_eq!(bench.store.sessions().len(), 1);
}

#[test]
fn a_missing_user_is_not_found() {
    let bench = Bench::new();
    let result = delete(&bench, UserId::generate(), PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::NotFound)), "{result:?}");
}

#[test]
fn the_last_active_admin_cannot_delete_themself() {
    let bench = Bench::new();
    let root = signup_admin(&bench, "Root", "root@example.com");
    bench.signup("Ada", ADA);

    let result = delete(&bench, root.user_id, PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::LastAdmin)), "{result:?}");
    assert!(bench.store.user(root.user_id).is_some());

    // A disabled admin does not count: still the last active one.
    let other = signup_admin(&bench, "Other", "other@example.com");
    bench.edit_user(other.user_id, |user| user.set_disabled(true, user.updated_at));
    let result = delete(&bench, root.user_id, PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::LastAdmin)), "{result:?}");

    // With a second active admin, either may go; then the remaining one may not.
    bench.edit_user(other.user_id, |user| user.set_disabled(false, user.updated_at));
    delete(&bench, root.user_id, PASSWORD).expect("another admin is left");
    let result = delete(&bench, other.user_id, PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::LastAdmin)), "{result:?}");
}

#[test]
fn a_disabled_admin_and_ordinary_users_may_delete_themselves() {
    let bench = Bench::new();
    let root = signup_admin(&bench, "Root", "root@example.com");
    let gone = signup_admin(&bench, "Gone", "gone@example.com");
    bench.edit_user(gone.user_id, |user| user.set_disabled(true, user.updated_at));
    let ada = bench.signup("Ada", ADA);

    delete(&bench, gone.user_id, PASSWORD).expect("a disabled admin is not an active one");
    delete(&bench, ada.user_id, PASSWORD).expect("an ordinary user");
    assert_eq!(bench.store.users().iter().map(|u| u.id).collect::<Vec<_>>(), vec![root.user_id]);
}

#[test]
fn storage_failures_are_port_errors_and_roll_back() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    bench.store.set_unavailable(true);
    let result = delete(&bench, ada.user_id, PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::Port(PortError::Unavailable(_)))), "{result:?}");
    bench.store.set_unavailable(false);

    bench.login(ADA);
    bench.store.set_failing_commits(true);
    let result = delete(&bench, ada.user_id, PASSWORD);
    assert!(matches!(result, Err(DeleteAccountError::Port(PortError::Internal(_)))), "{result:?}");
    bench.store.set_failing_commits(false);
    assert!(bench.store.user(ada.user_id).is_some());
    assert_eq!(bench.store.sessions().len(), 1);
    assert_eq!(bench.store.account_tokens().len(), 1);
}

#[test]
fn the_command_debug_hides_the_password() {
    let command = DeleteAccountCommand {
        user_id: UserId::generate(),
        session: Bench::new().auth(portcullis_domain::SessionId::generate()),
        password: Some(SecretString::new(PASSWORD)),
    };
    assert!(!format!("{command:?}").contains(PASSWORD));
}

#[test]
fn deleting_checks_the_password_of_a_user_read_in_a_read_only_unit() {
    let bench = Bench::new();
    let ada = bench.signup("Ada", ADA);
    let units = bench.units_begun_by(|| {
        let refused = delete(&bench, ada.user_id, "not the password at all");
        assert!(matches!(refused, Err(DeleteAccountError::InvalidCredentials)), "{refused:?}");
    });
    assert_eq!(units, UnitsBegun { writes: 0, reads: 1 }, "a refused deletion only reads");
    let units = bench.units_begun_by(|| delete(&bench, ada.user_id, PASSWORD).expect("deletes"));
    assert_eq!(units, UnitsBegun { writes: 1, reads: 1 }, "a deletion reads the user, then writes once");
}

#[test]
fn a_user_without_a_password_deletes_only_from_a_recent_sign_in() {
    let bench = Bench::new();
    bench.signup_handler().handle(signup_command("Ada", ADA, PASSWORD, None)).expect("signs up");
    let ada = bench.login(ADA);
    bench.edit_user(ada.user.user_id, |user| user.password = None);
    let mut stale = bench.auth(ada.session_id);
    stale.auth_time = bench.now() - chrono::Duration::seconds(601);
    let command = |session| DeleteAccountCommand { user_id: ada.user.user_id, session, password: None };
    let refused = bench.delete_account_handler().handle(command(stale));
    assert!(matches!(refused, Err(DeleteAccountError::ReauthenticationRequired)), "{refused:?}");
    assert!(bench.store.user(ada.user.user_id).is_some());
    bench.delete_account_handler().handle(command(bench.auth(ada.session_id))).expect("deletes");
    assert!(bench.store.user(ada.user.user_id).is_none());
}

#[test]
fn a_user_with_a_password_must_give_it() {
    let bench = Bench::new();
    bench.signup_handler().handle(signup_command("Ada", ADA, PASSWORD, None)).expect("signs up");
    let ada = bench.login(ADA);
    let command =
        DeleteAccountCommand { user_id: ada.user.user_id, session: bench.auth(ada.session_id), password: None };
    let refused = bench.delete_account_handler().handle(command);
    assert!(matches!(refused, Err(DeleteAccountError::PasswordRequired)), "{refused:?}");
}
