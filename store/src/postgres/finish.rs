//! Recording a batch of finished runs on PostgreSQL in one transaction.
//!
//! Why: a finish recorded alone is about fourteen statements, each a round
//! trip and an executor start on the server, and the server's CPU per run
//! set the rate (issue 18: about 2 ms of server CPU a trivial run at
//! 3,000 charms every second). Here a batch is one lookup, which locks
//! every run's charm and row in charm id order, and then, for the finishes
//! whose writes are all [`Known`] from it (the common case), each kind of
//! write once for the whole batch, its rows from arrays (`UNNEST`): the
//! states, the runs' records, the recordings, the charms' bookkeeping, and
//! last the spaces' usage and fuel, summed per space. Those are the writes
//! of `rows::write_finish!` and `quota::account_cost`, row for row (the
//! differential test in `tests/postgres.rs`).
//!
//! The finishes that are not known, and the runs the lookup did not find
//! running on this node or found held by another transaction, are recorded
//! each alone after the batch commits, a few at a time
//! ([`super::queue::finish_if_owned`]; a run named twice in the batch's
//! order).
//!
//! Locks: a batch holds its charms' rows while it writes. It takes them in
//! charm id order and never waits for one (`SKIP LOCKED`: a charm or run
//! another transaction holds is recorded alone after the batch), and it
//! touches the rows every finish shares (a space's usage, fuel and block)
//! last, once each, in space order, as a lone finish (one space) and the
//! usage decay (`queue::decay_usage`, every space) do. An earlier batch that ran each finish's
//! statements in turn held its space rows across the whole batch, and
//! several nodes' finishers waited on each other (75 runs/s against 470
//! alone); a deadlock all the same is retried by [`super::pg_tx`], and any
//! error of the batch records each run alone, so one run's error is its
//! own.

use std::collections::HashMap;

use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::{pg_tx, PgStore, CHANNEL};
use crate::finish_known::{Known, Owned, SpaceUsage};
use crate::recordings::NewRecording;
use crate::rows::{clamp_i64, run_cost, CANCEL_QUEUED};
use crate::{Finish, NodeId, Quota, RunId, RunOutcome, RunToFinish, StoreError};

/// The batch's runs among `$1` running on node `$2`, each with its charm
/// (locked, with the run's row), the database's time, the charm's space's
/// quota overrides and the version its state is at. A run or charm another
/// transaction holds is passed over (`SKIP LOCKED`), and recorded alone
/// after the batch: a batch that waited for one while holding the others
/// could close a cycle (the scheduler's pass holds due charms while it
/// queues wake-ups, which wait for their charms).
const LOOKUP: &str = "SELECT r.id, r.charm_id, r.base_version, c.consecutive_failures, \
       c.heavy_runs, charm_host_now_ms() AS now, c.space, q.max_charms, \
       q.max_runs_in_flight, q.max_fuel_per_hour, q.max_state_bytes, q.keep_runs, \
       (SELECT s.version FROM charm_state s WHERE s.charm_id = r.charm_id) AS state_version_now \
     FROM runs r JOIN charms c ON c.id = r.charm_id LEFT JOIN space_quotas q ON q.space = c.space \
     WHERE r.id = ANY($1) AND r.status = 'running' AND r.owner = $2 \
     ORDER BY c.id FOR UPDATE OF c, r SKIP LOCKED";

/// `WRITE_STATE_IF_VERSION` for many charms: `$1` charms, `$2` states,
/// `$3` the versions they must be at, `$4` times. Each state must be
/// written ([`expect_rows`]): a state that moved between the lookup's
/// snapshot and its locks (in READ COMMITTED a statement sees what
/// committed before it began) fails the batch, and each run is recorded
/// alone, where the compare-and-set says which moved.
const WRITE_STATES: &str = "UPDATE charm_state s SET state = v.state, version = s.version + 1, \
       updated_at = v.now \
     FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS v(charm_id, state, base, now) \
     WHERE s.charm_id = v.charm_id AND s.version = v.base";

