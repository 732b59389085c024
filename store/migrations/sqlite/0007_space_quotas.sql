-- Quotas per space, set by the operator. A row holds one space's
-- overrides; a null column (or no row) means the daemon's default for that
-- quota (the --space-* flags of serve), and 0 means unlimited. Runs in
-- flight are checked by the claim, charms by the registration, state bytes
-- by the finish that would write the state, run history by the pruning.
CREATE TABLE space_quotas (
    space              TEXT PRIMARY KEY,
    max_charms         INTEGER CHECK (max_charms >= 0),
    max_runs_in_flight INTEGER CHECK (max_runs_in_flight >= 0),
    max_fuel_per_hour  INTEGER CHECK (max_fuel_per_hour >= 0),
    max_state_bytes    INTEGER CHECK (max_state_bytes >= 0),
    keep_runs          INTEGER CHECK (keep_runs >= 1),
    updated_at         INTEGER NOT NULL
);

-- Fuel a space's runs used, per minute (ms / 60000 by the database's
-- clock), added in each run's finish. The fuel quota reads the last 60
-- buckets; older ones are deleted by the space's next finish, so a space
-- keeps at most about 60 rows.
CREATE TABLE space_fuel (
    space  TEXT NOT NULL,
    minute INTEGER NOT NULL,
    fuel   INTEGER NOT NULL,
    PRIMARY KEY (space, minute)
);

-- A space over its fuel per hour: no run of it is claimed before `until`
-- (ms since the epoch), when enough of the window's fuel has aged out.
-- Written by the finish that went over (and by a change of the quota); the
-- claim only reads it, so a space without a fuel quota costs the claim an
-- empty lookup.
CREATE TABLE space_blocks (
    space TEXT PRIMARY KEY,
    until INTEGER NOT NULL,
    used  INTEGER NOT NULL,   -- fuel in the window when it was blocked
    quota INTEGER NOT NULL    -- the budget it was over
);
