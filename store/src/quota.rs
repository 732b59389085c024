//! Quotas per space: the operator's overrides (`space_quotas`), the fuel a
//! space used in the trailing hour (`space_fuel`, per-minute buckets), and
//! the spaces over their fuel budget (`space_blocks`); the SQL both
//! backends share, and the operations built on it, expanded per backend by
//! `quota_ops!` because each runs them on its own connection type.
//!
//! Where each quota is enforced, in the transaction of the change it
//! limits (run history, which no change limits, by the prune):
//!
//! * charms registered: [`crate::Store::insert_charm`] counts the space's
//!   charms before inserting (SQLite has one writer; PostgreSQL first takes
//!   an advisory lock on the space for the transaction, as a finish that
//!   checks the state quota does);
//! * runs in flight: the claim passes over a space holding its quota of
//!   running runs (the same clause as the fair-share slot cap);
//! * fuel per hour: each finish adds the run's fuel to its space's bucket
//!   of the minute and, when the space has a budget, blocks it until the
//!   window has room again; the claim passes over a blocked space;
//! * state bytes: a finish that would write a state pushing its space's
//!   stored states over the quota writes nothing of the state and records
//!   the run as [`crate::RunOutcome::Quota`];
//! * run history: [`crate::Store::prune_runs`] keeps each charm's newest
//!   finished runs by its space's `keep_runs`; a round that found runs
//!   under the old limit may still delete them just after the limit is
//!   raised (see [`crate::prune`]).
//!
//! The defaults (the daemon's `--space-*` flags) are held by the store
//! ([`crate::Store::set_quota_defaults`]); a space without a row, or with
//! a null column, has the default. 0 means unlimited (for `keep_runs`: the
//! `--keep-runs` flag).

use serde::{Deserialize, Serialize};

use crate::rows::{to_u64, Columns};
use crate::StoreError;

/// Minutes of fuel the fuel quota counts: a trailing hour.
pub const FUEL_WINDOW_MINUTES: i64 = 60;

/// One space's quotas in force. For every field but `keep_runs`, 0 means
/// unlimited; `keep_runs` 0 means the `keep` given to
/// [`crate::Store::prune_runs`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    /// Charms the space may have registered.
    pub max_charms: u64,
    /// Runs of the space running at once (across all nodes); more wait
    /// queued. A run that waits for its finish to be written counts
    /// (unlike in the share of the slots, [`crate::FairShare::finishing`]).
    pub max_runs_in_flight: u64,
    /// Fuel the space's runs may use in a trailing hour; over it, its
    /// runs wait until enough of the hour's fuel has aged out.
    pub max_fuel_per_hour: u64,
    /// Bytes (UTF-8) of state the space's charms may hold together.
    pub max_state_bytes: u64,
    /// Finished runs kept per charm of the space.
    pub keep_runs: u64,
}

/// The operator's overrides of one space's quotas: `None` is the
/// daemon's default; `Some(0)` is unlimited (except `keep_runs`, at
/// least 1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaOverrides {
    /// See [`Quota::max_charms`].
    pub max_charms: Option<u64>,
    /// See [`Quota::max_runs_in_flight`].
    pub max_runs_in_flight: Option<u64>,
    /// See [`Quota::max_fuel_per_hour`].
    pub max_fuel_per_hour: Option<u64>,
    /// See [`Quota::max_state_bytes`].
    pub max_state_bytes: Option<u64>,
    /// See [`Quota::keep_runs`].
    pub keep_runs: Option<u64>,
}

impl QuotaOverrides {
    /// The quotas in force: each override, else its default.
    pub fn over(&self, defaults: Quota) -> Quota {
        Quota {
            max_charms: self.max_charms.unwrap_or(defaults.max_charms),
            max_runs_in_flight: self
                .max_runs_in_flight
                .unwrap_or(defaults.max_runs_in_flight),
            max_fuel_per_hour: self.max_fuel_per_hour.unwrap_or(defaults.max_fuel_per_hour),
            max_state_bytes: self.max_state_bytes.unwrap_or(defaults.max_state_bytes),
            keep_runs: self.keep_runs.unwrap_or(defaults.keep_runs),
        }
    }

