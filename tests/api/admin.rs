//! Roles and administration: from the first admin made on the command line to disabling a
//! user; paging and search; the rules that always leave one active admin.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::cli::{command, describe, run};
use crate::support::*;

const ADMIN_PASSWORD: &str = "Copper-Meadow-Signal-27";

/// Makes `root@example.com` an admin with the CLI, starts a server, logs the admin in.
async fn bootstrap(db: &std::sync::Arc<TestDatabase>) -> (TestApp, Browser) {
    let output = run(
        command(db, &["user", "create", "--email", "root@example.com", "--name", "Root", "--admin"]),
        &format!("{ADMIN_PASSWORD}\n"),
    )
    .await;
    assert!(output.status.success(), "portcullis user create --admin: {}", describe(&output));
    let app = TestApp::start(db.config(), std::sync::Arc::clone(db)).await;
    let admin = app.login("root@example.com", ADMIN_PASSWORD).await;
    (app, admin)
}

async fn patch_user(admin: &mut Browser, id: &Value, body: Value) -> TestResponse {
    let path = format!("/api/admin/users/{}", id.as_str().expect("id"));
    admin.send_csrf(Method::PATCH, &path, Some(&body)).await
}

backend_tests!(admin_journey_from_cli_bootstrap_to_disabling_a_user, database_only, |db| async move {
    let (app, mut admin) = bootstrap(&db).await;
    let me = admin.current_user().await.json();
    assert_eq!(me["roles"], json!(["admin", "user"]));

    let email = unique_email("member");
    let (member, mut member_browser) = app.signed_in("Member", &email).await;

    // A member is not an admin.
    assert_problem(&member_browser.get("/api/admin/users").await, 403, "forbidden");
    let path = format!("/api/admin/users/{}", member["user_id"].as_str().expect("id"));
    assert_problem(&member_browser.get(&path).await, 403, "forbidden");

    // The admin sees both, oldest first, with `disabled`.
    let page = admin.get("/api/admin/users").await;
    page.assert_status(200);
    let page = page.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["items"][0]["email"], "root@example.com");
    assert_eq!(page["items"][1]["disabled"], false);
    assert!(page["next_cursor"].is_null());
    let one = admin.get(&path).await;
    one.assert_status(200);
    assert_eq!(one.json()["email"], email);

    // Disable: every session ends, login answers account_disabled.
    let disabled = patch_user(&mut admin, &member["user_id"], json!({"disabled": true})).await;
    disabled.assert_status(200);
    assert_eq!(disabled.json()["disabled"], true);
    let refused = member_browser.refresh().await;
    assert!([401, 403].contains(&refused.code()), "the next refresh is refused: {}", refused.text());
    assert_problem(&app.browser().login(&email, PASSWORD).await, 403, "account_disabled");

    // Re-enable and promote.
    let enabled =
        patch_user(&mut admin, &member["user_id"], json!({"disabled": false, "roles": ["user", "admin"]})).await;
    enabled.assert_status(200);
    assert_eq!(enabled.json()["roles"], json!(["admin", "user"]));
    let mut promoted = app.login(&email, PASSWORD).await;
    promoted.get("/api/admin/users").await.assert_status(200);

    // Delete.
    let other = app.signup("Other", &unique_email("other")).await;
    let other_path = format!("/api/admin/users/{}", other["user_id"].as_str().expect("id"));
    admin.send_csrf(Method::DELETE, &other_path, None).await.assert_status(204);
    assert_problem(&admin.get(&other_path).await, 404, "not_found");
    assert_problem(&admin.send_csrf(Method::DELETE, &other_path, None).await, 404, "not_found");
    app.stop().await;
});

backend_tests!(there_is_always_one_active_admin, database_only, |db| async move {
    let (app, mut admin) = bootstrap(&db).await;
    let root = admin.current_user().await.json();

    // Not themself, and not the last one.
    assert_problem(&patch_user(&mut admin, &root["user_id"], json!({"disabled": true})).await, 409, "conflict");
    assert_problem(&patch_user(&mut admin, &root["user_id"], json!({"roles": ["user"]})).await, 409, "conflict");
    let root_path = format!("/api/admin/users/{}", root["user_id"].as_str().expect("id"));
    assert_problem(&admin.send_csrf(Method::DELETE, &root_path, None).await, 409, "conflict");
    let leave =
        admin.send_csrf(Method::DELETE, "/api/auth/current-user", Some(&json!({"password": ADMIN_PASSWORD}))).await;
    assert_problem(&leave, 409, "conflict");

    // With a second admin, the first may go.
    let email = unique_email("second");
    let second = app.signup("Second", &email).await;
    patch_user(&mut admin, &second["user_id"], json!({"roles": ["admin"]})).await.assert_status(200);
    let mut second_admin = app.login(&email, PASSWORD).await;
    patch_user(&mut second_admin, &root["user_id"], json!({"roles": ["user"]})).await.assert_status(200);
    // The demoted admin's access token still says admin, but the server checks the database.
    assert_problem(&admin.get("/api/admin/users").await, 403, "forbidden");
    app.stop().await;
});

