//! The Portcullis HTTP API on actix-web: thin handlers that turn a request into a command,
//! run it on the blocking pool, and turn the result into the contract's response. Every
//! error is `application/problem+json` with a stable `code` (see [`problem`]).
//!
//! [`module::AppModule`] is the shaku composition root; [`app::build_app`] makes the
//! actix `App` with routes and middleware.

pub mod app;
pub mod auth;
pub mod blocking;
pub mod body;
pub mod client_ip;
pub mod cookies;
pub mod cors;
pub mod dto;
pub mod error_mapping;
pub mod metrics;
pub mod module;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod settings;

pub use app::{AppState, build_app};
pub use metrics::Metrics;
pub use module::{AppModule, Infrastructure, build_module, module_builder};
pub use settings::ApiSettings;
