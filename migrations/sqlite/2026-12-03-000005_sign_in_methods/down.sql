-- Back to a required password: users without one cannot be kept.
-- (Deleted first, with foreign keys on, so that their sessions and the rest go with them.)
DELETE FROM users WHERE password_hash IS NULL;
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    avatar_url TEXT,
    roles TEXT NOT NULL DEFAULT 'user',
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO users_rebuilt SELECT id, name, email, password_hash, avatar_url, roles, email_verified, disabled, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_rebuilt RENAME TO users;
ALTER TABLE sessions DROP COLUMN amr;
COMMIT;
PRAGMA foreign_keys = ON;
