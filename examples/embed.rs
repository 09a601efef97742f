//! Embedding Portcullis in another Rust program, without HTTP: start the service from a
//! configuration (SQLite here), then call its use cases directly — sign up, log in, verify
//! the access token. The crate used is `portcullis-service`; it pulls in no web framework.
//!
//! Run: `cargo run --example embed`

use portcullis_application::{LoginCommand, SignupCommand, VerifyAccessToken};
use portcullis_domain::{SecretString, SessionMetadata};
use portcullis_service::{Service, config::Config};

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("portcullis-embed-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let database_url = format!("sqlite://{}", dir.join("app.db").display());
    let mail_dir = dir.join("mail").display().to_string();
    let service = Service::start(&Config { database_url, mail_dir, ..Config::default() })?;
    let use_cases = service.use_cases();

    let (email, password) = ("ada@example.com", SecretString::new("Trellis-Quartz-Harbor-48"));
    let name = "Ada Lovelace".to_owned();
    let signup = SignupCommand { name, email: email.into(), password: password.clone(), avatar_url: None };
    let user = use_cases.signup.handle(signup)?;
    let metadata = SessionMetadata { user_agent: Some("embed example".into()), ip: None };
    let issued = use_cases.login.handle(LoginCommand { email: email.into(), password, metadata })?;

    // The access token verifies without touching the database, and names the same session.
    let token = issued.access_token.token.expose();
    let claims = use_cases.verify_access_token.handle(VerifyAccessToken { access_token: token })?;
    assert_eq!((claims.user.user_id, claims.session_id), (user.user_id, issued.session_id));
    println!(
        "signed up and logged in {}; the access token verifies (session {})",
        claims.user.email, claims.session_id
    );
    let tampered = format!("{token}x");
    assert!(use_cases.verify_access_token.handle(VerifyAccessToken { access_token: &tampered }).is_err());
    println!("a tampered token is refused");

    service.shutdown(std::time::Duration::from_secs(10));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
