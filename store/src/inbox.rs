//! Each charm's inbox of events, and run cancellation: the SQL both
//! backends share (`$N` placeholders read the same in both dialects) and
//! the operations built on it, expanded per backend by [`inbox_ops!`]
//! because each runs them on its own connection type.
//!
//! An event is appended `pending`; a claim hands the charm's pending events
//! to the run (recording the run on each, and the ids on the run); the
//! run's finish settles exactly the events that name it: acknowledged,
//! counted as a failed attempt (and dead-lettered once the charm's
//! `max_attempts` are used up), or left as they were. A charm runs one run
//! at a time, so the pending events at a claim are never held by another
//! run.

use crate::rows::{charm_id, to_u64, Columns};
use crate::{corrupt, EventRecord, EventStatus, RunEvent, StoreError};

/// Appends an event unless the charm is unknown or disabled, or its
/// idempotency key is kept already: `$1` charm, `$2` source, `$3` data,
/// `$4` key; `{now}` is the dialect's clock. Returns the new id.
pub(crate) fn insert_event_sql(now: &str) -> String {
    format!(
        "INSERT INTO events (charm_id, source, data, idempotency_key, received_at, status) \
         SELECT id, $2, $3, $4, {now}, 'pending' FROM charms WHERE id = $1 AND enabled \
         ON CONFLICT (charm_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING \
         RETURNING id"
    )
}

/// Asks for a run of an enabled charm at a time: `$1` charm, `$2` time;
/// `{now}` is the dialect's clock. Returns the wake-up's id.
pub(crate) fn insert_wakeup_sql(now: &str) -> String {
    format!(
        "INSERT INTO wakeups (charm_id, at, created_at) \
         SELECT id, $2, {now} FROM charms WHERE id = $1 AND enabled RETURNING id"
    )
}

/// The event kept under an idempotency key: `$1` charm, `$2` key.
pub(crate) const EVENT_BY_KEY: &str =
    "SELECT id FROM events WHERE charm_id = $1 AND idempotency_key = $2";

/// The most event data one run is given, in characters of JSON (at least
/// one event, whatever its size): many large inputs would otherwise make a
/// run's input too big for its memory, and fail every run of the charm.
pub const MAX_EVENT_CHARS_PER_RUN: i64 = 4 * 1024 * 1024;

/// Hands the charm's oldest pending events to a run: `$1` run, `$2` charm,
/// `$3` how many at most, `$4` how many characters of data at most (the
/// first event always).
pub(crate) const GIVE_EVENTS: &str = "UPDATE events SET run_id = $1 WHERE id IN ( \
       SELECT id FROM ( \
         SELECT id, LENGTH(data) AS size, SUM(LENGTH(data)) OVER (ORDER BY id) AS total \
         FROM (SELECT id, data FROM events WHERE charm_id = $2 AND status = 'pending' \
               ORDER BY id LIMIT $3) oldest) sized \
       WHERE total <= $4 OR total = size) \
     RETURNING id, received_at, source, data";

/// Records on a run the events it was given: `$1` JSON array of ids, `$2`
/// the newest event's data (`ctx.input`), `$3` run.
pub(crate) const RECORD_GIVEN: &str = "UPDATE runs SET event_ids = $1, input = $2 WHERE id = $3";

/// Acknowledges a run's events: `$1` run, `$2` time.
pub(crate) const ACK_EVENTS: &str = "UPDATE events SET status = 'acked', settled_at = $2 \
     WHERE run_id = $1 AND status = 'pending'";

/// Counts a failed attempt on a run's events: `$1` run, `$2` its error.
pub(crate) const COUNT_ATTEMPT: &str =
    "UPDATE events SET attempts = attempts + 1, last_error = $2 \
     WHERE run_id = $1 AND status = 'pending'";

/// Dead-letters a run's events that used up their charm's attempts: `$1`
/// run, `$2` time.
pub(crate) const DEAD_LETTER: &str = "UPDATE events SET status = 'dead', settled_at = $2 \
     WHERE run_id = $1 AND status = 'pending' \
       AND attempts >= (SELECT max_attempts FROM charms c WHERE c.id = events.charm_id)";

/// Whether a charm has pending events: `$1` charm.
pub(crate) const HAS_PENDING: &str =
    "SELECT id FROM events WHERE charm_id = $1 AND status = 'pending' LIMIT 1";

