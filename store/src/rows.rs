//! What both backends share: decoding rows into records, and the SQL text
//! that reads the same way in both dialects (`$N` placeholders, which
//! sqlx's SQLite driver accepts too).
//!
//! Each backend's own statements (claims, upserts, rescue) stay in its
//! module: they differ where the databases differ (locks, the clock).

use crate::{
    corrupt, CharmCode, CharmId, CharmRecord, NodeId, NodeRecord, RunOutcome, RunRecord, RunStatus,
    RunSummary, SortKey, StoreError, Trigger,
};

/// Typed column reads, implemented for each backend's row type.
pub(crate) trait Columns {
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
}

macro_rules! impl_columns {
    ($row:ty) => {
        impl $crate::rows::Columns for $row {
            fn text(&self, column: &str) -> Result<String, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn int(&self, column: &str) -> Result<i64, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn flag(&self, column: &str) -> Result<bool, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>, $crate::StoreError> {
                Ok(sqlx::Row::try_get(self, column)?)
            }
        }
    };
}
pub(crate) use impl_columns;

/// Binds a charm's settings in the order of [`CODE_COLUMNS`]; its source and
/// bytecode are written apart, by [`write_code!`].
macro_rules! bind_code {
    ($query:expr, $code:expr) => {{
        let c: &$crate::CharmCode = $code;
        let limits = serde_json::to_string(&c.limits).map_err(|e| $crate::corrupt("limits", e))?;
        let hosts = serde_json::to_string(&c.allowed_hosts)
            .map_err(|e| $crate::corrupt("allow-list", e))?;
        $query
            .bind(&c.name)
            .bind(&c.integration)
            .bind(&c.source_sha256)
            .bind(&c.runtime_sha256)
            .bind(i64::from(c.interval_s))
            .bind(&c.schedule)
            .bind(i64::from(c.max_attempts))
            .bind(limits)
            .bind(hosts)
            .bind(c.private_network)
            .bind(c.enabled)
            .bind(&c.disabled_reason)
            .bind(c.disabled_at)
            .bind(i64::from(c.consecutive_failures))
            .bind(c.next_run_at)
    }};
}
pub(crate) use bind_code;

/// What makes a join change the queued run (a higher priority, a later
/// attempt, an earlier start), as the `WHERE` of an upsert's `DO UPDATE`:
/// a scheduled run joins the run already queued for its charm only then.
/// Otherwise the join would rewrite the row and its indexes to the values
/// they had, and when the service falls behind most due charms already have
/// a run queued (issue 18). A macro, so PostgreSQL's `concat!` takes it.
macro_rules! join_changes {
    () => {
        " WHERE excluded.priority > runs.priority OR excluded.attempt > runs.attempt \
           OR (runs.not_before IS NOT NULL \
               AND (excluded.not_before IS NULL OR excluded.not_before < runs.not_before)) "
    };
}
pub(crate) use join_changes;

/// The scheduler's upsert leaves out the due charms whose queued run it
/// would join unchanged (see [`join_changes!`]: a scheduled run is
/// attempt 1, priority `$2`, not delayed), as a condition on the charms
/// row `c`. When the service falls behind, most due charms have such a run,
/// and each one taken to `ON CONFLICT` cost an insert attempt and a lock on
/// the queued row (issue 18: on PostgreSQL, at 3,000 charms due a second,
/// the upsert took 2.2 s of each 15 s window for about 10 new runs and 150
/// joined a call). A run claimed meanwhile was queued when its charm fell
/// due, so the due time is served either way.
///
/// `$fence` ends the subquery: PostgreSQL passes `" OFFSET 0"`, which
/// keeps it a probe of `runs_one_queued` per charm. Without it the planner
/// may turn the `NOT EXISTS` into an anti join, and after an `ANALYZE`
/// that sampled a short queue (autovacuum's, every minute under load) it
/// read every queued run once per due charm: 673 ms for 444 charms against
/// 14,701 queued runs, 18 ms with the fence (`EXPLAIN ANALYZE`, issue 18's
/// twentieth round). SQLite keeps no statistics and passes `""`.
macro_rules! unless_queued_unchanged {
    ($fence:literal) => {
        concat!(
            " AND NOT EXISTS (SELECT 1 FROM runs q WHERE q.charm_id = c.id AND q.status = 'queued' \
               AND q.priority >= $2 AND q.attempt >= 1 AND q.not_before IS NULL",
            $fence,
            ") "
        )
    };
}
pub(crate) use unless_queued_unchanged;

/// Writes charm `$id`'s bytecode and source from `$code` ([`WRITE_CODE`])
/// on `$conn`.
macro_rules! write_code {
    ($conn:expr, $id:expr, $code:expr) => {{
        let id: &$crate::CharmId = $id;
        let c: &$crate::CharmCode = $code;
        sqlx::query($crate::rows::WRITE_CODE)
            .bind(id.as_str())
            .bind(&c.bytecode)
            .bind(&c.source)
            .execute($conn)
            .await
    }};
}
pub(crate) use write_code;

