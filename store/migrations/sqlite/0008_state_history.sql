-- State history: every version of a charm's state that was written, kept
-- by the database itself in the transaction that writes it (a trigger), so
-- no write path can forget it and a failed run, which writes nothing, adds
-- nothing. The service prunes all but the newest --keep-state-versions of
-- each charm. The current state is always its newest kept version.
CREATE TABLE state_versions (
    charm_id    TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    written_at  INTEGER NOT NULL,
    PRIMARY KEY (charm_id, version)
);

CREATE TRIGGER state_versions_on_insert AFTER INSERT ON charm_state
BEGIN
    INSERT OR REPLACE INTO state_versions (charm_id, version, state, written_at)
    VALUES (NEW.charm_id, NEW.version, NEW.state, NEW.updated_at);
END;

CREATE TRIGGER state_versions_on_update AFTER UPDATE OF state, version ON charm_state
BEGIN
    INSERT OR REPLACE INTO state_versions (charm_id, version, state, written_at)
    VALUES (NEW.charm_id, NEW.version, NEW.state, NEW.updated_at);
END;

-- Charms stored before this: their current state is their first kept version.
INSERT INTO state_versions (charm_id, version, state, written_at)
SELECT charm_id, version, state, updated_at FROM charm_state;