/// A run's place in its line of retries: `$1` run.
pub(crate) const LINEAGE: &str =
    "SELECT attempt, COALESCE(origin_run_id, id) AS origin FROM runs WHERE id = $1";

/// A charm's events, oldest first: `$1` charm, `$2` status or null, `$3`
/// limit.
pub(crate) const LIST_EVENTS: &str = "SELECT * FROM events WHERE charm_id = $1 \
     AND ($2 IS NULL OR status = $2) ORDER BY id LIMIT $3";

/// Returns dead letters to the inbox: `$1` charm, `$2` one event's id, or
/// null for all.
pub(crate) const REDRIVE: &str = "UPDATE events SET status = 'pending', attempts = 0, \
     last_error = NULL, settled_at = NULL \
     WHERE charm_id = $1 AND status = 'dead' AND ($2 IS NULL OR id = $2)";

/// Deletes a dead letter, or a pending event no running run holds: `$1`
/// charm, `$2` one event's id, or null for every dead letter.
pub(crate) const DISCARD: &str = "DELETE FROM events WHERE charm_id = $1 AND ( \
       ($2 IS NULL AND status = 'dead') \
       OR (id = $2 AND (status = 'dead' OR (status = 'pending' AND NOT EXISTS ( \
             SELECT 1 FROM runs r WHERE r.id = events.run_id AND r.status = 'running')))))";

/// Forgets acknowledged events settled before `$1`, at most `$2`.
pub(crate) const PRUNE_EVENTS: &str = "DELETE FROM events WHERE id IN ( \
       SELECT id FROM events WHERE status = 'acked' AND settled_at < $1 LIMIT $2)";

/// Cancels a queued run: `$1` run, `$2` error, `$3` time.
pub(crate) const CANCEL_QUEUED_RUN: &str =
    "UPDATE runs SET status = 'done', outcome = 'cancelled', \
     error = $2, finished_at = $3 WHERE id = $1 AND status = 'queued' RETURNING id";

/// Asks the node running a run to stop it: `$1` run, `$2` true.
pub(crate) const REQUEST_CANCEL: &str = "UPDATE runs SET cancel_requested = $2 \
     WHERE id = $1 AND status = 'running' RETURNING owner";

/// A run's status: `$1` run.
pub(crate) const RUN_STATUS: &str = "SELECT status FROM runs WHERE id = $1";

/// Runs on node `$1` that a user asked to cancel.
pub(crate) const CANCEL_REQUESTS: &str = "SELECT id FROM runs \
     WHERE status = 'running' AND owner = $1 AND cancel_requested";

/// An event handed to a run, from [`GIVE_EVENTS`].
pub(crate) fn run_event_from(row: &impl Columns) -> Result<RunEvent, StoreError> {
    Ok(RunEvent {
        id: row.int("id")?,
        received_at: row.int("received_at")?,
        source: row.text("source")?,
        data: row.text("data")?,
    })
}

/// An event's record from `SELECT *`.
pub(crate) fn event_from(row: &impl Columns) -> Result<EventRecord, StoreError> {
    let status = row.text("status")?;
    Ok(EventRecord {
        id: row.int("id")?,
        charm_id: charm_id(row, "charm_id")?,
        source: row.text("source")?,
        data: row.text("data")?,
        idempotency_key: row.opt_text("idempotency_key")?,
        received_at: row.int("received_at")?,
        status: EventStatus::parse(&status)
            .ok_or_else(|| corrupt("event status", format!("`{status}`")))?,
        attempts: u32::try_from(to_u64(row.int("attempts")?)).unwrap_or(u32::MAX),
        run_id: row.opt_int("run_id")?,
        last_error: row.opt_text("last_error")?,
        settled_at: row.opt_int("settled_at")?,
    })
}

/// A run to queue after a finish, for the events still pending.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FollowUp {
    pub(crate) trigger: crate::Trigger,
    pub(crate) priority: i64,
    pub(crate) lineage: crate::rows::Lineage,
    pub(crate) not_before: Option<i64>,
}

