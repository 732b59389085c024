-- Record and replay: what each run received (its random seed, clock
-- readings, fetch requests and responses, timer firings), beside its record
-- and deleted with it. `recording` is the engine's Recording as JSON,
-- compressed (deflate); `source_sha256` names the charm's source the run
-- ran, kept once per charm and source in `recorded_sources` while a
-- recording refers to it (a charm updated since its failed run can still
-- export that run).
CREATE TABLE run_recordings (
    run_id        INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    charm_id      TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    recording     BLOB NOT NULL
);
CREATE INDEX run_recordings_by_source ON run_recordings (charm_id, source_sha256);

CREATE TABLE recorded_sources (
    charm_id      TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    source_sha256 TEXT NOT NULL,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL,
    PRIMARY KEY (charm_id, source_sha256)
);
