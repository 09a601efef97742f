//! The `portcullis` binary's library half: configuration, command line, logging, and the
//! server start-up that wires infrastructure, application and API together. `tests/`
//! drives the service through [`server::spawn`].

pub mod cli;
pub mod config;
pub mod server;
pub mod telemetry;
