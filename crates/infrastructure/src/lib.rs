//! Portcullis infrastructure: the adapters behind the application's ports.
//!
//! - [`persistence`]: diesel over an r2d2 pool, one code path for SQLite (bundled, WAL,
//!   busy timeout, foreign keys) and PostgreSQL; embedded migrations; the unit of work and
//!   repositories; the rate limiter and lockout store, shared by every instance.
//! - [`tokens`]: Ed25519 signing keys kept in the database, EdDSA JWT access tokens, JWKS.
//! - [`hashing`]: a bounded pool of password-hashing threads.
//! - [`mail`]: mail as `.eml` files in a folder or over SMTP, delivered from a bounded
//!   queue by a background thread with retries.
//! - [`passkeys`]: the WebAuthn relying party (webauthn-rs) for passkeys.
//! - [`sealing`]: secrets at rest (signing keys, TOTP secrets) sealed with XChaCha20-Poly1305.
//! - [`resources`]: the gauges of the pools and queues, for metrics.

pub mod hashing;
pub mod mail;
pub mod passkeys;
pub mod persistence;
pub mod resources;
pub mod sealing;
pub mod tokens;
pub mod upstream;
