//! `AdminHandler`: listing, reading, changing and deleting users — over the in-memory store.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use portcullis_application::commands::admin::{
    AdminUseCase, DeleteUserError, GetUserError, ListUsersError, ListUsersQuery, UpdateUserCommand, UpdateUserError,
};
use portcullis_application::in_memory::{FixedClock, InMemoryStore};
use portcullis_application::ports::{Clock, UnitOfWorkFactory};
use portcullis_domain::{Session, SessionMetadata, User, UserId};
use shaku::HasComponent;

use crate::support::{TestModule, module_builder};

struct World {
    store: InMemoryStore,
    clock: FixedClock,
    module: TestModule,
}

impl World {
    fn new() -> Self {
        let (store, clock) = (InMemoryStore::new(), FixedClock::default());
        let module = module_builder(&store, &clock).build();
        Self { store, clock, module }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn handler(&self) -> Arc<dyn AdminUseCase> {
        self.module.resolve()
    }

    /// Stores a new user with these roles.
    fn add_user(&self, name: &str, email: &str, roles: &[&str]) -> User {
        crate::support::store_user(&self.store, name, email, roles, self.now())
    }

    fn admin(&self, name: &str, email: &str) -> User {
        self.add_user(name, email, &["admin", "user"])
    }

    fn disable(&self, id: UserId) {
        let mut unit = self.store.begin().expect("begins");
        let mut user = unit.users().find_by_id(id).expect("reads").expect("exists");
        user.set_disabled(true, self.now());
        unit.users().update(&user).expect("updates");
        unit.commit().expect("commits");
    }

    fn start_session(&self, user: UserId) -> Session {
        let session = Session::start(
            user,
            portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
            SessionMetadata::default(),
            self.now(),
            Duration::days(30),
        );
        let mut unit = self.store.begin().expect("begins");
        unit.sessions().add_session(&session).expect("adds");
        unit.commit().expect("commits");
        session
    }

    fn stored(&self, id: UserId) -> User {
        self.store.user(id).expect("user is stored")
    }
}

fn list(actor: UserId, search: Option<&str>, after: Option<UserId>, limit: usize) -> ListUsersQuery {
    ListUsersQuery { actor, search: search.map(str::to_owned), after, limit }
}

fn update(actor: UserId, user_id: UserId, roles: Option<&[&str]>, disabled: Option<bool>) -> UpdateUserCommand {
    UpdateUserCommand {
        actor,
        user_id,
        roles: roles.map(|roles| roles.iter().map(|role| (*role).to_owned()).collect()),
        disabled,
    }
}

fn emails(page: &portcullis_application::commands::admin::UserPage) -> Vec<&str> {
    page.items.iter().map(|item| item.user.email.as_str()).collect()
}

#[test]
fn only_an_existing_enabled_admin_may_act() {
    let world = World::new();
    world.admin("Root", "root@example.com");
    let plain = world.add_user("Pat", "pat@example.com", &["user"]);
    let fallen = world.admin("Fallen", "fallen@example.com");
    world.disable(fallen.id);
    let handler = world.handler();

    for actor in [plain.id, fallen.id, UserId::generate()] {
        assert!(matches!(handler.list_users(list(actor, None, None, 50)), Err(ListUsersError::Forbidden)));
        assert!(matches!(handler.get_user(actor, plain.id), Err(GetUserError::Forbidden)));
        assert!(matches!(
            handler.update_user(update(actor, plain.id, Some(&["admin"]), Some(true))),
            Err(UpdateUserError::Forbidden)
        ));
        assert!(matches!(
            handler.update_user(update(actor, plain.id, Some(&[]), None)),
            Err(UpdateUserError::Forbidden)
        ));
        assert!(matches!(handler.delete_user(actor, plain.id), Err(DeleteUserError::Forbidden)));
    }
    let untouched = world.stored(plain.id);
    assert_eq!(untouched.roles.names(), vec!["user"]);
    assert!(!untouched.disabled);
}

#[test]
fn stale_admin_claims_do_not_help_a_demoted_actor() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let other = world.admin("Other", "other@example.com");
    let handler = world.handler();

    handler.update_user(update(root.id, other.id, Some(&["user"]), None)).expect("demotes the other admin");
    assert!(matches!(handler.get_user(other.id, root.id), Err(GetUserError::Forbidden)));
}