/// Sets charm `$1`'s bytecode `$2` and source `$3`.
///
/// They have a table of their own (`charm_code`): in the charms row, which
/// the service writes twice a run, a large charm's code made every one of
/// those writes rebuild it (issue 18).
pub(crate) const WRITE_CODE: &str = "INSERT INTO charm_code (charm_id, bytecode, source) \
     VALUES ($1, $2, $3) \
     ON CONFLICT (charm_id) DO UPDATE SET bytecode = excluded.bytecode, source = excluded.source";

/// The columns a charm's settings occupy in `charms`, in the order
/// [`bind_code!`] binds them.
const CODE_COLUMNS: [&str; 15] = [
    "name",
    "integration",
    "source_sha256",
    "runtime_sha256",
    "interval_s",
    "schedule",
    "max_attempts",
    "limits",
    "allowed_hosts",
    "private_network",
    "enabled",
    "disabled_reason",
    "disabled_at",
    "consecutive_failures",
    "next_run_at",
];

/// `INSERT INTO charms`: `$1` id, `$2` space, then the code columns; both
/// times are `now` (the dialect's clock expression).
pub(crate) fn insert_charm_sql(now: &str) -> String {
    let marks: Vec<String> = (3..3 + CODE_COLUMNS.len())
        .map(|i| format!("${i}"))
        .collect();
    format!(
        "INSERT INTO charms (id, space, {}, created_at, updated_at) VALUES ($1, $2, {}, {now}, {now})",
        CODE_COLUMNS.join(", "),
        marks.join(", ")
    )
}

/// `UPDATE charms` of the code columns (`$1`..), `updated_at = now`, for
/// the id bound last.
pub(crate) fn update_charm_sql(now: &str) -> String {
    let sets: Vec<String> = CODE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    format!(
        "UPDATE charms SET {}, updated_at = {now} WHERE id = ${}",
        sets.join(", "),
        CODE_COLUMNS.len() + 1
    )
}

const SELECT_RECORD: &str = "SELECT c.id, c.space, c.name, c.integration, c.interval_s, \
     c.schedule, c.max_attempts, c.enabled, c.hook_secret IS NOT NULL AS webhook, c.penalty, \
     c.disabled_reason, c.disabled_at, c.consecutive_failures, c.next_run_at, c.allowed_hosts, \
     c.private_network, c.limits, c.source_sha256, c.created_at, c.updated_at, \
     (SELECT COUNT(*) FROM events e WHERE e.charm_id = c.id AND e.status = 'pending') AS pending_events, \
     (SELECT COUNT(*) FROM events e WHERE e.charm_id = c.id AND e.status = 'dead') AS dead_events, \
     (SELECT MIN(w.at) FROM wakeups w WHERE w.charm_id = c.id) AS next_wakeup_at, \
     r.id AS last_run_id, r.outcome AS last_outcome, r.error AS last_error, \
     r.finished_at AS last_finished_at, r.duration_ms AS last_duration_ms \
     FROM charms c LEFT JOIN runs r ON r.id = \
       (SELECT x.id FROM runs x WHERE x.charm_id = c.id AND x.status = 'done' ORDER BY x.id DESC LIMIT 1)";

/// One charm's record by id (`$1`).
pub(crate) fn record_by_id_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{SELECT_RECORD} WHERE c.id = $1"))
}

/// Charm `$1`'s whole code.
pub(crate) fn code_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("{CODE_SELECT} {CODE_FROM}"))
}

/// The charm code without its source, by id (`$1`).
pub(crate) const CODE_FOR_RUN: &str = "SELECT c.id, c.space, c.name, c.integration, '' AS source, \
     c.source_sha256, k.bytecode, c.runtime_sha256, c.interval_s, c.schedule, c.max_attempts, \
     c.alert_state, c.alert_fingerprint, c.limits, c.allowed_hosts, c.private_network, c.enabled, \
     c.disabled_reason, c.disabled_at, c.consecutive_failures, c.next_run_at, c.revision, \
     EXISTS (SELECT 1 FROM charm_secrets cs WHERE cs.charm_id = c.id) AS has_secrets \
     FROM charms c JOIN charm_code k ON k.charm_id = c.id WHERE c.id = $1";

/// The columns of a charm's whole code, for [`code_from`]: prefix a
/// `SELECT`, add any columns, and follow with [`CODE_FROM`].
pub(crate) const CODE_SELECT: &str = "SELECT c.*, k.bytecode, k.source, \
     EXISTS (SELECT 1 FROM charm_secrets cs WHERE cs.charm_id = c.id) AS has_secrets";

/// The rows of [`CODE_SELECT`]: charm `$1` and its code.
pub(crate) const CODE_FROM: &str =
    "FROM charms c JOIN charm_code k ON k.charm_id = c.id WHERE c.id = $1";

/// How many charms a listing's filter (`$1` space, `$2` integration, `$3`
/// enabled; each ignored when null) matches.
pub(crate) const COUNT_LISTED: &str =
    "SELECT COUNT(*) FROM charms c WHERE ($1 IS NULL OR c.space = $1) \
     AND ($2 IS NULL OR c.integration = $2) AND ($3 IS NULL OR c.enabled = $3)";

