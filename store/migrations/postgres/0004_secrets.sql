-- Per-charm secrets: the same table as the SQLite schema's 0006 (see there).

CREATE TABLE charm_secrets (
    charm_id   TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    nonce      BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (charm_id, name)
);
