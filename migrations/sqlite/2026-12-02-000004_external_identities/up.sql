-- external_identities: provider identities (OAuth 2.0 / OpenID Connect) linked to users. A
-- provider's subject never changes, so (provider, subject) names the identity; a user links
-- at most one identity per provider. The email is what the provider gave, for display.
CREATE TABLE external_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email TEXT,
    linked_at TIMESTAMP NOT NULL,
    PRIMARY KEY (provider, subject),
    UNIQUE (user_id, provider)
);
