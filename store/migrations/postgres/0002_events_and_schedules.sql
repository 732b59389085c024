-- Events are data: the same inbox as the SQLite schema's 0004 (see there).

CREATE TABLE events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    charm_id        TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    source          TEXT NOT NULL,
    data            TEXT NOT NULL,
    idempotency_key TEXT,
    received_at     BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'acked', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    run_id          BIGINT,
    last_error      TEXT,
    settled_at      BIGINT
);
CREATE INDEX events_pending ON events (charm_id, id) WHERE status = 'pending';
CREATE INDEX events_by_charm ON events (charm_id, status, id);
CREATE INDEX events_settled ON events (settled_at) WHERE status = 'acked';
CREATE UNIQUE INDEX events_idempotency ON events (charm_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

ALTER TABLE runs ADD COLUMN not_before BIGINT;
ALTER TABLE runs ADD COLUMN event_ids TEXT;
ALTER TABLE runs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE charms ADD COLUMN schedule TEXT;
ALTER TABLE charms ADD COLUMN max_attempts BIGINT NOT NULL DEFAULT 3;
ALTER TABLE charms ADD COLUMN hook_secret TEXT;