/// Counts of charms and runs by status.
pub(crate) const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM charms WHERE enabled) AS enabled, \
     (SELECT COUNT(*) FROM charms WHERE NOT enabled) AS disabled, \
     (SELECT COUNT(*) FROM runs WHERE status = 'queued') AS queued, \
     (SELECT COUNT(*) FROM runs WHERE status = 'running') AS running, \
     (SELECT COUNT(*) FROM events WHERE status = 'pending') AS events_pending, \
     (SELECT COUNT(*) FROM events WHERE status = 'dead') AS events_dead, \
     (SELECT COUNT(*) FROM charms WHERE penalty IS NOT NULL) AS penalized";

/// Finished runs since `$1`, by minute and outcome.
pub(crate) const FINISHED_PER_MINUTE: &str =
    "SELECT finished_at / 60000 AS m, outcome, COUNT(*) AS runs \
     FROM runs WHERE status = 'done' AND finished_at >= $1 GROUP BY m, outcome ORDER BY m";

/// Sets a charm's webhook secret: `$1` secret or null, `$2` charm.
pub(crate) const SET_HOOK_SECRET: &str = "UPDATE charms SET hook_secret = $1 WHERE id = $2";

/// A charm's webhook: `$1` charm.
pub(crate) const HOOK: &str = "SELECT enabled, hook_secret FROM charms WHERE id = $1";

/// Registered nodes with the runs each holds.
pub(crate) const NODES: &str = "SELECT n.id, n.hostname, n.pid, n.started_at, n.last_seen_at, \
     (SELECT COUNT(*) FROM runs r WHERE r.owner = n.id AND r.status = 'running') AS running \
     FROM nodes n ORDER BY n.started_at, n.id";

fn sort_column(key: SortKey) -> &'static str {
    match key {
        SortKey::Created => "c.created_at",
        SortKey::Space => "c.space",
        SortKey::Integration => "c.integration",
        SortKey::Interval => "c.interval_s",
        SortKey::Enabled => "c.enabled",
        SortKey::LastRun => "r.finished_at",
        SortKey::Failures => "c.consecutive_failures",
        SortKey::NextRun => "c.next_run_at",
    }
}

/// One statement per sort key and direction, built once from the fixed
/// column names above (never from request text), indexed by
/// `2 * position in SortKey::ALL + descending`. Binds as [`COUNT_LISTED`],
/// then `$4` limit and `$5` offset.
pub(crate) fn list_sql(sort: SortKey, descending: bool) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        let mut all = Vec::new();
        for key in SortKey::ALL {
            for dir in ["ASC", "DESC"] {
                all.push(format!(
                    "{SELECT_RECORD} WHERE ($1 IS NULL OR c.space = $1) AND ($2 IS NULL OR c.integration = $2) \
                     AND ($3 IS NULL OR c.enabled = $3) ORDER BY {} {dir} NULLS LAST, c.created_at {dir}, c.id \
                     LIMIT $4 OFFSET $5",
                    sort_column(key)
                ));
            }
        }
        all
    });
    // Every key is in SortKey::ALL, so the index is always in range.
    let position = SortKey::ALL.iter().position(|k| *k == sort).unwrap_or(0);
    &all[2 * position + usize::from(descending)]
}

fn to_u32(what: &'static str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| corrupt(what, format!("{v} is out of range")))
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A stored count or size: never negative, clamped into `i64`.
pub(crate) fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn json_field<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub(crate) fn charm_id(row: &impl Columns, column: &str) -> Result<CharmId, StoreError> {
    parse_charm_id(&row.text(column)?)
}

/// A stored charm id, or [`StoreError::Corrupt`] when it is not one.
pub(crate) fn parse_charm_id(text: &str) -> Result<CharmId, StoreError> {
    CharmId::parse(text).ok_or_else(|| corrupt("charm id", format!("`{text}` is not an id")))
}

pub(crate) fn node_id(text: &str) -> Result<NodeId, StoreError> {
    NodeId::parse(text).ok_or_else(|| corrupt("node id", format!("`{text}` is not an id")))
}

pub(crate) fn outcome_from(name: Option<String>) -> Result<Option<RunOutcome>, StoreError> {
    name.map(|n| RunOutcome::parse(&n).ok_or_else(|| corrupt("run outcome", format!("`{n}`"))))
        .transpose()
}

pub(crate) fn trigger_from(row: &impl Columns) -> Result<Trigger, StoreError> {
    let name = row.text("trigger")?;
    Trigger::parse(&name).ok_or_else(|| corrupt("run trigger", format!("`{name}`")))
}

fn status_from(row: &impl Columns) -> Result<RunStatus, StoreError> {
    let name = row.text("status")?;
    RunStatus::parse(&name).ok_or_else(|| corrupt("run status", format!("`{name}`")))
}

pub(crate) fn attempt_from(row: &impl Columns) -> Result<u32, StoreError> {
    to_u32("attempt", row.int("attempt")?)
}

/// A run's record from `SELECT *`.
pub(crate) fn run_from(row: &impl Columns) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.int("id")?,
        charm_id: charm_id(row, "charm_id")?,
        trigger: trigger_from(row)?,
        status: status_from(row)?,
        input: row.opt_text("input")?,
        queued_at: row.int("queued_at")?,
        started_at: row.opt_int("started_at")?,
        finished_at: row.opt_int("finished_at")?,
        outcome: outcome_from(row.opt_text("outcome")?)?,
        error: row.opt_text("error")?,
        fuel: row.opt_int("fuel")?,
        memory_bytes: row.opt_int("memory_bytes")?,
        duration_ms: row.opt_int("duration_ms")?,
        log: row.opt_text("log")?,
        state_version: row.opt_int("state_version")?,
        attempt: attempt_from(row)?,
        node: row.opt_text("owner")?.as_deref().map(node_id).transpose()?,
        not_before: row.opt_int("not_before")?,
        events: match row.opt_text("event_ids")? {
            Some(ids) => json_field("run's event ids", &ids)?,
            None => Vec::new(),
        },
        cancel_requested: row.flag("cancel_requested")?,
    })
}

