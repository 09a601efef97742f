-- oauth_flows: sign-in flows in progress at upstream providers. Found by the hash of the
-- `state` parameter; bound to the browser by the hash of the `oauth_flow` cookie (the PKCE
-- verifier and nonce derive from that cookie, so nothing here can finish a flow). Taken
-- (deleted) by the callback: single use. Expired rows are swept by the housekeeping job.
CREATE TABLE oauth_flows (
    state_hash TEXT PRIMARY KEY NOT NULL,
    binding_hash TEXT NOT NULL,
    provider TEXT NOT NULL,
    next_path TEXT NOT NULL,
    linking_user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX oauth_flows_expires_at ON oauth_flows (expires_at);
