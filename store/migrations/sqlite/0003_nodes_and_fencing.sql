-- Nodes and fencing. A run records the node that claimed it (owner), its
-- lease, the state version it started from (the finish writes the state
-- only while the version is still this one), its attempt, and the first run
-- of its line of retries (its idempotency key). Nodes heartbeat in their
-- own table. Times are the database's clock, ms since the Unix epoch.
--
-- Runs left running by a version without owners have no owner: the first
-- rescue takes them, as the startup recovery did.

ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN lease_expires_at INTEGER;
ALTER TABLE runs ADD COLUMN base_version INTEGER;
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE runs ADD COLUMN origin_run_id INTEGER;
CREATE INDEX runs_running_owner ON runs (owner) WHERE status = 'running';

CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,         -- one per process start or rejoin
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL          -- the last heartbeat
);
