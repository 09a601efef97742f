use chrono::Duration;
use portcullis_application::ports::PortError;
use portcullis_application::{UpdateProfileCommand, UpdateProfileError};
use portcullis_domain::UserId;

use crate::support::{Bench, field_codes};

const AVATAR: &str = "https://cdn.example.com/ada.png";

#[test]
fn rename_moves_updated_at_and_is_stored() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    bench.clock.advance(Duration::minutes(5));
    let info = bench
        .update_profile_handler()
        .handle(UpdateProfileCommand {
            user_id: Some(user.user_id),
            name: Some("  Ada King ".to_owned()),
            avatar_url: None,
        })
        .expect("update succeeds");
    assert_eq!(info.name, "Ada King");
    assert_eq!(info.avatar_url, None);
    assert_eq!(info.created_at, user.created_at);
    let stored = bench.store.user(user.user_id).expect("stored");
    assert_eq!(stored.info(), info);
    assert_eq!(stored.updated_at, bench.now());
    assert!(stored.updated_at > stored.created_at);
}

#[test]
fn avatar_can_be_set_then_cleared_without_touching_the_name() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    let handler = bench.update_profile_handler();

    let set = handler
        .handle(UpdateProfileCommand {
            user_id: Some(user.user_id),
            name: None,
            avatar_url: Some(Some(AVATAR.to_owned())),
        })
        .expect("set succeeds");
    assert_eq!(set.avatar_url.as_deref(), Some(AVATAR));
    assert_eq!(set.name, "Ada");
    assert_eq!(
        bench.store.user(user.user_id).and_then(|user| user.avatar_url).map(|url| url.to_string()),
        Some(AVATAR.to_owned())
    );

    bench.clock.advance(Duration::seconds(30));
    let cleared = handler
        .handle(UpdateProfileCommand { user_id: Some(user.user_id), name: None, avatar_url: Some(None) })
        .expect("clear succeeds");
    assert_eq!(cleared.avatar_url, None);
    let stored = bench.store.user(user.user_id).expect("stored");
    assert_eq!(stored.avatar_url, None);
    assert_eq!(stored.updated_at, bench.now());
}

#[test]
fn validation_errors_name_each_bad_field_and_change_nothing() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    let before = bench.store.user(user.user_id).expect("stored");
    bench.clock.advance(Duration::minutes(1));
    let result = bench.update_profile_handler().handle(UpdateProfileCommand {
        user_id: Some(user.user_id),
        name: Some(" ".to_owned()),
        avatar_url: Some(Some("ftp://example.com/ada.png".to_owned())),
    });
    let Err(UpdateProfileError::Validation(errors)) = result else {
        panic!("expected validation errors, got {result:?}");
    };
    assert_eq!(field_codes(&errors), vec![("name", "required"), ("avatar_url", "invalid_scheme")]);

    let too_long = "x".repeat(101);
    let result = bench.update_profile_handler().handle(UpdateProfileCommand {
        user_id: Some(user.user_id),
        name: Some(too_long),
        avatar_url: None,
    });
    let Err(UpdateProfileError::Validation(errors)) = result else {
        panic!("expected validation errors, got {result:?}");
    };
    assert_eq!(field_codes(&errors), vec![("name", "too_long")]);

    let after = bench.store.user(user.user_id).expect("stored");
    assert_eq!(after.info(), before.info());
    assert_eq!(after.updated_at, before.updated_at);
}

#[test]
fn an_unknown_or_missing_user_is_not_found() {
    let bench = Bench::new();
    bench.signup("Ada", "ada@example.com");
    for user_id in [Some(UserId::generate()), None] {
        let result = bench.update_profile_handler().handle(UpdateProfileCommand {
            user_id,
            name: Some("Ghost".to_owned()),
            avatar_url: None,
        });
        assert!(matches!(result, Err(UpdateProfileError::UserNotFound)), "{result:?}");
    }
    assert_eq!(bench.store.users().len(), 1);
    assert_eq!(bench.store.users()[0].name.as_str(), "Ada");
}

#[test]
fn update_reports_an_unavailable_store_as_a_port_error() {
    let bench = Bench::new();
    let user = bench.signup("Ada", "ada@example.com");
    bench.store.set_unavailable(true);
    let result = bench.update_profile_handler().handle(UpdateProfileCommand {
        user_id: Some(user.user_id),
        name: Some("Ada King".to_owned()),
        avatar_url: None,
    });
    assert!(matches!(result, Err(UpdateProfileError::Port(PortError::Unavailable(_)))), "{result:?}");
}

#[test]
fn a_reissued_access_token_carries_the_new_profile_in_the_same_session() {
    let bench = Bench::new();
    let issued = bench.signed_in();
    bench.clock.advance(Duration::minutes(1));
    let command =
        UpdateProfileCommand { user_id: Some(issued.user.user_id), name: Some("Ada King".into()), avatar_url: None };
    let (user, access) = bench
        .update_profile_handler()
        .handle_and_reissue(command, &bench.auth(issued.session_id))
        .expect("update succeeds");
    assert_eq!(user.name, "Ada King");
    let claims = bench
        .verify_access_token_handler()
        .handle(portcullis_application::VerifyAccessToken { access_token: access.token.expose() })
        .expect("the new token verifies");
    assert_eq!(claims.user.name, "Ada King", "the token names the new profile");
    assert_eq!(claims.session_id, issued.session_id, "in the same session");
}

#[test]
fn nothing_is_reissued_when_the_change_is_refused() {
    let bench = Bench::new();
    let issued = bench.signed_in();
    let command =
        UpdateProfileCommand { user_id: Some(issued.user.user_id), name: Some(String::new()), avatar_url: None };
    let refused = bench.update_profile_handler().handle_and_reissue(command, &bench.auth(issued.session_id));
    assert!(matches!(refused, Err(UpdateProfileError::Validation(_))), "{refused:?}");
}
