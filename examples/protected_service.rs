//! A tiny actix-web service of your own, protected by `portcullis-verifier`: it verifies
//! Portcullis access tokens against the JWKS (cached, re-fetched on an unknown key) and never
//! touches Portcullis' database.
//!
//! To be self-contained it also starts a Portcullis (on a throw-away SQLite database), signs a
//! user up and gets a token, then calls the service. Run: `cargo run --example protected_service`

use actix_web::{App, HttpResponse, HttpServer, web};
use portcullis::config::Config;
use portcullis_verifier::{Admin, AuthenticatedUser, RequireRole, Verifier, VerifierConfig};
use serde_json::{Value, json};

/// Any signed-in user.
async fn hello(user: AuthenticatedUser) -> HttpResponse {
    HttpResponse::Ok().json(json!({"hello": user.claims().name, "user_id": user.user_id()}))
}

/// Admins only: the extractor answers `403` for anyone else before this runs.
async fn reports(admin: RequireRole<Admin>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"reports": [], "for": admin.user.claims().email}))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("portcullis-protected-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let config = Config {
        database_url: format!("sqlite://{}", dir.join("auth.db").display()),
        bind: "127.0.0.1:0".into(),
        mail_dir: dir.join("mail").display().to_string(),
        bcrypt_cost: portcullis::config::BcryptCost::new(10)?,
        ..Config::default()
    };
    let issuer = portcullis::server::issuer(&config);
    let audience = config.audience.clone();
    let portcullis = portcullis::server::spawn(config).await?;
    let auth_url = portcullis.url();

    // The service: one Verifier shared by every worker.
    let verifier = web::Data::new(Verifier::new(VerifierConfig::new(
        format!("{auth_url}/.well-known/jwks.json"),
        issuer,
        audience,
    )));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/hello", web::get().to(hello))
            .route("/reports", web::get().to(reports))
    })
    .workers(1)
    .bind("127.0.0.1:0")?;
    let service_url = format!("http://{}", server.addrs()[0]);
    let running = server.run();
    let handle = running.handle();
    tokio::spawn(running);

    // A user and a token from Portcullis.
    let http = reqwest::Client::new();
    let password = "Trellis-Quartz-Harbor-48";
    http.post(format!("{auth_url}/api/auth/signup"))
        .json(&json!({"name": "Ada", "email": "ada@example.com", "password": password}))
        .send()
        .await?
        .error_for_status()?;
    let tokens: Value = http
        .post(format!("{auth_url}/api/auth/token"))
        .form(&[("grant_type", "password"), ("username", "ada@example.com"), ("password", password)])
        .send()
        .await?
        .json()
        .await?;
    let access = tokens["access_token"].as_str().unwrap_or_default().to_owned();

    let ok = http.get(format!("{service_url}/hello")).bearer_auth(&access).send().await?;
    let status = ok.status();
    println!("GET /hello with the token: {status} {}", ok.text().await?);
    anyhow::ensure!(status == 200, "a valid token is accepted");
    let anonymous = http.get(format!("{service_url}/hello")).send().await?;
    println!("GET /hello without a token: {}", anonymous.status());
    anyhow::ensure!(anonymous.status() == 401, "no token, no entry");
    let forbidden = http.get(format!("{service_url}/reports")).bearer_auth(&access).send().await?;
    println!("GET /reports as a non-admin: {}", forbidden.status());
    anyhow::ensure!(forbidden.status() == 403, "the role is required");

    handle.stop(true).await;
    portcullis.stop().await;
    std::fs::remove_dir_all(&dir)?;
    println!("ok");
    Ok(())
}
