-- Users made through a provider may have no password; sessions remember how they signed in
-- (RFC 8176 amr values, space-separated; every session before this one used a password).
--
-- users is rebuilt (SQLite's documented way to change a column): foreign keys are off so
-- that dropping the old table cascades to nothing, and the whole change is one transaction.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    avatar_url TEXT,
    roles TEXT NOT NULL DEFAULT 'user',
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO users_rebuilt (id, name, email, password_hash, avatar_url, roles, email_verified, disabled, created_at, updated_at)
    SELECT id, name, email, password_hash, avatar_url, roles, email_verified, disabled, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
COMMIT;
PRAGMA foreign_keys = ON;
