//! Route handlers, grouped by what they serve.

pub mod auth;
pub mod discovery;
pub mod health;
pub mod oauth;
pub mod sessions;
