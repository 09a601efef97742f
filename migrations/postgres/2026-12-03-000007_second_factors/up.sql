-- Second factors.
--
-- totp_credentials: a user's TOTP secret (base32; never shown again after enrolment),
-- pending until confirmed_at is set; last_used_step is the newest 30-second step whose code
-- was accepted (a compare-and-set keeps each code single-use across instances).
CREATE TABLE totp_credentials (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    confirmed_at TIMESTAMP,
    last_used_step BIGINT,
    created_at TIMESTAMP NOT NULL
);

-- recovery_codes: the SHA-256 of each unused recovery code; a used one is deleted.
CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- mfa_challenges: between a correct first factor and the second step, by the SHA-256 of
-- the mfa_token; five minutes, five wrong codes, single use. Swept by housekeeping.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    first_factor TEXT NOT NULL,
    failures INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);
