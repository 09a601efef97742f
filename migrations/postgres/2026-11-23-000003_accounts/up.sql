-- The account lifecycle: single-use tokens sent by mail, and API keys.
--
-- account_tokens: email-verification and password-reset tokens, stored only as SHA-256
-- hashes. `purpose` is `verify_email` or `reset_password`; `email` is the address the mail
-- went to. A token is used at most once: `used_at` is set by a compare-and-set update.
CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX account_tokens_user_purpose ON account_tokens (user_id, purpose);

-- api_keys: service-to-service keys, stored only as SHA-256 hashes and found by their
-- visible prefix (`pc_` + 8 characters). `scopes` is space-separated.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);
