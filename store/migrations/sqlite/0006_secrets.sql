-- Per-charm secrets, sealed by the host (an AEAD whose associated data is
-- the charm's id and the secret's name): the database holds only the nonce
-- and the ciphertext, never a value. Deleting a charm deletes its secrets.
-- Times are ms since the Unix epoch, by the database's clock.

CREATE TABLE charm_secrets (
    charm_id   TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,             -- `ctx.secrets.NAME`
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,             -- the sealed value and its tag
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,          -- when it last changed (set or rotated)
    PRIMARY KEY (charm_id, name)
);
