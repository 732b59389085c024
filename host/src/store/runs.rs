//! Runs: the job queue and the run history.
//!
//! A run is inserted `queued`, claimed as `running` by the dispatcher, and
//! finished as `done` with an outcome, in one transaction with the state it
//! wrote (if any) and the charm's failure bookkeeping.

use std::fmt;

use serde::Serialize;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// Why a run was queued. Higher priority runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A user asked for it: runs before everything else.
    Manual,
    /// The charm's interval came round.
    Schedule,
    /// Re-queued after the daemon stopped while it was running.
    Recovery,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Recovery => "recovery",
        }
    }

    /// Manual work before scheduled work before maintenance.
    pub fn priority(self) -> i64 {
        match self {
            Trigger::Manual => 20,
            Trigger::Schedule => 10,
            Trigger::Recovery => 0,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Ok,
    /// The charm threw, rejected or returned something that is not JSON.
    Error,
    Timeout,
    Fuel,
    Memory,
    /// An uncaught fetch was refused by the allow-list.
    Denied,
    /// Another limit (output, logs, fetches, stack).
    Limit,
    /// The sandbox failed.
    Fault,
    /// Stopped by a shutdown, or its charm was disabled first.
    Cancelled,
    /// The daemon died while it ran.
    Interrupted,
}

impl RunOutcome {
    pub const ALL: [RunOutcome; 10] = [
        RunOutcome::Ok,
        RunOutcome::Error,
        RunOutcome::Timeout,
        RunOutcome::Fuel,
        RunOutcome::Memory,
        RunOutcome::Denied,
        RunOutcome::Limit,
        RunOutcome::Fault,
        RunOutcome::Cancelled,
        RunOutcome::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Ok => "ok",
            RunOutcome::Error => "error",
            RunOutcome::Timeout => "timeout",
            RunOutcome::Fuel => "fuel",
            RunOutcome::Memory => "memory",
            RunOutcome::Denied => "denied",
            RunOutcome::Limit => "limit",
            RunOutcome::Fault => "fault",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Interrupted => "interrupted",
        }
    }

    /// Whether the run counts against the charm (backoff, auto-disable). A
    /// run cut short by the host (shutdown, crash) does not.
    pub fn is_failure(self) -> bool {
        !matches!(
            self,
            RunOutcome::Ok | RunOutcome::Cancelled | RunOutcome::Interrupted
        )
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub charm_id: String,
    pub trigger: String,
    pub status: String,
    #[serde(serialize_with = "raw_json_opt")]
    pub input: Option<String>,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    /// The JavaScript message and stack, or the limit, when it failed.
    pub error: Option<String>,
    pub fuel: Option<i64>,
    pub memory_bytes: Option<i64>,
    pub duration_ms: Option<i64>,
    pub log: Option<String>,
    pub state_version: Option<i64>,
}

fn raw_json_opt<S: serde::Serializer>(text: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match text {
        None => s.serialize_none(),
        Some(text) => match serde_json::value::RawValue::from_string(text.clone()) {
            Ok(raw) => raw.serialize(s),
            Err(e) => Err(serde::ser::Error::custom(e)),
        },
    }
}

/// The last run of a charm, as listings show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunSummary {
    pub id: i64,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<i64>,
}

/// The result of queueing a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    pub run_id: i64,
    /// True when an already queued run absorbed this request.
    pub coalesced: bool,
}

/// A run the dispatcher now owns.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    pub id: i64,
    pub charm_id: String,
    pub trigger: String,
    pub input: Option<String>,
    pub queued_at: i64,
    pub started_at: i64,
}

/// What a finished run recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub outcome: RunOutcome,
    pub error: Option<String>,
    /// The new state (JSON text), only for a successful run that returned one.
    pub new_state: Option<String>,
    pub fuel: u64,
    pub memory_bytes: u64,
    pub duration_ms: u64,
    pub log: String,
}

/// How a finished run changes its charm; decided by the scheduling policy
/// from the failure count before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharmUpdate {
    pub consecutive_failures: u32,
    /// A new time for the next scheduled run (backoff), if any.
    pub next_run_at: Option<i64>,
    /// Disable the charm with this reason.
    pub disable: Option<String>,
}

fn run_from(row: &SqliteRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.try_get("id")?,
        charm_id: row.try_get("charm_id")?,
        trigger: row.try_get("trigger")?,
        status: row.try_get("status")?,
        input: row.try_get("input")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        outcome: row.try_get("outcome")?,
        error: row.try_get("error")?,
        fuel: row.try_get("fuel")?,
        memory_bytes: row.try_get("memory_bytes")?,
        duration_ms: row.try_get("duration_ms")?,
        log: row.try_get("log")?,
        state_version: row.try_get("state_version")?,
    })
}

