//! TOTP codes for the tests, from `totp-lite`: an implementation the product does not use.

/// RFC 4648 base32 (no padding) to bytes.
pub fn base32(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut width, mut bytes) = (0u32, 0u32, Vec::new());
    for c in text.trim_end_matches('=').chars() {
        let value = ALPHABET.find(c.to_ascii_uppercase()).unwrap_or_else(|| panic!("{c} is not base32")) as u32;
        bits = (bits << 5) | value;
        width += 5;
        if width >= 8 {
            width -= 8;
            bytes.push((bits >> width) as u8);
            bits &= (1 << width) - 1;
        }
    }
    bytes
}

/// The TOTP code of `secret` for the step `offset` steps from now.
pub fn code(secret: &str, offset: i64) -> String {
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp_lite::totp_custom::<totp_lite::Sha1>(30, 6, &base32(secret), u64::try_from(now).expect("after 1970"))
}
