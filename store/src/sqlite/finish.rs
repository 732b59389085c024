//! Recording finished runs in SQLite: the run's outcome, the state it
//! wrote, its charm's bookkeeping and its space's usage, in one transaction.
//!
//! A finish whose every write is known once the run's row has been read
//! (the common case: no state quota, no fuel budget, no events to settle,
//! the state not moved) is a [`Known`] finish: its writes run on SQLite's
//! handle directly ([`direct`]). A batch of known finishes, however many
//! runs it has, is one turn on the handle: its lookup, its writes and its
//! commit ([`super::tx`]), with no round trip to sqlx's thread. The others
//! go through [`write_finish!`], which decides each write on the answer of
//! the one before; both record the same rows.

use super::direct::{self, first_value};
use super::inbox::settle_events;
use super::runs::{has_queued, upsert};
use super::tx::{Then, WriteTx};
use super::{SqliteStore, NOW};
use crate::finish_known::{Known, Owned, SpaceUsage};
use crate::quota::{ADD_FUEL, TRIM_FUEL};
use crate::rows::{
    clamp_i64, run_cost, write_finish, APPLY_UPDATE, CANCEL_QUEUED, FINISH_RUN,
    WRITE_STATE_IF_VERSION,
};
use crate::{
    Finish, Finished, NodeId, Quota, RunId, RunOutcome, RunToFinish, StoreError, UpdatePolicy,
};

/// The running runs among `$1` (a JSON array of run ids), each with its
/// charm, the database's time, the charm's space's quota overrides and the
/// version its state is at now: one statement for a whole batch (issue
/// 18). The caller checks each run's owner.
fn lookup_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT r.id, r.owner, r.charm_id, r.base_version, c.consecutive_failures, c.heavy_runs, \
               {NOW} AS now, c.space, q.max_charms, q.max_runs_in_flight, q.max_fuel_per_hour, \
               q.max_state_bytes, q.keep_runs, \
               (SELECT s.version FROM charm_state s WHERE s.charm_id = r.charm_id) AS state_version_now \
             FROM runs r JOIN charms c ON c.id = r.charm_id \
               LEFT JOIN space_quotas q ON q.space = c.space \
             WHERE r.id IN (SELECT value FROM json_each($1)) AND r.status = 'running'"
        )
    })
}

pub(super) async fn finish_if_owned(
    s: &SqliteStore,
    run: RunId,
    node: &NodeId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
) -> Result<Finish, StoreError> {
    let one = RunToFinish {
        run,
        node,
        finished,
        policy,
    };
    let quota = s.quota.get();
    let results = s
        .write_tx_direct(async |tx| finish_together(tx, std::slice::from_ref(&one), quota).await)
        .await?;
    let (finish, waiting) = lone(results)?;
    if waiting {
        s.wake.raise();
    }
    Ok(finish)
}

