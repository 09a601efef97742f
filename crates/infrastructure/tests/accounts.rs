//! The account-lifecycle repositories on SQLite and on PostgreSQL: listing and searching
//! users, counting active admins, deleting a user with everything of theirs, mailed
//! single-use tokens (compare-and-set redemption) and API keys; the refresh-token rotation
//! (one statement on PostgreSQL, steps in a transaction on SQLite); linked provider
//! identities (one per provider and user, each linked once); and the housekeeping that
//! deletes expired rows and retired signing keys.
//!
//! Databases and the two-backend macro come from `support`.

use std::sync::{Arc, Barrier};

mod support;

use support::TestDb;

use chrono::{DateTime, Duration, Utc};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use portcullis_application::ports::{
    LockoutStore, PortError, RefreshRotation, RotationOutcome, UnitOfWork, UnitOfWorkFactory, UserQuery,
};
use portcullis_domain::{
    AccountToken, AccountTokenPurpose, ApiKey, ApiKeyName, ApiKeySecret, BcryptCost, Email, ExternalIdentity,
    LockoutPolicy, NewApiKey, NewUser, OpaqueSecret, PasswordHash, PlainPassword, ProviderId, ProviderIdentity,
    RefreshToken, RefreshTokenHash, Role, Roles, Scopes, SecretHash, Session, SessionMetadata, User, UserId, UserName,
};
use portcullis_infrastructure::persistence::schema::{
    account_tokens, api_keys, login_failures, refresh_tokens, sessions,
};
use portcullis_infrastructure::persistence::{
    DieselLockoutStore, DieselUnitOfWorkFactory, SweepReport, claim_due_mail, record_sent, sweep_expired,
};
use portcullis_infrastructure::tokens::{ensure_signing_key, load_key_ring, prune_retired_keys, rotate_signing_key};

impl TestDb {
    fn units(&self) -> DieselUnitOfWorkFactory {
        DieselUnitOfWorkFactory::new(self.pool(), portcullis_infrastructure::sealing::SecretSealer::cleartext())
    }

    /// Runs `work` in one unit of work and commits it.
    fn with_unit<T>(&self, work: impl FnOnce(&mut dyn UnitOfWork) -> T) -> T {
        let mut unit = self.units().begin().expect("begins");
        let result = work(&mut *unit);
        unit.commit().expect("commits");
        result
    }

    /// Stores a user with this name, email and roles.
    fn user_with(&self, name: &str, email: &str, roles: Roles) -> User {
        let user = User::create(
            NewUser {
                name: UserName::parse(name).expect("a name"),
                email: Email::parse(email).expect("an email"),
                password: Some(shared_password()),
                avatar_url: None,
                roles,
            },
            Utc::now(),
        );
        self.with_unit(|unit| unit.users().add(&user).expect("adds"));
        user
    }

    fn user(&self) -> User {
        self.user_with("Ada", &format!("{}@example.com", uuid::Uuid::new_v4().simple()), Roles::default_for_new_user())
    }

    /// How many rows of `table` belong to `user` (refresh tokens through their sessions).
    fn rows_of(&self, user: UserId) -> [i64; 5] {
        let mut conn = self.pool().get().expect("a connection");
        let user = user.to_string();
        let conn = &mut **conn;
        let family = sessions::table.filter(sessions::user_id.eq(user.clone())).select(sessions::id);
        [
            sessions::table.filter(sessions::user_id.eq(&user)).count().get_result(conn).expect("counts"),
            refresh_tokens::table
                .filter(refresh_tokens::session_id.eq_any(family))
                .count()
                .get_result(conn)
                .expect("counts"),
            account_tokens::table.filter(account_tokens::user_id.eq(&user)).count().get_result(conn).expect("counts"),
            api_keys::table.filter(api_keys::user_id.eq(&user)).count().get_result(conn).expect("counts"),
            login_failures::table.filter(login_failures::user_id.eq(&user)).count().get_result(conn).expect("counts"),
        ]
    }
}