backend_tests!(listing_pages_and_searches, database_only, |db| async move {
    let (app, mut admin) = bootstrap(&db).await;
    for i in 0..5 {
        app.signup(&format!("Pat {i}"), &format!("pat{i}.{}@Example.com", uuid::Uuid::new_v4().simple())).await;
    }
    app.signup("100%_literal", &unique_email("literal")).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/admin/users?limit=2&cursor={cursor}"),
            None => "/api/admin/users?limit=2".to_owned(),
        };
        let page = admin.get(&path).await;
        page.assert_status(200);
        let page = page.json();
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|item| item["user_id"].as_str().expect("id").to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "every user once: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "oldest first (ids are time-ordered)");

    let pats = admin.get("/api/admin/users?q=PAT").await.json();
    assert_eq!(pats["items"].as_array().map(Vec::len), Some(5), "case-insensitive on name and email: {pats}");
    let literal = admin.get("/api/admin/users?q=%25_").await.json();
    assert_eq!(literal["items"].as_array().map(Vec::len), Some(1), "% and _ match literally: {literal}");

    assert_validation(&admin.get("/api/admin/users?limit=0").await, &[("limit", "out_of_range")]);
    assert_validation(&admin.get("/api/admin/users?limit=101").await, &[("limit", "out_of_range")]);
    assert_validation(&admin.get("/api/admin/users?cursor=nope").await, &[("cursor", "invalid")]);
    let bad_roles = patch_user(&mut admin, &json!(seen[1]), json!({"roles": ["Bad Role"]})).await;
    assert_validation(&bad_roles, &[("roles", "invalid")]);
    let typed = patch_user(&mut admin, &json!(seen[1]), json!({"disabled": "yes"})).await;
    assert_validation(&typed, &[("disabled", "invalid_type")]);
    assert_problem(&admin.get("/api/admin/users/not-a-uuid").await, 404, "not_found");
    app.stop().await;
});

backend_tests!(an_admin_key_reaches_the_admin_api_only_while_its_owner_is_admin, database_only, |db| async move {
    let (app, mut admin) = bootstrap(&db).await;
    let created =
        admin.send_csrf(Method::POST, "/api/auth/api-keys", Some(&json!({"name": "ops", "scopes": ["admin"]}))).await;
    created.assert_status(201);
    let key = created.json()["key"].as_str().expect("key").to_owned();
    let listed = app.send(app.request(Method::GET, "/api/admin/users").header("X-API-Key", &key)).await;
    listed.assert_status(200);

    // A member's key with scope admin is refused.
    let (_, mut member) = app.signed_in("Mo", &unique_email("mo")).await;
    let member_key = member
        .send_csrf(Method::POST, "/api/auth/api-keys", Some(&json!({"name": "sneaky", "scopes": ["admin"]})))
        .await
        .json()["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let refused = app.send(app.request(Method::GET, "/api/admin/users").header("X-API-Key", &member_key)).await;
    assert_problem(&refused, 403, "forbidden");
    app.stop().await;
});

backend_tests!(cli_lists_users_and_sets_roles, database_only, |db| async move {
    let (app, _) = bootstrap(&db).await;
    let email = unique_email("cli");
    app.signup("Cli User", &email).await;

    let output = run(command(&db, &["user", "list"]), "").await;
    assert!(output.status.success(), "portcullis user list: {}", describe(&output));
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(listing.contains("root@example.com") && listing.contains(&email), "{listing}");

    let output = run(command(&db, &["user", "set-roles", "--email", &email, "--roles", "admin,user"]), "").await;
    assert!(output.status.success(), "portcullis user set-roles: {}", describe(&output));
    let mut promoted = app.login(&email, PASSWORD).await;
    assert_eq!(promoted.current_user().await.json()["roles"], json!(["admin", "user"]));

    let output =
        run(command(&db, &["user", "set-roles", "--email", "nobody@example.com", "--roles", "user"]), "").await;
    assert!(!output.status.success(), "an unknown user is an error: {}", describe(&output));
    let output = run(command(&db, &["user", "set-roles", "--email", &email, "--roles", "Bad Role"]), "").await;
    assert!(!output.status.success(), "a bad role is an error: {}", describe(&output));
    app.stop().await;
});
