-- Tenancy. API tokens beside the operator's own `--token`: operator tokens
-- and space tokens (which see and change one space). Only a SHA-256 of
-- each token is kept; the token itself is shown once, at creation. A
-- revoked token keeps its row (revoked_at set) so the audit log can still
-- name it.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,                 -- public: tok_<hex>
    kind        TEXT NOT NULL CHECK (kind IN ('operator', 'space')),
    space       TEXT,                             -- the space of a space token
    name        TEXT NOT NULL,                    -- what it is for
    hash        BLOB NOT NULL UNIQUE,             -- SHA-256 of the token
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL,                    -- the actor that made it
    revoked_at  INTEGER,
    CHECK ((kind = 'space') = (space IS NOT NULL))
);

-- Every change made through the API: who (a token's id, `operator` for
-- --token, `anonymous` without one), what (method and route), which space
-- and charm, the answer's status, when.
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    space   TEXT,
    action  TEXT NOT NULL,
    target  TEXT,
    status  INTEGER NOT NULL
);
CREATE INDEX audit_by_space ON audit_log (space, id);

-- Whether a charm's allow-list may reach loopback, private and link-local
-- addresses through exact entries. Granted when an operator set the list
-- (every charm before tokens existed was registered by one); a list set
-- by a space token reaches public addresses only.
ALTER TABLE charms ADD COLUMN private_network INTEGER NOT NULL DEFAULT 1;