/// One hash for every test user: bcrypt is the slow part of making a user.
fn shared_password() -> PasswordHash {
    static HASH: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let password = PlainPassword::parse("correct horse battery staple").expect("a password");
        PasswordHash::from_plain(&password, BcryptCost::new(4).expect("cost")).expect("hashes")
    })
    .clone()
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + Duration::seconds(1_767_225_600)
}

fn secret(seed: u8) -> OpaqueSecret {
    OpaqueSecret::from_random_bytes([seed; 32])
}

fn token_for(user: &User, seed: u8, purpose: AccountTokenPurpose) -> AccountToken {
    AccountToken::issue(&secret(seed), user.id, purpose, user.email.as_str(), now(), Duration::minutes(30))
}

fn key_for(user: &User, key_secret: &ApiKeySecret, scopes: &[&str], created_at: DateTime<Utc>) -> ApiKey {
    let new = NewApiKey {
        user_id: user.id,
        name: ApiKeyName::parse("ci deploy").expect("a name"),
        scopes: Scopes::parse(scopes.iter().copied()).expect("scopes"),
        expires_at: Some(created_at + Duration::days(30)),
    };
    ApiKey::create(new, key_secret, created_at).expect("a prefix")
}

fn list(db: &TestDb, search: Option<&str>, after: Option<UserId>, limit: usize) -> Vec<UserId> {
    let query = UserQuery { search: search.map(str::to_owned), after, limit };
    db.with_unit(|unit| unit.users().list(&query).expect("lists")).into_iter().map(|user| user.id).collect()
}

fn users_are_listed_in_id_order_page_by_page(db: &TestDb) {
    let mut ids: Vec<UserId> =
        (0..5).map(|i| db.user_with(&format!("User {i}"), &format!("u{i}@example.com"), Roles::default()).id).collect();
    ids.sort();
    assert_eq!(list(db, None, None, 100), ids);
    assert_eq!(list(db, None, None, 2), ids[..2]);
    assert_eq!(list(db, None, Some(ids[1]), 2), ids[2..4]);
    assert_eq!(list(db, None, Some(ids[3]), 2), ids[4..]);
    assert_eq!(list(db, None, Some(ids[4]), 2), []);
    assert_eq!(list(db, None, None, 0), []);
    // Paging and searching together.
    assert_eq!(list(db, Some("USER"), Some(ids[2]), 10), ids[3..]);
}

