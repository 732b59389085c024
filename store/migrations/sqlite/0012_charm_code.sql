-- A charm's code (the bytecode compiled from its source, and the source) in
-- a table of its own. In the charms row it sat before the columns the
-- service reads and writes on every run (the schedule, the failure
-- bookkeeping, the recent fuel, added later and stored last): a large
-- charm's every read of those walked its overflow pages, and each of its
-- two updates a run rebuilt the whole record. With 3,000 charms due every
-- second and 52 KB of source each, the service finished 302-311 runs a
-- second against 746-820 for trivial ones (issue 18).
--
-- The bytecode comes first: a run reads it and never the source, and a
-- column after a large one is reached only through that one's pages.
CREATE TABLE charm_code (
    charm_id TEXT PRIMARY KEY REFERENCES charms (id) ON DELETE CASCADE,
    bytecode BLOB NOT NULL,
    source   TEXT NOT NULL
);
INSERT INTO charm_code (charm_id, bytecode, source) SELECT id, bytecode, source FROM charms;
ALTER TABLE charms DROP COLUMN bytecode;
ALTER TABLE charms DROP COLUMN source;
