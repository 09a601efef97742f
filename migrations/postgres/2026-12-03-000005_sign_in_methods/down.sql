-- Back to a required password: users without one cannot be kept.
DELETE FROM users WHERE password_hash IS NULL;
ALTER TABLE users ALTER COLUMN password_hash SET NOT NULL;
ALTER TABLE sessions DROP COLUMN amr;
