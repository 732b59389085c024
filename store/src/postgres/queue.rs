//! Runs and nodes in PostgreSQL: the queue several nodes share.
//!
//! Every statement here may run on several nodes at the same moment; each
//! one's comment says what keeps it correct then. `$me` in comments is the
//! store's instance tag, the payload of its notifications.

use sqlx::postgres::PgConnection;
use sqlx::Row;

use super::inbox::{append_event, give_events, settle_events};
use super::{pg_tx, pruning, unique_violation, PgStore, CHANNEL};
use crate::prune::{Pruned, DELETE_CHUNK};
use crate::rows::{
    before_from, charm_id, claimed_from, node_id, write_finish, Lineage, INTERRUPTED, NEXT_DUE_IN,
};
use crate::{
    CharmId, ClaimedRun, Delivered, Enqueued, EventId, FairShare, Finish, Finished, NewEvent,
    NextRunPolicy, NodeId, NodeInfo, RescuedRun, RunId, SchedulePass, StoreError, Trigger,
    UpdatePolicy,
};

/// How a queued run absorbs another request for the same charm: the
/// higher priority (and its trigger), the earlier start, the later attempt
/// of a line of retries. Inputs are events in the inbox, never overwritten.
macro_rules! join_queued {
    () => {
        "ON CONFLICT (charm_id) WHERE status = 'queued' DO UPDATE SET \
           trigger = CASE WHEN excluded.priority > runs.priority THEN excluded.trigger ELSE runs.trigger END, \
           priority = GREATEST(runs.priority, excluded.priority), \
           not_before = CASE WHEN excluded.not_before IS NULL OR runs.not_before IS NULL THEN NULL \
             ELSE LEAST(runs.not_before, excluded.not_before) END, \
           origin_run_id = CASE WHEN excluded.attempt > runs.attempt THEN excluded.origin_run_id ELSE runs.origin_run_id END, \
           attempt = GREATEST(runs.attempt, excluded.attempt) "
    };
}

/// `$1` charm, `$2` trigger, `$3` priority, `$4` not before, `$5` attempt,
/// `$6` origin, `$7` instance. The share lock on the charm orders this after a
/// concurrent disable (which then wins: no row); the upsert on
/// `runs_one_queued` makes concurrent requests coalesce instead of failing
/// with 23505; `xmax = 0` tells an inserted row from a joined one.
const UPSERT: &str = concat!(
    "WITH c AS (SELECT id, space, recent_fuel FROM charms WHERE id = $1 AND enabled FOR SHARE), \
     up AS (INSERT INTO runs (charm_id, space, fair_at, trigger, priority, status, not_before, queued_at, attempt, origin_run_id) \
            SELECT id, space, charm_host_now_ms() + recent_fuel / 3000000, $2, $3, 'queued', $4, \
              charm_host_now_ms(), $5, $6 FROM c ",
    join_queued!(),
    "RETURNING id, xmax = 0 AS inserted) \
     SELECT id, inserted, pg_notify('charm_host_runs', $7) IS NULL AS notified FROM up"
);

/// The scheduler's batch upsert: `$1` charm ids (already locked by this
/// transaction, so enabled), `$2` priority. Returns the runs queued or
/// changed; charms whose queued run would be joined unchanged are left out.
const UPSERT_SCHEDULED: &str = concat!(
    "INSERT INTO runs (charm_id, space, fair_at, trigger, priority, status, not_before, queued_at, attempt, origin_run_id) \
     SELECT c.id, c.space, charm_host_now_ms() + c.recent_fuel / 3000000, 'schedule', $2, 'queued', NULL, \
       charm_host_now_ms(), 1, NULL \
     FROM UNNEST($1::text[]) AS v(id) JOIN charms c ON c.id = v.id WHERE c.enabled ",
    crate::rows::unless_queued_unchanged!(" OFFSET 0"),
    join_queued!(),
    crate::rows::join_changes!(),
    "RETURNING id"
);

