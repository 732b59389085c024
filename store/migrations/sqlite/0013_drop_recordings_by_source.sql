-- `run_recordings_by_source` indexed every recording by charm and source,
-- so that pruning could ask whether a kept source was still referred to.
-- Each recorded run wrote an entry on a page of its own (charm ids are
-- random): 14% of the WAL frames a run wrote, with 3,000 charms due every
-- second (issue 18). The prune asks through `runs_by_charm` and the
-- recordings' primary key instead, and only for sources a charm no longer
-- has (`recordings::PRUNE_SOURCES`).
DROP INDEX IF EXISTS run_recordings_by_source;