/// `FINISH_RUN` for many runs of node `$10`.
const FINISH_RUNS: &str = "UPDATE runs r SET status = 'done', outcome = v.outcome, \
       error = v.error, finished_at = v.now, fuel = v.fuel, memory_bytes = v.memory_bytes, \
       duration_ms = v.duration_ms, log = v.log, state_version = v.state_version \
     FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
                 $7::bigint[], $8::text[], $9::bigint[]) \
       AS v(id, outcome, error, now, fuel, memory_bytes, duration_ms, log, state_version) \
     WHERE r.id = v.id AND r.status = 'running' AND r.owner = $10";

/// `recordings::INSERT` for many runs.
const INSERT_RECORDINGS: &str =
    "INSERT INTO run_recordings (run_id, charm_id, source_sha256, recording) \
     SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[])";

/// `recordings::KEEP_SOURCE` for many charms (`$1`) and hashes (`$2`).
const KEEP_SOURCES: &str = "INSERT INTO recorded_sources (charm_id, source_sha256, name, source) \
     SELECT c.id, c.source_sha256, c.name, code.source \
     FROM (SELECT DISTINCT * FROM UNNEST($1::text[], $2::text[]) AS u(charm_id, sha)) v \
       JOIN charms c ON c.id = v.charm_id AND c.source_sha256 = v.sha \
       JOIN charm_code code ON code.charm_id = c.id \
     WHERE NOT EXISTS (SELECT 1 FROM recorded_sources k \
                       WHERE k.charm_id = v.charm_id AND k.source_sha256 = v.sha) \
     ON CONFLICT DO NOTHING";

/// `APPLY_UPDATE` for many charms; returns each with whether it has a
/// queued run. `OFFSET 0` keeps that check a probe of `runs_one_queued`
/// per charm: without it the planner hashed the whole queue once per
/// batch when its statistics said the queue was short (see
/// `unless_queued_unchanged!`): 26.9 ms for 64 charms against 14,000
/// queued runs, 1.9 ms with the fence.
const APPLY_UPDATES: &str = "UPDATE charms c SET consecutive_failures = v.failures, \
       next_run_at = COALESCE(v.next_run_at, c.next_run_at), \
       last_ok_at = CASE WHEN v.ok THEN v.now ELSE c.last_ok_at END, \
       heavy_runs = v.heavy_runs, penalty = v.penalty, recent_fuel = v.cost, \
       enabled = CASE WHEN v.disable IS NULL THEN c.enabled ELSE FALSE END, \
       disabled_reason = COALESCE(v.disable, c.disabled_reason), \
       disabled_at = CASE WHEN v.disable IS NULL THEN c.disabled_at ELSE v.now END \
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bool[], $5::bigint[], $6::bigint[], \
                 $7::text[], $8::bigint[], $9::text[]) \
       AS v(id, failures, next_run_at, ok, now, heavy_runs, penalty, cost, disable) \
     WHERE c.id = v.id \
     RETURNING c.id, EXISTS (SELECT 1 FROM runs q WHERE q.charm_id = c.id \
                                                AND q.status = 'queued' OFFSET 0) AS queued";

/// `ADD_SPACE_FUEL` once per space: `$1` spaces, `$2` costs.
const ADD_SPACES_FUEL: &str = "INSERT INTO space_usage (space, fuel) \
     SELECT space, SUM(cost) FROM UNNEST($1::text[], $2::float8[]) AS v(space, cost) \
     GROUP BY space ORDER BY space \
     ON CONFLICT (space) DO UPDATE SET fuel = space_usage.fuel + excluded.fuel";

/// `ADD_FUEL` once per space and minute: `$1` spaces, `$2` minutes, `$3`
/// fuel. Returns each bucket's total.
const ADD_FUELS: &str = "INSERT INTO space_fuel (space, minute, fuel) \
     SELECT space, minute, SUM(fuel)::bigint \
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS v(space, minute, fuel) \
     GROUP BY space, minute ORDER BY space, minute \
     ON CONFLICT (space, minute) DO UPDATE SET fuel = space_fuel.fuel + excluded.fuel \
     RETURNING space, minute, fuel";

/// `UNBLOCK` for many spaces: a known finish's space has no fuel budget.
const UNBLOCK_SPACES: &str = "DELETE FROM space_blocks WHERE space = ANY($1)";

