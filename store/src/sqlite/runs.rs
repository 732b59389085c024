//! Runs in SQLite: the job queue, the run history, and the nodes that
//! claim runs.
//!
//! A run is inserted `queued`, claimed as `running` by a node, and finished
//! as `done` with an outcome, in one transaction with the state it wrote (if
//! any) and the charm's failure bookkeeping. SQLite has one writer, so each
//! of these is serialised by the write connection; the statements still
//! re-check what they change, as the PostgreSQL backend's must.

use sqlx::sqlite::SqliteConnection;
use sqlx::Row;

use super::inbox::{append_event, give_events};
use super::tx::Then;
use super::{direct, pruning, SqliteStore, NOW};
use crate::prune::{Pruned, DELETE_CHUNK};
use crate::rows::{
    charm_id, claimed_from, node_id, parse_charm_id, with_events, Lineage, HAS_QUEUED, INTERRUPTED,
    NEXT_DUE_IN,
};
use crate::{
    CharmId, ClaimedRun, Delivered, Enqueued, EventId, FairShare, NewEvent, NextRunPolicy, NodeId,
    NodeInfo, RescuedRun, SchedulePass, StoreError, Trigger,
};

/// The statements that read the database's clock, built once.
struct Sql {
    upsert: String,
    upsert_scheduled: String,
    claim: String,
    due: String,
    rescue: String,
    register: String,
    heartbeat: String,
    forget_dead: String,
    wakeups: String,
    now: String,
}

/// How a queued run absorbs another request for the same charm: the
/// higher priority (and its trigger), the earlier start, the later attempt
/// of a line of retries. Inputs are events in the inbox, so nothing is
/// overwritten.
const JOIN_QUEUED: &str = "ON CONFLICT (charm_id) WHERE status = 'queued' DO UPDATE SET \
       trigger = CASE WHEN excluded.priority > runs.priority THEN excluded.trigger ELSE runs.trigger END, \
       priority = MAX(runs.priority, excluded.priority), \
       not_before = CASE WHEN excluded.not_before IS NULL OR runs.not_before IS NULL THEN NULL \
         ELSE MIN(runs.not_before, excluded.not_before) END, \
       origin_run_id = CASE WHEN excluded.attempt > runs.attempt THEN excluded.origin_run_id ELSE runs.origin_run_id END, \
       attempt = MAX(runs.attempt, excluded.attempt)";

