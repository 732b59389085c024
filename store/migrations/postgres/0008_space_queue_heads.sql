-- The claim picks the head of each space's queue instead of sorting the
-- whole queue (issue 18: at 3,000 queued runs the old claim cost
-- milliseconds each, so a backlog slowed the service and grew itself).
--
-- A queued run carries its charm's space and its place in that space's
-- queue: `fair_at`, the time it was queued pushed back by its charm's recent
-- fuel (1 ms per 3,000,000 fuel), fixed when it is queued. The index gives
-- each space's head in one seek; the claim walks the spaces with a skip
-- scan (a recursive CTE) and then orders only their heads.
ALTER TABLE runs ADD COLUMN space TEXT;
ALTER TABLE runs ADD COLUMN fair_at BIGINT;
UPDATE runs SET space = c.space, fair_at = runs.queued_at + c.recent_fuel / 3000000
FROM charms c WHERE c.id = runs.charm_id AND runs.status <> 'done';
CREATE INDEX runs_space_queue ON runs (space, priority DESC, fair_at, id) WHERE status = 'queued';