fn search_is_a_literal_case_insensitive_substring_of_email_or_name(db: &TestDb) {
    let ada = db.user_with("Ada Lovelace", "ada@example.com", Roles::default()).id;
    let percent = db.user_with("Bob 100% sure", "bob@example.org", Roles::default()).id;
    let underscore = db.user_with("Carol", "carol_c@example.org", Roles::default()).id;
    let backslash = db.user_with(r"Dan \ Slash", "dan@example.net", Roles::default()).id;
    let plain = db.user_with("Erin", "erin1005@example.net", Roles::default()).id;
    let sorted = |mut ids: Vec<UserId>| {
        ids.sort();
        ids
    };
    assert_eq!(list(db, Some("LOVELACE"), None, 10), [ada], "name, any case");
    assert_eq!(list(db, Some("Ada@Example.COM"), None, 10), [ada], "email, any case");
    assert_eq!(list(db, Some("example.org"), None, 10), sorted(vec![percent, underscore]));
    assert_eq!(list(db, Some("%"), None, 10), [percent], "% is literal");
    assert_eq!(list(db, Some("100%"), None, 10), [percent]);
    assert_eq!(list(db, Some("10_"), None, 10), [], "_ is literal, not any character");
    assert_eq!(list(db, Some("_"), None, 10), [underscore]);
    assert_eq!(list(db, Some(r"\"), None, 10), [backslash], "the escape character is literal too");
    assert_eq!(list(db, Some("nobody"), None, 10), []);
    assert_eq!(list(db, Some("1005"), None, 10), [plain]);
    assert_eq!(list(db, Some("e"), None, 2).len(), 2, "the limit applies to matches");
}

fn active_admins_have_the_whole_role_and_are_enabled(db: &TestDb) {
    let count = || db.with_unit(|unit| unit.users().count_active_admins().expect("counts"));
    assert_eq!(count(), 0);
    let role = |name: &str| Role::parse(name).expect("a role");
    db.user_with("Root", "root@example.com", Roles::new([role("admin")]));
    db.user_with("Both", "both@example.com", Roles::new([role("user"), role("admin"), role("billing")]));
    db.user_with("Super", "super@example.com", Roles::new([role("superadmin")]));
    db.user_with("Plural", "plural@example.com", Roles::new([role("admins"), role("admin-readonly")]));
    db.user_with("Plain", "plain@example.com", Roles::default_for_new_user());
    let mut off = db.user_with("Off", "off@example.com", Roles::new([role("admin")]));
    assert_eq!(count(), 3);
    off.set_disabled(true, Utc::now());
    db.with_unit(|unit| unit.users().update(&off).expect("updates"));
    assert_eq!(count(), 2);
}

fn deleting_a_user_deletes_everything_of_theirs(db: &TestDb) {
    let doomed = db.user();
    let other = db.user();
    let lockout = DieselLockoutStore::new(db.pool());
    for (seed, user) in [(1u8, &doomed), (2, &other)] {
        let session = Session::start(
            user.id,
            portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
            SessionMetadata::default(),
            now(),
            Duration::days(30),
        );
        let refresh = RefreshToken::issue(&secret(seed), &session, now(), Duration::days(30));
        let key = ApiKeySecret::from_secret(&secret(seed + 10));
        db.with_unit(|unit| {
            unit.sessions().add_session(&session).expect("adds a session");
            unit.sessions().add_refresh_token(&refresh).expect("adds a refresh token");
            unit.account_tokens().add(&token_for(user, seed + 20, AccountTokenPurpose::VerifyEmail)).expect("adds");
            unit.api_keys().add(&key_for(user, &key, &[], now())).expect("adds a key");
        });
        lockout.admit(user.id, &LockoutPolicy::new(5, 900), now()).expect("records a failure");
        assert_eq!(db.rows_of(user.id), [1, 1, 1, 1, 1]);
    }
    assert!(db.with_unit(|unit| unit.users().delete(doomed.id).expect("deletes")));
    assert_eq!(db.rows_of(doomed.id), [0; 5], "sessions, refresh tokens, mailed tokens, keys, lockout");
    assert!(db.with_unit(|unit| unit.users().find_by_id(doomed.id).expect("finds")).is_none());
    assert_eq!(db.rows_of(other.id), [1, 1, 1, 1, 1], "other users keep theirs");
    assert!(!db.with_unit(|unit| unit.users().delete(doomed.id).expect("deletes")), "already gone");
    // A delete that is not committed changes nothing.
    {
        let mut unit = db.units().begin().expect("begins");
        assert!(unit.users().delete(other.id).expect("deletes"));
    }
    assert_eq!(db.rows_of(other.id), [1, 1, 1, 1, 1]);
}

fn mailed_tokens_are_found_by_hash_and_used_once(db: &TestDb) {
    let user = db.user();
    let reset = token_for(&user, 1, AccountTokenPurpose::ResetPassword);
    let verify = token_for(&user, 2, AccountTokenPurpose::VerifyEmail);
    db.with_unit(|unit| {
        unit.account_tokens().add(&reset).expect("adds");
        unit.account_tokens().add(&verify).expect("adds");
    });
    let found = db.with_unit(|unit| unit.account_tokens().find(&secret(1).hash()).expect("finds"));
    assert_eq!(found.as_ref(), Some(&reset));
    assert_eq!(db.with_unit(|unit| unit.account_tokens().find(&SecretHash::of("unknown")).expect("finds")), None);

    let used_at = now() + Duration::milliseconds(1500);
    assert!(db.with_unit(|unit| unit.account_tokens().mark_used(&reset.hash, used_at).expect("marks")));
    assert!(!db.with_unit(|unit| unit.account_tokens().mark_used(&reset.hash, used_at).expect("marks")), "only once");
    assert!(!db.with_unit(|unit| unit.account_tokens().mark_used(&SecretHash::of("unknown"), used_at).expect("marks")));
    let used = db.with_unit(|unit| unit.account_tokens().find(&reset.hash).expect("finds")).expect("still stored");
    assert_eq!(used.used_at, Some(now() + Duration::seconds(1)), "stored to the second");
    assert!(!used.is_redeemable(AccountTokenPurpose::ResetPassword, now()));

    // A token that was marked in an uncommitted unit is still unused.
    {
        let mut unit = db.units().begin().expect("begins");
        assert!(unit.account_tokens().mark_used(&verify.hash, now()).expect("marks"));
    }
    let verify_found = db.with_unit(|unit| unit.account_tokens().find(&verify.hash).expect("finds"));
    assert_eq!(verify_found.and_then(|token| token.used_at), None);

    let again = token_for(&user, 3, AccountTokenPurpose::ResetPassword);
    db.with_unit(|unit| unit.account_tokens().add(&again).expect("adds"));
    let deleted = db.with_unit(|unit| {
        unit.account_tokens().delete_for_user(user.id, AccountTokenPurpose::ResetPassword).expect("deletes")
    });
    assert_eq!(deleted, 2);
    assert!(db.with_unit(|unit| unit.account_tokens().find(&verify.hash).expect("finds")).is_some(), "other purpose");
    assert!(db.with_unit(|unit| unit.account_tokens().find(&again.hash).expect("finds")).is_none());
    let other = db.user();
    let deleted = db.with_unit(|unit| {
        unit.account_tokens().delete_for_user(other.id, AccountTokenPurpose::VerifyEmail).expect("deletes")
    });
    assert_eq!(deleted, 0, "only the user's own tokens");
}

fn concurrent_redemptions_of_one_token_have_one_winner(db: &TestDb) {
    let user = db.user();
    let token = token_for(&user, 7, AccountTokenPurpose::ResetPassword);
    db.with_unit(|unit| unit.account_tokens().add(&token).expect("adds"));
    let units = Arc::new(db.units());
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let units = Arc::clone(&units);
            let barrier = Arc::clone(&barrier);
            let hash = token.hash.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut unit = units.begin().expect("begins");
                let won = unit.account_tokens().mark_used(&hash, now()).expect("marks");
                unit.commit().expect("commits");
                won
            })
        })
        .collect();
    let winners = handles.into_iter().map(|handle| handle.join().expect("joins")).filter(|won| *won).count();
    assert_eq!(winners, 1);
}

