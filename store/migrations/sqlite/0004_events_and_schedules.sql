-- Events are data: every trigger input is a row of the charm's inbox,
-- appended, never overwritten. A run is handed the pending events in order
-- (up to a cap) and acknowledges exactly those in the transaction that
-- records it; a failed run leaves them pending (counting the attempt) and
-- its retry comes with backoff; after the charm's last attempt they are
-- dead letters, kept until re-driven or discarded. Times are ms since the
-- Unix epoch, by the database's clock.

CREATE TABLE events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    charm_id        TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,            -- manual, webhook, redrive, ...
    data            TEXT NOT NULL,            -- JSON
    idempotency_key TEXT,                     -- a duplicate within the window is ignored
    received_at     INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'acked', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0, -- failed runs it was given to
    run_id          INTEGER,                  -- the last run it was given to
    last_error      TEXT,                     -- that run's error, if it failed
    settled_at      INTEGER                   -- when it was acknowledged or dead-lettered
);
CREATE INDEX events_pending ON events (charm_id, id) WHERE status = 'pending';
CREATE INDEX events_by_charm ON events (charm_id, status, id);
CREATE INDEX events_settled ON events (settled_at) WHERE status = 'acked';
CREATE UNIQUE INDEX events_idempotency ON events (charm_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- A queued run may wait: a retry's backoff, or a run asked for later.
-- Claimable from not_before (null: at once).
ALTER TABLE runs ADD COLUMN not_before INTEGER;
-- The events a run was given (a JSON array of ids), and a request to stop it.
ALTER TABLE runs ADD COLUMN event_ids TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;

-- A charm's schedule beyond an interval (JSON; null: every interval_s), its
-- attempts per event before dead-lettering, and its webhook secret.
ALTER TABLE charms ADD COLUMN schedule TEXT;
ALTER TABLE charms ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;
ALTER TABLE charms ADD COLUMN hook_secret TEXT;

-- Alerts. A charm's alert state (null: fine; failing, disabled, silent) and
-- the fingerprint of the error last alerted, changed compare-and-set so one
-- incident is one alert however many runs or nodes see it; its last
-- success, for "silent" (no success for N intervals). Each alert is one
-- row per channel: the record, and the delivery queue (retried with
-- backoff, apart from runs).
ALTER TABLE charms ADD COLUMN last_ok_at INTEGER;
ALTER TABLE charms ADD COLUMN alert_state TEXT;
ALTER TABLE charms ADD COLUMN alert_fingerprint TEXT;

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    charm_id        TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,            -- failing, disabled, recovered, silent
    fingerprint     TEXT,                     -- the error's, for failing and disabled
    run_id          INTEGER,                   -- the run that raised it, if one did
    channel         TEXT NOT NULL,            -- where it is delivered
    payload         TEXT NOT NULL,            -- the JSON sent
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_by_charm ON alerts (charm_id, id);

-- Runs asked for later (`trigger --at/--in`): the scheduler queues a run of
-- the charm when one is due and deletes it. Apart from the queue, so that
-- neither the charm's schedule nor another trigger takes its place.
CREATE TABLE wakeups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    charm_id   TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX wakeups_at ON wakeups (at);
CREATE INDEX wakeups_by_charm ON wakeups (charm_id, at);

-- Fair share (CPU). The fuel each space burnt recently, decayed by a factor
-- once a second (usage_decay holds when, so that several nodes decay it
-- once); a space whose usage decays below 1 is deleted, and the spaces
-- left are the active ones, among which run slots are shared. A charm's
-- last run's fuel orders charms within a space; heavy_runs counts its runs
-- in a row that used most of a limit, and penalty says why its interval
-- is stretched (the penalty box).
CREATE TABLE space_usage (
    space TEXT PRIMARY KEY,
    fuel  REAL NOT NULL
);
CREATE TABLE usage_decay (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at INTEGER NOT NULL
);
INSERT INTO usage_decay (id, at) VALUES (1, 0);
ALTER TABLE charms ADD COLUMN recent_fuel INTEGER NOT NULL DEFAULT 0;
ALTER TABLE charms ADD COLUMN heavy_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE charms ADD COLUMN penalty TEXT;
