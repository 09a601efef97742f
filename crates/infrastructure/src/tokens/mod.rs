//! Access tokens: Ed25519 signing keys kept in the database (shared by every instance on
//! it, surviving restarts), EdDSA JWTs, and the public JWKS.

mod claims;
mod jwt;
mod key_store;
mod reload;

pub use jwt::{
    AccessTokenRules, JwksDocument, JwksDocumentParameters, JwtTokenService, JwtTokenServiceParameters, TokenSettings,
    random_bytes,
};
pub use key_store::{
    KeyRing, KeyStoreError, SharedKeyRing, ensure_signing_key, load_key_ring, prune_retired_keys, reseal_signing_keys,
    rotate_signing_key,
};
pub use reload::{DatabaseKeyRingReloader, DatabaseKeyRingReloaderParameters};