/// Due charms, locked; charms another node's pass holds are skipped, and a
/// charm whose pass committed since this statement's snapshot is re-checked
/// under its lock (its `next_run_at` moved), so each due time is taken once.
/// `waited`: how long the charm's queued run has waited (0 without one),
/// at most one interval.
const DUE: &str = "SELECT id, interval_s, schedule, charm_host_now_ms() AS now, \
       LEAST(interval_s::bigint * 1000, \
         GREATEST(0, charm_host_now_ms() - COALESCE((SELECT q.queued_at FROM runs q \
           WHERE q.charm_id = charms.id AND q.status = 'queued'), charm_host_now_ms()))) AS waited \
     FROM charms WHERE enabled AND next_run_at <= charm_host_now_ms() \
     ORDER BY next_run_at LIMIT $1 FOR UPDATE OF charms SKIP LOCKED";

/// Up to `$5` runs for node `$1`, with a lease of `$2` ms; `$3` run slots
/// per node (0: no cap; see `Store::claim_next_run`), `$4` the default
/// quota of runs in flight per space (0: none), `$6` runs to pass over,
/// `$7` the ids of the node's finishing runs.
/// Exactly the runs `$5` claims one after another would take, in one
/// statement (issue 18: on PostgreSQL the node's one claim loop was the
/// limit, a claim and its commit per run).
///
/// Why one choice gives the same runs: a space's fuel, the second key of
/// the order across spaces, does not change while runs are claimed, so
/// within a space the order across spaces is the space's own queue order.
/// Claiming one run at a time therefore takes the first `$5` of the ready
/// runs sorted by that order, each space contributing at most its room
/// (its fair share or its in-flight quota, less the runs it has running).
/// A charm has at most one queued run, so taking it makes no other run of
/// the batch unready.
///
/// `spaces`: the spaces with queued runs (a skip scan over
/// `runs_space_queue`); the cost grows with them and with `$5`, not with
/// the queue. It walks from the last space down, so each step lands on the
/// end of a space's queue (its lowest priority, latest `fair_at`), away
/// from its first entries: the runs claimed since the last vacuum, dead
/// but still in the index, which a walk upwards read through at every step
/// (151 buffers a claim against 51 downwards, at 20,000 charms every 12 s
/// in 10 spaces; issue 18's twenty-second round). A null space would sort
/// first downwards and end the walk, so the first step leaves it out (no
/// run has one: every run takes its charm's space). Queued runs are named
/// `status IS NOT DISTINCT FROM 'queued'`, as `runs_space_queue`'s
/// predicate is (migration 0012), and never
/// `status = 'queued'`: the planner matches that form to the index only by
/// equality, so no other partial index is a candidate however short the
/// statistics say the queue is. After autovacuum's `ANALYZE` sampled a
/// short queue, `status = 'queued'` let it read `runs_one_queued` whole
/// and sort it, in every space and at every step of the skip scan, and the
/// `UPDATE`'s re-check did the same: claims took 430 ms at 13,000 queued
/// runs, and the service ran a tenth of its rate for a minute (issue 18's
/// twentieth round). `busy`: the running runs (id, charm and space), read
/// once; `running` counts them by space, all of them (for the quota) and
/// those that execute (for the share: not among the claiming node's
/// finishing runs, `$7`, which hold no slot; see `FairShare::finishing`),
/// and a candidate whose charm is in
/// `busy` is passed over by a `NOT IN` that the planner hashed in every
/// sampled plan. A `NOT EXISTS` for each candidate was planned, whichever
/// index of running runs the table had, as a walk of all of them for each
/// candidate (32 running runs for each of 18 candidates, in an auto_explain
/// sample under issue 18's twenty-third round's load). `runs.charm_id` is never
/// null, so `NOT IN` means what `NOT EXISTS` did.
/// `room`: how many more runs each space may have running
/// (`1 << 62` where nothing limits it), counted in the statement's
/// snapshot: two nodes claiming for one space at the same instant may pass
/// it, as they may the slot share. A node whose row is gone (declared
/// dead) claims nothing. `ready`: each space's first ready runs, as many
/// as its room and the batch allow; `chosen`, the first `$5` of them. Only
/// those are locked, `FOR UPDATE SKIP LOCKED`: a run another node (or an
/// enqueue joining it) holds is skipped, not waited for (locking every
/// candidate instead wrote a row lock for each of up to `$5` runs per
/// space: 4.1 ms a claim of 4 runs, measured).
/// Each run's status is read as it was locked (a run claimed or finished
/// since the statement's snapshot is locked in its newest version), and
/// only those still queued are updated. The state is read in
/// the same snapshot as its version. One row comes back even when no run
/// is claimed (its `id` null), with `skipped`: the runs chosen but not
/// claimed (held elsewhere, or no longer queued), which a second try
/// leaves out (`$6`), as a lone `SKIP LOCKED` claim passes over a held run
/// to the next. Runs are found by `= ANY(ARRAY(..))` and the state by a
/// subquery because sqlx's prepared statement gets a generic plan, which
/// guesses `LIMIT $5` keeps a tenth of the rows and chose to scan `runs`
/// and `charm_state` whole for a join (4 ms a claim at 3,000 charms,
/// measured with `EXPLAIN ANALYZE EXECUTE`).
const CLAIM: &str = "WITH RECURSIVE spaces (space) AS ( \
       (SELECT space FROM runs WHERE status IS NOT DISTINCT FROM 'queued' AND space IS NOT NULL \
          ORDER BY space DESC LIMIT 1) \
       UNION ALL \
       SELECT (SELECT q.space FROM runs q WHERE q.status IS NOT DISTINCT FROM 'queued' AND q.space < spaces.space \
               ORDER BY q.space DESC LIMIT 1) \
       FROM spaces WHERE spaces.space IS NOT NULL), \
     share (runs) AS MATERIALIZED ( \
       SELECT CASE WHEN $3 > 0 THEN GREATEST(1, $3 * (SELECT COUNT(*) FROM nodes) \
                                   / GREATEST(1, (SELECT COUNT(*) FROM space_usage))) END), \
     busy (id, charm_id, space) AS MATERIALIZED ( \
       SELECT id, charm_id, space FROM runs WHERE status = 'running'), \
     running (space, runs, executing) AS MATERIALIZED ( \
       SELECT b.space, COUNT(*), COUNT(*) - COUNT(f.id) \
       FROM busy b LEFT JOIN UNNEST($7::bigint[]) AS f (id) ON f.id = b.id GROUP BY b.space), \
     room (space, room) AS MATERIALIZED ( \
       SELECT sp.space, \
         LEAST(COALESCE((SELECT runs FROM share), 1::bigint << 62) - COALESCE(y.executing, 0), \
               COALESCE(NULLIF(COALESCE(qy.max_runs_in_flight, $4), 0), 1::bigint << 62) \
               - COALESCE(y.runs, 0)) \
       FROM spaces sp LEFT JOIN space_quotas qy ON qy.space = sp.space \
         LEFT JOIN running y ON y.space = sp.space \
       WHERE sp.space IS NOT NULL \
         AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = $1) \
         AND sp.space NOT IN (SELECT b.space FROM space_blocks b WHERE b.until > charm_host_now_ms())), \
     ready AS MATERIALIZED ( \
       SELECT h.id, o.space, h.priority, h.fair_at FROM room o \
         CROSS JOIN LATERAL ( \
           SELECT r.id, r.priority, r.fair_at FROM runs r JOIN charms c ON c.id = r.charm_id \
           WHERE r.status IS NOT DISTINCT FROM 'queued' AND r.space = o.space AND c.enabled \
             AND (r.not_before IS NULL OR r.not_before <= charm_host_now_ms()) \
             AND r.charm_id NOT IN (SELECT charm_id FROM busy) \
             AND r.id <> ALL($6) \
           ORDER BY r.priority DESC, r.fair_at, r.id LIMIT GREATEST(0, LEAST(o.room, $5))) h \
       WHERE o.room > 0), \
     chosen AS MATERIALIZED ( \
       SELECT k.id FROM ready k LEFT JOIN space_usage u ON u.space = k.space \
       ORDER BY k.priority DESC, COALESCE(u.fuel, 0), k.fair_at, k.id LIMIT $5), \
     next AS ( \
       SELECT r.id, r.status AS locked_status FROM runs r WHERE r.id = ANY(ARRAY(SELECT id FROM chosen)) \
       FOR UPDATE SKIP LOCKED), \
     claimed AS ( \
       UPDATE runs SET status = 'running', owner = $1, started_at = charm_host_now_ms(), \
         lease_expires_at = charm_host_now_ms() + $2, \
         base_version = (SELECT version FROM charm_state s WHERE s.charm_id = runs.charm_id) \
       WHERE runs.id = ANY(ARRAY(SELECT id FROM next WHERE locked_status = 'queued')) \
       RETURNING runs.id, runs.charm_id, runs.trigger, runs.input, runs.queued_at, runs.started_at, \
         runs.attempt, COALESCE(runs.origin_run_id, runs.id) AS origin, runs.base_version, \
         runs.priority, runs.fair_at, runs.space) \
     SELECT claimed.*, \
       (SELECT s.state FROM charm_state s WHERE s.charm_id = claimed.charm_id) AS state, \
       (SELECT c.revision FROM charms c WHERE c.id = claimed.charm_id) AS charm_revision, \
       ARRAY(SELECT id FROM chosen EXCEPT SELECT id FROM claimed) AS skipped \
     FROM (SELECT 1) AS always LEFT JOIN claimed ON TRUE \
     ORDER BY claimed.priority DESC, \
       COALESCE((SELECT u.fuel FROM space_usage u WHERE u.space = claimed.space), 0), \
       claimed.fair_at, claimed.id";

