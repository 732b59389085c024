-- The claim reads the queue through runs_space_queue alone (issue 18).
--
-- Its predicate is written `status IS NOT DISTINCT FROM 'queued'`, as the
-- claim writes its filter, where runs_one_queued says `status = 'queued'`.
-- The planner matches this form to an index predicate only by equality, so
-- the claim's filter proves this index and no other. With both predicates
-- `status = 'queued'`, an ANALYZE that sampled a short queue made the two
-- indexes cost the same to the planner, and it chose runs_one_queued
-- (ordered by charm) and a sort of the whole queue for each space.
DROP INDEX runs_space_queue;
CREATE INDEX runs_space_queue ON runs (space, priority DESC, fair_at, id)
  WHERE status IS NOT DISTINCT FROM 'queued';
