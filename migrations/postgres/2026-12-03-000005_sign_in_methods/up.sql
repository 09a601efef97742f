-- Users made through a provider may have no password; sessions remember how they signed in
-- (RFC 8176 amr values, space-separated; every session before this one used a password).
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