/// How many held runs a claim passes over, choosing again each time all
/// it chose were held, before it gives up for now (and wakes the node to
/// try once more).
const CLAIM_PASS_OVER: usize = 64;

/// The attempts of the oldest pending event of each charm in `$1` that has
/// one.
const OLDEST_ATTEMPTS_OF: &str = "SELECT DISTINCT ON (charm_id) charm_id, attempts FROM events \
     WHERE charm_id = ANY($1) AND status = 'pending' ORDER BY charm_id, id";

/// `$1` time to live ms, `$2` error. Lost runs are taken `SKIP LOCKED` and
/// re-checked in the `UPDATE`, so a run finishing right now (its row locked
/// by the finish) is left to its finish, and two rescuers never take the
/// same run.
const RESCUE: &str = "WITH lost AS ( \
       SELECT r.id FROM runs r LEFT JOIN nodes n ON n.id = r.owner \
       WHERE r.status = 'running' \
         AND (n.id IS NULL OR n.last_seen_at <= charm_host_now_ms() - $1 \
              OR r.lease_expires_at <= charm_host_now_ms()) \
       ORDER BY r.id LIMIT 1000 FOR UPDATE OF r SKIP LOCKED) \
     UPDATE runs SET status = 'done', outcome = 'interrupted', finished_at = charm_host_now_ms(), error = $2 \
     FROM lost WHERE runs.id = lost.id AND runs.status = 'running' \
     RETURNING runs.id, runs.charm_id, runs.owner, runs.attempt, \
       COALESCE(runs.origin_run_id, runs.id) AS origin";

