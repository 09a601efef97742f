//! Extending Portcullis with a team's own rules, outside the Portcullis crates, plugged into
//! the shaku module:
//!
//! - a signup policy: only addresses of allowed domains may sign up (`422 validation_failed`,
//!   code `domain_not_allowed` on `email` otherwise);
//! - extra access-token claims: the user's tenant (from their email domain) and a plan.
//!
//! It starts the real service with both plugged in (on a throw-away SQLite database), then
//! talks HTTP to it, and checks each outcome (it exits non-zero when one is not as promised).
//! Warnings are logged to stderr, so the one the claims extension causes shows.
//! Run: `cargo run --example extend_domain`

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::config::Config;
use portcullis_application::ValidSignup;
use portcullis_application::ValidationErrors;
use portcullis_application::ports::{ClaimsExtension, SignupPolicy};
use portcullis_domain::UserInfo;
use serde_json::{Map, Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use tracing_subscriber::EnvFilter;

/// Only these email domains may sign up.
struct AllowedEmailDomains {
    domains: Vec<String>,
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, domain)| domain)
}

impl SignupPolicy for AllowedEmailDomains {
    fn check(&self, signup: &ValidSignup) -> Result<(), ValidationErrors> {
        if self.domains.iter().any(|allowed| allowed == domain_of(signup.email.as_str())) {
            return Ok(());
        }
        let mut errors = ValidationErrors::new();
        errors.add("email", "domain_not_allowed", format!("sign-ups are open to {} only", self.domains.join(", ")));
        Err(errors)
    }
}

/// Adds `tenant` (the email domain's first label) and `plan` to every access token.
struct TenantClaims;

impl ClaimsExtension for TenantClaims {
    fn extra_claims(&self, user: &UserInfo) -> Map<String, Value> {
        let tenant = domain_of(&user.email).split('.').next().unwrap_or_default().to_owned();
        let mut claims = Map::new();
        claims.insert("tenant".into(), Value::String(tenant));
        claims.insert("plan".into(), Value::String("pro".into()));
        // A standard claim cannot be overridden: this one is dropped with a warning.
        claims.insert("sub".into(), Value::String("someone-else".into()));
        claims
    }
}

/// Where the log goes: stderr, with a copy kept so the example can check what it logged.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Warnings to stderr (the one about `sub` below among them). Only errors of the start-up:
    // its warnings about a throw-away database (a new file, a first signing key, no encryption
    // key) are expected here, and would name a folder this example deletes at the end.
    let log = Log::default();
    let writer = log.clone();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(
            "warn,portcullis_service=error,portcullis_infrastructure::tokens::key_store=error",
        ))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = std::env::temp_dir().join(format!("portcullis-extend-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("extend.db").display()),
        bind: "127.0.0.1:0".into(),
        mail_dir: dir.join("mail").display().to_string(),
        bcrypt_cost: portcullis::config::BcryptCost::new(10)?,
        ..Config::default()
    };

    // The extension: override the two extension points of the module before it is built.
    let server = portcullis::server::spawn_with(
        config,
        Box::new(|builder| {
            builder
                .with_component_override::<dyn SignupPolicy>(Box::new(AllowedEmailDomains {
                    domains: vec!["acme.example".into()],
                }))
                .with_component_override::<dyn ClaimsExtension>(Box::new(TenantClaims))
        }),
    )
    .await?;
    let base = server.url();
    let http = reqwest::Client::new();
    let password = "Trellis-Quartz-Harbor-48";

    let refused = http
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"name": "Mallory", "email": "mallory@elsewhere.example", "password": password}))
        .send()
        .await?;
    let status = refused.status();
    let problem: Value = refused.json().await?;
    println!("signup from another domain: {status} {}", problem["errors"]);
    anyhow::ensure!(status == 422 && problem["errors"][0]["code"] == "domain_not_allowed", "refused by the policy");

    let created = http
        .post(format!("{base}/api/auth/signup"))
        .json(&json!({"name": "Ada", "email": "ada@acme.example", "password": password}))
        .send()
        .await?;
    println!("signup from acme.example: {}", created.status());
    anyhow::ensure!(created.status() == 201, "an allowed domain signs up");

    let tokens: Value = http
        .post(format!("{base}/api/auth/token"))
        .form(&[("grant_type", "password"), ("username", "ada@acme.example"), ("password", password)])
        .send()
        .await?
        .json()
        .await?;
    let access = tokens["access_token"].as_str().unwrap_or_default();
    let payload = access.split('.').nth(1).unwrap_or_default();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?;
    println!("access-token claims: tenant={} plan={} sub={}", claims["tenant"], claims["plan"], claims["sub"]);
    anyhow::ensure!(claims["tenant"] == "acme" && claims["plan"] == "pro", "the extra claims are in the token");
    anyhow::ensure!(claims["sub"] != "someone-else", "a standard claim cannot be overridden");
    let logged = log.text();
    anyhow::ensure!(
        logged.lines().any(|line| line.contains("WARN")
            && line.contains("a claims extension tried to set a standard claim; ignored")
            && line.contains("claim=sub")),
        "the dropped claim was warned about"
    );
    println!("the attempt to set sub was dropped with a warning");

    server.stop().await;
    std::fs::remove_dir_all(&dir)?;
    println!("ok");
    Ok(())
}
