-- Quotas per space, set by the operator. A row holds one space's
-- overrides; a null column (or no row) means the daemon's default for that
-- quota (the --space-* flags of serve), and 0 means unlimited. Runs in
-- flight are checked by the claim, charms by the registration (under a
-- transaction-scoped advisory lock on the space, so concurrent
-- registrations cannot both take the last place), state bytes by the
-- finish that would write the state, run history by the pruning.
CREATE TABLE space_quotas (
    space              TEXT PRIMARY KEY,
    max_charms         BIGINT CHECK (max_charms >= 0),
    max_runs_in_flight BIGINT CHECK (max_runs_in_flight >= 0),
    max_fuel_per_hour  BIGINT CHECK (max_fuel_per_hour >= 0),
    max_state_bytes    BIGINT CHECK (max_state_bytes >= 0),
    keep_runs          BIGINT CHECK (keep_runs >= 1),
    updated_at         BIGINT NOT NULL
);

-- Fuel a space's runs used, per minute (ms / 60000 by the database's
-- clock), added in each run's finish. The fuel quota reads the last 60
-- buckets; older ones are deleted by the space's next finish, so a space
-- keeps at most about 60 rows.
CREATE TABLE space_fuel (
    space  TEXT NOT NULL,
    minute BIGINT NOT NULL,
    fuel   BIGINT NOT NULL,
    PRIMARY KEY (space, minute)
);

-- A space over its fuel per hour: no run of it is claimed before `until`
-- (ms since the epoch), when enough of the window's fuel has aged out.
-- Written by the finish that went over (and by a change of the quota); the
-- claim only reads it, so a space without a fuel quota costs the claim an
-- empty lookup.
CREATE TABLE space_blocks (
    space TEXT PRIMARY KEY,
    until BIGINT NOT NULL,
    used  BIGINT NOT NULL,
    quota BIGINT NOT NULL
);
