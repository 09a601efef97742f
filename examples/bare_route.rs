//! The yardstick of `just bench`: a bare actix-web route returning a fixed JSON body, with the
//! same worker count Portcullis' server picks. `scripts/bench.sh` measures it in the same run
//! as Portcullis' routes and prints each of theirs as a ratio of this one.
//!
//!     cargo run --release --example bare_route -- 127.0.0.1:18998

use actix_web::{App, HttpResponse, HttpServer, web};

const BODY: &str = r#"{"id":"0195f1c2-7a4e-7d3a-9c1b-2f5e8a9d0c41","name":"Bench","email":"bench@example.com","avatar_url":null,"roles":[],"email_verified":false,"created_at":"2026-12-01T00:00:00Z"}"#;

async fn fixed() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(BODY)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18998".to_owned());
    let workers = std::thread::available_parallelism().map(usize::from).unwrap_or(2).max(2);
    HttpServer::new(|| App::new().route("/bare", web::get().to(fixed))).workers(workers).bind(bind)?.run().await
}