fn api_keys_are_found_by_prefix_listed_touched_and_deleted_by_their_owner(db: &TestDb) {
    let owner = db.user();
    let stranger = db.user();
    let first_secret = ApiKeySecret::from_secret(&secret(1));
    let first = key_for(&owner, &first_secret, &["introspect", "billing.read", "admin"], now());
    let second = key_for(&owner, &ApiKeySecret::from_secret(&secret(2)), &[], now() + Duration::seconds(5));
    db.with_unit(|unit| {
        // Added newest first: the listing orders by creation.
        unit.api_keys().add(&second).expect("adds");
        unit.api_keys().add(&first).expect("adds");
    });
    let keys = db.with_unit(|unit| unit.api_keys().keys_of_user(owner.id).expect("lists"));
    assert_eq!(keys, vec![first.clone(), second.clone()]);
    assert_eq!(keys[0].scopes.names(), ["admin", "billing.read", "introspect"]);
    assert_eq!(keys[1].scopes.names(), ["profile:read"]);
    assert!(db.with_unit(|unit| unit.api_keys().keys_of_user(stranger.id).expect("lists")).is_empty());

    let prefix = first_secret.prefix().expect("a prefix");
    let found = db.with_unit(|unit| unit.api_keys().find_by_prefix(prefix).expect("finds")).expect("found");
    assert_eq!(found, first);
    assert!(found.matches(&first_secret));
    assert_eq!(db.with_unit(|unit| unit.api_keys().find_by_prefix("pc_nothere").expect("finds")), None);

    let used = now() + Duration::milliseconds(61_500);
    db.with_unit(|unit| unit.api_keys().touch(first.id, used).expect("touches"));
    let touched = db.with_unit(|unit| unit.api_keys().find_by_prefix(prefix).expect("finds")).expect("found");
    assert_eq!(touched.last_used_at, Some(now() + Duration::seconds(61)));

    // Same first bytes, same prefix: the second key with it is refused.
    let mut clash_bytes = [1u8; 32];
    clash_bytes[31] = 2;
    let clash =
        key_for(&stranger, &ApiKeySecret::from_secret(&OpaqueSecret::from_random_bytes(clash_bytes)), &[], now());
    assert_eq!(clash.prefix, first.prefix);
    let mut unit = db.units().begin().expect("begins");
    let refused = unit.api_keys().add(&clash);
    assert!(matches!(refused, Err(PortError::Internal(_))), "{refused:?}");
    drop(unit);

    assert!(!db.with_unit(|unit| unit.api_keys().delete(stranger.id, first.id).expect("deletes")), "not theirs");
    assert_eq!(db.with_unit(|unit| unit.api_keys().keys_of_user(owner.id).expect("lists")).len(), 2);
    assert!(db.with_unit(|unit| unit.api_keys().delete(owner.id, first.id).expect("deletes")));
    assert!(!db.with_unit(|unit| unit.api_keys().delete(owner.id, first.id).expect("deletes")), "already gone");
    assert_eq!(db.with_unit(|unit| unit.api_keys().keys_of_user(owner.id).expect("lists")), vec![second]);
}

