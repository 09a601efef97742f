use shaku::Interface;

use super::PortError;

/// Re-reads the signing keys from where they are kept, so a key rotated by another
/// instance (or by `portcullis keys rotate`) signs and verifies here without a restart.
pub trait KeyRingReloader: Interface {
    /// Re-reads the keys now and swaps them in.
    ///
    /// # Errors
    /// [`PortError`] when the keys cannot be read; the old keys stay in use.
    fn reload(&self) -> Result<(), PortError>;

    /// For a token naming an unknown key id: re-reads the keys unless that was done within
    /// the last few seconds (so forged key ids cannot make every request hit storage).
    /// `true` when the keys were re-read.
    fn reload_throttled(&self) -> bool;
}

/// The public signing keys, as the JSON Web Key Set served at `/.well-known/jwks.json`.
pub trait JwksSource: Interface {
    /// The JWKS JSON text: every key whose tokens may still be alive.
    fn jwks_json(&self) -> String;
}
