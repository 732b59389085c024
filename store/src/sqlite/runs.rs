//! Runs in SQLite: the job queue and the run history.
//!
//! A run is inserted `queued`, claimed as `running` by the dispatcher, and
//! finished as `done` with an outcome, in one transaction with the state it
//! wrote (if any) and the charm's failure bookkeeping.

use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::Row;

use super::charms::charm_id;
use super::{now_ms, SqliteStore};
use crate::{
    corrupt, CharmId, ClaimedRun, Enqueued, Finished, MinuteOutcomes, RunId, RunOutcome, RunRecord,
    RunStatus, StoreError, Trigger, UpdatePolicy,
};

pub(super) fn outcome_from(name: Option<String>) -> Result<Option<RunOutcome>, StoreError> {
    name.map(|n| RunOutcome::parse(&n).ok_or_else(|| corrupt("run outcome", format!("`{n}`"))))
        .transpose()
}

fn trigger_from(row: &SqliteRow) -> Result<Trigger, StoreError> {
    let name: String = row.try_get("trigger")?;
    Trigger::parse(&name).ok_or_else(|| corrupt("run trigger", format!("`{name}`")))
}

fn status_from(row: &SqliteRow) -> Result<RunStatus, StoreError> {
    let name: String = row.try_get("status")?;
    RunStatus::parse(&name).ok_or_else(|| corrupt("run status", format!("`{name}`")))
}

