-- Recordings are no longer indexed by charm and source: the same change as
-- SQLite's `0014_drop_recordings_by_source.sql` (see there).
DROP INDEX run_recordings_by_source;
