-- State history: the same table and rule as the SQLite schema's 0008 (see
-- there), the rule as a trigger function.
CREATE TABLE state_versions (
    charm_id    TEXT NOT NULL REFERENCES charms (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    state       TEXT NOT NULL,
    written_at  BIGINT NOT NULL,
    PRIMARY KEY (charm_id, version)
);

CREATE FUNCTION charm_host_keep_state_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_versions (charm_id, version, state, written_at)
    VALUES (NEW.charm_id, NEW.version, NEW.state, NEW.updated_at)
    ON CONFLICT (charm_id, version) DO UPDATE
        SET state = EXCLUDED.state, written_at = EXCLUDED.written_at;
    RETURN NULL;
END
$$;

CREATE TRIGGER state_versions_keep AFTER INSERT OR UPDATE OF state, version ON charm_state
    FOR EACH ROW EXECUTE FUNCTION charm_host_keep_state_version();

INSERT INTO state_versions (charm_id, version, state, written_at)
SELECT charm_id, version, state, updated_at FROM charm_state;