/// Sends a wake-up for `charm` if it has a queued run; whether it has.
pub(super) async fn announce_queued(
    conn: &mut PgConnection,
    charm: &CharmId,
    instance: &str,
) -> Result<bool, StoreError> {
    let row = sqlx::query(
        "SELECT pg_notify('charm_host_runs', $2) IS NULL FROM runs \
         WHERE charm_id = $1 AND status = 'queued'",
    )
    .bind(charm.as_str())
    .bind(instance)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

async fn upsert(
    conn: &mut PgConnection,
    instance: &str,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    not_before: Option<i64>,
    lineage: Lineage,
) -> Result<Option<Enqueued>, StoreError> {
    let row = sqlx::query(UPSERT)
        .bind(charm.as_str())
        .bind(trigger.as_str())
        .bind(priority)
        .bind(not_before)
        .bind(lineage.attempt)
        .bind(lineage.origin)
        .bind(instance)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|row| {
        let inserted: bool = row.try_get("inserted")?;
        Ok(Enqueued {
            run_id: row.try_get("id")?,
            coalesced: !inserted,
        })
    })
    .transpose()
}

pub(super) async fn enqueue(
    s: &PgStore,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    not_before: Option<i64>,
) -> Result<Option<Enqueued>, StoreError> {
    let queued = pg_tx!(s, |conn| async {
        upsert(
            conn,
            &s.instance,
            charm,
            trigger,
            priority,
            not_before,
            Lineage::FIRST,
        )
        .await
    })?;
    if queued.is_some() {
        s.wake.raise();
    }
    Ok(queued)
}