/// A charm's record from [`list_sql`] or [`record_by_id_sql`].
pub(crate) fn record_from(row: &impl Columns) -> Result<CharmRecord, StoreError> {
    let last_run = match row.opt_int("last_run_id")? {
        Some(id) => Some(RunSummary {
            id,
            outcome: outcome_from(row.opt_text("last_outcome")?)?,
            error: row.opt_text("last_error")?,
            finished_at: row.opt_int("last_finished_at")?,
            duration_ms: row.opt_int("last_duration_ms")?,
        }),
        None => None,
    };
    Ok(CharmRecord {
        id: charm_id(row, "id")?,
        space: row.text("space")?,
        name: row.text("name")?,
        integration: row.opt_text("integration")?,
        interval_s: to_u32("interval", row.int("interval_s")?)?,
        schedule: row.opt_text("schedule")?,
        max_attempts: to_u32("max attempts", row.int("max_attempts")?)?,
        enabled: row.flag("enabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        disabled_at: row.opt_int("disabled_at")?,
        consecutive_failures: to_u32("failure count", row.int("consecutive_failures")?)?,
        penalty: row.opt_text("penalty")?,
        next_run_at: row.int("next_run_at")?,
        webhook: row.flag("webhook")?,
        next_wakeup_at: row.opt_int("next_wakeup_at")?,
        pending_events: to_u64(row.int("pending_events")?),
        dead_events: to_u64(row.int("dead_events")?),
        allowed_hosts: json_field("allow-list", &row.text("allowed_hosts")?)?,
        private_network: row.flag("private_network")?,
        limits: json_field("limits", &row.text("limits")?)?,
        source_sha256: row.text("source_sha256")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        last_run,
    })
}

/// A charm's code from [`CODE_SELECT`] or [`CODE_FOR_RUN`].
pub(crate) fn code_from(row: &impl Columns) -> Result<CharmCode, StoreError> {
    Ok(CharmCode {
        id: charm_id(row, "id")?,
        space: row.text("space")?,
        name: row.text("name")?,
        integration: row.opt_text("integration")?,
        source: row.text("source")?,
        source_sha256: row.text("source_sha256")?,
        bytecode: row.bytes("bytecode")?,
        runtime_sha256: row.text("runtime_sha256")?,
        interval_s: to_u32("interval", row.int("interval_s")?)?,
        schedule: row.opt_text("schedule")?,
        max_attempts: to_u32("max attempts", row.int("max_attempts")?)?,
        limits: json_field("limits", &row.text("limits")?)?,
        allowed_hosts: json_field("allow-list", &row.text("allowed_hosts")?)?,
        private_network: row.flag("private_network")?,
        enabled: row.flag("enabled")?,
        disabled_reason: row.opt_text("disabled_reason")?,
        disabled_at: row.opt_int("disabled_at")?,
        consecutive_failures: to_u32("failure count", row.int("consecutive_failures")?)?,
        next_run_at: row.int("next_run_at")?,
        alert_state: row.opt_text("alert_state")?,
        alert_fingerprint: row.opt_text("alert_fingerprint")?,
        has_secrets: row.flag("has_secrets")?,
        revision: row.int("revision")?,
    })
}

/// A node from [`NODES`].
pub(crate) fn node_from(row: &impl Columns) -> Result<NodeRecord, StoreError> {
    Ok(NodeRecord {
        id: node_id(&row.text("id")?)?,
        hostname: row.text("hostname")?,
        pid: to_u32("node pid", row.int("pid")?)?,
        started_at: row.int("started_at")?,
        last_seen_at: row.int("last_seen_at")?,
        running: to_u64(row.int("running")?),
    })
}

/// A claimed run from a claim's `RETURNING` (with `origin`, the first run
/// of its line) and the state read with it.
pub(crate) fn claimed_from(
    row: &impl Columns,
    state: String,
    events: Vec<crate::RunEvent>,
) -> Result<crate::ClaimedRun, StoreError> {
    let charm = charm_id(row, "charm_id")?;
    let origin = row.int("origin")?;
    let run = crate::ClaimedRun {
        id: row.int("id")?,
        idempotency_key: format!("{charm}:{origin}"),
        charm_id: charm,
        trigger: trigger_from(row)?,
        input: row.opt_text("input")?,
        queued_at: row.int("queued_at")?,
        started_at: row.int("started_at")?,
        attempt: attempt_from(row)?,
        state,
        base_version: row.int("base_version")?,
        events: Vec::new(),
        charm_revision: row.int("charm_revision")?,
    };
    Ok(with_events(run, events))
}

/// `run` given `events`: its `ctx.input` is the newest event's data
/// (recorded on the run too), when it has any.
pub(crate) fn with_events(
    mut run: crate::ClaimedRun,
    events: Vec<crate::RunEvent>,
) -> crate::ClaimedRun {
    if let Some(newest) = events.last() {
        run.input = Some(newest.data.clone());
    }
    run.events = events;
    run
}

/// Counts from [`COUNTS`].
pub(crate) fn counts_from(row: &impl Columns) -> Result<crate::Counts, StoreError> {
    Ok(crate::Counts {
        enabled: to_u64(row.int("enabled")?),
        disabled: to_u64(row.int("disabled")?),
        queued: to_u64(row.int("queued")?),
        running: to_u64(row.int("running")?),
        events_pending: to_u64(row.int("events_pending")?),
        events_dead: to_u64(row.int("events_dead")?),
        penalized: to_u64(row.int("penalized")?),
    })
}

/// One group of [`FINISHED_PER_MINUTE`].
pub(crate) fn minute_from(row: &impl Columns) -> Result<crate::MinuteOutcomes, StoreError> {
    let outcome = outcome_from(row.opt_text("outcome")?)?
        .ok_or_else(|| corrupt("run outcome", "a finished run without one"))?;
    Ok(crate::MinuteOutcomes {
        minute: row.int("m")? * 60_000,
        outcome,
        runs: to_u64(row.int("runs")?),
    })
}

/// A state from `SELECT state, version, updated_at`.
pub(crate) fn state_from(row: &impl Columns) -> Result<crate::StateRecord, StoreError> {
    Ok(crate::StateRecord {
        state: row.text("state")?,
        version: row.int("version")?,
        updated_at: row.int("updated_at")?,
    })
}

/// The error an interrupted run is recorded with.
pub(crate) const INTERRUPTED: &str = "its node stopped while this run was in flight \
     (or lost the database); its state was not changed and a retry was queued";

/// The error a run whose state moved under it is recorded with.
pub(crate) fn state_moved(expected: i64) -> String {
    format!(
        "the charm's state moved while this run held it (it started from version {expected}); \
         its result was not written"
    )
}

/// Finishes a run if it is still running on this node: `$1` outcome, `$2`
/// error, `$3` finished at, `$4` fuel, `$5` memory bytes, `$6` duration ms,
/// `$7` log, `$8` state version, `$9` run, `$10` node.
pub(crate) const FINISH_RUN: &str = "UPDATE runs SET status = 'done', outcome = $1, error = $2, \
     finished_at = $3, fuel = $4, memory_bytes = $5, duration_ms = $6, log = $7, state_version = $8 \
     WHERE id = $9 AND status = 'running' AND owner = $10";

/// Writes a run's new state if its version is still `$4` (compare-and-set):
/// `$1` state, `$2` time, `$3` charm. Returns the new version.
pub(crate) const WRITE_STATE_IF_VERSION: &str = "UPDATE charm_state SET state = $1, \
     version = version + 1, updated_at = $2 WHERE charm_id = $3 AND version = $4 RETURNING version";

/// Applies a [`crate::CharmUpdate`]: `$1` failures, `$2` next run (or
/// null), `$3` the reason to disable (or null), `$4` time, `$5` charm, `$6`
/// whether the run succeeded (its time becomes the last success), `$7`
/// heavy runs in a row, `$8` the penalty (or null), `$9` the run's fuel.
/// Returns whether the charm has a queued run, which its finished run may
/// have held back (read here, not by a statement of its own: issue 18).
pub(crate) const APPLY_UPDATE: &str = "UPDATE charms SET consecutive_failures = $1, \
     next_run_at = COALESCE($2, next_run_at), \
     last_ok_at = CASE WHEN $6 THEN $4 ELSE last_ok_at END, \
     heavy_runs = $7, penalty = $8, recent_fuel = $9, \
     enabled = CASE WHEN $3 IS NULL THEN enabled ELSE FALSE END, \
     disabled_reason = COALESCE($3, disabled_reason), \
     disabled_at = CASE WHEN $3 IS NULL THEN disabled_at ELSE $4 END WHERE id = $5 \
     RETURNING EXISTS (SELECT 1 FROM runs WHERE charm_id = $5 AND status = 'queued') AS queued";

/// Fuel units a run's wall time counts as in fair share, per ms: the low
/// end of the fuel a CPU burns in a millisecond. A run that holds its slot
/// for seconds while burning nothing (waiting on a slow server, or never
/// settling) costs its slot's time, not nothing.
pub const SLOT_FUEL_PER_MS: u64 = 3_000_000;

/// What a run cost in fair share: its fuel plus its wall time in fuel units.
pub(crate) fn run_cost(run: &crate::Finished) -> u64 {
    run.fuel
        .saturating_add(run.duration_ms.saturating_mul(SLOT_FUEL_PER_MS))
}

/// Adds a run's cost (`$1`) to its space's (`$2`) recent usage.
pub(crate) const ADD_SPACE_FUEL: &str = "INSERT INTO space_usage (space, fuel) VALUES ($2, $1) \
     ON CONFLICT (space) DO UPDATE SET fuel = space_usage.fuel + excluded.fuel";

/// Takes the decay's turn if `$2` ms passed since the last (`$1` now).
pub(crate) const TAKE_DECAY: &str =
    "UPDATE usage_decay SET at = $1 WHERE id = 1 AND at <= $1 - $2 RETURNING at";

/// Decays every space's usage by `$1`.
pub(crate) const DECAY: &str = "UPDATE space_usage SET fuel = fuel * $1";

/// Forgets the spaces whose usage decayed away: they are idle.
pub(crate) const FORGET_IDLE_SPACES: &str = "DELETE FROM space_usage WHERE fuel < 1";

/// Recent fuel per space, largest first: `$1` limit.
pub(crate) const SPACE_USAGE: &str =
    "SELECT space, fuel FROM space_usage ORDER BY fuel DESC, space LIMIT $1";

/// Cancels a charm's queued run (a disabled charm never runs): `$1` charm,
/// `$2` time.
pub(crate) const CANCEL_QUEUED: &str = "UPDATE runs SET status = 'done', outcome = 'cancelled', \
     finished_at = $2, error = 'the charm was disabled before this run started' \
     WHERE charm_id = $1 AND status = 'queued'";

/// Whether a charm has a queued run (`$1`).
pub(crate) const HAS_QUEUED: &str = "SELECT id FROM runs WHERE charm_id = $1 AND status = 'queued'";

/// How long until the next enabled charm, or run asked for later, is due,
/// from `$1` (ms). `enabled = TRUE` lets SQLite seek `charms_due` (a bare
/// `enabled` read the whole index: 235 µs a pass at 3,000 charms, not 5).
pub(crate) const NEXT_DUE_IN: &str = "SELECT MIN(t) - $1 FROM ( \
       SELECT MIN(next_run_at) AS t FROM charms WHERE enabled = TRUE \
       UNION ALL SELECT MIN(at) AS t FROM wakeups) due";

/// A retry's place in its line: the attempt it is, and the first run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lineage {
    pub(crate) attempt: i64,
    pub(crate) origin: Option<i64>,
}

