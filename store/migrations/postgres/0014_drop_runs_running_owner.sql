-- Running runs are no longer indexed by owner (issue 18's twenty-fourth
-- round). Both partial indexes of running runs had the same predicate.
-- The claim reads all running runs once (`busy` in
-- store/src/postgres/queue.rs), and the lookups by owner (a node's cancel
-- requests, the node list) read them through `runs_one_running` instead:
-- at most the cluster's run slots. Each claimed run writes one index
-- entry less. `IF EXISTS`: an operator who dropped it by hand before the
-- upgrade still gets a node that starts.
DROP INDEX IF EXISTS runs_running_owner;