/// Appends an event and queues its run. The insert reads the charm
/// without a lock: a disable that commits meanwhile leaves the event
/// pending (the upsert, which takes the share lock, then queues nothing),
/// for the run that follows the charm's re-enabling.
pub(super) async fn deliver(
    s: &PgStore,
    charm: &CharmId,
    trigger: Trigger,
    priority: i64,
    event: &NewEvent,
) -> Result<Option<Delivered>, StoreError> {
    let delivered = pg_tx!(s, |conn| async {
        let Some((event_id, duplicate)) = append_event(conn, charm, event).await? else {
            return Ok(None);
        };
        let run = if duplicate {
            None
        } else {
            upsert(
                conn,
                &s.instance,
                charm,
                trigger,
                priority,
                None,
                Lineage::FIRST,
            )
            .await?
        };
        Ok(Some(Delivered {
            event_id,
            duplicate,
            run,
        }))
    })?;
    if delivered.is_some_and(|d| d.run.is_some()) {
        s.wake.raise();
    }
    Ok(delivered)
}

pub(super) async fn redrive(
    s: &PgStore,
    charm: &CharmId,
    ids: Option<&[EventId]>,
    priority: i64,
) -> Result<u64, StoreError> {
    let redriven = pg_tx!(s, |conn| async {
        let redriven = super::inbox::redrive(conn, charm, ids).await?;
        if redriven > 0 {
            upsert(
                conn,
                &s.instance,
                charm,
                Trigger::Inbox,
                priority,
                None,
                Lineage::FIRST,
            )
            .await?;
        }
        Ok(redriven)
    })?;
    if redriven > 0 {
        s.wake.raise();
    }
    Ok(redriven)
}