fn sql() -> &'static Sql {
    static SQL: std::sync::OnceLock<Sql> = std::sync::OnceLock::new();
    SQL.get_or_init(|| Sql {
        // One upsert on the one-queued-run index: a new run, or the queued
        // one joined.
        upsert: format!(
            "INSERT INTO runs (charm_id, space, fair_at, trigger, priority, status, not_before, queued_at, attempt, origin_run_id) \
             SELECT id, space, {NOW} + recent_fuel / 3000000, $2, $3, 'queued', $4, {NOW}, $5, $6 \
             FROM charms WHERE id = $1 AND enabled {JOIN_QUEUED} RETURNING id"
        ),
        // The schedule pass's upsert, for all its due charms at once: `$1` a
        // JSON array of charm ids, `$2` the priority. Returns the runs
        // queued or changed; charms whose queued run it would join
        // unchanged are left out (`unless_queued_unchanged!`). `CROSS JOIN` keeps the
        // ids the outer loop (SQLite otherwise walked every enabled charm
        // and re-read the array for each); the `WHERE` is what lets SQLite
        // parse `ON CONFLICT` after a join.
        upsert_scheduled: format!(
            "INSERT INTO runs (charm_id, space, fair_at, trigger, priority, status, not_before, queued_at, attempt, origin_run_id) \
             SELECT c.id, c.space, {NOW} + c.recent_fuel / 3000000, 'schedule', $2, 'queued', NULL, {NOW}, 1, NULL \
             FROM json_each($1) j CROSS JOIN charms c WHERE c.id = j.value AND c.enabled = TRUE {} {JOIN_QUEUED}{} RETURNING id",
            crate::rows::unless_queued_unchanged!(""),
            crate::rows::join_changes!()
        ),
        // Up to `$5` runs, chosen in one statement: exactly the runs `$5`
        // claims one after another would take (measured against them on
        // 144 mixes of quotas, blocks, priorities and limits), at a
        // fraction of the cost (issue 18).
        //
        // Why one choice gives the same runs: a space's fuel, the second
        // key of the order across spaces, does not change while runs are
        // claimed, so within a space the order across spaces is the
        // space's own queue order. Claiming one run at a time therefore
        // takes the first `$5` of the ready runs sorted by that order,
        // each space contributing at most its room (its fair share or its
        // in-flight quota, less the runs it has running). A charm has at
        // most one queued run, so taking it can make no other run of the
        // batch unready.
        //
        // `spaces`: the spaces with queued runs (a skip scan over
        // `runs_space_queue`, one seek per space); the cost grows with
        // them and with `$5`, not with the queue. `INDEXED BY` because
        // without statistics SQLite may prefer another index on the queued
        // runs and read every queued row (it chose the since dropped
        // `runs_queue`: 3.4 ms a claim at 3,000 queued, measured).
        // `running`: by space, all of them (for the quota) and those that
        // execute (for the share): not among the node's finishing runs
        // (`$6`, a JSON array of run ids), which hold no slot.
        // `room`:
        // how many more runs each space may have running (`1 << 62` where
        // nothing limits it). `ready`: each space's first ready runs in
        // queue order, as many as the batch or the fair share allows (the
        // share bounds each space's room; a `LIMIT` cannot read the
        // space's own room). The outer `id IN` is evaluated once, before
        // any row changes.
        claim: format!(
            "UPDATE runs SET status = 'running', owner = $1, started_at = {NOW}, \
               lease_expires_at = {NOW} + $2, \
               base_version = (SELECT version FROM charm_state s WHERE s.charm_id = runs.charm_id) \
             WHERE id IN ( \
               WITH RECURSIVE spaces (space) AS ( \
                 SELECT (SELECT MIN(space) FROM runs INDEXED BY runs_space_queue WHERE status = 'queued') \
                 UNION ALL \
                 SELECT (SELECT MIN(q.space) FROM runs q INDEXED BY runs_space_queue \
                         WHERE q.status = 'queued' AND q.space > spaces.space) \
                 FROM spaces WHERE spaces.space IS NOT NULL), \
               share (runs) AS MATERIALIZED ( \
                 SELECT CASE WHEN $3 > 0 THEN MAX(1, $3 * (SELECT COUNT(*) FROM nodes) \
                                             / MAX(1, (SELECT COUNT(*) FROM space_usage))) END), \
               running (space, runs, executing) AS MATERIALIZED ( \
                 SELECT space, COUNT(*), COUNT(*) - SUM(id IN (SELECT value FROM json_each($6))) \
                 FROM runs WHERE status = 'running' GROUP BY space), \
               room (space, room) AS MATERIALIZED ( \
                 SELECT sp.space, \
                   MIN(COALESCE((SELECT runs FROM share), 1 << 62) - COALESCE(y.executing, 0), \
                       COALESCE(NULLIF(COALESCE(qy.max_runs_in_flight, $4), 0), 1 << 62) \
                       - COALESCE(y.runs, 0)) \
                 FROM spaces sp LEFT JOIN space_quotas qy ON qy.space = sp.space \
                   LEFT JOIN running y ON y.space = sp.space \
                 WHERE sp.space IS NOT NULL \
                   AND sp.space NOT IN (SELECT b.space FROM space_blocks b WHERE b.until > {NOW})), \
               ready (id, space, room, priority, fair_at) AS MATERIALIZED ( \
                 SELECT r.id, r.space, o.room, r.priority, r.fair_at \
                 FROM room o JOIN runs r ON r.id IN ( \
                   SELECT q.id FROM runs q INDEXED BY runs_space_queue JOIN charms c ON c.id = q.charm_id \
                   WHERE q.status = 'queued' AND q.space = o.space AND c.enabled \
                     AND (q.not_before IS NULL OR q.not_before <= {NOW}) \
                     AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.charm_id = q.charm_id AND x.status = 'running') \
                   ORDER BY q.priority DESC, q.fair_at, q.id \
                   LIMIT MIN($5, COALESCE((SELECT runs FROM share), $5))) \
                 WHERE o.room > 0), \
               ranked (id, space, room, priority, fair_at, place) AS ( \
                 SELECT *, ROW_NUMBER() OVER (PARTITION BY space ORDER BY priority DESC, fair_at, id) \
                 FROM ready) \
               SELECT k.id FROM ranked k LEFT JOIN space_usage u ON u.space = k.space \
               WHERE k.place <= k.room \
               ORDER BY k.priority DESC, COALESCE(u.fuel, 0), k.fair_at, k.id LIMIT $5) \
               AND EXISTS (SELECT 1 FROM nodes WHERE id = $1) \
             RETURNING id, charm_id, trigger, input, queued_at, started_at, attempt, \
               COALESCE(origin_run_id, id) AS origin, base_version, priority, fair_at, \
               COALESCE((SELECT u.fuel FROM space_usage u WHERE u.space = runs.space), 0.0) AS space_fuel, \
               (SELECT state FROM charm_state s WHERE s.charm_id = runs.charm_id) AS state, \
               (SELECT c.revision FROM charms c WHERE c.id = runs.charm_id) AS charm_revision, \
               (SELECT e.attempts FROM events e WHERE e.charm_id = runs.charm_id \
                  AND e.status = 'pending' ORDER BY e.id LIMIT 1) AS oldest_attempts"
        ),
        // `enabled = TRUE`, not `enabled`: SQLite uses `charms_due` only for
        // a comparison, and scanned every charm otherwise (1.1 ms a pass at
        // 3,000 charms against 5 µs, measured). `waited`: how long the
        // charm's queued run has waited (0 without one), read through
        // `runs_one_queued`, at most one interval.
        due: format!(
            "SELECT id, interval_s, schedule, {NOW} AS now, \
               MIN(interval_s * 1000, MAX(0, {NOW} - COALESCE((SELECT q.queued_at FROM runs q \
                 WHERE q.charm_id = charms.id AND q.status = 'queued'), {NOW}))) AS waited \
             FROM charms WHERE enabled = TRUE AND next_run_at <= {NOW} ORDER BY next_run_at LIMIT $1"
        ),
        rescue: format!(
            "UPDATE runs SET status = 'done', outcome = 'interrupted', finished_at = {NOW}, error = $2 \
             WHERE status = 'running' AND id IN ( \
               SELECT r.id FROM runs r LEFT JOIN nodes n ON n.id = r.owner \
               WHERE r.status = 'running' \
                 AND (n.id IS NULL OR n.last_seen_at <= {NOW} - $1 OR r.lease_expires_at <= {NOW})) \
             RETURNING id, charm_id, owner, attempt, COALESCE(origin_run_id, id) AS origin"
        ),
        register: format!(
            "INSERT INTO nodes (id, hostname, pid, started_at, last_seen_at) VALUES ($1, $2, $3, {NOW}, {NOW})"
        ),
        heartbeat: format!(
            "UPDATE nodes SET last_seen_at = {NOW} WHERE id = $1 AND last_seen_at > {NOW} - $2 \
             RETURNING last_seen_at"
        ),
        forget_dead: format!("DELETE FROM nodes WHERE last_seen_at <= {NOW} - $1"),
        // Runs asked for later that are due, taken (deleted) for queueing.
        wakeups: format!(
            "DELETE FROM wakeups WHERE id IN ( \
               SELECT id FROM wakeups WHERE at <= {NOW} ORDER BY at LIMIT $1) \
             RETURNING charm_id"
        ),
        now: format!("SELECT {NOW}"),
    })
}

