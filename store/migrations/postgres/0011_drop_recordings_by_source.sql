-- `run_recordings_by_source` indexed every recording by charm and source,
-- so that pruning could ask whether a kept source was still referred to;
-- each recorded run wrote an entry to it. The prune asks through
-- `runs_by_charm` and the recordings' primary key instead, and only for
-- sources a charm no longer has (`recordings::PRUNE_SOURCES`). SQLite
-- drops its own in the same release (issue 18).
DROP INDEX IF EXISTS run_recordings_by_source;
