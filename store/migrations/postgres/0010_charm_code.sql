-- A charm's code (the bytecode compiled from its source, and the source) in
-- a table of its own, as in SQLite's `0012_charm_code.sql`. PostgreSQL keeps
-- large values out of line, but a source or bytecode under about 2 KB after
-- compression sits in the charms row, and every update of that row (two a
-- run: the schedule and the finish's bookkeeping) writes a whole new copy.
--
-- The lock is taken first: without it a charm added or changed by a node
-- of the older release between the copy's snapshot and the `ALTER TABLE`
-- would lose its code. Nodes of the older release fail once this has run
-- (they read the dropped columns): stop them all before the upgrade.
LOCK TABLE charms IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE charm_code (
    charm_id TEXT PRIMARY KEY REFERENCES charms (id) ON DELETE CASCADE,
    bytecode BYTEA NOT NULL,
    source   TEXT NOT NULL
);
INSERT INTO charm_code (charm_id, bytecode, source) SELECT id, bytecode, source FROM charms;
ALTER TABLE charms DROP COLUMN bytecode, DROP COLUMN source;