/// Records `batch`, each run exactly as [`super::queue::finish_if_owned`]
/// would, and returns each one's result in `batch`'s order.
pub(super) async fn finish_batch(
    s: &PgStore,
    batch: &[RunToFinish<'_>],
) -> Vec<Result<Finish, StoreError>> {
    // A finisher's batch is its node's; any other is recorded run by run.
    let node = match batch {
        [first, rest @ ..] if !rest.is_empty() && rest.iter().all(|i| i.node == first.node) => {
            first.node
        }
        _ => return crate::finish_each_alone(s, batch).await,
    };
    let (recorded, waiting) = match record_known(s, batch, node).await {
        Ok(written) => written,
        Err(error) => {
            tracing::warn!(%error, runs = batch.len(), "recording a batch of runs failed; recording each alone");
            return crate::finish_each_alone(s, batch).await;
        }
    };
    if waiting {
        s.wake.raise();
    }
    let mut results: Vec<Option<Result<Finish, StoreError>>> =
        recorded.into_iter().map(|finish| finish.map(Ok)).collect();
    for (slot, result) in record_rest_alone(s, batch, &results).await {
        if let Some(place) = results.get_mut(slot) {
            *place = Some(result);
        }
    }
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(StoreError::Bug("a finish recorded no result".into())))
        })
        .collect()
}

/// Lone finishes of one batch at once: as many as the finishers that
/// recorded one run each before batches (half the default connections)
/// less the two that now take batches, so a batch of runs that are not
/// known (a fuel budget on every space, say) takes no more connections
/// than they did.
const ALONE_AT_ONCE: usize = 2;

