use std::sync::{Arc, RwLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use portcullis_jwt::VerifyingKeys;
use sha2::{Digest, Sha256};

use crate::persistence::schema::signing_keys;
use crate::persistence::{DbConnection, DbPool, database_failure};
use crate::sealing::SecretSealer;

const ALGORITHM: &str = "EdDSA";

/// Why keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The database failed.
    #[error("signing keys: {0}")]
    Database(String),
    /// A stored key could not be read, or randomness failed.
    #[error("signing keys: {0}")]
    Key(String),
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct SigningKeyRow {
    kid: String,
    algorithm: String,
    private_key: String,
    public_key: String,
    created_at: chrono::NaiveDateTime,
}

/// The key that signs new tokens: its key id (RFC 7638 thumbprint), put in each token's
/// `kid`, and the private key, parsed once when the ring is read.
pub type CurrentKey = portcullis_jwt::SigningKey;

/// Every known key: the newest signs, all verify.
pub struct KeyRing {
    /// The signing key.
    pub current: CurrentKey,
    /// Public keys by `kid`, each parsed once here (not on every verification).
    pub verifying: VerifyingKeys,
    /// The public JWKS document (JSON text).
    pub jwks: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current_kid", &self.current.kid())
            .field("keys", &self.verifying.len())
            .finish()
    }
}

/// The key ring shared by the token service and the JWKS endpoint; replaced whole on reload.
pub type SharedKeyRing = Arc<RwLock<Arc<KeyRing>>>;

/// RFC 7638 thumbprint of an Ed25519 public key (`x` is base64url).
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The associated data that binds a sealed private key to its row.
fn sealing_context(kid: &str) -> String {
    format!("signing_key:{kid}")
}

fn new_key_row(now: DateTime<Utc>, sealer: &SecretSealer) -> Result<SigningKeyRow, KeyStoreError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyStoreError::Key(format!("no randomness: {e}")))?;
    let key = SigningKey::from_bytes(&seed);
    let der = key.to_pkcs8_der().map_err(|e| KeyStoreError::Key(e.to_string()))?;
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let kid = thumbprint(&x);
    Ok(SigningKeyRow {
        private_key: sealer.seal(&STANDARD.encode(der.as_bytes()), &sealing_context(&kid)),
        kid,
        algorithm: ALGORITHM.to_owned(),
        public_key: x,
        created_at: now.naive_utc(),
    })
}

fn read_rows(pool: &DbPool) -> Result<Vec<SigningKeyRow>, KeyStoreError> {
    let mut conn = pool.get().map_err(|e| KeyStoreError::Database(e.to_string()))?;
    signing_keys::table
        .select(SigningKeyRow::as_select())
        .order((signing_keys::created_at.desc(), signing_keys::kid.desc()))
        .load(&mut **conn)
        .map_err(|e| KeyStoreError::Database(database_failure("signing_keys.read_rows", e).detail()))
}

fn insert_row(pool: &DbPool, row: &SigningKeyRow) -> Result<(), KeyStoreError> {
    let mut conn = pool.get().map_err(|e| KeyStoreError::Database(e.to_string()))?;
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(&mut **conn)
        .map_err(|e| KeyStoreError::Database(database_failure("signing_keys.insert_row", e).detail()))?;
    Ok(())
}

/// Makes a first signing key if the database has none. Two instances starting at once may
/// both add one; the newest then signs for both, and both verify either.
///
/// # Errors
/// [`KeyStoreError`] when the database or key generation fails.
pub fn ensure_signing_key(pool: &DbPool, sealer: &SecretSealer, now: DateTime<Utc>) -> Result<(), KeyStoreError> {
    let row = new_key_row(now, sealer)?;
    let mut conn = pool.get().map_err(|e| KeyStoreError::Database(e.to_string()))?;
    let conn: &mut DbConnection = &mut conn;
    // "None yet? Then this one", in a transaction that instances starting together cannot
    // run at once: PostgreSQL serializes it with a transaction-scoped advisory lock, SQLite
    // with BEGIN IMMEDIATE (the database's write lock, taken at once).
    let begin = match conn {
        DbConnection::Pg(_) => format!("BEGIN; SELECT pg_advisory_xact_lock({FIRST_KEY_LOCK})"),
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE".to_owned(),
    };
    let failed =
        |e: diesel::result::Error| KeyStoreError::Database(database_failure("signing_keys.ensure", e).detail());
    conn.batch_execute(&begin).map_err(failed)?;
    let added = (|| -> Result<bool, diesel::result::Error> {
        let existing: i64 = signing_keys::table.count().get_result(conn)?;
        if existing > 0 {
            return Ok(false);
        }
        diesel::insert_into(signing_keys::table).values(&row).execute(conn)?;
        Ok(true)
    })();
    match added {
        Ok(added) => {
            conn.batch_execute("COMMIT").map_err(failed)?;
            if added {
                tracing::warn!("no signing key in the database: generated the first one");
            }
            Ok(())
        }
        Err(error) => {
            let _ = conn.batch_execute("ROLLBACK");
            Err(failed(error))
        }
    }
}