#[test]
fn search_matches_email_or_name_case_insensitively() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    world.add_user("Ada Lovelace", "ada@example.com", &["user"]);
    world.add_user("Bob", "bob@sample.org", &["user"]);
    world.add_user("Grace Hopper", "grace@navy.mil", &["user"]);
    let handler = world.handler();
    let search = |text: Option<&str>| handler.list_users(list(root.id, text, None, 50)).expect("lists");

    assert_eq!(emails(&search(Some("LOVE"))), vec!["ada@example.com"]);
    assert_eq!(emails(&search(Some("SAMPLE.org"))), vec!["bob@sample.org"]);
    assert_eq!(emails(&search(Some("  hopper "))), vec!["grace@navy.mil"]);
    assert_eq!(emails(&search(Some("example"))), vec!["root@example.com", "ada@example.com"]);
    assert!(search(Some("nobody")).items.is_empty());
    for everyone in [None, Some(""), Some("   ")] {
        let page = search(everyone);
        assert_eq!(page.items.len(), 4, "{everyone:?} matches everyone");
        assert_eq!(page.next_cursor, None);
    }
}

#[test]
fn pages_follow_next_cursor_until_there_is_none() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    for n in 0..6 {
        world.add_user(&format!("User {n}"), &format!("user{n}@example.com"), &["user"]);
    }
    let handler = world.handler();
    let every_id: Vec<UserId> = world.store.users().iter().map(|user| user.id).collect();

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = None;
    loop {
        let page = handler.list_users(list(root.id, None, cursor, 3)).expect("lists");
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|item| item.user.user_id));
        match page.next_cursor {
            Some(next) => {
                assert_eq!(Some(next), page.items.last().map(|item| item.user.user_id));
                cursor = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(seen, every_id, "every user once, oldest first");

    let exact = handler.list_users(list(root.id, None, None, 7)).expect("lists");
    assert_eq!((exact.items.len(), exact.next_cursor), (7, None), "a full last page has no next cursor");
    let searched = handler.list_users(list(root.id, Some("user"), None, 4)).expect("lists");
    assert_eq!(searched.items.len(), 4);
    let rest = handler.list_users(list(root.id, Some("user"), searched.next_cursor, 4)).expect("lists");
    assert_eq!((rest.items.len(), rest.next_cursor), (2, None));
}

#[test]
fn get_user_shows_the_disabled_flag_or_not_found() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    world.disable(pat.id);
    let handler = world.handler();

    let view = handler.get_user(root.id, pat.id).expect("found");
    assert_eq!(view.user, world.stored(pat.id).info());
    assert!(view.disabled);
    assert!(!handler.get_user(root.id, root.id).expect("found").disabled);
    assert!(matches!(handler.get_user(root.id, UserId::generate()), Err(GetUserError::NotFound)));
}

#[test]
fn roles_are_validated() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    let handler = world.handler();

    for (roles, code) in [(&[][..], "required"), (&["user", "Super User"][..], "invalid"), (&[""][..], "invalid")] {
        match handler.update_user(update(root.id, pat.id, Some(roles), Some(true))) {
            Err(UpdateUserError::Validation(errors)) => {
                let codes: Vec<_> = errors.errors().iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
                assert_eq!(codes, vec![("roles", code)], "{roles:?}");
            }
            other => panic!("expected a validation error for {roles:?}, got {other:?}"),
        }
    }
    assert!(!world.stored(pat.id).disabled, "nothing changed");
    assert!(matches!(
        handler.update_user(update(root.id, UserId::generate(), Some(&["user"]), None)),
        Err(UpdateUserError::NotFound)
    ));
}

#[test]
fn an_admin_changes_roles_and_disables_users() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    let handler = world.handler();
    world.clock.advance(Duration::minutes(5));

    let view = handler.update_user(update(root.id, pat.id, Some(&["user", "billing", "user"]), None)).expect("ok");
    assert_eq!(view.user.roles, vec!["billing", "user"]);
    assert!(!view.disabled);
    let stored = world.stored(pat.id);
    assert_eq!(stored.roles.names(), vec!["billing", "user"]);
    assert_eq!(stored.updated_at, world.now());

    let view = handler.update_user(update(root.id, pat.id, None, Some(true))).expect("disables");
    assert!(view.disabled && world.stored(pat.id).disabled);
    assert_eq!(view.user.roles, vec!["billing", "user"], "roles left alone");
    let view = handler.update_user(update(root.id, pat.id, None, Some(false))).expect("re-enables");
    assert!(!view.disabled && !world.stored(pat.id).disabled);

    let view = handler.update_user(update(root.id, pat.id, None, None)).expect("no change is fine");
    assert_eq!(view.user, world.stored(pat.id).info());
}

#[test]
fn disabling_ends_every_session_of_that_user_only() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    world.start_session(pat.id);
    world.start_session(pat.id);
    let roots = world.start_session(root.id);

    world.handler().update_user(update(root.id, pat.id, None, Some(true))).expect("disables");
    let left: Vec<_> = world.store.sessions().into_iter().map(|session| session.id).collect();
    assert_eq!(left, vec![roots.id]);
}

