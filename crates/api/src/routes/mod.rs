//! Route handlers, grouped by what they serve.

pub mod account;
pub mod admin;
pub mod api_keys;
pub mod auth;
pub mod discovery;
pub mod health;
pub mod introspect;
pub mod mfa;
pub mod oauth;
pub mod passkeys;
pub mod providers;
pub mod sessions;
