-- Abuse limits, shared by every instance on this database.
--
-- rate_limits: one row per bucket (an endpoint) and client (an IP address), holding the
-- bucket's GCRA "theoretical arrival time" in microseconds since the Unix epoch. A row whose
-- time has passed stands for a full bucket and may be deleted at any moment; the service
-- deletes such rows now and then.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    client TEXT NOT NULL,
    tat_us BIGINT NOT NULL,
    PRIMARY KEY (bucket, client)
);
CREATE INDEX rate_limits_tat_us ON rate_limits (tat_us);

-- login_failures: per account, the failed logins in a row since the last success and the
-- end of the current lock. Every change is a compare-and-set on `version`.
CREATE TABLE login_failures (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    locked_until TIMESTAMP,
    version BIGINT NOT NULL
);
