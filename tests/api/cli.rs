//! The `portcullis` binary: `migrate`, `user create`, `serve` (and serving by default),
//! `--help`, and a bad configuration value naming its variable.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::cli::{KillOnDrop, command, describe, free_port, run};
use crate::support::*;

async fn start_on(database: &std::sync::Arc<TestDatabase>) -> TestApp {
    TestApp::start(database.config(), std::sync::Arc::clone(database)).await
}

backend_tests!(migrate_applies_the_migrations_and_can_run_twice, database_only, |db| async move {
    let output = run(command(&db, &["migrate"]), "").await;
    assert!(output.status.success(), "portcullis migrate: {}", describe(&output));
    let output = run(command(&db, &["migrate"]), "").await;
    assert!(output.status.success(), "portcullis migrate again: {}", describe(&output));

    let app = start_on(&db).await;
    app.signup("Ada", "ada@example.com").await;
    app.stop().await;
});

backend_tests!(a_missing_or_empty_database_is_set_up_only_when_allowed, database_only, |db| async move {
    let refuse = |db: &TestDatabase| {
        let mut migrate = command(db, &["migrate"]);
        migrate.env("PORTCULLIS_DATABASE_CREATE", "false");
        migrate
    };
    // Nothing there yet: refused, naming the variable, and nothing is made.
    let output = run(refuse(&db), "").await;
    assert!(!output.status.success(), "refused: {}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORTCULLIS_DATABASE_CREATE=false"), "{stderr}");
    if db.backend() == Backend::Sqlite {
        let file = db.url().strip_prefix("sqlite://").expect("a sqlite URL").to_owned();
        assert!(!std::path::Path::new(&file).exists(), "no empty file was made");
    }
    // The default makes it (the zero-setup start), and then `false` is happy with it.
    let output = run(command(&db, &["migrate"]), "").await;
    assert!(output.status.success(), "created: {}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("setting up a new one"), "said loudly: {stderr}");
    let output = run(refuse(&db), "").await;
    assert!(output.status.success(), "an existing database opens: {}", describe(&output));

    if db.backend() == Backend::Sqlite {
        // The file deleted, its -wal left beside it: not silently replaced, even by default.
        let app = start_on(&db).await;
        app.signup("Ada", "ada@example.com").await;
        let file = db.url().strip_prefix("sqlite://").expect("a sqlite URL").to_owned();
        std::fs::remove_file(&file).expect("deletes the database file");
        app.stop().await;
        let wal = format!("{file}-wal");
        if !std::path::Path::new(&wal).exists() {
            std::fs::write(&wal, b"").expect("a leftover -wal");
        }
        let output = run(command(&db, &["migrate"]), "").await;
        assert!(!output.status.success(), "refused: {}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("deleted or") && stderr.contains("-wal"), "{stderr}");
        assert!(!std::path::Path::new(&file).exists(), "no new empty database");
    }
});

backend_tests!(user_create_reads_the_password_from_stdin, database_only, |db| async move {
    let password = "Lantern-Orchid-Velvet-93";
    let output = run(command(&db, &["migrate"]), "").await;
    assert!(output.status.success(), "portcullis migrate: {}", describe(&output));
    let output = run(
        command(&db, &["user", "create", "--email", "Grace@Example.com", "--name", "Grace Hopper"]),
        &format!("{password}\n"),
    )
    .await;
    assert!(output.status.success(), "portcullis user create: {}", describe(&output));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(password), "the password is never printed");
    assert!(!String::from_utf8_lossy(&output.stderr).contains(password), "the password is never printed");

    let app = start_on(&db).await;
    let response = app.browser().login("grace@example.com", password).await;
    response.assert_status(200);
    let user = response.json()["user"].clone();
    assert_eq!(user["name"], "Grace Hopper");
    assert_eq!(user["email"], "grace@example.com");
    assert_eq!(user["roles"], json!(["user"]));
    app.stop().await;
});

backend_tests!(user_create_admin_on_a_fresh_database_strips_a_crlf_line_ending, database_only, |db| async move {
    let password = "Copper-Meadow-Signal-27";
    let output = run(
        command(&db, &["user", "create", "--email", "root@example.com", "--name", "Root", "--admin"]),
        &format!("{password}\r\nsecond line is ignored\n"),
    )
    .await;
    assert!(output.status.success(), "portcullis user create --admin: {}", describe(&output));

    let app = start_on(&db).await;
    let response = app.browser().login("root@example.com", password).await;
    response.assert_status(200);
    let roles = response.json()["user"]["roles"].clone();
    assert!(roles.as_array().is_some_and(|r| r.contains(&json!("admin"))), "an admin: {roles}");
    let claims = jwt::verify(&app, &app.login("root@example.com", password).await.access_token()).await;
    assert!(claims["roles"].as_array().is_some_and(|r| r.contains(&json!("admin"))), "{claims}");
    app.stop().await;
});