/// The PostgreSQL advisory-lock key that serializes making the first signing key ("portkey1").
const FIRST_KEY_LOCK: i64 = 0x706f_7274_6b65_7931;

/// Adds a new key and makes it current. Returns its `kid`.
///
/// # Errors
/// [`KeyStoreError`] when the database or key generation fails.
pub fn rotate_signing_key(pool: &DbPool, sealer: &SecretSealer, now: DateTime<Utc>) -> Result<String, KeyStoreError> {
    let row = new_key_row(now, sealer)?;
    insert_row(pool, &row)?;
    Ok(row.kid)
}

/// Seals again, with the current encryption key, every private key that is not sealed by it
/// (cleartext from before a key was set, or an older key's), each by a compare-and-set on
/// the stored value so instances doing it at once do no harm. Returns how many were written.
///
/// # Errors
/// [`KeyStoreError`] when the database fails or a stored key does not open.
pub fn reseal_signing_keys(pool: &DbPool, sealer: &SecretSealer) -> Result<usize, KeyStoreError> {
    if !sealer.is_enabled() {
        return Ok(0);
    }
    let mut conn = pool.get().map_err(|e| KeyStoreError::Database(e.to_string()))?;
    let failed = |e| KeyStoreError::Database(database_failure("signing_keys.reseal", e).detail());
    let rows: Vec<(String, String)> =
        signing_keys::table.select((signing_keys::kid, signing_keys::private_key)).load(&mut **conn).map_err(failed)?;
    let mut written = 0;
    for (kid, stored) in rows.into_iter().filter(|(_, stored)| sealer.needs_resealing(stored)) {
        let context = sealing_context(&kid);
        let plain = sealer.open(&stored, &context).map_err(|e| KeyStoreError::Key(e.to_string()))?;
        let sealed = sealer.seal(plain.expose(), &context);
        written += diesel::update(
            signing_keys::table.filter(signing_keys::kid.eq(&kid)).filter(signing_keys::private_key.eq(&stored)),
        )
        .set(signing_keys::private_key.eq(sealed))
        .execute(&mut **conn)
        .map_err(failed)?;
    }
    Ok(written)
}

/// Deletes signing keys that can no longer have a valid token: an older key is retired when
/// a newer one is made, and once the newer one is older than `keep_for` (the access-token
/// lifetime plus a margin for instances still signing with the old key) every token the old
/// key signed has expired. The newest key is never deleted. Returns how many were deleted;
/// they leave the JWKS at the next key reload.
///
/// # Errors
/// [`KeyStoreError`] when the database fails.
pub fn prune_retired_keys(
    pool: &DbPool,
    now: DateTime<Utc>,
    keep_for: chrono::Duration,
) -> Result<usize, KeyStoreError> {
    let rows = read_rows(pool)?;
    let retired: Vec<String> = rows
        .windows(2)
        .filter(|pair| pair[0].created_at.and_utc() + keep_for < now)
        .map(|pair| pair[1].kid.clone())
        .collect();
    if retired.is_empty() {
        return Ok(0);
    }
    let mut conn = pool.get().map_err(|e| KeyStoreError::Database(e.to_string()))?;
    let deleted =
        diesel::delete(signing_keys::table.filter(signing_keys::kid.eq_any(&retired)))
            .execute(&mut **conn)
            .map_err(|e| KeyStoreError::Database(database_failure("signing_keys.prune_retired_keys", e).detail()))?;
    Ok(deleted)
}

/// Reads every key from the database into a ring (newest signs).
///
/// # Errors
/// [`KeyStoreError`] when there is no key or one cannot be read.
pub fn load_key_ring(pool: &DbPool, sealer: &SecretSealer) -> Result<KeyRing, KeyStoreError> {
    let rows = read_rows(pool)?;
    let newest = rows.first().ok_or_else(|| KeyStoreError::Key("no signing key in the database".into()))?;
    let private_key = sealer
        .open(&newest.private_key, &sealing_context(&newest.kid))
        .map_err(|e| KeyStoreError::Key(e.to_string()))?;
    let der = STANDARD.decode(private_key.expose()).map_err(|e| KeyStoreError::Key(e.to_string()))?;
    let private =
        SigningKey::from_pkcs8_der(&der).map_err(|e| KeyStoreError::Key(format!("unreadable private key: {e}")))?;
    let current = CurrentKey::new(newest.kid.clone(), private);

    let mut verifying = VerifyingKeys::new();
    let mut jwks = Vec::new();
    for row in rows.iter().filter(|row| row.algorithm == ALGORITHM) {
        verifying.insert_jwk_x(row.kid.clone(), &row.public_key).map_err(|e| KeyStoreError::Key(e.to_string()))?;
        jwks.push(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": row.public_key, "kid": row.kid, "alg": ALGORITHM, "use": "sig",
        }));
    }
    let jwks = serde_json::json!({ "keys": jwks }).to_string();
    Ok(KeyRing { current, verifying, jwks })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        assert_eq!(
            thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