    /// Whether every quota is the default.
    pub fn is_empty(&self) -> bool {
        *self == QuotaOverrides::default()
    }
}

/// Which quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaKind {
    /// [`Quota::max_charms`].
    MaxCharms,
    /// [`Quota::max_runs_in_flight`].
    MaxRunsInFlight,
    /// [`Quota::max_fuel_per_hour`].
    MaxFuelPerHour,
    /// [`Quota::max_state_bytes`].
    MaxStateBytes,
    /// [`Quota::keep_runs`].
    KeepRuns,
}

impl QuotaKind {
    /// The field's name, as the API and the flags (`--space-max-charms`
    /// ...) spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKind::MaxCharms => "max_charms",
            QuotaKind::MaxRunsInFlight => "max_runs_in_flight",
            QuotaKind::MaxFuelPerHour => "max_fuel_per_hour",
            QuotaKind::MaxStateBytes => "max_state_bytes",
            QuotaKind::KeepRuns => "keep_runs",
        }
    }
}

impl std::fmt::Display for QuotaKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change refused, or a state not written, because a space is at a
/// quota. Its message names the space, the quota and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct QuotaExceeded {
    /// The space.
    pub space: String,
    /// The quota.
    pub kind: QuotaKind,
    /// Its value.
    pub limit: u64,
    /// What the change would have brought the space to (charms, or state
    /// bytes).
    pub would_be: u64,
}

impl QuotaExceeded {
    /// The error a run refused its state records (and the API shows):
    /// the message, and that the old state is kept.
    pub fn run_error(&self) -> String {
        format!("{self}; the old state is kept")
    }

    fn describe(&self) -> String {
        let (space, limit, would_be) = (&self.space, self.limit, self.would_be);
        match self.kind {
            QuotaKind::MaxCharms => format!(
                "space `{space}` is at its quota of {limit} charms (max_charms); a new charm would make {would_be}"
            ),
            QuotaKind::MaxStateBytes => format!(
                "space `{space}` is over its state quota of {limit} bytes (max_state_bytes): this state would bring its charms' states to {would_be} bytes"
            ),
            kind => format!("space `{space}` is over its quota of {limit} ({kind})"),
        }
    }
}

/// What a space uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpaceUsage {
    /// Charms registered.
    pub charms: u64,
    /// Runs running now (on any node).
    pub runs_in_flight: u64,
    /// Fuel its runs used in the trailing hour (whole minutes).
    pub fuel_last_hour: u64,
    /// Bytes of its charms' stored states.
    pub state_bytes: u64,
}

/// Why a space gets no claims for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaBlock {
    /// The quota it is over ([`QuotaKind::MaxFuelPerHour`]).
    pub quota: QuotaKind,
    /// Until when (ms since the epoch, the database's clock).
    pub until: i64,
    /// The fuel of the window when it was blocked.
    pub used: u64,
    /// The budget it was over.
    pub limit: u64,
}

/// A space as the operator sees it: its quotas and what it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpaceRecord {
    /// The space.
    pub space: String,
    /// The operator's overrides (`null`: the default).
    pub overrides: QuotaOverrides,
    /// The quotas in force.
    pub quota: Quota,
    /// What it uses.
    pub usage: SpaceUsage,
    /// Set while it gets no claims because it is over its fuel per hour.
    pub blocked: Option<QuotaBlock>,
}

/// The daemon's default quotas, held by a store.
#[derive(Debug, Default)]
pub(crate) struct Defaults(std::sync::RwLock<Quota>);

