-- `runs_queue` indexed every run, done ones included, by status: each run
-- wrote it three times (queued, claimed, finished) and nothing needs it any
-- more. The claim reads `runs_space_queue`; counts of queued and running
-- runs read partial indexes on those statuses (`runs_space_queue`,
-- `runs_running_owner`); finished runs are found by `runs_finished` and
-- `runs_by_charm`. With 3,000 charms due every second, in six alternating
-- 15 s windows of the service, a database without it finished from 1%
-- fewer to 18% more runs a second (issue 18).
DROP INDEX IF EXISTS runs_queue;