/// Records a batch of finished runs in one transaction (one commit for them
/// all); if it fails, each alone, so that one run's error is its own.
pub(super) async fn finish_batch(
    s: &SqliteStore,
    batch: &[RunToFinish<'_>],
) -> Vec<Result<Finish, StoreError>> {
    if let [one] = batch {
        return vec![finish_if_owned(s, one.run, one.node, one.finished, one.policy).await];
    }
    let quota = s.quota.get();
    let together = s
        .write_tx_direct(async |tx| finish_together(tx, batch, quota).await)
        .await;
    match together {
        Ok(results) => {
            if results.iter().any(|(_, waiting)| *waiting) {
                s.wake.raise();
            }
            results.into_iter().map(|(finish, _)| Ok(finish)).collect()
        }
        Err(error) => {
            tracing::warn!(%error, runs = batch.len(), "recording a batch of runs failed; recording each alone");
            crate::finish_each_alone(s, batch).await
        }
    }
}

/// How one run of a batch is recorded, decided from the batch's lookup.
// `Known` is the common case and lives only for its batch: boxing it would
// be an allocation per run.
#[allow(clippy::large_enum_variant)]
enum Step<'a> {
    /// Every write known: on the handle.
    Known(Known<'a>),
    /// Running on this node, with writes that depend on what it reads.
    Unknown(Box<Owned>),
    /// Not running, or not on this node (or named twice): the lone path
    /// says which.
    Lone,
}

/// The body of [`finish_batch`] and [`finish_if_owned`]: each run's finish,
/// in order, and whether its charm now has a queued run that can start.
///
/// When every run's writes are [`Known`] (the common case), the whole
/// transaction is one turn on the handle: the lookup, the writes and the
/// commit.
async fn finish_together(
    tx: &mut WriteTx<'_>,
    batch: &[RunToFinish<'_>],
    quota: Quota,
) -> Result<Vec<(Finish, bool)>, StoreError> {
    let ids = run_ids(batch.iter().map(|item| item.run))?;
    let planned = tx
        .direct_then(|db| {
            let mut running = lookup(db, &ids, quota)?;
            let mut steps = Vec::with_capacity(batch.len());
            for item in batch {
                // Taken out, so a run named twice is looked up again after
                // its first finish, as a lone finish would find it.
                let owned = match running.remove(&item.run) {
                    Some(looked) if looked.is_on(item.node) => Some(looked.owned?),
                    _ => None,
                };
                steps.push(
                    match owned
                        .map(|o| Known::of(item.run, item.node, item.finished, item.policy, o))
                    {
                        Some(Ok(known)) => Step::Known(known),
                        Some(Err(owned)) => Step::Unknown(owned),
                        None => Step::Lone,
                    },
                );
            }
            if steps.iter().all(|step| matches!(step, Step::Known(_))) {
                let known = steps.iter().filter_map(|step| match step {
                    Step::Known(known) => Some(known),
                    _ => None,
                });
                Ok((Err(write_all(db, known)?), Then::Commit))
            } else {
                Ok((Ok(steps), Then::Continue))
            }
        })
        .await?;
    let steps = match planned {
        Err(written) => return Ok(written),
        Ok(steps) => steps,
    };
    let mut results = Vec::with_capacity(batch.len());
    let mut known = Vec::new();
    for (item, step) in batch.iter().zip(steps) {
        let (node, finished, policy) = (item.node, item.finished, item.policy);
        let owned = match step {
            Step::Known(k) => {
                known.push(k);
                continue;
            }
            Step::Unknown(owned) => Some(owned),
            Step::Lone => None,
        };
        // In order: the known finishes before this one first.
        results.extend(write_known(tx, &std::mem::take(&mut known)).await?);
        results.push(match owned {
            Some(owned) => finish_unknown(tx, item.run, node, finished, policy, &owned).await?,
            None => finish_in(tx, item.run, node, finished, policy, quota).await?,
        });
    }
    results.extend(write_known(tx, &known).await?);
    Ok(results)
}

/// `runs` as the lookup's JSON array.
fn run_ids(runs: impl Iterator<Item = RunId>) -> Result<String, StoreError> {
    serde_json::to_string(&runs.collect::<Vec<_>>())
        .map_err(|e| StoreError::Bug(format!("run ids as JSON: {e}")))
}

/// A run of a batch the batch's lookup did not find running on `node`:
/// looked up again (a run named twice was finished by its first), and
/// recorded if it now is, with whether its charm now has a queued run that
/// can start.
async fn finish_in(
    tx: &mut WriteTx<'_>,
    run: RunId,
    node: &NodeId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
    quota: Quota,
) -> Result<(Finish, bool), StoreError> {
    let ids = run_ids(std::iter::once(run))?;
    let owned = match tx.direct(|db| lookup(db, &ids, quota)).await?.remove(&run) {
        Some(looked) if looked.is_on(node) => Some(looked.owned?),
        _ => None,
    };
    let Some(owned) = owned else {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE id = $1")
            .bind(run)
            .fetch_optional(tx.conn().await?)
            .await?;
        let finish = if exists.is_some() {
            Finish::NotOwned
        } else {
            Finish::Gone
        };
        return Ok((finish, false));
    };
    match Known::of(run, node, finished, policy, owned) {
        Ok(known) => {
            tx.direct(|db| lone(write_all(db, [&known].into_iter())?))
                .await
        }
        Err(owned) => finish_unknown(tx, run, node, finished, policy, &owned).await,
    }
}

/// A running run the lookup found: its owner, and what the finish needs
/// if it is this node's (an error only when the row is corrupt, and then
/// only for the finish of that run, as when it was read on demand).
struct Looked {
    owner: Option<String>,
    owned: Result<Owned, StoreError>,
}

impl Looked {
    /// Whether the run is running on `node`.
    fn is_on(&self, node: &NodeId) -> bool {
        self.owner.as_deref() == Some(node.as_str())
    }
}

/// The running runs among `ids` (a JSON array of run ids), by id, read in
/// one statement on the handle (issue 18: a lookup per run of a batch was a round trip to
/// SQLite's thread each, and then each row was a message from it). The
/// rows of distinct charms: a charm has one running run, and no finish in
/// a batch writes what another's row reads.
fn lookup(
    db: &rusqlite::Connection,
    ids: &str,
    quota: Quota,
) -> Result<std::collections::HashMap<RunId, Looked>, StoreError> {
    let mut running = std::collections::HashMap::new();
    direct::for_each_row(db, lookup_sql(), &[&ids], |row| {
        let id: RunId = row.get("id")?;
        let owner: Option<String> = row.get("owner")?;
        let owned = Owned::from_row(row, quota);
        running.insert(id, Looked { owner, owned });
        Ok(())
    })?;
    Ok(running)
}

/// Records a run the lookup found running on this node (`owned`) whose
/// writes are not all [`Known`], and whether its charm now has a queued run
/// that can start.
async fn finish_unknown(
    tx: &mut WriteTx<'_>,
    run: RunId,
    node: &NodeId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
    owned: &Owned,
) -> Result<(Finish, bool), StoreError> {
    let conn = tx.conn().await?;
    let (finish, after) = write_finish!(
        &mut *conn,
        run,
        node,
        finished,
        policy,
        charm = owned.charm.as_str(),
        base = owned.base,
        before = owned.before,
        now = owned.now,
        quota = Some((owned.space.clone(), owned.quota))
    )?;
    let mut waiting = after.queued;
    if matches!(finish, Finish::StateMoved { .. } | Finish::OverQuota(_)) {
        // These finishes apply no update, so nothing read whether a run
        // waits behind the one that finished; one may, and can start now.
        waiting = has_queued(conn, &owned.charm).await?;
    }
    if let Some(f) = after.follow_up {
        let queued = upsert(
            conn,
            &owned.charm,
            f.trigger,
            f.priority,
            f.not_before,
            f.lineage,
        )
        .await?;
        waiting |= queued.is_some();
    }
    if let Some(cost) = &after.cost {
        super::quota::account_cost(conn, cost).await?;
    }
    Ok((finish, waiting))
}

/// The known finishes' writes, in order, and their spaces' usage, on
/// SQLite's handle in one turn.
async fn write_known(
    tx: &mut WriteTx<'_>,
    known: &[Known<'_>],
) -> Result<Vec<(Finish, bool)>, StoreError> {
    if known.is_empty() {
        return Ok(Vec::new());
    }
    tx.direct(|db| write_all(db, known.iter())).await
}

/// The one result of a lone run's finish.
fn lone(mut written: Vec<(Finish, bool)>) -> Result<(Finish, bool), StoreError> {
    written
        .pop()
        .ok_or_else(|| StoreError::Bug("a finish recorded no result".into()))
}

/// Writes the known finishes in order ([`Known::write`]), then their
/// spaces' usage, each sum once ([`SpaceUsage`]). Why once: the three
/// statements a run were 6.9–8.1 µs a run in Python's `sqlite3` on a copy
/// of a bench database, and 1.4 µs a run once a space (64 runs of 10
/// spaces a transaction; issue 18).
fn write_all<'k, 'a: 'k>(
    db: &rusqlite::Connection,
    known: impl Iterator<Item = &'k Known<'a>> + Clone,
) -> Result<Vec<(Finish, bool)>, StoreError> {
    let usage = SpaceUsage::of(known.clone());
    let written = known
        .map(|k| k.write(db))
        .collect::<Result<Vec<_>, StoreError>>()?;
    for (space, cost) in &usage.cost {
        first_value(db, crate::rows::ADD_SPACE_FUEL, &[cost, space])?;
    }
    for ((space, minute), fuel) in &usage.fuel {
        first_value(db, ADD_FUEL, &[space, minute, fuel])?;
        // Every batch, not once a minute as `account_cost` does: whether
        // this is the minute's first run is known only after the insert;
        // trimming nothing is one index seek.
        first_value(db, TRIM_FUEL, &[space, minute])?;
    }
    Ok(written)
}

impl Known<'_> {
    /// Writes the finish on SQLite's handle: the writes of
    /// [`write_finish!`], in the same order; `quota::account_cost`'s follow
    /// for the batch ([`write_all`]). Says whether its charm now has a
    /// queued run that can start.
    fn write(&self, db: &rusqlite::Connection) -> Result<(Finish, bool), StoreError> {
        use rusqlite::types::Value;
        let (finished, update) = (self.finished, &self.update);
        let (charm, now) = (self.owned.charm.as_str(), self.owned.now);
        let version = self.state.map(|(_, version)| version);
        if let Some((state, version)) = self.state {
            let written = first_value(
                db,
                WRITE_STATE_IF_VERSION,
                &[&state, &now, &charm, &self.owned.base],
            )?;
            if written != Some(Value::Integer(version)) {
                // One writer: the version read by the lookup cannot have moved.
                return Err(crate::corrupt(
                    "a finished run's state",
                    format!("expected to write version {version}, wrote {written:?}"),
                ));
            }
        }
        first_value(
            db,
            FINISH_RUN,
            &[
                &finished.outcome.as_str(),
                &finished.error.as_deref(),
                &now,
                &clamp_i64(finished.fuel),
                &clamp_i64(finished.memory_bytes),
                &clamp_i64(finished.duration_ms),
                &finished.log.as_str(),
                &version,
                &self.run,
                &self.node.as_str(),
            ],
        )?;
        if let Some(recording) = &finished.recording {
            let source = recording.source_sha256.as_str();
            first_value(
                db,
                crate::recordings::INSERT,
                &[&self.run, &charm, &source, &recording.data],
            )?;
            first_value(db, crate::recordings::KEEP_SOURCE, &[&charm, &source])?;
        }
        let cost = run_cost(finished);
        let queued = first_value(
            db,
            APPLY_UPDATE,
            &[
                &i64::from(update.consecutive_failures),
                &update.next_run_at,
                &update.disable.as_deref(),
                &now,
                &charm,
                &(finished.outcome == RunOutcome::Ok),
                &i64::from(update.heavy_runs),
                &update.penalty.as_deref(),
                &clamp_i64(cost),
            ],
        )?;
        if update.disable.is_some() {
            first_value(db, CANCEL_QUEUED, &[&charm, &now])?;
        }
        // A disabled charm's queued run was cancelled above.
        let queued =
            matches!(queued, Some(Value::Integer(n)) if n != 0) && update.disable.is_none();
        Ok((
            Finish::Recorded {
                state_version: version,
            },
            queued,
        ))
    }
}