pub(super) async fn schedule_due(
    s: &PgStore,
    priority: i64,
    wakeup_priority: i64,
    limit: u32,
    next_run: NextRunPolicy<'_>,
) -> Result<SchedulePass, StoreError> {
    let pass = pg_tx!(s, |conn| async {
        let due = sqlx::query(DUE)
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?;
        let (mut ids, mut next) = (Vec::with_capacity(due.len()), Vec::with_capacity(due.len()));
        let mut now = None;
        for row in &due {
            let at: i64 = row.try_get("now")?;
            let waited: i64 = row.try_get("waited")?;
            let interval: i64 = row.try_get("interval_s")?;
            let schedule: Option<String> = row.try_get("schedule")?;
            ids.push(charm_id(row, "id")?.as_str().to_string());
            next.push(next_run(
                at.saturating_add(waited),
                u32::try_from(interval).unwrap_or(u32::MAX),
                schedule.as_deref(),
            ));
            now = Some(at);
        }
        let mut queued = 0;
        if !ids.is_empty() {
            sqlx::query(
                "UPDATE charms SET next_run_at = v.next \
                     FROM UNNEST($1::text[], $2::bigint[]) AS v(id, next) WHERE charms.id = v.id",
            )
            .bind(&ids)
            .bind(&next)
            .execute(&mut *conn)
            .await?;
            let runs = sqlx::query(UPSERT_SCHEDULED)
                .bind(&ids)
                .bind(priority)
                .fetch_all(&mut *conn)
                .await?;
            queued = u32::try_from(runs.len()).unwrap_or(u32::MAX);
            if queued > 0 {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&s.instance)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        // Runs asked for later that are due; another node's pass skips
        // those this one holds, so each is queued once.
        let woken = sqlx::query(
            "DELETE FROM wakeups WHERE id IN ( \
               SELECT id FROM wakeups WHERE at <= charm_host_now_ms() ORDER BY at LIMIT $1 \
               FOR UPDATE SKIP LOCKED) RETURNING charm_id",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        for row in &woken {
            let charm = charm_id(row, "charm_id")?;
            let queued_run = upsert(
                conn,
                &s.instance,
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
        let now = match now {
            Some(now) => now,
            None => {
                sqlx::query_scalar("SELECT charm_host_now_ms()")
                    .fetch_one(&mut *conn)
                    .await?
            }
        };
        let next_due_in_ms: Option<i64> = sqlx::query_scalar(NEXT_DUE_IN)
            .bind(now)
            .fetch_one(&mut *conn)
            .await?;
        Ok(SchedulePass {
            due: u32::try_from(due.len() + woken.len()).unwrap_or(u32::MAX),
            queued,
            next_due_in_ms: next_due_in_ms.map(|ms| ms.max(0)),
        })
    })?;
    if pass.queued > 0 {
        s.wake.raise();
    }
    Ok(pass)
}

/// Claims up to `limit` runs (one statement), then hands each the charm's
/// pending events in a second step, whose fresh snapshot sees every event
/// committed before the claim (an event whose delivery joined the queued
/// run held that row's lock, so the claim passed over the run until it
/// committed). Events are settled by the run they name, so a node that
/// stops between the two leaves them pending for the rescue's retry, and
/// a failure of the second step leaves them pending for the charm's next
/// run: the claimed runs are returned without them, never dropped.
pub(super) async fn claim(
    s: &PgStore,
    node: &NodeId,
    lease_ms: i64,
    max_events: u32,
    fair: FairShare,
    limit: u32,
) -> Result<Vec<ClaimedRun>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut passed_over: Vec<i64> = Vec::new();
    let rows = loop {
        let rows = match sqlx::query(CLAIM)
            .bind(node.as_str())
            .bind(lease_ms)
            .bind(i64::from(fair.slots_per_node))
            .bind(crate::rows::clamp_i64(s.quota.get().max_runs_in_flight))
            .bind(i64::from(limit))
            .bind(&passed_over)
            .bind(&fair.finishing)
            .fetch_all(&s.pool)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                let e = StoreError::from(e);
                // Another node started one of these charms between this
                // statement's snapshot and its write: claimed nothing;
                // look again.
                if unique_violation(&e) {
                    s.wake.raise();
                    return Ok(Vec::new());
                }
                return Err(e);
            }
        };
        let skipped: Vec<i64> = match rows.first() {
            Some(row) => row.try_get("skipped")?,
            None => Vec::new(),
        };
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            if row.try_get::<Option<i64>, _>("id")?.is_some() {
                claimed.push(row);
            }
        }
        if skipped.is_empty() {
            break claimed;
        }
        // Runs chosen were held by another claimer (or an enqueue joining
        // them). Nothing claimed: choose again at once, passing over them,
        // as a lone claim takes the next run. Some claimed: these go, and
        // the wake-up makes the node claim again.
        passed_over.extend(skipped);
        if claimed.is_empty() && passed_over.len() < CLAIM_PASS_OVER {
            continue;
        }
        s.wake.raise();
        break claimed;
    };
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let charms = rows
        .iter()
        .map(|row| row.try_get::<String, _>("charm_id"))
        .collect::<Result<Vec<_>, _>>()?;
    // Most runs have no events: one read says which do, and only those
    // take a transaction. The runs are claimed already: if this step
    // fails they go without events, which stay pending.
    let events = match give_events_to(s, &rows, &charms, max_events).await {
        Ok(events) => events,
        Err(error) => {
            tracing::warn!(%error, runs = rows.len(), "could not hand claimed runs their events; they run without them and the events stay pending");
            vec![Vec::new(); rows.len()]
        }
    };
    rows.iter()
        .zip(events)
        .map(|(row, events)| claimed_from(row, row.try_get("state")?, events))
        .collect()
}

/// The pending events of each claimed run's charm (`rows`, with `charms`
/// their charm ids), handed to the run: one read for the batch, and a
/// transaction only when some charm has events.
async fn give_events_to(
    s: &PgStore,
    rows: &[sqlx::postgres::PgRow],
    charms: &[String],
    max_events: u32,
) -> Result<Vec<Vec<crate::RunEvent>>, StoreError> {
    let oldest: std::collections::HashMap<String, i64> = sqlx::query(OLDEST_ATTEMPTS_OF)
        .bind(charms)
        .fetch_all(&s.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("charm_id")?, row.try_get("attempts")?)))
        .collect::<Result<_, StoreError>>()?;
    if oldest.is_empty() {
        return Ok(vec![Vec::new(); rows.len()]);
    }
    pg_tx!(s, |conn| async {
        let mut given = Vec::with_capacity(rows.len());
        for (row, charm) in rows.iter().zip(charms) {
            let run: i64 = row.try_get("id")?;
            let oldest = oldest.get(charm).copied();
            given.push(give_events(conn, run, charm, max_events, oldest).await?);
        }
        Ok(given)
    })
}

