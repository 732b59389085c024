-- Recordings are no longer indexed by charm and source (issue 18). The
-- index served only the prune of recorded sources, which now finds a
-- charm's recordings through its runs (`runs_by_charm`); it cost an entry
-- at a random place in a large index for every recorded run.
DROP INDEX run_recordings_by_source;