impl Defaults {
    pub(crate) fn get(&self) -> Quota {
        // A writer never panics while holding the lock; a poisoned one
        // still holds a whole `Quota`.
        match self.0.read() {
            Ok(q) => *q,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    pub(crate) fn set(&self, quota: Quota) {
        match self.0.write() {
            Ok(mut q) => *q = quota,
            Err(poisoned) => *poisoned.into_inner() = quota,
        }
    }
}

/// The overrides in a row with the five quota columns (nulls: defaults).
pub(crate) fn overrides_from(row: &impl Columns) -> Result<QuotaOverrides, StoreError> {
    let get = |c: &str| -> Result<Option<u64>, StoreError> { Ok(row.opt_int(c)?.map(to_u64)) };
    Ok(QuotaOverrides {
        max_charms: get("max_charms")?,
        max_runs_in_flight: get("max_runs_in_flight")?,
        max_fuel_per_hour: get("max_fuel_per_hour")?,
        max_state_bytes: get("max_state_bytes")?,
        keep_runs: get("keep_runs")?,
    })
}

/// A space's overrides: `$1` space.
pub(crate) const OVERRIDES: &str = "SELECT max_charms, max_runs_in_flight, max_fuel_per_hour, \
     max_state_bytes, keep_runs FROM space_quotas WHERE space = $1";

/// A charm's space and its overrides: `$1` charm.
pub(crate) const OVERRIDES_OF_CHARM: &str = "SELECT c.space, q.max_charms, q.max_runs_in_flight, \
     q.max_fuel_per_hour, q.max_state_bytes, q.keep_runs \
     FROM charms c LEFT JOIN space_quotas q ON q.space = c.space WHERE c.id = $1";

/// Charms of a space: `$1` space.
pub(crate) const COUNT_CHARMS: &str = "SELECT COUNT(*) FROM charms WHERE space = $1";

/// Bytes of the states of a space's charms but one: `$1` space, `$2` the
/// charm left out. `{bytes}` is the dialect's byte length of `s.state`.
pub(crate) fn state_bytes_sql(bytes: &str) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM({bytes}), 0) AS BIGINT) FROM charm_state s \
         JOIN charms c ON c.id = s.charm_id WHERE c.space = $1 AND s.charm_id <> $2"
    )
}

/// Adds fuel to a space's minute: `$1` space, `$2` minute, `$3` fuel (more
/// than 0). Returns the minute's total, which is `$3` on the minute's first
/// run.
pub(crate) const ADD_FUEL: &str =
    "INSERT INTO space_fuel (space, minute, fuel) VALUES ($1, $2, $3) \
     ON CONFLICT (space, minute) DO UPDATE SET fuel = space_fuel.fuel + excluded.fuel \
     RETURNING fuel";

/// Forgets a space's minutes out of the window: `$1` space, `$2` minute now.
pub(crate) const TRIM_FUEL: &str = "DELETE FROM space_fuel WHERE space = $1 AND minute <= $2 - 60";

/// A space's minutes in the window, oldest first: `$1` space, `$2` minute now.
pub(crate) const FUEL_WINDOW: &str =
    "SELECT minute, fuel FROM space_fuel WHERE space = $1 AND minute > $2 - 60 ORDER BY minute";

/// Blocks a space: `$1` space, `$2` until, `$3` fuel used, `$4` budget.
pub(crate) const BLOCK: &str = "INSERT INTO space_blocks (space, until, used, quota) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (space) DO UPDATE SET \
     until = excluded.until, used = excluded.used, quota = excluded.quota";

/// Lifts a space's block: `$1` space.
pub(crate) const UNBLOCK: &str = "DELETE FROM space_blocks WHERE space = $1";

/// Sets a space's overrides: `$1` space, `$2`..`$6` the five quotas (null:
/// default), `$7` time.
pub(crate) const SET_OVERRIDES: &str = "INSERT INTO space_quotas (space, max_charms, \
     max_runs_in_flight, max_fuel_per_hour, max_state_bytes, keep_runs, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (space) DO UPDATE SET \
     max_charms = excluded.max_charms, max_runs_in_flight = excluded.max_runs_in_flight, \
     max_fuel_per_hour = excluded.max_fuel_per_hour, max_state_bytes = excluded.max_state_bytes, \
     keep_runs = excluded.keep_runs, updated_at = excluded.updated_at";

