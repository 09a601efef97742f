//! The `portcullis` binary's library half: the command line, logging, and the HTTP server
//! over the composition root (`portcullis-service`). `tests/` drives the service through
//! [`server::spawn`].

pub mod cli;
pub mod server;
pub mod telemetry;

/// The configuration (defaults, `portcullis.toml`, `PORTCULLIS_*`), from the composition root.
pub use portcullis_service::config;
