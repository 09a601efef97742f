-- The mail outbox: every mail is a row written in the same transaction as the account
-- change that causes it, and delivered afterwards by a worker on any instance.
--
-- message: the mail as JSON (recipient, subject, bodies), sealed with the encryption key
-- when one is set (the bodies carry single-use links); emptied once the mail is sent or
-- given up on. status: pending, sent or failed. next_attempt_at: when a pending mail is due;
-- a worker claims a mail by moving it a lease into the future in one statement (on
-- PostgreSQL with FOR UPDATE SKIP LOCKED), so a worker that dies mid-delivery only delays
-- it. Sent and failed rows are deleted by housekeeping after seven days.
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
