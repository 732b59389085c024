-- The first schema of charm-host's store. Never edit a migration once it has
-- been applied anywhere: add a new numbered file instead.
--
-- Times are milliseconds since the Unix epoch (INTEGER).

CREATE TABLE charms (
    id                   TEXT PRIMARY KEY,
    space                TEXT NOT NULL,
    name                 TEXT NOT NULL,        -- module name: errors and stacks show it
    integration          TEXT,
    source               TEXT NOT NULL,
    source_sha256        TEXT NOT NULL,
    bytecode             BLOB NOT NULL,
    runtime_sha256       TEXT NOT NULL,        -- bytecode is valid for this runtime only
    interval_s           INTEGER NOT NULL CHECK (interval_s > 0),
    limits               TEXT NOT NULL,        -- JSON: SandboxLimits
    allowed_hosts        TEXT NOT NULL,        -- JSON: array of allow-list entries
    enabled              INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason      TEXT,
    disabled_at          INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_run_at          INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX charms_due ON charms (enabled, next_run_at);
CREATE INDEX charms_space ON charms (space, integration);

-- One JSON document per charm, written only by a successful run, in the same
-- transaction as that run's record.
CREATE TABLE charm_state (
    charm_id   TEXT PRIMARY KEY REFERENCES charms (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Runs are the job queue too: a run is queued, then running, then done.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    charm_id      TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    trigger       TEXT NOT NULL,              -- manual, schedule, recovery
    priority      INTEGER NOT NULL,           -- higher runs first
    status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    input         TEXT,                       -- JSON given as ctx.input
    queued_at     INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    outcome       TEXT,                       -- ok, error, timeout, fuel, memory, denied, limit, fault, cancelled, interrupted
    error         TEXT,
    fuel          INTEGER,
    memory_bytes  INTEGER,
    duration_ms   INTEGER,
    log           TEXT,                       -- a capped excerpt of the console output
    state_version INTEGER                     -- the state version this run wrote, if any
);
-- Never two queued runs of a charm, never two running: triggers coalesce, and
-- a charm never runs concurrently with itself, whatever the code above does.
CREATE UNIQUE INDEX runs_one_queued ON runs (charm_id) WHERE status = 'queued';
CREATE UNIQUE INDEX runs_one_running ON runs (charm_id) WHERE status = 'running';
CREATE INDEX runs_queue ON runs (status, priority DESC, queued_at, id);
CREATE INDEX runs_by_charm ON runs (charm_id, id DESC);
