//! TOTP codes for the tests, from `totp-lite`: an implementation the product does not use.

/// The TOTP code of `secret` for the step `offset` steps from now.
pub fn code(secret: &str, offset: i64) -> String {
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp_lite::totp_custom::<totp_lite::Sha1>(
        30,
        6,
        &data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).expect("a base32 secret"),
        u64::try_from(now).expect("after 1970"),
    )
}