fn expired_rows_are_swept_and_live_ones_kept(db: &TestDb) {
    let user = db.user();
    let start = now();
    let policy_ttl = Duration::days(7);
    let old = Session::start(
        user.id,
        portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        SessionMetadata::default(),
        start - Duration::days(40),
        Duration::days(30),
    );
    let live = Session::start(
        user.id,
        portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        SessionMetadata::default(),
        start,
        Duration::days(30),
    );
    let old_token = RefreshToken::issue(&secret(1), &old, start - Duration::days(40), policy_ttl);
    let stale_token = RefreshToken::issue(&secret(2), &live, start - Duration::days(8), policy_ttl);
    let live_token = RefreshToken::issue(&secret(3), &live, start, policy_ttl);
    let mut old_mail = token_for(&user, 4, AccountTokenPurpose::ResetPassword);
    old_mail.expires_at = start - Duration::minutes(1);
    let live_mail = token_for(&user, 5, AccountTokenPurpose::VerifyEmail);
    db.with_unit(|unit| {
        for session in [&old, &live] {
            unit.sessions().add_session(session).expect("adds a session");
        }
        for token in [&old_token, &stale_token, &live_token] {
            unit.sessions().add_refresh_token(token).expect("adds a token");
        }
        unit.account_tokens().add(&old_mail).expect("adds");
        unit.account_tokens().add(&live_mail).expect("adds");
        let mail = portcullis_application::ports::OutgoingMail {
            to: "ada@example.com".into(),
            to_name: "Ada".into(),
            subject: "Hello".into(),
            text: "text".into(),
            html: "<p>html</p>".into(),
        };
        // One mail sent eight days ago, one sent yesterday, one still waiting.
        for written in [start - Duration::days(8), start - Duration::days(1), start] {
            unit.outbox().add(&mail, written).expect("adds a mail");
        }
    });
    {
        let pool = db.pool();
        let mut conn = pool.get().expect("a connection");
        let sealer = portcullis_infrastructure::sealing::SecretSealer::cleartext();
        for sent_at in [start - Duration::days(8), start - Duration::days(1)] {
            let claimed = claim_due_mail(&mut conn, &sealer, sent_at, sent_at + Duration::minutes(2))
                .expect("claims")
                .expect("a mail is due");
            assert_eq!(claimed.mail.expect("opens").subject, "Hello");
            record_sent(&mut conn, &claimed.id, sent_at).expect("records");
        }
    }

    let report = sweep_expired(&db.pool(), start).expect("sweeps");
    assert_eq!(
        report,
        SweepReport {
            sessions: 1,
            refresh_tokens: 1,
            account_tokens: 1,
            oauth_flows: 0,
            mfa_challenges: 0,
            passkey_ceremonies: 0,
            finished_mail: 1,
        }
    );
    db.with_unit(|unit| {
        assert!(unit.sessions().find_session(old.id).expect("reads").is_none());
        assert!(unit.sessions().find_session(live.id).expect("reads").is_some());
        assert!(unit.sessions().find_refresh_token(&old_token.hash).expect("reads").is_none(), "went with its session");
        assert!(unit.sessions().find_refresh_token(&stale_token.hash).expect("reads").is_none());
        assert!(unit.sessions().find_refresh_token(&live_token.hash).expect("reads").is_some());
        assert!(unit.account_tokens().find(&old_mail.hash).expect("reads").is_none());
        assert!(unit.account_tokens().find(&live_mail.hash).expect("reads").is_some());
    });
    assert_eq!(sweep_expired(&db.pool(), start).expect("sweeps again"), SweepReport::default());
}