/// Whether `charm` has a queued run, read in the caller's transaction (so
/// it sees what the transaction wrote; [`queued_run`] reads committed rows).
pub(super) async fn has_queued(
    conn: &mut SqliteConnection,
    charm: &CharmId,
) -> Result<bool, StoreError> {
    let queued: Option<i64> = sqlx::query_scalar(HAS_QUEUED)
        .bind(charm.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(queued.is_some())
}

/// Queues a run or joins the queued one, in the caller's transaction.
pub(super) async fn upsert(
    conn: &mut SqliteConnection,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    not_before: Option<i64>,
    lineage: Lineage,
) -> Result<Option<Enqueued>, StoreError> {
    // One writer: the run seen here is the one the upsert joins.
    let coalesced = has_queued(conn, charm).await?;
    let id: Option<i64> = sqlx::query_scalar(sql().upsert.as_str())
        .bind(charm.as_str())
        .bind(trigger.as_str())
        .bind(priority)
        .bind(not_before)
        .bind(lineage.attempt)
        .bind(lineage.origin)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(id.map(|run_id| Enqueued { run_id, coalesced }))
}

pub(super) async fn enqueue(
    s: &SqliteStore,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    not_before: Option<i64>,
) -> Result<Option<Enqueued>, StoreError> {
    let queued = s
        .write_tx(async |conn| {
            upsert(conn, charm, trigger, priority, not_before, Lineage::FIRST).await
        })
        .await?;
    if queued.is_some() {
        s.wake.raise();
    }
    Ok(queued)
}

pub(super) async fn deliver(
    s: &SqliteStore,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    event: &NewEvent,
) -> Result<Option<Delivered>, StoreError> {
    let delivered = s
        .write_tx(async |conn| {
            let Some((event_id, duplicate)) = append_event(conn, charm, event).await? else {
                return Ok(None);
            };
            let run = if duplicate {
                None
            } else {
                upsert(conn, charm, trigger, priority, None, Lineage::FIRST).await?
            };
            Ok(Some(Delivered {
                event_id,
                duplicate,
                run,
            }))
        })
        .await?;
    if delivered.is_some_and(|d| d.run.is_some()) {
        s.wake.raise();
    }
    Ok(delivered)
}

pub(super) async fn redrive(
    s: &SqliteStore,
    charm: &CharmId,
    ids: Option<&[EventId]>,
    priority: i64,
) -> Result<u64, StoreError> {
    let redriven = s
        .write_tx(async |conn| {
            let redriven = super::inbox::redrive(conn, charm, ids).await?;
            if redriven > 0 {
                upsert(conn, charm, Trigger::Inbox, priority, None, Lineage::FIRST).await?;
            }
            Ok(redriven)
        })
        .await?;
    if redriven > 0 {
        s.wake.raise();
    }
    Ok(redriven)
}

pub(super) async fn queued_run(
    s: &SqliteStore,
    charm: &CharmId,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(HAS_QUEUED)
        .bind(charm.as_str())
        .fetch_optional(&s.read)
        .await?)
}