/// Records each run of `batch` that the batch did not (`None` in
/// `recorded`) alone, a few at a time, a run named twice in turn; returns
/// each one's slot in `batch` and its result.
async fn record_rest_alone(
    s: &PgStore,
    batch: &[RunToFinish<'_>],
    recorded: &[Option<Result<Finish, StoreError>>],
) -> Vec<(usize, Result<Finish, StoreError>)> {
    use futures_util::StreamExt;
    let mut rest: Vec<(RunId, Vec<usize>)> = Vec::new();
    for (slot, (item, done)) in batch.iter().zip(recorded).enumerate() {
        if done.is_some() {
            continue;
        }
        match rest.iter_mut().find(|(run, _)| *run == item.run) {
            Some((_, slots)) => slots.push(slot),
            None => rest.push((item.run, vec![slot])),
        }
    }
    futures_util::stream::iter(rest)
        .map(|(_, slots)| async move {
            let mut out = Vec::with_capacity(slots.len());
            for slot in slots {
                let Some(item) = batch.get(slot) else {
                    continue;
                };
                let result = super::queue::finish_if_owned(
                    s,
                    item.run,
                    item.node,
                    item.finished,
                    item.policy,
                )
                .await;
                out.push((slot, result));
            }
            out
        })
        .buffer_unordered(ALONE_AT_ONCE)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await
}

/// [`write_known`] in a transaction.
async fn record_known(
    s: &PgStore,
    batch: &[RunToFinish<'_>],
    node: &NodeId,
) -> Result<(Vec<Option<Finish>>, bool), StoreError> {
    let quota = s.quota.get();
    pg_tx!(s, |conn| async {
        write_known(conn, &s.instance, batch, node, quota).await
    })
}

/// The batch's known finishes, written: each one's finish in `batch`'s
/// order (`None` for the runs left to record alone), and whether a charm
/// now has a queued run that can start.
async fn write_known(
    conn: &mut PgConnection,
    instance: &str,
    batch: &[RunToFinish<'_>],
    node: &NodeId,
    defaults: Quota,
) -> Result<(Vec<Option<Finish>>, bool), StoreError> {
    let mut running = lookup(conn, batch, node.as_str(), defaults).await?;
    let mut known = Vec::new();
    let mut slots = Vec::with_capacity(batch.len());
    for item in batch {
        // Taken out: a run named twice is recorded alone, after the batch,
        // as a lone finish would find it.
        let owned = running
            .remove(&item.run)
            .and_then(|o| Known::of(item.run, item.node, item.finished, item.policy, o).ok());
        slots.push(owned.map(|k| {
            known.push(k);
            known.len() - 1
        }));
    }
    if known.is_empty() {
        return Ok((vec![None; batch.len()], false));
    }
    let written = write(conn, instance, node, &known).await?;
    let waiting = written.iter().any(|(_, waiting)| *waiting);
    let finishes = slots
        .into_iter()
        .map(|slot| slot.and_then(|i| written.get(i).map(|(finish, _)| finish.clone())))
        .collect();
    Ok((finishes, waiting))
}

/// The runs of `batch` running on `node`, locked, by id; a row that does
/// not read (corrupt) is left out, for the lone finish to report.
async fn lookup(
    conn: &mut PgConnection,
    batch: &[RunToFinish<'_>],
    node: &str,
    defaults: Quota,
) -> Result<HashMap<RunId, Owned>, StoreError> {
    let ids: Vec<RunId> = batch.iter().map(|item| item.run).collect();
    let rows = sqlx::query(LOOKUP)
        .bind(&ids)
        .bind(node)
        .fetch_all(&mut *conn)
        .await?;
    let mut running = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: RunId = row.try_get("id")?;
        if let Ok(owned) = Owned::from_row(row, defaults) {
            running.insert(id, owned);
        }
    }
    Ok(running)
}

/// The known finishes' writes, each kind once: each one's finish, and
/// whether its charm now has a queued run that can start.
async fn write(
    conn: &mut PgConnection,
    instance: &str,
    node: &NodeId,
    known: &[Known<'_>],
) -> Result<Vec<(Finish, bool)>, StoreError> {
    write_states(conn, known).await?;
    write_runs(conn, node, known).await?;
    write_recordings(conn, known).await?;
    let queued = apply_updates(conn, known).await?;
    let mut written = Vec::with_capacity(known.len());
    for k in known {
        let disabled = k.update.disable.is_some();
        if disabled {
            sqlx::query(CANCEL_QUEUED)
                .bind(k.owned.charm.as_str())
                .bind(k.owned.now)
                .execute(&mut *conn)
                .await?;
        }
        // A disabled charm's queued run was cancelled just now.
        let waiting = !disabled && queued.get(k.owned.charm.as_str()) == Some(&true);
        written.push((
            Finish::Recorded {
                state_version: k.state.map(|(_, version)| version),
            },
            waiting,
        ));
    }
    if written.iter().any(|(_, waiting)| *waiting) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(instance)
            .execute(&mut *conn)
            .await?;
    }
    // Last: every finish of a space waits for these rows.
    account_costs(conn, known).await?;
    Ok(written)
}

async fn write_states(conn: &mut PgConnection, known: &[Known<'_>]) -> Result<(), StoreError> {
    let states: Vec<(&Known<'_>, &str)> =
        known.iter().filter_map(|k| Some((k, k.state?.0))).collect();
    if states.is_empty() {
        return Ok(());
    }
    let written = sqlx::query(WRITE_STATES)
        .bind(column(&states, |(k, _)| k.owned.charm.as_str()))
        .bind(column(&states, |(_, state)| *state))
        .bind(column(&states, |(k, _)| k.owned.base))
        .bind(column(&states, |(k, _)| k.owned.now))
        .execute(&mut *conn)
        .await?;
    expect_rows("states", written.rows_affected(), states.len())
}

async fn write_runs(
    conn: &mut PgConnection,
    node: &NodeId,
    known: &[Known<'_>],
) -> Result<(), StoreError> {
    let written = sqlx::query(FINISH_RUNS)
        .bind(column(known, |k| k.run))
        .bind(column(known, |k| k.finished.outcome.as_str()))
        .bind(column(known, |k| k.finished.error.as_deref()))
        .bind(column(known, |k| k.owned.now))
        .bind(column(known, |k| clamp_i64(k.finished.fuel)))
        .bind(column(known, |k| clamp_i64(k.finished.memory_bytes)))
        .bind(column(known, |k| clamp_i64(k.finished.duration_ms)))
        .bind(column(known, |k| k.finished.log.as_str()))
        .bind(column(known, |k| k.state.map(|(_, version)| version)))
        .bind(node.as_str())
        .execute(&mut *conn)
        .await?;
    expect_rows("runs", written.rows_affected(), known.len())
}

/// One array parameter: `value` of each row.
fn column<'r, R, T>(rows: &'r [R], value: impl Fn(&'r R) -> T) -> Vec<T> {
    rows.iter().map(value).collect()
}

async fn write_recordings(conn: &mut PgConnection, known: &[Known<'_>]) -> Result<(), StoreError> {
    let recorded: Vec<(&Known<'_>, &NewRecording)> = known
        .iter()
        .filter_map(|k| Some((k, k.finished.recording.as_deref()?)))
        .collect();
    if recorded.is_empty() {
        return Ok(());
    }
    let charms = column(&recorded, |(k, _)| k.owned.charm.as_str());
    let sources = column(&recorded, |(_, r)| r.source_sha256.as_str());
    sqlx::query(INSERT_RECORDINGS)
        .bind(column(&recorded, |(k, _)| k.run))
        .bind(&charms)
        .bind(&sources)
        .bind(column(&recorded, |(_, r)| r.data.as_slice()))
        .execute(&mut *conn)
        .await?;
    sqlx::query(KEEP_SOURCES)
        .bind(&charms)
        .bind(&sources)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Applies each policy's update to its charm; returns, by charm, whether
/// it has a queued run.
async fn apply_updates(
    conn: &mut PgConnection,
    known: &[Known<'_>],
) -> Result<HashMap<String, bool>, StoreError> {
    let rows = sqlx::query(APPLY_UPDATES)
        .bind(column(known, |k| k.owned.charm.as_str()))
        .bind(column(known, |k| i64::from(k.update.consecutive_failures)))
        .bind(column(known, |k| k.update.next_run_at))
        .bind(column(known, |k| k.finished.outcome == RunOutcome::Ok))
        .bind(column(known, |k| k.owned.now))
        .bind(column(known, |k| i64::from(k.update.heavy_runs)))
        .bind(column(known, |k| k.update.penalty.as_deref()))
        .bind(column(known, |k| clamp_i64(run_cost(k.finished))))
        .bind(column(known, |k| k.update.disable.as_deref()))
        .fetch_all(&mut *conn)
        .await?;
    expect_rows(
        "charms",
        u64::try_from(rows.len()).unwrap_or(u64::MAX),
        known.len(),
    )?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("queued")?)))
        .collect()
}

/// The known finishes' costs to their spaces, summed per space (and per
/// minute for the fuel): what `quota::account_cost` writes per run.
async fn account_costs(conn: &mut PgConnection, known: &[Known<'_>]) -> Result<(), StoreError> {
    let SpaceUsage {
        cost: usage,
        fuel,
        spaces,
    } = SpaceUsage::of(known);
    if !usage.is_empty() {
        let (names, costs): (Vec<&str>, Vec<f64>) = usage.into_iter().unzip();
        sqlx::query(ADD_SPACES_FUEL)
            .bind(&names)
            .bind(&costs)
            .execute(&mut *conn)
            .await?;
    }
    if !fuel.is_empty() {
        let mut columns = (Vec::new(), Vec::new(), Vec::new());
        for ((space, minute), added) in &fuel {
            columns.0.push(*space);
            columns.1.push(*minute);
            columns.2.push(*added);
        }
        let totals = sqlx::query(ADD_FUELS)
            .bind(&columns.0)
            .bind(&columns.1)
            .bind(&columns.2)
            .fetch_all(&mut *conn)
            .await?;
        for row in &totals {
            let (space, minute, total): (String, i64, i64) = (
                row.try_get("space")?,
                row.try_get("minute")?,
                row.try_get("fuel")?,
            );
            // The minute's first fuel: its older minutes go, once a minute
            // per space, as `account_fuel` does.
            if fuel.get(&(space.as_str(), minute)) == Some(&total) {
                sqlx::query(crate::quota::TRIM_FUEL)
                    .bind(&space)
                    .bind(minute)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    let spaces: Vec<&str> = spaces.into_iter().collect();
    sqlx::query(UNBLOCK_SPACES)
        .bind(&spaces)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A batch statement that did not write the rows it must have: the batch
/// is rolled back and each run recorded alone.
fn expect_rows(what: &str, wrote: u64, expected: usize) -> Result<(), StoreError> {
    if usize::try_from(wrote).ok() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::Bug(format!(
            "a batch of finishes wrote {wrote} rows of {what}, expected {expected}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batch's check for a queued run stays a probe per charm.
    #[test]
    fn the_queued_check_keeps_its_fence() {
        assert!(APPLY_UPDATES.contains("q.status = 'queued' OFFSET 0)"));
    }
}