fn retired_signing_keys_are_pruned_once_their_tokens_have_expired(db: &TestDb) {
    let pool = db.pool();
    let start = Utc::now() - Duration::hours(3);
    ensure_signing_key(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext(), start)
        .expect("first key");
    let first = load_key_ring(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext())
        .expect("ring")
        .current
        .kid()
        .to_owned();
    let second = rotate_signing_key(
        &pool,
        &portcullis_infrastructure::sealing::SecretSealer::cleartext(),
        start + Duration::hours(1),
    )
    .expect("rotates");
    let keep_for = Duration::minutes(20);
    // The second key is two hours old: the first one's tokens are long expired.
    let third = rotate_signing_key(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext(), Utc::now())
        .expect("rotates again");
    assert_eq!(prune_retired_keys(&pool, Utc::now(), keep_for).expect("prunes"), 1);
    let ring = load_key_ring(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext()).expect("ring");
    assert_eq!(ring.current.kid(), third, "the newest key signs");
    assert!(!ring.verifying.contains(&first), "the first key is gone");
    assert!(ring.verifying.contains(&second), "retired a moment ago: tokens it signed may still be valid");
    assert_eq!(prune_retired_keys(&pool, Utc::now(), keep_for).expect("prunes"), 0);
    assert_eq!(prune_retired_keys(&pool, Utc::now() + Duration::hours(1), keep_for).expect("prunes"), 1);
    let ring = load_key_ring(&pool, &portcullis_infrastructure::sealing::SecretSealer::cleartext()).expect("ring");
    assert_eq!(ring.verifying.len(), 1, "the newest key is never pruned");
    assert_eq!(ring.current.kid(), third);
}

fn a_read_unit_does_not_wait_for_an_open_writer(db: &TestDb) {
    let user = db.user();
    let mut writer = db.units().begin().expect("a writing unit holds the write lock");
    writer.users().update(&user).expect("writes");
    let started = std::time::Instant::now();
    let mut reader = db.units().begin_read().expect("a read unit begins");
    let found = reader.users().find_by_id(user.id).expect("reads");
    reader.commit().expect("a read unit commits");
    assert_eq!(found.map(|found| found.id), Some(user.id));
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
    writer.commit().expect("the writer commits");
}

fn provider_identity(provider: &str, subject: &str) -> ProviderIdentity {
    ProviderIdentity {
        provider: ProviderId::parse(provider).expect("a provider id"),
        subject: subject.into(),
        email: Some(Email::parse("ada@example.com").expect("an email")),
        email_verified: true,
        name: None,
        picture: None,
    }
}