impl Lineage {
    /// A run queued by a trigger: the first of its line.
    pub(crate) const FIRST: Lineage = Lineage {
        attempt: 1,
        origin: None,
    };

    /// The retry of the run in `row` (`attempt`, `origin`).
    pub(crate) fn retry_of(row: &impl Columns) -> Result<Lineage, StoreError> {
        Ok(Lineage {
            attempt: row.int("attempt")? + 1,
            origin: Some(row.int("origin")?),
        })
    }
}

/// A charm's [`crate::Before`] from a row with `consecutive_failures` and
/// `heavy_runs`.
pub(crate) fn before_from(row: &impl Columns) -> Result<crate::Before, StoreError> {
    Ok(crate::Before {
        failures: to_u32("failure count", row.int("consecutive_failures")?)?,
        heavy_runs: to_u32("heavy runs", row.int("heavy_runs")?)?,
    })
}

/// A fresh node id: a UUID v7 without dashes.
pub(crate) fn new_node_id() -> Result<NodeId, StoreError> {
    let text = uuid::Uuid::now_v7().simple().to_string();
    node_id(&text)
}

/// The read-only operations, the same SQL on both backends: expands to
/// functions that take the backend's pool (`$pool`).
macro_rules! read_ops {
    ($pool:ty, $writer:ty) => {
        use $crate::rows::{
            code_from, code_sql, counts_from, list_sql, minute_from, node_from, record_by_id_sql,
            record_from, run_from, state_from, to_u64, CODE_FOR_RUN, COUNTS, COUNT_LISTED,
            FINISHED_PER_MINUTE, NODES,
        };
        use $crate::{
            CharmCode, CharmFilter, CharmId, CharmRecord, Counts, MinuteOutcomes, NodeRecord,
            RunId, RunRecord, StateRecord, StoreError,
        };

        pub(super) async fn record(
            pool: &$pool,
            id: &CharmId,
        ) -> Result<Option<CharmRecord>, StoreError> {
            let row = sqlx::query(record_by_id_sql())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(record_from).transpose()
        }

        pub(super) async fn list(
            pool: &$pool,
            filter: &CharmFilter,
        ) -> Result<(Vec<CharmRecord>, u64), StoreError> {
            let rows = sqlx::query(list_sql(filter.sort, filter.descending))
                .bind(&filter.space)
                .bind(&filter.integration)
                .bind(filter.enabled)
                .bind(i64::from(filter.limit))
                .bind(i64::from(filter.offset))
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(COUNT_LISTED)
                .bind(&filter.space)
                .bind(&filter.integration)
                .bind(filter.enabled)
                .fetch_one(pool)
                .await?;
            let charms = rows
                .iter()
                .map(record_from)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((charms, to_u64(total)))
        }

        pub(super) async fn code(
            pool: &$pool,
            id: &CharmId,
        ) -> Result<Option<CharmCode>, StoreError> {
            let row = sqlx::query(code_sql())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(code_from).transpose()
        }

        pub(super) async fn code_for_run(
            pool: &$pool,
            id: &CharmId,
        ) -> Result<Option<CharmCode>, StoreError> {
            let row = sqlx::query(CODE_FOR_RUN)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(code_from).transpose()
        }

        pub(super) async fn state(
            pool: &$pool,
            id: &CharmId,
        ) -> Result<Option<StateRecord>, StoreError> {
            let row = sqlx::query(
                "SELECT state, version, updated_at FROM charm_state WHERE charm_id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(state_from).transpose()
        }

        pub(super) async fn counts(pool: &$pool) -> Result<Counts, StoreError> {
            let row = sqlx::query(COUNTS).fetch_one(pool).await?;
            counts_from(&row)
        }

        pub(super) async fn run(pool: &$pool, id: RunId) -> Result<Option<RunRecord>, StoreError> {
            let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(run_from).transpose()
        }

        pub(super) async fn run_recording(
            pool: &$pool,
            id: RunId,
        ) -> Result<Option<$crate::recordings::StoredRecording>, StoreError> {
            let row = sqlx::query($crate::recordings::READ)
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref()
                .map($crate::recordings::recording_from)
                .transpose()
        }

        pub(super) async fn runs_of(
            pool: &$pool,
            charm: &CharmId,
            limit: u32,
        ) -> Result<Vec<RunRecord>, StoreError> {
            let rows =
                sqlx::query("SELECT * FROM runs WHERE charm_id = $1 ORDER BY id DESC LIMIT $2")
                    .bind(charm.as_str())
                    .bind(i64::from(limit))
                    .fetch_all(pool)
                    .await?;
            rows.iter().map(run_from).collect()
        }

        pub(super) async fn hook(
            pool: &$pool,
            id: &CharmId,
        ) -> Result<Option<$crate::Hook>, StoreError> {
            use $crate::rows::Columns;
            let row = sqlx::query($crate::rows::HOOK)
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                Ok($crate::Hook {
                    enabled: row.flag("enabled")?,
                    secret: row.opt_text("hook_secret")?,
                })
            })
            .transpose()
        }

        pub(super) async fn set_hook_secret(
            writer: $writer,
            id: &CharmId,
            secret: Option<&str>,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query($crate::rows::SET_HOOK_SECRET)
                .bind(secret)
                .bind(id.as_str())
                .execute(writer)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        pub(super) async fn nodes(pool: &$pool) -> Result<Vec<NodeRecord>, StoreError> {
            let rows = sqlx::query(NODES).fetch_all(pool).await?;
            rows.iter().map(node_from).collect()
        }

        pub(super) async fn finished_per_minute(
            pool: &$pool,
            since: i64,
        ) -> Result<Vec<MinuteOutcomes>, StoreError> {
            let rows = sqlx::query(FINISHED_PER_MINUTE)
                .bind(since)
                .fetch_all(pool)
                .await?;
            rows.iter().map(minute_from).collect()
        }
    };
}
pub(crate) use read_ops;

