//! The Portcullis composition root. It reads the [`config::Config`], builds every adapter of
//! `portcullis-infrastructure` (database pool and migrations, signing keys, hashing threads,
//! mail queue), wires them into the application's handlers with one shaku module
//! ([`module::AppModule`]), and hands out the use cases as a [`Service`].
//!
//! Everything that runs Portcullis builds through here: the HTTP server, each command-line
//! command, the tests, and programs embedding Portcullis without HTTP. This crate pulls in no
//! web framework and no async runtime.
//!
//! ```no_run
//! use portcullis_service::{Service, config::Config};
//! # fn main() -> anyhow::Result<()> {
//! let service = Service::start(&Config { database_url: "sqlite://auth.db".into(), ..Config::default() })?;
//! let signup = &service.use_cases().signup;
//! # let _ = signup;
//! service.shutdown(std::time::Duration::from_secs(10));
//! # Ok(())
//! # }
//! ```

pub mod config;
mod housekeeping;
pub mod module;
pub mod providers_config;
mod service;
mod storage;

pub use housekeeping::{Housekeeper, HousekeepingError, HousekeepingReport, KEY_RETIREMENT_MARGIN};
pub use module::{AppModule, Customize, Infrastructure, build_module, module_builder};
pub use service::{Service, issuer, mail_settings, passkeys_status, provider_problems};
pub use storage::{migrate, open_database, rotate_signing_key, units};
