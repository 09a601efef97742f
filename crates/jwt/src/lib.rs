//! How a Portcullis access token is signed and checked, shared by the server (`portcullis-infrastructure`)
//! and by other services (`portcullis-verifier`), so both accept exactly the same tokens.
//!
//! - [`VerifyingKeys`]: the public keys by `kid`, each parsed (decompressed) once when the
//!   key set is built, not on every verification.
//! - [`check`]: one full check: the compact form, the header (`alg` must be `EdDSA`, a
//!   `kid` is required), the Ed25519 signature, then the claims: `iss` and `aud` exactly as
//!   expected, `exp` and `nbf` against the clock with a small leeway.
//! - [`TokenChecker`]: [`check`] behind a bounded cache of tokens already verified. A token
//!   whose exact text passed once is not verified again until it expires; its `exp` and
//!   `nbf` are still compared with the clock on every use, and its key must still be in the
//!   key set, so the cache never accepts a token that [`check`] would refuse.
//! - [`sign`]: a token in the compact form, signed by a [`SigningKey`] kept parsed.

mod cache;
mod check;
mod keys;
mod sign;

pub use cache::{DEFAULT_CACHE_BYTES, TokenChecker};
pub use check::{CheckError, Expectations, LEEWAY_SECS, RegisteredClaims, check};
pub use keys::{KeyError, VerifyingKeys};
pub use sign::{SignError, SigningKey, sign};