async fn enqueue_in(
    conn: &mut SqliteConnection,
    charm_id: &str,
    trigger: Trigger,
    input: Option<&str>,
) -> Result<Option<Enqueued>, StoreError> {
    let enabled: Option<bool> = sqlx::query_scalar("SELECT enabled FROM charms WHERE id = ?")
        .bind(charm_id)
        .fetch_optional(&mut *conn)
        .await?;
    if enabled != Some(true) {
        return Ok(None);
    }
    let queued =
        sqlx::query("SELECT id, priority FROM runs WHERE charm_id = ? AND status = 'queued'")
            .bind(charm_id)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = queued {
        let id: i64 = row.try_get("id")?;
        let priority: i64 = row.try_get("priority")?;
        if trigger.priority() > priority || input.is_some() {
            sqlx::query(
                "UPDATE runs SET trigger = CASE WHEN ?1 > priority THEN ?2 ELSE trigger END, \
                 priority = MAX(priority, ?1), input = COALESCE(?3, input) WHERE id = ?4",
            )
            .bind(trigger.priority())
            .bind(trigger.as_str())
            .bind(input)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        }
        return Ok(Some(Enqueued {
            run_id: id,
            coalesced: true,
        }));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO runs (charm_id, trigger, priority, status, input, queued_at) \
         VALUES (?, ?, ?, 'queued', ?, ?) RETURNING id",
    )
    .bind(charm_id)
    .bind(trigger.as_str())
    .bind(trigger.priority())
    .bind(input)
    .bind(now_ms())
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(Enqueued {
        run_id: id,
        coalesced: false,
    }))
}

/// Cancels a charm's queued run (a disabled charm never runs).
pub(super) async fn cancel_queued(
    conn: &mut SqliteConnection,
    charm_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runs SET status = 'done', outcome = 'cancelled', finished_at = ?, \
         error = 'the charm was disabled before this run started' \
         WHERE charm_id = ? AND status = 'queued'",
    )
    .bind(now)
    .bind(charm_id)
    .execute(conn)
    .await?;
    Ok(())
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Queues a run of `charm_id`, or coalesces into its queued run (raising
    /// that run's priority, and taking `input` if given). Returns `None` for
    /// an unknown or disabled charm.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn enqueue(
        &self,
        charm_id: &str,
        trigger: Trigger,
        input: Option<&str>,
    ) -> Result<Option<Enqueued>, StoreError> {
        self.write_tx(async |conn| enqueue_in(conn, charm_id, trigger, input).await)
            .await
    }

    /// Queues a scheduled run and moves the charm's next run to
    /// `next_run_at`, in one transaction.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn enqueue_scheduled(
        &self,
        charm_id: &str,
        next_run_at: i64,
    ) -> Result<Option<Enqueued>, StoreError> {
        self.write_tx(async |conn| {
            let queued = enqueue_in(conn, charm_id, Trigger::Schedule, None).await?;
            sqlx::query("UPDATE charms SET next_run_at = ? WHERE id = ?")
                .bind(next_run_at)
                .bind(charm_id)
                .execute(&mut *conn)
                .await?;
            Ok(queued)
        })
        .await
    }

    /// Claims the most urgent queued run whose charm is enabled and not
    /// already running, marking it running.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn claim_next(&self) -> Result<Option<ClaimedRun>, StoreError> {
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE runs SET status = 'running', started_at = ?1 WHERE id = ( \
               SELECT r.id FROM runs r JOIN charms c ON c.id = r.charm_id \
               WHERE r.status = 'queued' AND c.enabled = 1 \
                 AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.charm_id = r.charm_id AND x.status = 'running') \
               ORDER BY r.priority DESC, r.queued_at, r.id LIMIT 1) \
             RETURNING id, charm_id, trigger, input, queued_at",
        )
        .bind(now)
        .fetch_optional(&self.write)
        .await?;
        row.map(|r| {
            Ok(ClaimedRun {
                id: r.try_get("id")?,
                charm_id: r.try_get("charm_id")?,
                trigger: r.try_get("trigger")?,
                input: r.try_get("input")?,
                queued_at: r.try_get("queued_at")?,
                started_at: now,
            })
        })
        .transpose()
    }

    /// Records a finished run: the run, the new state (if any, version + 1)
    /// and the charm's bookkeeping, all or nothing. `policy` decides the
    /// charm's update from its failure count before this run. Returns the
    /// state version written, if any; `Ok(None)` also when the run or charm
    /// no longer exists (deleted meanwhile).
    ///
    /// # Errors
    /// On a database failure; then nothing was written.
    pub async fn finish(
        &self,
        run_id: i64,
        charm_id: &str,
        finished: &Finished,
        policy: impl FnOnce(u32) -> CharmUpdate,
    ) -> Result<Option<i64>, StoreError> {
        let version = self
            .write_tx(async |conn| finish_in(conn, run_id, charm_id, finished, policy).await)
            .await?;
        Ok(version.flatten())
    }
}