fn identities_are_linked_once_one_per_provider_and_unlinked_by_their_owner(db: &TestDb) {
    let (ada, grace) = (db.user(), db.user());
    let google = ExternalIdentity::link(ada.id, &provider_identity("google", "g-1"), now());
    let github = ExternalIdentity::link(ada.id, &provider_identity("github", "42"), now());
    assert!(db.with_unit(|unit| unit.identities().link(&google).expect("links")));
    assert!(db.with_unit(|unit| unit.identities().link(&github).expect("links")));

    let found = db.with_unit(|unit| unit.identities().find(&google.provider, "g-1").expect("finds"));
    assert_eq!(found.as_ref(), Some(&google));
    let listed = db.with_unit(|unit| unit.identities().identities_of_user(ada.id).expect("lists"));
    assert_eq!(listed, vec![github.clone(), google.clone()], "by provider id");

    // The same identity for someone else, or a second Google identity for Ada: refused.
    let stolen = ExternalIdentity::link(grace.id, &provider_identity("google", "g-1"), now());
    let mut unit = db.units().begin().expect("begins");
    assert!(!unit.identities().link(&stolen).expect("answers"));
    drop(unit);
    let second = ExternalIdentity::link(ada.id, &provider_identity("google", "g-2"), now());
    let mut unit = db.units().begin().expect("begins");
    assert!(!unit.identities().link(&second).expect("answers"));
    drop(unit);
    let owner = db.with_unit(|unit| unit.identities().find(&google.provider, "g-1").expect("finds"));
    assert_eq!(owner.map(|identity| identity.user_id), Some(ada.id));

    assert!(!db.with_unit(|unit| unit.identities().unlink(grace.id, &google.provider).expect("unlinks")));
    assert!(db.with_unit(|unit| unit.identities().unlink(ada.id, &google.provider).expect("unlinks")));
    assert!(db.with_unit(|unit| unit.identities().find(&google.provider, "g-1").expect("finds")).is_none());

    // Deleting the user takes their identities along.
    db.with_unit(|unit| unit.users().delete(ada.id).expect("deletes"));
    assert!(db.with_unit(|unit| unit.identities().find(&github.provider, "42").expect("finds")).is_none());
}

/// A session of a new user with its first refresh token (seed `seed`).
fn session_with_token(db: &TestDb, seed: u8) -> (Session, RefreshToken) {
    let user = db.user();
    let session = Session::start(
        user.id,
        portcullis_domain::AuthMethods::only(portcullis_domain::AuthMethod::Password),
        SessionMetadata::default(),
        now(),
        Duration::days(30),
    );
    let token = RefreshToken::issue(&secret(seed), &session, now(), Duration::days(7));
    db.with_unit(|unit| {
        unit.sessions().add_session(&session).expect("adds a session");
        unit.sessions().add_refresh_token(&token).expect("adds a token");
    });
    (session, token)
}

/// Rotates `presented` to a successor made from `seed`, in an autocommit unit, touching the
/// session when `touch`.
fn rotate_touching(
    units: &DieselUnitOfWorkFactory,
    session: &Session,
    presented: &RefreshTokenHash,
    (seed, touch): (u8, bool),
    at: DateTime<Utc>,
) -> (RotationOutcome, RefreshToken) {
    let successor = RefreshToken::issue(&secret(seed), session, at, Duration::days(7));
    let rotation = RefreshRotation {
        session_id: session.id,
        presented,
        mark_used: true,
        successor: &successor,
        touch_session: touch,
        now: at,
    };
    let mut unit = units.begin_autocommit().expect("begins");
    let outcome = unit.rotate_refresh_token(&rotation).expect("rotates");
    unit.commit().expect("commits");
    (outcome, successor)
}

/// [`rotate_touching`] with the session touched.
fn rotate(
    units: &DieselUnitOfWorkFactory,
    session: &Session,
    presented: &RefreshTokenHash,
    seed: u8,
    at: DateTime<Utc>,
) -> (RotationOutcome, RefreshToken) {
    rotate_touching(units, session, presented, (seed, true), at)
}

