-- Tenancy: the same tokens, audit log and private-network grant as the
-- SQLite schema's 0005 (see there).
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('operator', 'space')),
    space       TEXT,
    name        TEXT NOT NULL,
    hash        BYTEA NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    revoked_at  BIGINT,
    CHECK ((kind = 'space') = (space IS NOT NULL))
);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    space   TEXT,
    action  TEXT NOT NULL,
    target  TEXT,
    status  BIGINT NOT NULL
);
CREATE INDEX audit_by_space ON audit_log (space, id);

ALTER TABLE charms ADD COLUMN private_network BOOLEAN NOT NULL DEFAULT TRUE;
