-- Passkeys (WebAuthn discoverable credentials).
--
-- passkeys: a registered key of a user. credential_id is the authenticator's id (base64url),
-- unique across users; record is what the relying party keeps of the key (public key, flags,
-- counter) in webauthn-rs's JSON form: public data, no secret. sign_count is the signature
-- counter last seen (a compare-and-set on it makes two sign-ins with one reading impossible).
CREATE TABLE passkeys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    sign_count BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- passkey_ceremonies: a started registration (user_id set) or sign-in (user_id NULL), by the
-- SHA-256 of its challenge_id; state is the relying party's (the challenge and policy).
-- Five minutes, single use (taken by a DELETE only one caller wins), swept by housekeeping.
CREATE TABLE passkey_ceremonies (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_at ON passkey_ceremonies (expires_at);
