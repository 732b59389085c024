-- The dashboard's runs-per-minute chart reads finished runs by time.
CREATE INDEX runs_finished ON runs (finished_at) WHERE status = 'done';