/// The inbox operations on one backend's connection type (`$conn`, a
/// `sqlx` connection) with its clock expression (`$now`).
macro_rules! inbox_ops {
    ($conn:ty, $now:expr) => {
        use $crate::inbox::{
            event_from, run_event_from, FollowUp, ACK_EVENTS, CANCEL_QUEUED_RUN, CANCEL_REQUESTS,
            COUNT_ATTEMPT, DEAD_LETTER, DISCARD, EVENT_BY_KEY, GIVE_EVENTS, HAS_PENDING, LINEAGE,
            LIST_EVENTS, PRUNE_EVENTS, RECORD_GIVEN, REDRIVE, REQUEST_CANCEL, RUN_STATUS,
        };
        use $crate::rows::Lineage;
        use $crate::{
            Cancel, CharmId, EventId, EventRecord, EventStatus, EventsAfter, NewEvent, NodeId,
            RunEvent, RunId, StoreError, Trigger,
        };

        fn insert_wakeup_sql() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| $crate::inbox::insert_wakeup_sql($now))
        }

        /// Asks for a run of `charm` at `at`; the wake-up's id, or `None`
        /// for an unknown or disabled charm.
        pub(super) async fn wake_at(
            conn: &mut $conn,
            charm: &CharmId,
            at: i64,
        ) -> Result<Option<i64>, StoreError> {
            Ok(sqlx::query_scalar(insert_wakeup_sql())
                .bind(charm.as_str())
                .bind(at)
                .fetch_optional(&mut *conn)
                .await?)
        }

        fn insert_event_sql() -> &'static str {
            static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
            SQL.get_or_init(|| $crate::inbox::insert_event_sql($now))
        }

        /// Appends `event`: its id and whether it was a duplicate, or
        /// `None` when the charm is unknown or disabled.
        pub(super) async fn append_event(
            conn: &mut $conn,
            charm: &CharmId,
            event: &NewEvent,
        ) -> Result<Option<(EventId, bool)>, StoreError> {
            let id: Option<i64> = sqlx::query_scalar(insert_event_sql())
                .bind(charm.as_str())
                .bind(&event.source)
                .bind(&event.data)
                .bind(&event.idempotency_key)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(id) = id {
                return Ok(Some((id, false)));
            }
            let Some(key) = &event.idempotency_key else {
                return Ok(None);
            };
            let kept: Option<i64> = sqlx::query_scalar(EVENT_BY_KEY)
                .bind(charm.as_str())
                .bind(key)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(kept.map(|id| (id, true)))
        }

        /// Hands up to `max` pending events of `charm` to `run`, oldest
        /// first, and records them on the run. `oldest` is the attempts of
        /// the charm's oldest pending event (`None`:
        /// nothing is pending), which the claim reads.
        pub(super) async fn give_events(
            conn: &mut $conn,
            run: RunId,
            charm: &str,
            max: u32,
            oldest: Option<i64>,
        ) -> Result<Vec<RunEvent>, StoreError> {
            if max == 0 {
                return Ok(Vec::new());
            }
            // Events of a failed run are retried one at a time, oldest
            // first: a poison event fails alone and is dead-lettered alone.
            let max = match oldest {
                None => return Ok(Vec::new()),
                Some(attempts) if attempts > 0 => 1,
                Some(_) => max,
            };
            let rows = sqlx::query(GIVE_EVENTS)
                .bind(run)
                .bind(charm)
                .bind(i64::from(max))
                .bind($crate::inbox::MAX_EVENT_CHARS_PER_RUN)
                .fetch_all(&mut *conn)
                .await?;
            let mut events = rows
                .iter()
                .map(run_event_from)
                .collect::<Result<Vec<_>, _>>()?;
            events.sort_by_key(|e| e.id);
            if let Some(newest) = events.last() {
                let ids: Vec<EventId> = events.iter().map(|e| e.id).collect();
                let ids = serde_json::to_string(&ids)
                    .map_err(|e| $crate::corrupt("run's event ids", e))?;
                sqlx::query(RECORD_GIVEN)
                    .bind(ids)
                    .bind(&newest.data)
                    .bind(run)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(events)
        }

        /// Settles the events a finished run was given, as `after` says,
        /// and returns the run to queue for those still pending, if any.
        pub(super) async fn settle_events(
            conn: &mut $conn,
            run: RunId,
            charm: &str,
            after: EventsAfter,
            error: Option<&str>,
            now: i64,
        ) -> Result<Option<FollowUp>, StoreError> {
            let follow_up = match after {
                EventsAfter::Keep => return Ok(None),
                EventsAfter::Ack { priority } => {
                    sqlx::query(ACK_EVENTS)
                        .bind(run)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    FollowUp {
                        trigger: Trigger::Inbox,
                        priority,
                        lineage: Lineage::FIRST,
                        not_before: None,
                    }
                }
                EventsAfter::Retry { delay_ms, priority } => {
                    let counted = sqlx::query(COUNT_ATTEMPT)
                        .bind(run)
                        .bind(error)
                        .execute(&mut *conn)
                        .await?;
                    if counted.rows_affected() == 0 {
                        // The run had no events: nothing to retry for them.
                        return Ok(None);
                    }
                    sqlx::query(DEAD_LETTER)
                        .bind(run)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    let row = sqlx::query(LINEAGE).bind(run).fetch_one(&mut *conn).await?;
                    FollowUp {
                        trigger: Trigger::Retry,
                        priority,
                        lineage: Lineage::retry_of(&row)?,
                        not_before: Some(now.saturating_add(delay_ms.max(0))),
                    }
                }
            };
            let pending: Option<i64> = sqlx::query_scalar(HAS_PENDING)
                .bind(charm)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(pending.map(|_| follow_up))
        }

        /// A charm's events, oldest first.
        pub(super) async fn list_events(
            conn: &mut $conn,
            charm: &CharmId,
            status: Option<EventStatus>,
            limit: u32,
        ) -> Result<Vec<EventRecord>, StoreError> {
            let rows = sqlx::query(LIST_EVENTS)
                .bind(charm.as_str())
                .bind(status.map(EventStatus::as_str))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(event_from).collect()
        }

        /// Applies `statement` (`$1` charm, `$2` event id or null) to each
        /// of `ids`, or once to all when `None`; how many rows it changed.
        async fn each_event(
            conn: &mut $conn,
            statement: &'static str,
            charm: &CharmId,
            ids: Option<&[EventId]>,
        ) -> Result<u64, StoreError> {
            let mut changed = 0;
            match ids {
                None => {
                    changed += sqlx::query(statement)
                        .bind(charm.as_str())
                        .bind(None::<i64>)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                }
                Some(ids) => {
                    for id in ids {
                        changed += sqlx::query(statement)
                            .bind(charm.as_str())
                            .bind(Some(*id))
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                    }
                }
            }
            Ok(changed)
        }

        /// Returns dead letters to the inbox; how many.
        pub(super) async fn redrive(
            conn: &mut $conn,
            charm: &CharmId,
            ids: Option<&[EventId]>,
        ) -> Result<u64, StoreError> {
            each_event(conn, REDRIVE, charm, ids).await
        }

        /// Deletes dead letters (or idle pending events); how many.
        pub(super) async fn discard(
            conn: &mut $conn,
            charm: &CharmId,
            ids: Option<&[EventId]>,
        ) -> Result<u64, StoreError> {
            each_event(conn, DISCARD, charm, ids).await
        }

        /// Forgets acknowledged events settled before `before`.
        pub(super) async fn prune_events(
            conn: &mut $conn,
            before: i64,
            batch: u32,
        ) -> Result<u64, StoreError> {
            Ok(sqlx::query(PRUNE_EVENTS)
                .bind(before)
                .bind(i64::from(batch))
                .execute(&mut *conn)
                .await?
                .rows_affected())
        }

        /// Cancels a queued run, or asks its node to stop a running one.
        pub(super) async fn cancel(
            conn: &mut $conn,
            run: RunId,
            reason: &str,
            now: i64,
        ) -> Result<Option<Cancel>, StoreError> {
            let dequeued: Option<i64> = sqlx::query_scalar(CANCEL_QUEUED_RUN)
                .bind(run)
                .bind(reason)
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
            if dequeued.is_some() {
                return Ok(Some(Cancel::Dequeued));
            }
            let running: Option<Option<String>> = sqlx::query_scalar(REQUEST_CANCEL)
                .bind(run)
                .bind(true)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(owner) = running {
                let node = owner.as_deref().map($crate::rows::node_id).transpose()?;
                return Ok(Some(Cancel::Requested { node }));
            }
            let status: Option<String> = sqlx::query_scalar(RUN_STATUS)
                .bind(run)
                .fetch_optional(&mut *conn)
                .await?;
            Ok(status.map(|_| Cancel::Finished))
        }

        /// The runs on `node` that a user asked to cancel.
        pub(super) async fn cancel_requests(
            conn: &mut $conn,
            node: &NodeId,
        ) -> Result<Vec<RunId>, StoreError> {
            Ok(sqlx::query_scalar(CANCEL_REQUESTS)
                .bind(node.as_str())
                .fetch_all(&mut *conn)
                .await?)
        }
    };
}
pub(crate) use inbox_ops;
