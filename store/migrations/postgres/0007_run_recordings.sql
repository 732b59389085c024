-- Record and replay: the same tables as the SQLite schema's 0009 (see there).
CREATE TABLE run_recordings (
    run_id        BIGINT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    charm_id      TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    recording     BYTEA NOT NULL
);
CREATE INDEX run_recordings_by_source ON run_recordings (charm_id, source_sha256);

CREATE TABLE recorded_sources (
    charm_id      TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    source_sha256 TEXT NOT NULL,
    name          TEXT NOT NULL,
    source        TEXT NOT NULL,
    PRIMARY KEY (charm_id, source_sha256)
);