pub(super) async fn finish_if_owned(
    s: &PgStore,
    run: RunId,
    node: &NodeId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
) -> Result<Finish, StoreError> {
    let quota = s.quota.get();
    let (finish, waiting) = pg_tx!(s, |conn| async {
        finish_in(conn, &s.instance, run, node, finished, policy, quota).await
    })?;
    if waiting {
        s.wake.raise();
    }
    Ok(finish)
}

/// The body of [`finish_if_owned`], and whether the charm now has a queued
/// run that can start. Locks the charm first (as every other writer of a
/// charm's runs does), then the run: the fence.
async fn finish_in(
    conn: &mut PgConnection,
    instance: &str,
    run: RunId,
    node: &NodeId,
    finished: &Finished,
    policy: UpdatePolicy<'_>,
    quota: crate::Quota,
) -> Result<(Finish, bool), StoreError> {
    let charm = sqlx::query(
        "SELECT id, consecutive_failures, heavy_runs, charm_host_now_ms() AS now FROM charms \
         WHERE id = (SELECT charm_id FROM runs WHERE id = $1) FOR UPDATE",
    )
    .bind(run)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(charm) = charm else {
        return Ok((Finish::Gone, false));
    };
    let owned: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT base_version FROM runs WHERE id = $1 AND status = 'running' AND owner = $2 \
         FOR UPDATE",
    )
    .bind(run)
    .bind(node.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(base) = owned else {
        return Ok((Finish::NotOwned, false));
    };
    let base =
        base.ok_or_else(|| crate::corrupt("run", format!("run {run} has no base version")))?;
    let id = charm_id(&charm, "id")?;
    let quota = super::quota::quota_of_charm(&mut *conn, id.as_str(), quota).await?;
    let (finish, after) = write_finish!(
        &mut *conn,
        run,
        node,
        finished,
        policy,
        charm = id.as_str(),
        base = base,
        before = before_from(&charm)?,
        now = charm.try_get("now")?,
        quota = quota
    )?;
    if let Some(f) = after.follow_up {
        upsert(
            conn,
            instance,
            &id,
            f.trigger,
            f.priority,
            f.not_before,
            f.lineage,
        )
        .await?;
    }
    // Every finish but these freed the charm's one running slot: a run
    // queued behind it can start now.
    let waiting = match finish {
        Finish::NotOwned | Finish::Gone => false,
        _ => announce_queued(conn, &id, instance).await?,
    };
    // Last: every finish of the space waits for these rows (`SpaceCost`).
    if let Some(cost) = &after.cost {
        super::quota::account_cost(conn, cost).await?;
    }
    Ok((finish, waiting))
}

pub(super) async fn rescue_lost(
    s: &PgStore,
    ttl_ms: i64,
    retry_priority: i64,
) -> Result<Vec<RescuedRun>, StoreError> {
    let rescued = pg_tx!(s, |conn| async {
        let rows = sqlx::query(RESCUE)
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
                &s.instance,
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
        // Dead nodes' rows go too: a node that wakes up finds its row
        // gone and rejoins under a new id.
        sqlx::query("DELETE FROM nodes WHERE last_seen_at <= charm_host_now_ms() - $1")
            .bind(ttl_ms)
            .execute(&mut *conn)
            .await?;
        Ok(rescued)
    })?;
    if rescued.iter().any(|r| r.retry.is_some()) {
        s.wake.raise();
    }
    Ok(rescued)
}

pub(super) async fn register_node(s: &PgStore, info: &NodeInfo) -> Result<NodeId, StoreError> {
    let id = crate::rows::new_node_id()?;
    sqlx::query(
        "INSERT INTO nodes (id, hostname, pid, started_at, last_seen_at) \
         VALUES ($1, $2, $3, charm_host_now_ms(), charm_host_now_ms())",
    )
    .bind(id.as_str())
    .bind(&info.hostname)
    .bind(i64::from(info.pid))
    .execute(&s.pool)
    .await?;
    Ok(id)
}

pub(super) async fn heartbeat(
    s: &PgStore,
    node: &NodeId,
    ttl_ms: i64,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "UPDATE nodes SET last_seen_at = charm_host_now_ms() \
         WHERE id = $1 AND last_seen_at > charm_host_now_ms() - $2 RETURNING last_seen_at",
    )
    .bind(node.as_str())
    .bind(ttl_ms)
    .fetch_optional(&s.pool)
    .await?)
}

