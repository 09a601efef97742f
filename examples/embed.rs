//! Embedding Portcullis in another Rust program, without HTTP: build the infrastructure on
//! SQLite, then call the application crate's handlers directly — sign up, log in, verify the
//! access token. No actix, no server.
//!
//! Run: `cargo run --example embed`

use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{Duration, Utc};
use portcullis_application::ports::{
    InlinePasswordHasher, StrengthPasswordPolicy, SystemClock, TokenService, UnitOfWorkFactory,
};
use portcullis_application::{
    GetCurrentUser, GetCurrentUserHandler, GetCurrentUserUseCase, LoginCommand, LoginHandler, LoginUseCase,
    SessionPolicy, SignupCommand, SignupHandler, SignupUseCase, TemplatedAccountMail,
};
use portcullis_domain::{BcryptCost, SecretString, SessionMetadata};
use portcullis_infrastructure::mail::{MailSettings, MailTransport, QueuedMailer, build_mailer};
use portcullis_infrastructure::persistence::{DieselUnitOfWorkFactory, PoolSettings, connect, run_migrations};
use portcullis_infrastructure::tokens::{JwtTokenService, TokenSettings, ensure_signing_key, load_key_ring};

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("portcullis-embed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;

    // Infrastructure: a SQLite database with the schema and a signing key, a token service,
    // a password hasher, and mail written as .eml files.
    let pool = connect(&format!("sqlite://{}", dir.join("app.db").display()), PoolSettings::default())?;
    run_migrations(&pool)?;
    ensure_signing_key(&pool, Utc::now())?;
    let keys = Arc::new(RwLock::new(Arc::new(load_key_ring(&pool)?)));
    let settings = TokenSettings {
        issuer: "https://auth.example.com".into(),
        audience: "my-app".into(),
        access_ttl: Duration::minutes(15),
    };
    let tokens: Arc<dyn TokenService> = Arc::new(JwtTokenService::new(keys, settings));
    let units: Arc<dyn UnitOfWorkFactory> = Arc::new(DieselUnitOfWorkFactory::new(pool));
    let hasher = Arc::new(InlinePasswordHasher::new(BcryptCost::new(10)?)?);
    let clock = Arc::new(SystemClock);
    let mail = build_mailer(&MailSettings {
        from: "My App <no-reply@example.com>".into(),
        transport: MailTransport::Directory(dir.join("mail")),
    })?;
    let account_mail =
        Arc::new(TemplatedAccountMail::new(Arc::new(QueuedMailer::new(mail.clone())), "https://auth.example.com"));

    // The application layer: plain structs, synchronous calls.
    let signup = SignupHandler::new(
        Arc::clone(&units),
        hasher.clone(),
        Arc::new(StrengthPasswordPolicy::default()),
        clock.clone(),
        Arc::clone(&tokens),
        account_mail,
    );
    let login = LoginHandler::new(Arc::clone(&units), hasher, Arc::clone(&tokens), clock, SessionPolicy::default());
    let current_user = GetCurrentUserHandler::new(Arc::clone(&tokens));

    let password = "Trellis-Quartz-Harbor-48";
    let user = signup.handle(SignupCommand {
        name: "Ada Lovelace".into(),
        email: "ada@example.com".into(),
        password: SecretString::new(password),
        avatar_url: None,
    })?;
    println!("signed up {} <{}> with roles {:?}", user.user_id, user.email, user.roles);

    let issued = login.handle(LoginCommand {
        email: "ADA@example.com".into(),
        password: SecretString::new(password),
        metadata: SessionMetadata { user_agent: Some("embed example".into()), ip: None },
    })?;
    println!("logged in: session {}, access token valid for {} s", issued.session_id, issued.access_token.expires_in);

    let claims = current_user
        .handle(GetCurrentUser { access_token: issued.access_token.token.expose() })
        .context("the token we were just given verifies")?;
    assert_eq!(claims.user.user_id, user.user_id);
    assert_eq!(claims.session_id, issued.session_id);
    println!("verified the access token: it names {} in session {}", claims.user.email, claims.session_id);

    let tampered = format!("{}x", issued.access_token.token.expose());
    assert!(current_user.handle(GetCurrentUser { access_token: &tampered }).is_err());
    println!("a tampered token is refused");

    mail.shutdown(StdDuration::from_secs(10));
    let mails = std::fs::read_dir(dir.join("mail"))?.count();
    println!("{mails} verification mail written to {}", dir.join("mail").display());
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