fn a_rotation_marks_the_token_used_stores_its_successor_and_touches_the_session(db: &TestDb) {
    let (session, token) = session_with_token(db, 1);
    let later = now() + Duration::minutes(5);
    let (outcome, successor) = rotate(&db.units(), &session, &token.hash, 2, later);
    assert_eq!(outcome, RotationOutcome::Rotated { won: true });
    let (used, stored, touched) = db.with_unit(|unit| {
        let mut sessions = unit.sessions();
        (
            sessions.find_refresh_token(&token.hash).expect("reads"),
            sessions.find_refresh_token(&successor.hash).expect("reads"),
            sessions.find_session(session.id).expect("reads"),
        )
    });
    assert_eq!(used.and_then(|used| used.used_at), Some(later));
    assert_eq!(stored.map(|stored| (stored.session_id, stored.used_at)), Some((session.id, None)));
    assert_eq!(touched.map(|touched| touched.last_used_at), Some(later));

    // The same token again: already used, so this rotation does not win, but it still stores
    // a successor (a reuse within the grace window is the caller's decision).
    let (again, second) = rotate(&db.units(), &session, &token.hash, 3, later);
    assert_eq!(again, RotationOutcome::Rotated { won: false });
    assert!(db.with_unit(|unit| unit.sessions().find_refresh_token(&second.hash).expect("reads")).is_some());
}

fn a_rotation_after_the_session_ended_writes_nothing(db: &TestDb) {
    let (session, token) = session_with_token(db, 4);
    db.with_unit(|unit| unit.sessions().delete_session(session.id).expect("deletes"));
    let (outcome, successor) = rotate(&db.units(), &session, &token.hash, 5, now());
    assert_eq!(outcome, RotationOutcome::SessionGone);
    assert!(db.with_unit(|unit| unit.sessions().find_refresh_token(&successor.hash).expect("reads")).is_none());
}

fn a_rotation_that_need_not_touch_the_session_still_checks_it(db: &TestDb) {
    let (session, token) = session_with_token(db, 20);
    let (outcome, successor) = rotate_touching(&db.units(), &session, &token.hash, (21, false), now());
    assert_eq!(outcome, RotationOutcome::Rotated { won: true });
    assert!(db.with_unit(|unit| unit.sessions().find_refresh_token(&successor.hash).expect("reads")).is_some());
    db.with_unit(|unit| unit.sessions().delete_session(session.id).expect("deletes"));
    let (gone, orphan) = rotate_touching(&db.units(), &session, &successor.hash, (22, false), now());
    assert_eq!(gone, RotationOutcome::SessionGone);
    assert!(db.with_unit(|unit| unit.sessions().find_refresh_token(&orphan.hash).expect("reads")).is_none());
}

fn concurrent_rotations_of_one_token_have_one_winner(db: &TestDb) {
    let (session, token) = session_with_token(db, 6);
    let units = Arc::new(db.units());
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6u8)
        .map(|index| {
            let (units, barrier, session, hash) =
                (Arc::clone(&units), Arc::clone(&barrier), session.clone(), token.hash.clone());
            std::thread::spawn(move || {
                barrier.wait();
                rotate(&units, &session, &hash, 10 + index, now()).0
            })
        })
        .collect();
    let outcomes: Vec<_> = handles.into_iter().map(|handle| handle.join().expect("joins")).collect();
    let winners = outcomes.iter().filter(|outcome| **outcome == RotationOutcome::Rotated { won: true }).count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|outcome| matches!(outcome, RotationOutcome::Rotated { .. })), "{outcomes:?}");
}

on_both_backends!(
    identities_are_linked_once_one_per_provider_and_unlinked_by_their_owner,
    a_rotation_marks_the_token_used_stores_its_successor_and_touches_the_session,
    a_rotation_after_the_session_ended_writes_nothing,
    a_rotation_that_need_not_touch_the_session_still_checks_it,
    concurrent_rotations_of_one_token_have_one_winner,
    users_are_listed_in_id_order_page_by_page,
    search_is_a_literal_case_insensitive_substring_of_email_or_name,
    active_admins_have_the_whole_role_and_are_enabled,
    deleting_a_user_deletes_everything_of_theirs,
    mailed_tokens_are_found_by_hash_and_used_once,
    concurrent_redemptions_of_one_token_have_one_winner,
    api_keys_are_found_by_prefix_listed_touched_and_deleted_by_their_owner,
    expired_rows_are_swept_and_live_ones_kept,
    retired_signing_keys_are_pruned_once_their_tokens_have_expired,
    a_read_unit_does_not_wait_for_an_open_writer,
);
