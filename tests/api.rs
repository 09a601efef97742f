//! End-to-end tests of Portcullis: each test starts the real server (`portcullis::server::spawn`)
//! on `127.0.0.1:0` over a fresh database of its own and talks HTTP to it, once on SQLite
//! and once on PostgreSQL (`backend_tests!`). One test binary keeps link time down; the
//! modules live in `tests/api/`.
//!
//! PostgreSQL: `PORTCULLIS_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! unreachable → the PostgreSQL tests fail under `CI=true` and are skipped loudly otherwise.
//! `cargo test postgres` runs only the PostgreSQL half, `cargo test sqlite` only SQLite.

#[macro_use]
#[path = "api/support/mod.rs"]
mod support;

#[path = "api/admin.rs"]
mod admin;
#[path = "api/api_keys.rs"]
mod api_keys;
#[path = "api/cli.rs"]
mod cli;
#[path = "api/concurrency.rs"]
mod concurrency;
#[path = "api/cors.rs"]
mod cors;
#[path = "api/crash.rs"]
mod crash;
#[path = "api/current_user.rs"]
mod current_user;
#[path = "api/email_verification.rs"]
mod email_verification;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/health.rs"]
mod health;
#[path = "api/jwks.rs"]
mod jwks;
#[path = "api/keys.rs"]
mod keys;
#[path = "api/login.rs"]
mod login;
#[path = "api/logout.rs"]
mod logout;
#[path = "api/mail_outbox.rs"]
mod mail_outbox;
#[path = "api/mfa.rs"]
mod mfa;
#[path = "api/oauth.rs"]
mod oauth;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/operations.rs"]
mod operations;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/passkeys.rs"]
mod passkeys;
#[path = "api/password_policy.rs"]
mod password_policy;
#[path = "api/passwords.rs"]
mod passwords;
#[path = "api/providers.rs"]
mod providers;
#[path = "api/rate_limits.rs"]
mod rate_limits;
#[path = "api/refresh.rs"]
mod refresh;
#[path = "api/restart.rs"]
mod restart;
#[path = "api/secrets_at_rest.rs"]
mod secrets_at_rest;
#[path = "api/sessions.rs"]
mod sessions;
#[path = "api/signup.rs"]
mod signup;
#[path = "api/token_checks.rs"]
mod token_checks;
#[path = "api/validation.rs"]
mod validation;