/// What a recorded finish leaves to its backend: the run to queue for the
/// charm's events, if any, whether the charm already had a queued run, and
/// the run's cost to its space, which the backend writes last.
#[derive(Debug)]
pub(crate) struct AfterFinish {
    pub(crate) follow_up: Option<crate::inbox::FollowUp>,
    pub(crate) queued: bool,
    pub(crate) cost: Option<SpaceCost>,
}

impl AfterFinish {
    pub(crate) const NOTHING: Self = Self {
        follow_up: None,
        queued: false,
        cost: None,
    };
}

/// A finished run's cost to its space: `cost` (fuel plus wall time, see
/// [`run_cost`]) for fair share, `fuel` for the hourly fuel quota.
///
/// Every finish of a space writes the same two rows (`space_usage` and the
/// minute's `space_fuel`), so on PostgreSQL concurrent finishes of a space
/// queue on their row locks until the holder commits. The backends write
/// them as the last statements of the finish, so each holds them for the
/// least time (issue 18: the `space_usage` upsert was a finish's longest
/// wait, 1.05–2.79 ms a call over eight windows, with four round trips
/// after it).
#[derive(Debug)]
pub(crate) struct SpaceCost {
    pub(crate) space: String,
    pub(crate) cost: u64,
    pub(crate) fuel: u64,
    pub(crate) quota: crate::Quota,
    pub(crate) now: i64,
}