pub(super) async fn retire_node(s: &PgStore, node: &NodeId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM nodes WHERE id = $1")
        .bind(node.as_str())
        .execute(&s.pool)
        .await?;
    Ok(())
}

/// Prunes one page of charms' runs (see [`crate::prune`]): found by one
/// read, deleted by id a chunk a statement, so no statement holds many
/// row locks for long.
pub(super) async fn prune(
    s: &PgStore,
    keep: u32,
    after: Option<&CharmId>,
    charms: u32,
) -> Result<Pruned, StoreError> {
    let mut conn = s.pool.acquire().await?;
    let Some(page) = pruning::page(&mut conn, after, charms).await? else {
        return Ok(Pruned::default());
    };
    let keep_default = s.quota.get().keep_runs;
    let ids = pruning::runs_beyond_keep(&mut conn, &page, keep, keep_default).await?;
    let mut deleted = 0;
    for chunk in ids.chunks(DELETE_CHUNK) {
        deleted += pruning::delete_runs(&mut conn, &page, chunk).await?;
    }
    if deleted > 0 {
        pruning::prune_sources(&mut conn, &page).await?;
    }
    Ok(page.pruned(deleted))
}

pub(super) async fn decay_usage(
    s: &PgStore,
    factor: f64,
    every_ms: i64,
) -> Result<bool, StoreError> {
    pg_tx!(s, |conn| async {
        let now: i64 = sqlx::query_scalar("SELECT charm_host_now_ms()")
            .fetch_one(&mut *conn)
            .await?;
        // The row lock makes concurrent passes of several nodes wait and
        // then find the turn taken.
        let turn: Option<i64> = sqlx::query_scalar(crate::rows::TAKE_DECAY)
            .bind(now)
            .bind(every_ms)
            .fetch_optional(&mut *conn)
            .await?;
        if turn.is_none() {
            return Ok(false);
        }
        sqlx::query(DECAY_IN_SPACE_ORDER)
            .bind(factor)
            .execute(&mut *conn)
            .await?;
        sqlx::query(crate::rows::FORGET_IDLE_SPACES)
            .execute(&mut *conn)
            .await?;
        Ok(true)
    })
}

/// `rows::DECAY`, its rows locked in space order first: a batch of
/// finishes (`finish.rs`) locks several spaces' usage in that order, and
/// a decay that locked them in the table's order could take one the batch
/// waits for while waiting for one the batch holds.
const DECAY_IN_SPACE_ORDER: &str = "UPDATE space_usage SET fuel = fuel * $1 \
     FROM (SELECT space FROM space_usage ORDER BY space FOR UPDATE) locked \
     WHERE space_usage.space = locked.space";

#[cfg(test)]
mod tests {
    use super::*;

    /// The predicate the claim names queued runs by, and `runs_space_queue`'s.
    const QUEUED: &str = "status IS NOT DISTINCT FROM 'queued'";

    /// The claim must prove `runs_space_queue` and no other partial index
    /// (see [`CLAIM`]): any other spelling of a queued filter on `runs`
    /// (`status = 'queued'`, `'queued' = status`, `status IN ('queued')`)
    /// brings back the plans that read the whole queue once the statistics
    /// say it is short. Every `'queued'` in the claim is one of the three
    /// filters or the re-check of the status a run was locked with.
    #[test]
    fn the_claim_names_queued_runs_only_as_runs_space_queue_does() {
        let migration = include_str!("../../migrations/postgres/0012_claim_queue_predicate.sql");
        assert!(migration.contains(&format!("WHERE {QUEUED};")));
        assert_eq!(CLAIM.matches(QUEUED).count(), 3, "spaces (twice) and ready");
        let recheck = "ARRAY(SELECT id FROM next WHERE locked_status = 'queued')";
        assert_eq!(CLAIM.matches(recheck).count(), 1, "the UPDATE's re-check");
        assert_eq!(CLAIM.matches("'queued'").count(), 4);
    }

    /// The scheduler's `NOT EXISTS` stays a probe per charm (see
    /// `unless_queued_unchanged!`).
    #[test]
    fn the_scheduler_upsert_keeps_its_probe_fenced() {
        assert!(UPSERT_SCHEDULED.contains("q.not_before IS NULL OFFSET 0)"));
    }
}