backend_tests!(user_create_refuses_bad_input, database_only, |db| async move {
    let output = run(command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada"]), "short\n").await;
    assert!(!output.status.success(), "a too-short password is refused: {}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).to_lowercase().contains("password"), "{}", describe(&output));

    let output =
        run(command(&db, &["user", "create", "--email", "not-an-email", "--name", "Ada"]), &format!("{PASSWORD}\n"))
            .await;
    assert!(!output.status.success(), "a bad email is refused: {}", describe(&output));
    assert!(String::from_utf8_lossy(&output.stderr).to_lowercase().contains("email"), "{}", describe(&output));

    let output =
        run(command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada"]), &format!("{PASSWORD}\n"))
            .await;
    assert!(output.status.success(), "{}", describe(&output));
    let output =
        run(command(&db, &["user", "create", "--email", "ada@example.com", "--name", "Ada"]), &format!("{PASSWORD}\n"))
            .await;
    assert!(!output.status.success(), "a taken email is refused: {}", describe(&output));

    let output = run(command(&db, &["user", "create", "--email", "bo@example.com", "--name", "Bo"]), "").await;
    assert!(!output.status.success(), "no password on stdin is refused: {}", describe(&output));
});

backend_tests!(serves_http_with_and_without_the_serve_subcommand, database_only, |db| async move {
    for args in [&["serve"][..], &[][..]] {
        let port = free_port();
        let child = command(&db, args)
            .env("PORTCULLIS_BIND", format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("portcullis starts");
        let mut child = KillOnDrop(child);
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let started = Instant::now();
        loop {
            let live = client.get(format!("http://127.0.0.1:{port}/health/live")).send().await;
            if live.is_ok_and(|response| response.status() == 200) {
                break;
            }
            if let Ok(Some(status)) = child.0.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("portcullis {args:?} exited early with {status}: {stderr}");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "portcullis {args:?} serves within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let response = client
            .post(format!("http://127.0.0.1:{port}/api/auth/signup"))
            .json(&json!({"name": "Ada", "email": unique_email("ada"), "password": PASSWORD}))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 201, "portcullis {args:?} serves the API");
        drop(child);
    }
});

#[tokio::test]
async fn help_lists_the_subcommands() {
    let Some(db) = TestDatabase::create(Backend::Sqlite) else { return };
    let output = run(command(&db, &["--help"]), "").await;
    assert!(output.status.success(), "{}", describe(&output));
    let help = String::from_utf8_lossy(&output.stdout).to_lowercase();
    for word in ["serve", "migrate", "user"] {
        assert!(help.contains(word), "--help mentions {word}: {help}");
    }
    let output = run(command(&db, &["user", "create", "--help"]), "").await;
    assert!(output.status.success(), "{}", describe(&output));
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--email", "--name", "--admin"] {
        assert!(help.contains(flag), "user create --help mentions {flag}: {help}");
    }
    // Every subcommand says what it does and which variables matter.
    for args in [
        &["serve"][..],
        &["migrate"],
        &["user", "create"],
        &["user", "list"],
        &["user", "set-roles"],
        &["keys", "rotate"],
        &["config", "check"],
    ] {
        let mut with_help = args.to_vec();
        with_help.push("--help");
        let output = run(command(&db, &with_help), "").await;
        assert!(output.status.success(), "{args:?} --help: {}", describe(&output));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("PORTCULLIS_"), "{args:?} --help names its variables: {help}");
        assert!(help.lines().next().is_some_and(|first| first.len() > 20), "{args:?} --help says what it does: {help}");
    }
}

#[tokio::test]
async fn a_bad_configuration_value_stops_start_up_naming_the_variable() {
    let Some(db) = TestDatabase::create(Backend::Sqlite) else { return };
    for (variable, value) in [("PORTCULLIS_BCRYPT_COST", "3"), ("PORTCULLIS_COOKIE_SECURE", "maybe")] {
        let mut command = command(&db, &["migrate"]);
        command.env(variable, value);
        let output = run(command, "").await;
        assert!(!output.status.success(), "{variable}={value} stops start-up: {}", describe(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(variable),
            "the message names {variable}: {}",
            describe(&output)
        );
    }
}

#[tokio::test]
async fn config_check_lists_each_bad_provider_and_hides_client_secrets() {
    let Some(db) = TestDatabase::create(Backend::Sqlite) else { return };
    let mut check = command(&db, &["config", "check"]);
    check
        .env("PORTCULLIS_PROVIDERS", "github,corp,Bad-Id")
        .env("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "gh-client")
        .env("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "gh-very-secret-value")
        .env("PORTCULLIS_PROVIDER_CORP_CLIENT_ID", "corp-client")
        .env("PORTCULLIS_PROVIDER_CORP_CLIENT_SECRET", "corp-very-secret-value");
    let output = run(check, "").await;
    assert_eq!(output.status.code(), Some(2), "a bad provider is a problem: {}", describe(&output));
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(stderr.contains("PORTCULLIS_PROVIDER_CORP_ISSUER") && stderr.contains("'Bad-Id'"), "{stderr}");
    assert!(stdout.contains("PORTCULLIS_PROVIDERS=github\n"), "the good one is kept: {stdout}");
    assert!(stdout.contains("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET=[redacted]"), "{stdout}");
    assert!(!stdout.contains("very-secret") && !stderr.contains("very-secret"), "{}", describe(&output));

    // The same configuration still serves: the good provider works, the bad ones are left out.
    let config = portcullis::config::Config {
        providers: portcullis_service::providers_config::read_providers(
            None,
            &[
                ("PORTCULLIS_PROVIDERS", "github,corp"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_ID", "gh-client"),
                ("PORTCULLIS_PROVIDER_GITHUB_CLIENT_SECRET", "gh-very-secret-value"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        ),
        ..db.config()
    };
    let app = TestApp::start(config, std::sync::Arc::new(db)).await;
    let listed = app.get("/api/auth/providers").await;
    assert_eq!(listed.json(), serde_json::json!([{"id": "github", "name": "GitHub"}]));
    assert_problem(&app.get("/api/auth/oauth/corp/authorize").await, 404, "not_found");
    app.stop().await;
}

#[tokio::test]
async fn user_create_asks_for_the_password_without_echo_on_a_terminal() {
    let Some(db) = TestDatabase::create(Backend::Sqlite) else { return };
    // `script` (util-linux, on every Debian) gives the command a terminal of its own.
    let inner = command(&db, &["user", "create", "--email", "tty@example.com", "--name", "Tty"]);
    let program = inner.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = inner.get_args().map(|arg| format!("'{}'", arg.to_string_lossy())).collect();
    // The password is typed once the prompt can be showing (typed earlier, a terminal echoes
    // it before the program turns echo off).
    let pipeline =
        format!("(sleep 2; printf '%s\\r' '{PASSWORD}') | script -qec \"{program} {}\" /dev/null", args.join(" "));
    let mut outer = std::process::Command::new("sh");
    outer.args(["-c", &pipeline]).current_dir(db.dir());
    for (key, value) in inner.get_envs() {
        match value {
            Some(value) => outer.env(key, value),
            None => outer.env_remove(key),
        };
    }
    let output = run(outer, "").await;
    let transcript = String::from_utf8_lossy(&output.stdout);
    assert!(transcript.contains("Password for the new user:"), "it asks: {transcript}");
    assert!(transcript.contains("created user"), "{}", describe(&output));
    assert!(!transcript.contains(PASSWORD), "the password is not echoed: {transcript}");
}

#[tokio::test]
async fn config_check_says_whether_passkeys_are_on_and_why_not() {
    let Some(db) = TestDatabase::create(Backend::Sqlite) else { return };
    let on = run(command(&db, &["config", "check"]), "").await;
    assert_eq!(on.status.code(), Some(0), "{}", describe(&on));
    let stdout = String::from_utf8_lossy(&on.stdout);
    assert!(stdout.contains("# passkeys: on, relying party id localhost, origin http://localhost:8080"), "{stdout}");

    let mut ip = command(&db, &["config", "check"]);
    ip.env("PORTCULLIS_PUBLIC_URL", "http://127.0.0.1:8080");
    let off = run(ip, "").await;
    assert_eq!(off.status.code(), Some(0), "passkeys off is a choice, not an error: {}", describe(&off));
    let stdout = String::from_utf8_lossy(&off.stdout);
    assert!(stdout.contains("# passkeys are off: the public URL's host 127.0.0.1 is an IP address"), "{stdout}");
}