#[test]
fn a_role_change_alone_keeps_sessions() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    world.start_session(pat.id);

    world.handler().update_user(update(root.id, pat.id, Some(&["user", "admin"]), Some(false))).expect("promotes");
    assert_eq!(world.store.sessions().len(), 1);
    assert!(world.stored(pat.id).is_active_admin());
}

#[test]
fn an_admin_cannot_disable_or_demote_themself() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    world.admin("Other", "other@example.com");
    let handler = world.handler();

    for (roles, disabled) in [(Some(&["user"][..]), None), (None, Some(true)), (Some(&["admin"][..]), Some(true))] {
        assert!(
            matches!(handler.update_user(update(root.id, root.id, roles, disabled)), Err(UpdateUserError::SelfLockout)),
            "{roles:?} {disabled:?}"
        );
    }
    let stored = world.stored(root.id);
    assert!(stored.is_active_admin());
    let view = handler.update_user(update(root.id, root.id, Some(&["admin", "ops"]), Some(false))).expect("kept admin");
    assert_eq!(view.user.roles, vec!["admin", "ops"]);
}

#[test]
fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let other = world.admin("Other", "other@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    let handler = world.handler();

    // With two admins, one may demote the other.
    handler.update_user(update(other.id, root.id, Some(&["user"]), None)).expect("demotes root");
    assert!(!world.stored(root.id).is_active_admin());

    // Now `other` is the only one left.
    for (roles, disabled) in [(Some(&["user"][..]), None), (None, Some(true))] {
        assert!(matches!(
            handler.update_user(update(other.id, other.id, roles, disabled)),
            Err(UpdateUserError::LastAdmin)
        ));
    }
    assert!(matches!(handler.delete_user(other.id, other.id), Err(DeleteUserError::LastAdmin)));
    assert!(world.stored(other.id).is_active_admin());

    // A disabled admin does not count: promoting pat and disabling them leaves other alone.
    handler.update_user(update(other.id, pat.id, Some(&["admin"]), Some(true))).expect("disabled admin");
    assert!(matches!(handler.delete_user(other.id, other.id), Err(DeleteUserError::LastAdmin)));
}

#[test]
fn deleting_removes_the_user_and_their_sessions() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    world.start_session(pat.id);
    let handler = world.handler();

    handler.delete_user(root.id, pat.id).expect("deletes");
    assert!(world.store.user(pat.id).is_none());
    assert!(world.store.sessions().is_empty());
    assert!(matches!(handler.delete_user(root.id, pat.id), Err(DeleteUserError::NotFound)));
    assert!(matches!(handler.get_user(root.id, pat.id), Err(GetUserError::NotFound)));
}

#[test]
fn with_another_admin_left_an_admin_may_delete_an_admin_or_themself() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let second = world.admin("Second", "second@example.com");
    let third = world.admin("Third", "third@example.com");
    let handler = world.handler();

    handler.delete_user(root.id, second.id).expect("deletes another admin");
    handler.delete_user(root.id, root.id).expect("deletes themself: third is still an admin");
    assert_eq!(world.store.users().into_iter().map(|user| user.id).collect::<Vec<_>>(), vec![third.id]);
    assert!(matches!(handler.delete_user(root.id, third.id), Err(DeleteUserError::Forbidden)), "root is gone");
}

#[test]
fn storage_failures_are_reported() {
    let world = World::new();
    let root = world.admin("Root", "root@example.com");
    let pat = world.add_user("Pat", "pat@example.com", &["user"]);
    world.store.set_unavailable(true);
    let handler = world.handler();

    assert!(matches!(handler.list_users(list(root.id, None, None, 10)), Err(ListUsersError::Port(_))));
    assert!(matches!(handler.get_user(root.id, root.id), Err(GetUserError::Port(_))));
    assert!(matches!(handler.update_user(update(root.id, root.id, None, None)), Err(UpdateUserError::Port(_))));
    assert!(matches!(handler.delete_user(root.id, root.id), Err(DeleteUserError::Port(_))));

    world.store.set_unavailable(false);
    world.store.set_failing_commits(true);
    assert!(matches!(handler.delete_user(root.id, pat.id), Err(DeleteUserError::Port(_))));
    assert!(matches!(handler.update_user(update(root.id, pat.id, None, Some(true))), Err(UpdateUserError::Port(_))));
    let stored = world.stored(pat.id);
    assert!(!stored.disabled, "a failed commit changes nothing");
}