/// Moves each due charm's next run: `$1` a JSON array of `[id, next_run_at]`.
const SET_NEXT_RUNS: &str = "UPDATE charms SET next_run_at = j.value ->> 1 \
     FROM json_each($1) j WHERE charms.id = j.value ->> 0";

/// Due charms moved and queued per turn on the write handle, which holds
/// up a runtime thread meanwhile: at the 60–80 µs a charm measured on a
/// busy 2-core machine, about 10 ms, no longer than a full batch of
/// finished runs holds it. (The pass's last turn also commits, and a
/// commit may take SQLite's automatic checkpoint with it.)
const DUE_CHUNK: usize = 128;

pub(super) async fn schedule_due(
    s: &SqliteStore,
    priority: i64,
    wakeup_priority: i64,
    limit: u32,
    next_run: NextRunPolicy<'_>,
) -> Result<SchedulePass, StoreError> {
    let pass = s
        .write_tx_direct(async |tx| {
            // On the handle, not through sqlx: there each statement, and
            // each row it returns, was a round trip to SQLite's thread
            // (issue 18). The handle holds up a runtime thread, so it only
            // reads the due charms here (an index scan of at most `limit`
            // rows), and moves and queues them in chunks.
            let rows = tx
                .direct(|db| {
                    let mut rows = Vec::new();
                    direct::for_each_row(db, sql().due.as_str(), &[&i64::from(limit)], |row| {
                        let charm: String = row.get("id")?;
                        let interval: i64 = row.get("interval_s")?;
                        let schedule: Option<String> = row.get("schedule")?;
                        let at: i64 = row.get("now")?;
                        let waited: i64 = row.get("waited")?;
                        rows.push((charm, interval, schedule, at, waited));
                        Ok(())
                    })?;
                    Ok(rows)
                })
                .await?;
            let now = rows.last().map(|(_, _, _, at, _)| *at);
            let due = rows
                .into_iter()
                .map(|(charm, interval, schedule, at, waited)| {
                    let charm = parse_charm_id(&charm)?;
                    let next = next_run(
                        at.saturating_add(waited),
                        u32::try_from(interval).unwrap_or(u32::MAX),
                        schedule.as_deref(),
                    );
                    Ok((charm, next))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut chunks = due
                .chunks(DUE_CHUNK)
                .map(DueChunk::of)
                .collect::<Result<Vec<_>, StoreError>>()?;
            let last = chunks.pop();
            let mut queued = 0u32;
            for chunk in &chunks {
                queued += tx.direct(|db| chunk.queue(db, priority)).await?;
            }
            // The last chunk, the wake-ups and the next due time in one
            // turn, with the commit unless a wake-up is to be queued.
            let (tail_queued, woken, now, next_due_in_ms) = tx
                .direct_then(|db| {
                    let tail_queued = match &last {
                        Some(chunk) => chunk.queue(db, priority)?,
                        None => 0,
                    };
                    let mut woken = Vec::new();
                    direct::for_each_row(
                        db,
                        sql().wakeups.as_str(),
                        &[&i64::from(limit)],
                        |row| {
                            woken.push(row.get::<_, String>("charm_id")?);
                            Ok(())
                        },
                    )?;
                    let now = match now {
                        Some(now) => now,
                        None => one_int(db, sql().now.as_str(), &[])?
                            .ok_or_else(|| StoreError::Bug("no clock reading".into()))?,
                    };
                    if woken.is_empty() {
                        let next = next_due_in(db, now)?;
                        Ok(((tail_queued, woken, now, next), Then::Commit))
                    } else {
                        Ok(((tail_queued, woken, now, None), Then::Continue))
                    }
                })
                .await?;
            queued += tail_queued;
            let mut next_due_in_ms = next_due_in_ms;
            if !woken.is_empty() {
                for charm in &woken {
                    let charm = parse_charm_id(charm)?;
                    let queued_run = upsert(
                        tx.conn().await?,
                        &charm,
                        Trigger::Manual,
                        wakeup_priority,
                        None,
                        Lineage::FIRST,
                    )
                    .await?;
                    if queued_run.is_some() {
                        queued += 1;
                    }
                }
                next_due_in_ms = tx
                    .direct_then(|db| Ok((next_due_in(db, now)?, Then::Commit)))
                    .await?;
            }
            Ok(SchedulePass {
                due: u32::try_from(due.len() + woken.len()).unwrap_or(u32::MAX),
                queued,
                next_due_in_ms: next_due_in_ms.map(|ms| ms.max(0)),
            })
        })
        .await?;
    if pass.queued > 0 {
        s.wake.raise();
    }
    Ok(pass)
}

/// A chunk of the schedule pass's due charms, as its two statements take
/// them: their next run times, and their ids.
struct DueChunk {
    next_runs: String,
    ids: String,
}

impl DueChunk {
    fn of(chunk: &[(CharmId, i64)]) -> Result<DueChunk, StoreError> {
        Ok(DueChunk {
            next_runs: serde_json::to_string(chunk)
                .map_err(|e| StoreError::Bug(format!("next runs as JSON: {e}")))?,
            ids: serde_json::to_string(&chunk.iter().map(|(id, _)| id).collect::<Vec<_>>())
                .map_err(|e| StoreError::Bug(format!("charm ids as JSON: {e}")))?,
        })
    }

    /// Moves the charms' next run times and queues their runs; returns how
    /// many runs it queued or changed.
    fn queue(&self, db: &rusqlite::Connection, priority: i64) -> Result<u32, StoreError> {
        direct::for_each_row(db, SET_NEXT_RUNS, &[&self.next_runs], |_| Ok(()))?;
        let mut queued = 0;
        direct::for_each_row(
            db,
            sql().upsert_scheduled.as_str(),
            &[&self.ids, &priority],
            |_| {
                queued += 1;
                Ok(())
            },
        )?;
        Ok(queued)
    }
}

/// How long until the next charm or wake-up is due, from `now` (ms); `None`
/// when nothing is.
fn next_due_in(db: &rusqlite::Connection, now: i64) -> Result<Option<i64>, StoreError> {
    one_int(db, NEXT_DUE_IN, &[&now])
}

/// The first column of the one row `sql` returns, an integer or NULL.
fn one_int(
    db: &rusqlite::Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Option<i64>, StoreError> {
    let mut value = None;
    direct::for_each_row(db, sql, args, |row| {
        value = row.get(0)?;
        Ok(())
    })?;
    Ok(value)
}

/// Claims up to `limit` runs in one statement, the runs that `limit` lone
/// claims would take one after another (see the `claim` statement), most
/// urgent first.
pub(super) async fn claim(
    s: &SqliteStore,
    node: &NodeId,
    lease_ms: i64,
    max_events: u32,
    fair: FairShare,
    limit: u32,
) -> Result<Vec<ClaimedRun>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let max_in_flight = crate::rows::clamp_i64(s.quota.get().max_runs_in_flight);
    let finishing = fair.finishing_json();
    s.write_tx_direct(async |tx| {
        // On the handle: through sqlx each claimed row was a message from
        // SQLite's thread (issue 18). With no inbox events to hand out, the
        // claim is one turn, its commit included.
        let mut keyed = tx
            .direct_then(|db| {
                let args: [&dyn rusqlite::ToSql; 6] = [
                    &node.as_str(),
                    &lease_ms,
                    &i64::from(fair.slots_per_node),
                    &max_in_flight,
                    &i64::from(limit),
                    &finishing,
                ];
                let mut keyed = Vec::new();
                direct::for_each_row(db, sql().claim.as_str(), &args, |row| {
                    let priority: i64 = row.get("priority")?;
                    let space_fuel: f64 = row.get("space_fuel")?;
                    let fair_at: Option<i64> = row.get("fair_at")?;
                    let id: i64 = row.get("id")?;
                    // Read by the claim itself: a statement less per run.
                    let state: String = row.get("state")?;
                    let oldest: Option<i64> = row.get("oldest_attempts")?;
                    let run = claimed_from(row, state, Vec::new())?;
                    keyed.push(((priority, space_fuel, fair_at, id), run, oldest));
                    Ok(())
                })?;
                let then = if keyed.iter().all(|(.., oldest)| oldest.is_none()) {
                    Then::Commit
                } else {
                    Then::Continue
                };
                Ok((keyed, then))
            })
            .await?;
        // `RETURNING` has no order: the claim's own, from its columns.
        keyed.sort_by(|((pa, fa, ta, ia), ..), ((pb, fb, tb, ib), ..)| {
            pb.cmp(pa)
                .then(fa.total_cmp(fb))
                .then(ta.cmp(tb))
                .then(ia.cmp(ib))
        });
        let mut claimed = Vec::with_capacity(keyed.len());
        for (_, run, oldest) in keyed {
            let events = match oldest {
                Some(oldest) => {
                    let conn = tx.conn().await?;
                    give_events(
                        conn,
                        run.id,
                        run.charm_id.as_str(),
                        max_events,
                        Some(oldest),
                    )
                    .await?
                }
                None => Vec::new(),
            };
            claimed.push(with_events(run, events));
        }
        Ok(claimed)
    })
    .await
}

pub(super) async fn rescue_lost(
    s: &SqliteStore,
    ttl_ms: i64,
    retry_priority: i64,
) -> Result<Vec<RescuedRun>, StoreError> {
    let rescued = s
        .write_tx(async |conn| {
            let rows = sqlx::query(sql().rescue.as_str())
                .bind(ttl_ms)
                .bind(INTERRUPTED)
                .fetch_all(&mut *conn)
                .await?;
            let mut rescued = Vec::with_capacity(rows.len());
            for row in &rows {
                let charm = charm_id(row, "charm_id")?;
                let owner: Option<String> = row.try_get("owner")?;
                let retry = upsert(
                    conn,
                    &charm,
                    Trigger::Recovery,
                    retry_priority,
                    None,
                    Lineage::retry_of(row)?,
                )
                .await?;
                rescued.push(RescuedRun {
                    run_id: row.try_get("id")?,
                    charm_id: charm,
                    node: owner.as_deref().map(node_id).transpose()?,
                    retry,
                });
            }
            sqlx::query(sql().forget_dead.as_str())
                .bind(ttl_ms)
                .execute(&mut *conn)
                .await?;
            Ok(rescued)
        })
        .await?;
    if rescued.iter().any(|r| r.retry.is_some()) {
        s.wake.raise();
    }
    Ok(rescued)
}

pub(super) async fn register_node(s: &SqliteStore, info: &NodeInfo) -> Result<NodeId, StoreError> {
    let id = crate::rows::new_node_id()?;
    s.write_tx(async |conn| {
        // This process holds the database's node lock: every other node
        // registered here is a process that has gone.
        sqlx::query("DELETE FROM nodes").execute(&mut *conn).await?;
        sqlx::query(sql().register.as_str())
            .bind(id.as_str())
            .bind(&info.hostname)
            .bind(i64::from(info.pid))
            .execute(&mut *conn)
            .await?;
        Ok(())
    })
    .await?;
    Ok(id)
}

pub(super) async fn heartbeat(
    s: &SqliteStore,
    node: &NodeId,
    ttl_ms: i64,
) -> Result<Option<i64>, StoreError> {
    s.write_one(async |conn| {
        Ok(sqlx::query_scalar(sql().heartbeat.as_str())
            .bind(node.as_str())
            .bind(ttl_ms)
            .fetch_optional(conn)
            .await?)
    })
    .await
}

pub(super) async fn retire_node(s: &SqliteStore, node: &NodeId) -> Result<(), StoreError> {
    s.write_one(async |conn| {
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node.as_str())
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// Prunes one page of charms' runs (see [`crate::prune`]): found on a
/// read connection, deleted by id on the write connection, a chunk a turn.
pub(super) async fn prune(
    s: &SqliteStore,
    keep: u32,
    after: Option<&CharmId>,
    charms: u32,
) -> Result<Pruned, StoreError> {
    let (page, ids) = {
        let mut read = s.read.acquire().await?;
        let Some(page) = pruning::page(&mut read, after, charms).await? else {
            return Ok(Pruned::default());
        };
        let keep_default = s.quota.get().keep_runs;
        let ids = pruning::runs_beyond_keep(&mut read, &page, keep, keep_default).await?;
        (page, ids)
    };
    let mut deleted = 0;
    for chunk in ids.chunks(DELETE_CHUNK) {
        deleted += s
            .write_one(async |conn| pruning::delete_runs(conn, &page, chunk).await)
            .await?;
    }
    if deleted > 0 {
        s.write_one(async |conn| pruning::prune_sources(conn, &page).await)
            .await?;
    }
    Ok(page.pruned(deleted))
}

pub(super) async fn decay_usage(
    s: &SqliteStore,
    factor: f64,
    every_ms: i64,
) -> Result<bool, StoreError> {
    s.write_tx(async |conn| {
        let now: i64 = sqlx::query_scalar(sql().now.as_str())
            .fetch_one(&mut *conn)
            .await?;
        let turn: Option<i64> = sqlx::query_scalar(crate::rows::TAKE_DECAY)
            .bind(now)
            .bind(every_ms)
            .fetch_optional(&mut *conn)
            .await?;
        if turn.is_none() {
            return Ok(false);
        }
        sqlx::query(crate::rows::DECAY)
            .bind(factor)
            .execute(&mut *conn)
            .await?;
        sqlx::query(crate::rows::FORGET_IDLE_SPACES)
            .execute(&mut *conn)
            .await?;
        Ok(true)
    })
    .await
}