/// Forgets a space's overrides: `$1` space.
pub(crate) const CLEAR_OVERRIDES: &str = "DELETE FROM space_quotas WHERE space = $1";

/// The spaces blocked at `$1` (ms).
pub(crate) const BLOCKED: &str =
    "SELECT space, until, used, quota FROM space_blocks WHERE until > $1 ORDER BY space";

/// A blocked space from [`BLOCKED`].
pub(crate) fn block_from(row: &impl Columns) -> Result<(String, QuotaBlock), StoreError> {
    Ok((
        row.text("space")?,
        QuotaBlock {
            quota: QuotaKind::MaxFuelPerHour,
            until: row.int("until")?,
            used: to_u64(row.int("used")?),
            limit: to_u64(row.int("quota")?),
        },
    ))
}

/// Every space with charms or overrides (or only `$2`, when not null),
/// with its overrides and usage at `$1` (ms). `{bytes}` is the dialect's
/// byte length of `st.state`.
pub(crate) fn spaces_sql(bytes: &str) -> String {
    format!(
        "SELECT s.space, q.max_charms, q.max_runs_in_flight, q.max_fuel_per_hour, \
           q.max_state_bytes, q.keep_runs, \
           (SELECT COUNT(*) FROM charms c WHERE c.space = s.space) AS charms, \
           (SELECT COUNT(*) FROM charms c JOIN runs r ON r.charm_id = c.id \
             WHERE c.space = s.space AND r.status = 'running') AS running, \
           (SELECT CAST(COALESCE(SUM(f.fuel), 0) AS BIGINT) FROM space_fuel f \
             WHERE f.space = s.space AND f.minute > $1 / 60000 - 60) AS fuel_last_hour, \
           (SELECT CAST(COALESCE(SUM({bytes}), 0) AS BIGINT) FROM charm_state st \
             JOIN charms c ON c.id = st.charm_id WHERE c.space = s.space) AS state_bytes, \
           b.until AS blocked_until, b.used AS blocked_used, b.quota AS blocked_quota \
         FROM (SELECT space FROM charms UNION SELECT space FROM space_quotas) s \
           LEFT JOIN space_quotas q ON q.space = s.space \
           LEFT JOIN space_blocks b ON b.space = s.space AND b.until > $1 \
         WHERE $2 IS NULL OR s.space = $2 ORDER BY s.space"
    )
}

/// A space's record from [`spaces_sql`].
pub(crate) fn space_from(row: &impl Columns, defaults: Quota) -> Result<SpaceRecord, StoreError> {
    let overrides = overrides_from(row)?;
    let blocked = match row.opt_int("blocked_until")? {
        Some(until) => Some(QuotaBlock {
            quota: QuotaKind::MaxFuelPerHour,
            until,
            used: to_u64(row.opt_int("blocked_used")?.unwrap_or(0)),
            limit: to_u64(row.opt_int("blocked_quota")?.unwrap_or(0)),
        }),
        None => None,
    };
    Ok(SpaceRecord {
        space: row.text("space")?,
        quota: overrides.over(defaults),
        overrides,
        usage: SpaceUsage {
            charms: to_u64(row.int("charms")?),
            runs_in_flight: to_u64(row.int("running")?),
            fuel_last_hour: to_u64(row.int("fuel_last_hour")?),
            state_bytes: to_u64(row.int("state_bytes")?),
        },
        blocked,
    })
}

/// When a space over `budget` has room again: the end of the window of
/// the minute whose ageing out brings the window's fuel under the budget,
/// given the window's `(minute, fuel)` oldest first. `None` when it is
/// under the budget now.
pub(crate) fn blocked_until(window: &[(i64, u64)], budget: u64) -> Option<(i64, u64)> {
    let used: u64 = window.iter().fold(0u64, |a, (_, f)| a.saturating_add(*f));
    if budget == 0 || used < budget {
        return None;
    }
    let mut left = used;
    for (minute, fuel) in window {
        left = left.saturating_sub(*fuel);
        if left < budget {
            return Some((
                minute
                    .saturating_add(FUEL_WINDOW_MINUTES)
                    .saturating_mul(60_000),
                used,
            ));
        }
    }
    None
}