fn run_from(row: &SqliteRow) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.try_get("id")?,
        charm_id: charm_id(row, "charm_id")?,
        trigger: trigger_from(row)?,
        status: status_from(row)?,
        input: row.try_get("input")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        outcome: outcome_from(row.try_get("outcome")?)?,
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
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    input: Option<&str>,
) -> Result<Option<Enqueued>, StoreError> {
    let enabled: Option<bool> = sqlx::query_scalar("SELECT enabled FROM charms WHERE id = ?")
        .bind(charm.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if enabled != Some(true) {
        return Ok(None);
    }
    let queued =
        sqlx::query("SELECT id, priority FROM runs WHERE charm_id = ? AND status = 'queued'")
            .bind(charm.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(row) = queued {
        let id: i64 = row.try_get("id")?;
        let queued_priority: i64 = row.try_get("priority")?;
        if priority > queued_priority || input.is_some() {
            sqlx::query(
                "UPDATE runs SET trigger = CASE WHEN ?1 > priority THEN ?2 ELSE trigger END, \
                 priority = MAX(priority, ?1), input = COALESCE(?3, input) WHERE id = ?4",
            )
            .bind(priority)
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
    .bind(charm.as_str())
    .bind(trigger.as_str())
    .bind(priority)
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
    charm: &CharmId,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE runs SET status = 'done', outcome = 'cancelled', finished_at = ?, \
         error = 'the charm was disabled before this run started' \
         WHERE charm_id = ? AND status = 'queued'",
    )
    .bind(now)
    .bind(charm.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) async fn enqueue(
    s: &SqliteStore,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    input: Option<&str>,
) -> Result<Option<Enqueued>, StoreError> {
    s.write_tx(async |conn| enqueue_in(conn, charm, trigger, priority, input).await)
        .await
}

pub(super) async fn enqueue_scheduled(
    s: &SqliteStore,
    charm: &CharmId,
    priority: i64,
    next_run_at: i64,
) -> Result<Option<Enqueued>, StoreError> {
    s.write_tx(async |conn| {
        let queued = enqueue_in(conn, charm, Trigger::Schedule, priority, None).await?;
        sqlx::query("UPDATE charms SET next_run_at = ? WHERE id = ?")
            .bind(next_run_at)
            .bind(charm.as_str())
            .execute(&mut *conn)
            .await?;
        Ok(queued)
    })
    .await
}

pub(super) async fn claim_next(s: &SqliteStore) -> Result<Option<ClaimedRun>, StoreError> {
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
    .fetch_optional(&s.write)
    .await?;
    row.map(|r| {
        Ok(ClaimedRun {
            id: r.try_get("id")?,
            charm_id: charm_id(&r, "charm_id")?,
            trigger: trigger_from(&r)?,
            input: r.try_get("input")?,
            queued_at: r.try_get("queued_at")?,
            started_at: now,
        })
    })
    .transpose()
}

pub(super) async fn finish_if_running(
    s: &SqliteStore,
    run: RunId,
    charm: &CharmId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
) -> Result<Option<i64>, StoreError> {
    let version = s
        .write_tx(async |conn| finish_in(conn, run, charm, finished, policy).await)
        .await?;
    Ok(version.flatten())
}

/// The body of [`finish_if_running`]: `Ok(None)` when nothing is to be
/// written (the charm is gone or the run is no longer running), else the
/// state version to report.
async fn finish_in(
    conn: &mut SqliteConnection,
    run_id: RunId,
    charm: &CharmId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
) -> Result<Option<Option<i64>>, StoreError> {
    let now = now_ms();
    let failures: Option<i64> =
        sqlx::query_scalar("SELECT consecutive_failures FROM charms WHERE id = ?")
            .bind(charm.as_str())
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
            .bind(charm.as_str())
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
        return Err(corrupt(
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
    .bind(charm.as_str())
    .execute(&mut *conn)
    .await?;
    if update.disable.is_some() {
        cancel_queued(conn, charm, now).await?;
    }
    Ok(Some(version))
}

pub(super) async fn rescue_interrupted(
    s: &SqliteStore,
    retry_priority: i64,
) -> Result<Vec<CharmId>, StoreError> {
    let rows = sqlx::query(
        "UPDATE runs SET status = 'done', outcome = 'interrupted', finished_at = ?, \
         error = 'the daemon stopped while this run was in flight; its state was not changed' \
         WHERE status = 'running' RETURNING charm_id",
    )
    .bind(now_ms())
    .fetch_all(&s.write)
    .await?;
    let charms = rows
        .iter()
        .map(|r| charm_id(r, "charm_id"))
        .collect::<Result<Vec<_>, _>>()?;
    for charm in &charms {
        enqueue(s, charm, Trigger::Recovery, retry_priority, None).await?;
    }
    Ok(charms)
}

pub(super) async fn record(s: &SqliteStore, id: RunId) -> Result<Option<RunRecord>, StoreError> {
    let row = sqlx::query("SELECT * FROM runs WHERE id = ?")
        .bind(id)
        .fetch_optional(&s.read)
        .await?;
    row.as_ref().map(run_from).transpose()
}

pub(super) async fn of_charm(
    s: &SqliteStore,
    charm: &CharmId,
    limit: u32,
) -> Result<Vec<RunRecord>, StoreError> {
    let rows = sqlx::query("SELECT * FROM runs WHERE charm_id = ? ORDER BY id DESC LIMIT ?")
        .bind(charm.as_str())
        .bind(i64::from(limit))
        .fetch_all(&s.read)
        .await?;
    rows.iter().map(run_from).collect()
}

pub(super) async fn prune(s: &SqliteStore, keep: u32) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM runs WHERE status = 'done' AND id IN ( \
           SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY charm_id ORDER BY id DESC) AS n \
                           FROM runs WHERE status = 'done') WHERE n > ?)",
    )
    .bind(i64::from(keep))
    .execute(&s.write)
    .await?;
    Ok(done.rows_affected())
}

pub(super) async fn finished_per_minute(
    s: &SqliteStore,
    since: i64,
) -> Result<Vec<MinuteOutcomes>, StoreError> {
    let rows = sqlx::query(
        "SELECT finished_at / 60000 AS m, outcome, COUNT(*) AS runs \
         FROM runs WHERE status = 'done' AND finished_at >= ? GROUP BY m, outcome ORDER BY m",
    )
    .bind(since)
    .fetch_all(&s.read)
    .await?;
    rows.iter()
        .map(|row| {
            let minute: i64 = row.try_get("m")?;
            let outcome = outcome_from(row.try_get("outcome")?)?
                .ok_or_else(|| corrupt("run outcome", "a finished run without one"))?;
            let runs: i64 = row.try_get("runs")?;
            Ok(MinuteOutcomes {
                minute: minute * 60_000,
                outcome,
                runs: u64::try_from(runs).unwrap_or(0),
            })
        })
        .collect()
}
