-- `runs_queue` indexed the queued runs by priority for a claim that no
-- longer reads it: the claim walks `runs_space_queue`, and counts of queued
-- runs read `runs_one_queued`. In a saturated service (3,000 charms due
-- every second), `pg_stat_user_indexes` counted 0 scans of it against
-- 260,000 of `runs_space_queue`; each queued run still wrote an entry to it.
-- SQLite drops its own `runs_queue` in the same release (issue 18).
DROP INDEX IF EXISTS runs_queue;
