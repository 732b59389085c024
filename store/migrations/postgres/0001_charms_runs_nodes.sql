-- The PostgreSQL schema of charm-host's store, for several nodes on one
-- database. The same tables, columns and unique indexes as the SQLite
-- schema (store/migrations/sqlite/, all its files), so both decode alike:
-- flags are BOOLEAN, JSON is TEXT, times are BIGINT ms since the Unix epoch
-- by the database's clock. Never edit a migration once it has been applied
-- anywhere: add a new numbered file instead.

-- The clock of every stored time: the database's, never a node's, so that
-- nodes whose clocks disagree still agree on what is due and who is alive.
-- Stable within a statement.
CREATE FUNCTION charm_host_now_ms() RETURNS BIGINT LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::BIGINT $$;

CREATE TABLE charms (
    id                   TEXT PRIMARY KEY,
    space                TEXT NOT NULL,
    name                 TEXT NOT NULL,        -- module name: errors and stacks show it
    integration          TEXT,
    source               TEXT NOT NULL,
    source_sha256        TEXT NOT NULL,
    bytecode             BYTEA NOT NULL,
    runtime_sha256       TEXT NOT NULL,        -- bytecode is valid for this runtime only
    interval_s           BIGINT NOT NULL CHECK (interval_s > 0),
    limits               TEXT NOT NULL,        -- JSON: SandboxLimits
    allowed_hosts        TEXT NOT NULL,        -- JSON: array of allow-list entries
    enabled              BOOLEAN NOT NULL,
    disabled_reason      TEXT,
    disabled_at          BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_run_at          BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX charms_due ON charms (next_run_at) WHERE enabled;
CREATE INDEX charms_space ON charms (space, integration);

-- One JSON document per charm, written only by a successful run, in the same
-- transaction as that run's record, and only while its version is the one
-- the run started from.
CREATE TABLE charm_state (
    charm_id   TEXT PRIMARY KEY REFERENCES charms (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Runs are the job queue too: a run is queued, then running on one node,
-- then done.
CREATE TABLE runs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charm_id         TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    trigger          TEXT NOT NULL,           -- manual, schedule, recovery
    priority         BIGINT NOT NULL,         -- higher runs first
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done')),
    input            TEXT,                    -- JSON given as ctx.input
    queued_at        BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    outcome          TEXT,                    -- ok, error, timeout, fuel, memory, denied, limit, fault, cancelled, interrupted
    error            TEXT,
    fuel             BIGINT,
    memory_bytes     BIGINT,
    duration_ms      BIGINT,
    log              TEXT,                    -- a capped excerpt of the console output
    state_version    BIGINT,                  -- the state version this run wrote, if any
    owner            TEXT,                    -- the node that claimed it
    lease_expires_at BIGINT,                  -- rescued after this even if its node lives
    base_version     BIGINT,                  -- the state version it started from
    attempt          BIGINT NOT NULL DEFAULT 1,
    origin_run_id    BIGINT                   -- the first run of its line of retries
);
-- Never two queued runs of a charm, never two running: triggers coalesce
-- (queueing is an upsert on runs_one_queued), and a charm never runs
-- concurrently with itself, whichever node claims it.
CREATE UNIQUE INDEX runs_one_queued ON runs (charm_id) WHERE status = 'queued';
CREATE UNIQUE INDEX runs_one_running ON runs (charm_id) WHERE status = 'running';
CREATE INDEX runs_queue ON runs (priority DESC, queued_at, id) WHERE status = 'queued';
CREATE INDEX runs_by_charm ON runs (charm_id, id DESC);
CREATE INDEX runs_finished ON runs (finished_at) WHERE status = 'done';
CREATE INDEX runs_running_owner ON runs (owner) WHERE status = 'running';

-- One row per live node (per process start or rejoin), heart-beating on the
-- database's clock. A node silent for its time to live is dead: any node's
-- rescue marks its runs interrupted and queues their retries.
CREATE TABLE nodes (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
