-- A charm's revision: a number the database itself raises, in the
-- transaction that makes the change, whenever anything a run reads of the
-- charm changes (its code, settings, limits, allow-list, enabled flag,
-- alert state, or whether it has secrets). Not raised by a run's own
-- bookkeeping (the next due time, the failure count, the fuel), which
-- changes on every run. A claim returns the revision, so a node that kept
-- the charm as read at that revision runs it without reading it again
-- (issue 18: that read was a round trip per run). Triggers, not the write
-- paths, raise it, so no path can forget to.
ALTER TABLE charms ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER charms_revision AFTER UPDATE ON charms
WHEN NEW.revision = OLD.revision AND (
    NEW.space IS NOT OLD.space OR NEW.name IS NOT OLD.name
    OR NEW.integration IS NOT OLD.integration OR NEW.source_sha256 IS NOT OLD.source_sha256
    OR NEW.runtime_sha256 IS NOT OLD.runtime_sha256 OR NEW.interval_s IS NOT OLD.interval_s
    OR NEW.schedule IS NOT OLD.schedule OR NEW.max_attempts IS NOT OLD.max_attempts
    OR NEW.limits IS NOT OLD.limits OR NEW.allowed_hosts IS NOT OLD.allowed_hosts
    OR NEW.private_network IS NOT OLD.private_network OR NEW.enabled IS NOT OLD.enabled
    OR NEW.disabled_reason IS NOT OLD.disabled_reason OR NEW.disabled_at IS NOT OLD.disabled_at
    OR NEW.alert_state IS NOT OLD.alert_state
    OR NEW.alert_fingerprint IS NOT OLD.alert_fingerprint)
BEGIN
    UPDATE charms SET revision = OLD.revision + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER charm_code_revision_on_insert AFTER INSERT ON charm_code
BEGIN
    UPDATE charms SET revision = revision + 1 WHERE id = NEW.charm_id;
END;

CREATE TRIGGER charm_code_revision_on_update AFTER UPDATE ON charm_code
BEGIN
    UPDATE charms SET revision = revision + 1 WHERE id = NEW.charm_id;
END;

CREATE TRIGGER charm_code_revision_on_delete AFTER DELETE ON charm_code
BEGIN
    UPDATE charms SET revision = revision + 1 WHERE id = OLD.charm_id;
END;

CREATE TRIGGER charm_secrets_revision_on_insert AFTER INSERT ON charm_secrets
BEGIN
    UPDATE charms SET revision = revision + 1 WHERE id = NEW.charm_id;
END;

CREATE TRIGGER charm_secrets_revision_on_delete AFTER DELETE ON charm_secrets
BEGIN
    UPDATE charms SET revision = revision + 1 WHERE id = OLD.charm_id;
END;