/// The quota operations, the same SQL on both backends: expands to
/// functions that take the backend's connection (`$conn`); `$bytes` is
/// the dialect's byte length of a text column `s.state` / `st.state`
/// (given as a closure from the alias to the expression), and `$lock` a
/// statement that serialises, until the transaction ends, the
/// transactions that count a space (`$1`) against a quota (`None` where
/// the database has one writer).
macro_rules! quota_ops {
    ($conn:ty, $bytes:expr, $lock:expr) => {
        use $crate::quota::{
            block_from, blocked_until, overrides_from, space_from, spaces_sql, state_bytes_sql,
            Quota, QuotaBlock, QuotaExceeded, QuotaKind, QuotaOverrides, SpaceRecord, ADD_FUEL,
            BLOCK, BLOCKED, CLEAR_OVERRIDES, COUNT_CHARMS, FUEL_WINDOW, OVERRIDES,
            OVERRIDES_OF_CHARM, SET_OVERRIDES, TRIM_FUEL, UNBLOCK,
        };
        use $crate::rows::{clamp_i64, to_u64, Columns};
        use $crate::StoreError;

        fn bytes_of(alias: &str) -> String {
            let f: fn(&str) -> String = $bytes;
            f(alias)
        }

        fn state_bytes_query() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| state_bytes_sql(&bytes_of("s.state")))
        }

        fn spaces_query() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| spaces_sql(&bytes_of("st.state")))
        }

        /// A space's overrides.
        pub(super) async fn overrides(
            conn: &mut $conn,
            space: &str,
        ) -> Result<QuotaOverrides, StoreError> {
            let row = sqlx::query(OVERRIDES)
                .bind(space)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(match row {
                Some(row) => overrides_from(&row)?,
                None => QuotaOverrides::default(),
            })
        }

        /// A charm's space and its quotas in force; `None` for an unknown
        /// charm.
        pub(super) async fn quota_of_charm(
            conn: &mut $conn,
            charm: &str,
            defaults: Quota,
        ) -> Result<Option<(String, Quota)>, StoreError> {
            let row = sqlx::query(OVERRIDES_OF_CHARM)
                .bind(charm)
                .fetch_optional(&mut *conn)
                .await?;
            row.map(|row| Ok((row.text("space")?, overrides_from(&row)?.over(defaults))))
                .transpose()
        }

        /// Makes the caller's transaction the only one counting `space`
        /// until it ends.
        async fn lock_space(conn: &mut $conn, space: &str) -> Result<(), StoreError> {
            let lock: Option<&str> = $lock;
            if let Some(lock) = lock {
                sqlx::query(lock).bind(space).execute(&mut *conn).await?;
            }
            Ok(())
        }

        /// Bytes of the states of `space`'s charms other than `charm`.
        async fn other_states(
            conn: &mut $conn,
            space: &str,
            charm: &str,
        ) -> Result<u64, StoreError> {
            let bytes: i64 = sqlx::query_scalar(state_bytes_query())
                .bind(space)
                .bind(charm)
                .fetch_one(&mut *conn)
                .await?;
            Ok(to_u64(bytes))
        }

        /// Refuses a new charm `charm` of `space` with a state of
        /// `state_len` bytes when the space is at its charms quota or the
        /// state would put it over its state quota. Counting takes the
        /// space's lock, so the count and the caller's insert are one
        /// serialised transaction.
        pub(super) async fn check_new_charm(
            conn: &mut $conn,
            space: &str,
            charm: &str,
            state_len: usize,
            defaults: Quota,
        ) -> Result<(), StoreError> {
            let quota = overrides(conn, space).await?.over(defaults);
            if quota.max_charms > 0 || quota.max_state_bytes > 0 {
                lock_space(conn, space).await?;
            }
            if quota.max_charms > 0 {
                let count: i64 = sqlx::query_scalar(COUNT_CHARMS)
                    .bind(space)
                    .fetch_one(&mut *conn)
                    .await?;
                if to_u64(count) >= quota.max_charms {
                    return Err(StoreError::OverQuota(QuotaExceeded {
                        space: space.to_string(),
                        kind: QuotaKind::MaxCharms,
                        limit: quota.max_charms,
                        would_be: to_u64(count).saturating_add(1),
                    }));
                }
            }
            state_fits(conn, space, charm, state_len, quota)
                .await?
                .map_or(Ok(()), |over| Err(StoreError::OverQuota(over)))
        }

        /// Whether `charm`'s new state of `state_len` bytes keeps `space`
        /// within its state quota; the refusal if not.
        pub(super) async fn state_fits(
            conn: &mut $conn,
            space: &str,
            charm: &str,
            state_len: usize,
            quota: Quota,
        ) -> Result<Option<QuotaExceeded>, StoreError> {
            if quota.max_state_bytes == 0 {
                return Ok(None);
            }
            // Two charms of the space finishing at once must not both fit
            // by counting each other's old state.
            lock_space(conn, space).await?;
            let len = u64::try_from(state_len).unwrap_or(u64::MAX);
            let total = other_states(conn, space, charm).await?.saturating_add(len);
            Ok((total > quota.max_state_bytes).then(|| QuotaExceeded {
                space: space.to_string(),
                kind: QuotaKind::MaxStateBytes,
                limit: quota.max_state_bytes,
                would_be: total,
            }))
        }

        /// Writes a finished run's cost to its space: its fair-share
        /// usage, then its fuel in the hourly quota (see
        /// [`crate::rows::SpaceCost`]: the last writes of a finish).
        pub(super) async fn account_cost(
            conn: &mut $conn,
            cost: &crate::rows::SpaceCost,
        ) -> Result<(), StoreError> {
            if cost.cost > 0 {
                // A float: a space's sum may pass i64 over time.
                sqlx::query(crate::rows::ADD_SPACE_FUEL)
                    .bind(cost.cost as f64)
                    .bind(cost.space.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            account_fuel(conn, &cost.space, cost.fuel, cost.now, cost.quota).await
        }

        /// Adds a run's `fuel` to `space`'s minute of `now` (ms), forgets
        /// minutes out of the window, and blocks or unblocks the space by
        /// its fuel budget.
        async fn account_fuel(
            conn: &mut $conn,
            space: &str,
            fuel: u64,
            now: i64,
            quota: Quota,
        ) -> Result<(), StoreError> {
            let minute = now.div_euclid(60_000);
            if fuel > 0 {
                let total: i64 = sqlx::query_scalar(ADD_FUEL)
                    .bind(space)
                    .bind(minute)
                    .bind(clamp_i64(fuel))
                    .fetch_one(&mut *conn)
                    .await?;
                // Once a minute per space, not on every run (issue 18: each
                // statement is a round trip); every reader of the window
                // leaves older minutes out anyway.
                if total == clamp_i64(fuel) {
                    sqlx::query(TRIM_FUEL)
                        .bind(space)
                        .bind(minute)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            // Where the database has one writer (no `$lock`), a space
            // without a budget has no block to lift: a budget drops to 0
            // only through `set`, which lifts the block in the same
            // serialised order, or a restart, which leaves no run in
            // flight to get here. A statement less per run. With several
            // writers a finish that read the old budget may block the space
            // after `set` lifted it, or a node with a default budget may,
            // so the next finish must lift it.
            let one_writer = {
                let lock: Option<&str> = $lock;
                lock.is_none()
            };
            if quota.max_fuel_per_hour == 0 && one_writer {
                return Ok(());
            }
            refresh_block(conn, space, now, quota.max_fuel_per_hour).await
        }

        /// Blocks `space` while its window's fuel is at `budget` or more
        /// (0: never), or lifts its block.
        pub(super) async fn refresh_block(
            conn: &mut $conn,
            space: &str,
            now: i64,
            budget: u64,
        ) -> Result<(), StoreError> {
            let until = if budget == 0 {
                None
            } else {
                let rows = sqlx::query(FUEL_WINDOW)
                    .bind(space)
                    .bind(now.div_euclid(60_000))
                    .fetch_all(&mut *conn)
                    .await?;
                let window = rows
                    .iter()
                    .map(|r| Ok((r.int("minute")?, to_u64(r.int("fuel")?))))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                blocked_until(&window, budget)
            };
            match until {
                Some((until, used)) => {
                    sqlx::query(BLOCK)
                        .bind(space)
                        .bind(until)
                        .bind(clamp_i64(used))
                        .bind(clamp_i64(budget))
                        .execute(&mut *conn)
                        .await?;
                }
                None => {
                    sqlx::query(UNBLOCK).bind(space).execute(&mut *conn).await?;
                }
            }
            Ok(())
        }

        /// Every space with charms or overrides (or only `space`), at `now`.
        pub(super) async fn list(
            conn: &mut $conn,
            now: i64,
            space: Option<&str>,
            defaults: Quota,
        ) -> Result<Vec<SpaceRecord>, StoreError> {
            let rows = sqlx::query(spaces_query())
                .bind(now)
                .bind(space)
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(|row| space_from(row, defaults)).collect()
        }

        /// The spaces blocked at `now`.
        pub(super) async fn blocked(
            conn: &mut $conn,
            now: i64,
        ) -> Result<Vec<(String, QuotaBlock)>, StoreError> {
            let rows = sqlx::query(BLOCKED).bind(now).fetch_all(&mut *conn).await?;
            rows.iter().map(block_from).collect()
        }

        /// Sets `space`'s overrides (all `None`: forgets them) and applies
        /// its fuel budget at once.
        pub(super) async fn set(
            conn: &mut $conn,
            space: &str,
            overrides: &QuotaOverrides,
            now: i64,
            defaults: Quota,
        ) -> Result<(), StoreError> {
            if overrides.is_empty() {
                sqlx::query(CLEAR_OVERRIDES)
                    .bind(space)
                    .execute(&mut *conn)
                    .await?;
            } else {
                let v = |x: Option<u64>| x.map(clamp_i64);
                sqlx::query(SET_OVERRIDES)
                    .bind(space)
                    .bind(v(overrides.max_charms))
                    .bind(v(overrides.max_runs_in_flight))
                    .bind(v(overrides.max_fuel_per_hour))
                    .bind(v(overrides.max_state_bytes))
                    .bind(v(overrides.keep_runs))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            let budget = overrides.over(defaults).max_fuel_per_hour;
            refresh_block(conn, space, now, budget).await
        }
    };
}
pub(crate) use quota_ops;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_space_over_its_budget_waits_for_its_oldest_fuel_to_age_out() {
        // 10 at minute 100, 50 at 130, 60 at 150: 120 in the window.
        let window = [(100, 10), (130, 50), (150, 60)];
        assert_eq!(blocked_until(&window, 200), None);
        // Under 100 once minute 130 has aged out (at minute 190).
        assert_eq!(blocked_until(&window, 100), Some((190 * 60_000, 120)));
        // Under 115 once minute 100 has aged out.
        assert_eq!(blocked_until(&window, 115), Some((160 * 60_000, 120)));
        assert_eq!(blocked_until(&window, 120), Some((160 * 60_000, 120)));
        assert_eq!(blocked_until(&window, 0), None, "0 is unlimited");
    }

    #[test]
    fn overrides_fall_back_to_the_defaults() {
        let defaults = Quota {
            max_charms: 5,
            keep_runs: 100,
            ..Quota::default()
        };
        let o = QuotaOverrides {
            max_charms: Some(0),
            max_state_bytes: Some(10),
            ..QuotaOverrides::default()
        };
        let q = o.over(defaults);
        assert_eq!((q.max_charms, q.max_state_bytes, q.keep_runs), (0, 10, 100));
        assert!(QuotaOverrides::default().is_empty());
    }
}