/// The body of [`Store::finish`]: `Ok(None)` when nothing is to be written
/// (the charm is gone or the run is no longer ours), else the state version
/// to report.
async fn finish_in(
    conn: &mut SqliteConnection,
    run_id: i64,
    charm_id: &str,
    finished: &Finished,
    policy: impl FnOnce(u32) -> CharmUpdate,
) -> Result<Option<Option<i64>>, StoreError> {
    let now = now_ms();
    let failures: Option<i64> =
        sqlx::query_scalar("SELECT consecutive_failures FROM charms WHERE id = ?")
            .bind(charm_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(failures) = failures else {
        return Ok(None);
    };
    // Not ours any more (recovered, or finished already): write nothing.
    // Checked first, because the state is written before the run row.
    let ours: Option<i64> =
        sqlx::query_scalar("SELECT id FROM runs WHERE id = ? AND status = 'running'")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?;
    if ours.is_none() {
        return Ok(None);
    }
    let version: Option<i64> = match &finished.new_state {
        Some(state) if finished.outcome == RunOutcome::Ok => Some(
            sqlx::query_scalar(
                "UPDATE charm_state SET state = ?, version = version + 1, updated_at = ? \
                     WHERE charm_id = ? RETURNING version",
            )
            .bind(state)
            .bind(now)
            .bind(charm_id)
            .fetch_one(&mut *conn)
            .await?,
        ),
        _ => None,
    };
    let done = sqlx::query(
        "UPDATE runs SET status = 'done', outcome = ?, error = ?, finished_at = ?, fuel = ?, \
             memory_bytes = ?, duration_ms = ?, log = ?, state_version = ? \
             WHERE id = ? AND status = 'running'",
    )
    .bind(finished.outcome.as_str())
    .bind(&finished.error)
    .bind(now)
    .bind(clamp_i64(finished.fuel))
    .bind(clamp_i64(finished.memory_bytes))
    .bind(clamp_i64(finished.duration_ms))
    .bind(&finished.log)
    .bind(version)
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        // Cannot happen (the one write connection serialises writers); an
        // error rolls the state back if it ever does.
        return Err(super::corrupt(
            "runs",
            format!("run {run_id} changed during its finish"),
        ));
    }
    let update = policy(u32::try_from(failures).unwrap_or(u32::MAX));
    sqlx::query(
        "UPDATE charms SET consecutive_failures = ?, next_run_at = COALESCE(?, next_run_at), \
             enabled = CASE WHEN ? IS NULL THEN enabled ELSE 0 END, \
             disabled_reason = COALESCE(?, disabled_reason), \
             disabled_at = CASE WHEN ? IS NULL THEN disabled_at ELSE ? END WHERE id = ?",
    )
    .bind(i64::from(update.consecutive_failures))
    .bind(update.next_run_at)
    .bind(&update.disable)
    .bind(&update.disable)
    .bind(&update.disable)
    .bind(now)
    .bind(charm_id)
    .execute(&mut *conn)
    .await?;
    if update.disable.is_some() {
        cancel_queued(conn, charm_id, now).await?;
    }
    Ok(Some(version))
}

impl Store {
    /// Marks every run left `running` by a previous process as interrupted
    /// and queues a recovery run for each charm. Call once, before the
    /// dispatcher starts. Returns the charms that were interrupted.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn recover_interrupted(&self) -> Result<Vec<String>, StoreError> {
        let charms: Vec<String> = sqlx::query_scalar(
            "UPDATE runs SET status = 'done', outcome = 'interrupted', finished_at = ?, \
             error = 'the daemon stopped while this run was in flight; its state was not changed' \
             WHERE status = 'running' RETURNING charm_id",
        )
        .bind(now_ms())
        .fetch_all(&self.write)
        .await?;
        for charm in &charms {
            self.enqueue(charm, Trigger::Recovery, None).await?;
        }
        Ok(charms)
    }

    /// One run, or `None`.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(run_from).transpose()
    }

    /// The newest runs of a charm, newest first.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn runs_of(&self, charm_id: &str, limit: u32) -> Result<Vec<RunRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM runs WHERE charm_id = ? ORDER BY id DESC LIMIT ?")
            .bind(charm_id)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(run_from).collect()
    }

    /// Deletes finished runs beyond the newest `keep` of each charm.
    /// Returns how many were deleted.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn prune_runs(&self, keep: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM runs WHERE status = 'done' AND id IN ( \
               SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY charm_id ORDER BY id DESC) AS n \
                               FROM runs WHERE status = 'done') WHERE n > ?)",
        )
        .bind(i64::from(keep))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }
}