/// The writes of a finish, once the run is known to be this node's (and,
/// on PostgreSQL, locked): the state if its version is still `$base`
/// (compare-and-set) and fits the space's state quota, the run's record,
/// the policy's update of the charm, and the settling of the run's events.
/// The run's cost to its space is returned, for the backend to write last
/// with its `quota::account_cost`. `$quota` is the
/// charm's space and its quotas in force (`quota_of_charm`, or the same
/// read by the backend's own lookup); the expansion site has the backend's
/// `quota` module beside it. Evaluates to
/// `Result<(Finish, AfterFinish), StoreError>`: the run to queue for
/// events still pending, which the backend queues with its own upsert, and
/// the space's cost (none when the state moved, as that run is not
/// counted, or when the charm is gone). A
/// macro because both backends run it on their own connection type; the
/// expansion site has the backend's `settle_events` in scope.
macro_rules! write_finish {
    ($conn:expr, $run:expr, $node:expr, $finished:expr, $policy:expr,
     charm = $charm:expr, base = $base:expr, before = $before:expr, now = $now:expr,
     quota = $quota:expr) => {{
        async {
            use $crate::rows::{
                clamp_i64, state_moved, APPLY_UPDATE, CANCEL_QUEUED, FINISH_RUN,
                WRITE_STATE_IF_VERSION,
            };
            let (conn, run, node, finished, policy) = ($conn, $run, $node, $finished, $policy);
            let (charm, base, before, now): (&str, i64, $crate::Before, i64) =
                ($charm, $base, $before, $now);
            // The charm's space and the quotas in force, read by the
            // backend's ownership lookup (`None`: the charm is gone).
            let quota: Option<(String, $crate::Quota)> = $quota;
            let mut version: Option<i64> = None;
            let mut recorded = finished.clone();
            let over = match (&quota, finished.outcome, &finished.new_state) {
                (Some((space, q)), $crate::RunOutcome::Ok, Some(state)) => {
                    super::quota::state_fits(&mut *conn, space, charm, state.len(), *q).await?
                }
                _ => None,
            };
            if let Some(over) = &over {
                recorded = $crate::Finished {
                    outcome: $crate::RunOutcome::Quota,
                    error: Some(over.run_error()),
                    new_state: None,
                    ..recorded
                };
            }
            let moved = match (recorded.outcome, &recorded.new_state) {
                ($crate::RunOutcome::Ok, Some(state)) => {
                    version = sqlx::query_scalar(WRITE_STATE_IF_VERSION)
                        .bind(state)
                        .bind(now)
                        .bind(charm)
                        .bind(base)
                        .fetch_optional(&mut *conn)
                        .await?;
                    version.is_none()
                }
                _ => false,
            };
            if moved {
                recorded = $crate::Finished {
                    outcome: $crate::RunOutcome::Fault,
                    error: Some(state_moved(base)),
                    new_state: None,
                    ..recorded
                };
            }
            sqlx::query(FINISH_RUN)
                .bind(recorded.outcome.as_str())
                .bind(&recorded.error)
                .bind(now)
                .bind(clamp_i64(recorded.fuel))
                .bind(clamp_i64(recorded.memory_bytes))
                .bind(clamp_i64(recorded.duration_ms))
                .bind(&recorded.log)
                .bind(version)
                .bind(run)
                .bind(node.as_str())
                .execute(&mut *conn)
                .await?;
            if let Some(recording) = &finished.recording {
                sqlx::query($crate::recordings::INSERT)
                    .bind(run)
                    .bind(charm)
                    .bind(&recording.source_sha256)
                    .bind(&recording.data)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query($crate::recordings::KEEP_SOURCE)
                    .bind(charm)
                    .bind(&recording.source_sha256)
                    .execute(&mut *conn)
                    .await?;
            }
            if moved {
                return Ok((
                    $crate::Finish::StateMoved { expected: base },
                    $crate::rows::AfterFinish::NOTHING,
                ));
            }
            let cost = $crate::rows::run_cost(&recorded);
            // Written by the backend after everything else (see `SpaceCost`).
            let space_cost = quota.map(|(space, quota)| $crate::rows::SpaceCost {
                space,
                cost,
                fuel: recorded.fuel,
                quota,
                now,
            });
            if let Some(over) = over {
                // Not blamed: the policy is not asked, so no failure is
                // counted, and the events wait for the next run.
                return Ok((
                    $crate::Finish::OverQuota(over),
                    $crate::rows::AfterFinish {
                        cost: space_cost,
                        ..$crate::rows::AfterFinish::NOTHING
                    },
                ));
            }
            let update = policy(before, now);
            let queued: Option<bool> = sqlx::query_scalar(APPLY_UPDATE)
                .bind(i64::from(update.consecutive_failures))
                .bind(update.next_run_at)
                .bind(&update.disable)
                .bind(now)
                .bind(charm)
                .bind(recorded.outcome == $crate::RunOutcome::Ok)
                .bind(i64::from(update.heavy_runs))
                .bind(&update.penalty)
                .bind(clamp_i64(cost))
                .fetch_optional(&mut *conn)
                .await?;
            if update.disable.is_some() {
                sqlx::query(CANCEL_QUEUED)
                    .bind(charm)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
            }
            let follow_up = settle_events(
                &mut *conn,
                run,
                charm,
                update.events,
                recorded.error.as_deref(),
                now,
            )
            .await?;
            // A disabled charm's queued run was cancelled above.
            let queued = queued.unwrap_or(false) && update.disable.is_none();
            Ok::<_, $crate::StoreError>((
                $crate::Finish::Recorded {
                    state_version: version,
                },
                $crate::rows::AfterFinish {
                    follow_up,
                    queued,
                    cost: space_cost,
                },
            ))
        }
        .await
    }};
}
pub(crate) use write_finish;
