-- A charm's revision, raised by the database whenever anything a run reads
-- of the charm changes: the same column and rule as SQLite's
-- `0013_charm_revision.sql` (see there). On `charms` itself a BEFORE
-- trigger raises it in the row being written (no second write); a change
-- of the code or of the secrets raises it in the charm's row.
ALTER TABLE charms ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION charm_host_charm_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := OLD.revision + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER charms_revision BEFORE UPDATE ON charms FOR EACH ROW
WHEN (NEW.revision = OLD.revision AND (
    NEW.space, NEW.name, NEW.integration, NEW.source_sha256, NEW.runtime_sha256,
    NEW.interval_s, NEW.schedule, NEW.max_attempts, NEW.limits, NEW.allowed_hosts,
    NEW.private_network, NEW.enabled, NEW.disabled_reason, NEW.disabled_at,
    NEW.alert_state, NEW.alert_fingerprint)
    IS DISTINCT FROM (
    OLD.space, OLD.name, OLD.integration, OLD.source_sha256, OLD.runtime_sha256,
    OLD.interval_s, OLD.schedule, OLD.max_attempts, OLD.limits, OLD.allowed_hosts,
    OLD.private_network, OLD.enabled, OLD.disabled_reason, OLD.disabled_at,
    OLD.alert_state, OLD.alert_fingerprint))
EXECUTE FUNCTION charm_host_charm_revision();

CREATE FUNCTION charm_host_charm_revision_of_part() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE charms SET revision = revision + 1 WHERE id = OLD.charm_id;
    ELSE
        UPDATE charms SET revision = revision + 1 WHERE id = NEW.charm_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER charm_code_revision AFTER INSERT OR UPDATE OR DELETE ON charm_code FOR EACH ROW
EXECUTE FUNCTION charm_host_charm_revision_of_part();

CREATE TRIGGER charm_secrets_revision AFTER INSERT OR DELETE ON charm_secrets FOR EACH ROW
EXECUTE FUNCTION charm_host_charm_revision_of_part();
