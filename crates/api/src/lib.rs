//! The Portcullis HTTP API on actix-web: thin handlers that turn a request into a command,
//! run it on the blocking pool, and turn the result into the contract's response. Every
//! error is `application/problem+json` with a stable `code` (see [`problem`]).
//!
//! The crate knows the application only: handlers reach the use cases and ports through
//! [`AppState`] (filled by the composition root, `portcullis-service`); [`app::build_app`]
//! makes the actix `App` with routes and middleware.

pub mod app;
pub mod blocking;
pub mod body;
pub mod client_ip;
pub mod cookies;
pub mod cors;
pub mod dto;
mod endpoint;
pub mod error_mapping;
pub mod error_responses;
pub mod extractors;
mod json_members;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod settings;
pub mod state;

pub use app::build_app;
pub use metrics::Metrics;
pub use settings::ApiSettings;
pub use state::AppState;
