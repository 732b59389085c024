//! charm-store: what charm-host keeps, behind one trait.
//!
//! Charms, their state, and runs, which are also the job queue. The
//! [`Store`] trait names each operation by what it does (claim the next run,
//! finish a run if this node still owns it, rescue lost runs, ...); a
//! backend implements it with its own SQL and migrations, and one
//! conformance suite (`store/tests/conformance/`) runs against every backend,
//! as River's driver tests and Oban's engine tests do.
//!
//! Backends: [`sqlite`] (embedded, one node; the default) and [`postgres`]
//! (shared by several nodes).
//!
//! The store keeps these invariants, as database rules where it can:
//!
//! * a charm's state is written only by a successful run, in the same
//!   transaction as that run's record, and its version goes up by one;
//! * a charm has at most one queued and at most one running run (unique
//!   partial indexes), so triggers coalesce and a charm never runs
//!   concurrently with itself; queueing is one upsert on that index;
//! * a trigger's input is an event appended to the charm's inbox, never
//!   overwritten: a claim hands the run the pending events (oldest first,
//!   up to a cap), a successful finish acknowledges exactly those in its
//!   transaction, a failed one counts an attempt on each and queues a retry
//!   (or dead-letters those out of attempts), and a cancelled or
//!   interrupted one leaves them as they were;
//! * a run is claimed by one node, whose id it records; its finish writes
//!   nothing unless the run is still running on that node, and writes the
//!   state only if the state's version is still the one the run read
//!   (compare-and-set): at most one successful run per state version, even
//!   when a node that was paused wakes up;
//! * runs held by a node that stopped heart-beating (or whose lease ran
//!   out) are marked interrupted and retried by whichever node looks first
//!   ([`Store::rescue_lost_runs`]); each statement re-checks what it
//!   changes, so several nodes may run it at once;
//! * every time that nodes compare (queue times, due times, heartbeats) is
//!   the database's clock, never a node's.
//! * a space's quotas (charms, runs in flight, fuel per hour, state bytes,
//!   runs kept) are checked in the transaction of the change each one
//!   limits, so a refusal never leaves half a change (see [`quota`]).
//!
//! It knows nothing about wasmtime, HTTP or scheduling policy: callers pass
//! the decisions (a priority, an [`UpdatePolicy`], a [`NextRunPolicy`], a
//! time to live) and the store applies them atomically.
#![warn(missing_docs)]

pub mod alerts;
mod domain;
mod finish_known;
pub mod history;
mod inbox;
pub mod postgres;
pub mod prune;
pub mod quota;
pub mod recordings;
mod rows;
pub mod secrets;
pub mod sqlite;
pub mod tenancy;
mod wake;

use async_trait::async_trait;

use alerts::{AlertId, AlertRecord, AlertStatus, AlertTransition};
use history::{Rollback, StateVersion};
pub use inbox::MAX_EVENT_CHARS_PER_RUN;
pub use prune::Pruned;
pub use rows::SLOT_FUEL_PER_MS;
use secrets::{PutSecret, SealedSecret, SecretName};
use tenancy::{AuditFilter, AuditRecord, NewAudit, NewToken, SpaceOf, TokenRecord};

pub use domain::FairShare;
pub use domain::{
    Before, Cancel, CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, CharmUpdate,
    ClaimedRun, Counts, Delivered, Enqueued, EventId, EventRecord, EventStatus, EventsAfter,
    Finish, Finished, Hook, MinuteOutcomes, NewCharm, NewEvent, NextRunPolicy, NodeId, NodeInfo,
    NodeRecord, RescuedRun, RunEvent, RunId, RunOutcome, RunRecord, RunStatus, RunSummary,
    RunToFinish, SchedulePass, SortKey, StateRecord, Trigger, UpdatePolicy,
};
pub use quota::{
    Quota, QuotaBlock, QuotaExceeded, QuotaKind, QuotaOverrides, SpaceRecord, SpaceUsage,
};

/// A store error. Messages say what failed; the API turns them into 500s
/// without showing them, or into 503s when [`StoreError::unavailable`] says
/// the condition passes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// SQLite refused or failed a statement run on its handle directly
    /// (`sqlite/direct.rs`).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Applying the migrations failed.
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database's folder could not be created.
    #[error("creating the database folder `{path}` failed: {source}")]
    DataDir {
        /// The folder.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Another process serves from this single-node database.
    #[error("another charm-host process is serving from `{path}`; a SQLite database takes one node (use PostgreSQL for several)")]
    InUse {
        /// The database file.
        path: String,
    },
    /// The database made a transaction give way (a deadlock or a
    /// serialisation failure) more often than it was retried, or after a
    /// change that cannot be applied twice was used up: nothing was
    /// written; the request may be sent again.
    #[error("the database is busy: {0}")]
    Busy(&'static str),
    /// The change would put a space over one of its quotas; nothing was
    /// written. The message names the space, the quota and its value.
    #[error(transparent)]
    OverQuota(#[from] QuotaExceeded),
    /// A statement the store built wrong (a bug in this crate); nothing of
    /// it was run.
    #[error("a store bug: {0}")]
    Bug(String),
    /// A stored value does not decode.
    #[error("stored {what} is corrupt: {reason}")]
    Corrupt {
        /// Which value.
        what: &'static str,
        /// Why it does not decode.
        reason: String,
    },
}

impl StoreError {
    /// Why the database cannot take this request for now, when the failure
    /// is a condition that passes (a lost connection, a full disk, a busy,
    /// locked, starting or shutting-down database, too many connections)
    /// rather than a fault: the API answers these with 503.
    pub fn unavailable(&self) -> Option<&'static str> {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                sqlite::unavailable(e.as_ref()).or_else(|| postgres::unavailable(e.as_ref()))
            }
            StoreError::Database(e) => unreachable_database(e),
            StoreError::Sqlite(e) => {
                sqlite::unavailable_code(i64::from(e.sqlite_error()?.extended_code))
            }
            StoreError::Busy(_) => Some("the database is busy"),
            _ => None,
        }
    }

    /// Whether the database could not be reached at all (as opposed to
    /// refusing this request): worth retrying the same request unchanged
    /// for as long as the node keeps its lease.
    pub fn is_connection(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => postgres::lost_connection(e.as_ref()),
            StoreError::Database(e) => unreachable_database(e).is_some(),
            _ => false,
        }
    }
}

/// Why a request never reached the database, when it did not.
fn unreachable_database(e: &sqlx::Error) -> Option<&'static str> {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
            Some("the database cannot be reached")
        }
        sqlx::Error::PoolTimedOut => Some("the database has no free connection"),
        sqlx::Error::PoolClosed => Some("the database connection is closing"),
        _ => None,
    }
}

/// Records each run of `batch` in a transaction of its own: the default
/// of [`Store::finish_runs_if_owned`], and the backends' way back when a
/// batch's transaction fails.
pub(crate) async fn finish_each_alone<S: Store + ?Sized>(
    store: &S,
    batch: &[RunToFinish<'_>],
) -> Vec<Result<Finish, StoreError>> {
    let mut results = Vec::with_capacity(batch.len());
    for item in batch {
        results.push(
            store
                .finish_run_if_owned(item.run, item.node, item.finished, item.policy)
                .await,
        );
    }
    results
}

pub(crate) fn corrupt(what: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        reason: reason.to_string(),
    }
}

/// The operations charm-host needs from a database. Every method is one
/// transaction; none interprets policy.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections, waiting for those in use to be returned.
    async fn close(&self);

    /// The database's clock, in ms since the Unix epoch: the clock of every
    /// time the store writes.
    async fn now_ms(&self) -> Result<i64, StoreError>;

    /// Resolves when runs may have been queued since the last call: by this
    /// process (right after the commit) or, on a database shared by several
    /// nodes, by another node. It may resolve when nothing is claimable, and
    /// it may miss work queued elsewhere while the connection was down:
    /// callers poll as well.
    async fn work_queued(&self);

    /// Inserts a charm and its initial state (version 0).
    ///
    /// # Errors
    /// [`StoreError::OverQuota`] when its space has its quota of charms
    /// ([`QuotaKind::MaxCharms`]) or the initial state would put the
    /// space's states over their quota ([`QuotaKind::MaxStateBytes`]):
    /// counted and inserted in one serialised transaction, so concurrent
    /// registrations never pass the quota together.
    async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError>;

    /// Sets the default quotas of every space (the daemon's `--space-*`
    /// flags), which a space's overrides replace one by one. Until it is
    /// called every quota is unlimited (0) and `keep_runs` is the `keep`
    /// given to [`Store::prune_runs`]. Held by this store value, not the
    /// database: each node enforces its own defaults.
    fn set_quota_defaults(&self, defaults: Quota);

    /// The default quotas of every space, as last set.
    fn quota_defaults(&self) -> Quota;

    /// Every space that has charms or quota overrides, by name, with its
    /// quotas in force and what it uses now; only `space` when given (then
    /// empty when it has neither).
    async fn spaces(&self, space: Option<&str>) -> Result<Vec<SpaceRecord>, StoreError>;

    /// The spaces blocked now for their fuel per hour, by name: cheap (no
    /// usage is summed), for metrics and logs.
    async fn blocked_spaces(&self) -> Result<Vec<(String, QuotaBlock)>, StoreError>;

    /// Sets a space's quota overrides (`None` fields: the default; all
    /// `None` forgets the space's row), applying a changed fuel budget to
    /// the space's block at once. Returns the space as
    /// [`Store::spaces`] shows it (`None` when it has no charms and no
    /// overrides left).
    async fn set_space_quota(
        &self,
        space: &str,
        overrides: &QuotaOverrides,
    ) -> Result<Option<SpaceRecord>, StoreError>;

    /// One charm, or `None`.
    async fn charm(&self, id: &CharmId) -> Result<Option<CharmRecord>, StoreError>;

    /// A page of charms matching `filter`, and how many match in all.
    async fn charms(&self, filter: &CharmFilter) -> Result<(Vec<CharmRecord>, u64), StoreError>;

    /// A charm's code and settings, source included, or `None`.
    async fn charm_code(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError>;

    /// What a run needs: the charm's code and settings without its source
    /// (`source` is empty; up to 1 MiB, it is only needed to recompile).
    /// A node keeps what it read, and reads it again when a claim's
    /// [`ClaimedRun::charm_revision`] differs from the
    /// [`CharmCode::revision`] it kept (or it kept none: the first run, a
    /// charm evicted or too large to keep, one that could not be prepared).
    async fn charm_for_run(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError>;

    /// Applies `change` to the charm as stored, in one transaction, and
    /// returns it changed; `None` for an unknown id. A change that disables
    /// the charm also cancels its queued run, so that a disabled charm never
    /// runs.
    async fn modify_charm(
        &self,
        id: &CharmId,
        change: CharmChange,
    ) -> Result<Option<CharmRecord>, StoreError>;

    /// Deletes a charm with its state, runs, events and secrets. Returns
    /// whether it existed.
    async fn delete_charm(&self, id: &CharmId) -> Result<bool, StoreError>;

    /// A charm's state, or `None` for an unknown charm.
    async fn state(&self, id: &CharmId) -> Result<Option<StateRecord>, StoreError>;

    /// Queues a run of `charm` at `priority` (higher runs first), claimable
    /// from `not_before` (ms since the epoch, the database's clock; `None`:
    /// at once), or joins its queued run (raising that run's priority to
    /// this one's, and its start to the earlier of the two), in one upsert
    /// on the one-queued-run index, so concurrent callers coalesce instead
    /// of failing. `None` for an unknown or disabled charm.
    async fn enqueue_run(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        not_before: Option<i64>,
    ) -> Result<Option<Enqueued>, StoreError>;

    /// Appends `event` to the inbox of `charm` and queues a run for it (as
    /// [`Store::enqueue_run`] at once), in one transaction. An event whose
    /// idempotency key the inbox holds already is not appended again
    /// ([`Delivered::duplicate`]). `None` for an unknown or disabled charm.
    async fn deliver_event(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        event: &NewEvent,
    ) -> Result<Option<Delivered>, StoreError>;

    /// A charm's events with `status` (every status when `None`), oldest
    /// first, at most `limit`.
    async fn events(
        &self,
        charm: &CharmId,
        status: Option<EventStatus>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError>;

    /// Returns dead letters of `charm` to its inbox (all of them when `ids`
    /// is `None`) with their attempts reset, and queues a run at
    /// `priority`. Returns how many were re-driven.
    async fn redrive_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
        priority: i64,
    ) -> Result<u64, StoreError>;

    /// Deletes events of `charm` that are dead letters, or pending and not
    /// held by a running run (all dead letters when `ids` is `None`).
    /// Returns how many were deleted.
    async fn discard_events(
        &self,
        charm: &CharmId,
        ids: Option<&[EventId]>,
    ) -> Result<u64, StoreError>;

    /// Deletes up to `batch` acknowledged events settled before `before`
    /// (ms since the epoch): the window in which an idempotency key is
    /// remembered. Returns how many were deleted.
    async fn prune_events(&self, before: i64, batch: u32) -> Result<u64, StoreError>;

    /// Cancels a run: a queued one is recorded `cancelled` with `reason` at
    /// once; for a running one the request is recorded, for its node to
    /// stop it ([`Store::cancel_requests`]). `None` for an unknown run.
    async fn cancel_run(&self, run: RunId, reason: &str) -> Result<Option<Cancel>, StoreError>;

    /// The runs running on `node` that a user asked to cancel.
    async fn cancel_requests(&self, node: &NodeId) -> Result<Vec<RunId>, StoreError>;

    /// Sets (or with `None` removes) the secret that signs a charm's
    /// webhook deliveries. Returns whether the charm exists.
    async fn set_hook_secret(
        &self,
        charm: &CharmId,
        secret: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// A charm's webhook: whether the charm is enabled, and its secret if
    /// it has a webhook. `None` for an unknown charm.
    async fn hook(&self, charm: &CharmId) -> Result<Option<Hook>, StoreError>;

    /// Sets the secret `name` of `charm` to a value the caller sealed
    /// (`nonce`, `ciphertext`; the store never sees the value), replacing
    /// one of that name, in one transaction that first locks the charm. A
    /// new name is refused when the charm has `max_secrets` already
    /// ([`PutSecret::Full`]); an unknown charm is [`PutSecret::NoCharm`].
    async fn put_secret(
        &self,
        charm: &CharmId,
        name: &str,
        nonce: &[u8],
        ciphertext: &[u8],
        max_secrets: u32,
    ) -> Result<PutSecret, StoreError>;

    /// The names of a charm's secrets and when each last changed, by name;
    /// empty for an unknown charm. Never a value.
    async fn secret_names(&self, charm: &CharmId) -> Result<Vec<SecretName>, StoreError>;

    /// A charm's secrets as sealed, by name, for a run to open; empty for
    /// an unknown charm. Read at each run, so a change takes effect at the
    /// next one.
    async fn sealed_secrets(&self, charm: &CharmId) -> Result<Vec<SealedSecret>, StoreError>;

    /// Deletes the secret `name` of `charm`. Returns whether it existed.
    async fn delete_secret(&self, charm: &CharmId, name: &str) -> Result<bool, StoreError>;

    /// Moves a charm's alert state as `transition` says, if that is a
    /// change (another state, or another fingerprint), and then queues one
    /// alert per `(channel, payload)`, in one transaction. Returns whether
    /// it was a change: an incident already alerted raises nothing.
    async fn raise_alert(
        &self,
        charm: &CharmId,
        transition: &AlertTransition,
        payloads: &[(String, String)],
    ) -> Result<bool, StoreError>;

    /// Takes up to `limit` alerts due for delivery, each leased for
    /// `lease_ms` (a node that stops mid-delivery leaves it for the next
    /// look), counting the attempt.
    async fn take_due_alerts(
        &self,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AlertRecord>, StoreError>;

    /// Records a delivery attempt: delivered, failed for good, or pending
    /// again `retry_in_ms` from now, with the error.
    async fn settle_alert(
        &self,
        alert: AlertId,
        status: AlertStatus,
        error: Option<&str>,
        retry_in_ms: Option<i64>,
    ) -> Result<(), StoreError>;

    /// The newest alerts, of one charm or all, at most `limit`.
    async fn alerts(
        &self,
        charm: Option<&CharmId>,
        limit: u32,
    ) -> Result<Vec<AlertRecord>, StoreError>;

    /// Enabled charms on an interval, in a fine alert state, whose last
    /// success (or registration) is more than `intervals` of their
    /// intervals ago; at most `limit`.
    async fn silent_charms(&self, intervals: u32, limit: u32) -> Result<Vec<CharmId>, StoreError>;

    /// Queues a scheduled run at `priority` of up to `limit` enabled charms
    /// that are due by the database's clock, oldest first, and moves each
    /// one's next run to `next_run(now + waited, interval_s, schedule)`,
    /// where `waited` is how long the charm's queued run, if it has one,
    /// has waited (ms; 0 without one; at most `interval_s`): a node too
    /// busy to start runs as often as they come due looks at a waiting
    /// charm up to half as often, instead of rewriting it every interval (a
    /// run's finish sets the charm's next run itself; one cancelled, or
    /// over its space's state quota, leaves it, at most one interval
    /// later than it would have been); and queues a
    /// run at `wakeup_priority` for each run asked for later that is due
    /// (up to `limit`; one asked of a charm disabled since is dropped), all
    /// in one transaction. Charms another node is scheduling at the same moment
    /// are skipped, not waited for, so each due time is queued once however
    /// many nodes run this at once.
    async fn schedule_due_runs(
        &self,
        priority: i64,
        wakeup_priority: i64,
        limit: u32,
        next_run: NextRunPolicy<'_>,
    ) -> Result<SchedulePass, StoreError>;

    /// Asks for a run of `charm` at `at` (ms since the epoch, the
    /// database's clock), queued then by the scheduler apart from the
    /// charm's schedule and its queued run. Returns the request's id, or
    /// `None` for an unknown or disabled charm.
    async fn wake_at(&self, charm: &CharmId, at: i64) -> Result<Option<i64>, StoreError>;

    /// Registers a node: a fresh id, its row stamped with the database's
    /// time. On a single-node backend this also retires every other node
    /// (a previous process on the same file), whose runs the next rescue
    /// then takes, and refuses with [`StoreError::InUse`] while another
    /// process is serving from it.
    async fn register_node(&self, info: &NodeInfo) -> Result<NodeId, StoreError>;

    /// Records that `node` is alive, unless it is already dead: unknown,
    /// retired, or silent for `ttl_ms` or more. Returns the database's time,
    /// or `None` when the node is dead; then it must stop claiming, drop its
    /// runs (their rescue retries them) and register anew.
    async fn heartbeat(&self, node: &NodeId, ttl_ms: i64) -> Result<Option<i64>, StoreError>;

    /// Removes a node's row. Its runs still running are lost from then on
    /// and taken by the next rescue, without waiting out a time to live.
    async fn retire_node(&self, node: &NodeId) -> Result<(), StoreError>;

    /// The registered nodes, with the runs each holds now.
    async fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError>;

    /// Claims the most urgent queued run that may start now and whose charm
    /// is enabled and not already running, for `node`: by priority, then the
    /// cost its space ran up recently (least first; a run's cost is its fuel
    /// plus its wall time at `SLOT_FUEL_PER_MS`), then age, a charm's run
    /// counting as queued later by its last run's cost in milliseconds (so
    /// a heavy charm yields, and still never starves); when `fair` gives slots, a space already
    /// holding its share of them (the slots of the live nodes over the
    /// active spaces) is passed over; so is a space holding its quota of
    /// runs in flight ([`Quota::max_runs_in_flight`], counted on every
    /// node, every running run counted); the share does not count the runs
    /// `fair` names as finishing on `node`; a space blocked for its fuel per
    /// hour is passed over too (its runs wait
    /// queued, not failed). For `node`:
    /// marks it running, owned by `node`, with a lease of `lease_ms` from
    /// now, and reads the state it starts from and the charm's pending
    /// events, oldest first, at most `max_events`. Runs another node is
    /// claiming at the same moment are skipped, so no run is handed out
    /// twice. A node that is no longer registered (retired, or declared
    /// dead) claims nothing.
    async fn claim_next_run(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
    ) -> Result<Option<ClaimedRun>, StoreError>;

    /// Claims up to `limit` runs for `node`, each the one
    /// [`Store::claim_next_run`] would claim after the ones before it, so
    /// the order and every rule are the same; fewer (or none) when fewer
    /// may start. Both stores choose and claim the batch's runs in one
    /// statement (issue 18: a node with several free slots claims them in
    /// one write), so a failing claim claims none of the batch (its runs
    /// stay queued). PostgreSQL hands the runs their events in a second
    /// step; if that fails, the runs are returned without them (they stay
    /// pending), never dropped while running. The default claims one at a
    /// time; when a later claim fails after earlier ones succeeded, those
    /// are returned (they are running and must be executed) and the error
    /// is logged.
    async fn claim_runs(
        &self,
        node: &NodeId,
        lease_ms: i64,
        max_events: u32,
        fair: FairShare,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        let mut claimed = Vec::new();
        while claimed.len() < usize::try_from(limit).unwrap_or(usize::MAX) {
            match self
                .claim_next_run(node, lease_ms, max_events, fair.clone())
                .await
            {
                Ok(Some(run)) => claimed.push(run),
                Ok(None) => break,
                Err(error) if claimed.is_empty() => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, claimed = claimed.len(), "a claim in a batch failed; running the runs claimed before it");
                    break;
                }
            }
        }
        Ok(claimed)
    }

    /// Decays every space's recent fuel by `factor` if `every_ms` have
    /// passed since the last decay (by the database's clock, whichever node
    /// asks), and forgets spaces whose usage fell below 1. Returns whether
    /// it decayed.
    async fn decay_usage(&self, factor: f64, every_ms: i64) -> Result<bool, StoreError>;

    /// Recent fuel per space, largest first, at most `limit`.
    async fn space_usage(&self, limit: u32) -> Result<Vec<(String, f64)>, StoreError>;

    /// Records a finished run, if it is still running on `node`: the run,
    /// the new state (if any, version + 1, only if the version is still the
    /// one the run started from), the charm's update decided by `policy`
    /// from its failure count before this run and the database's time, and
    /// what that update says of the run's events (acknowledged; retried or
    /// dead-lettered; kept), all or nothing. When events remain pending a
    /// run is queued for them. A charm whose run freed its running slot while another
    /// run waits is announced as work queued.
    ///
    /// Quotas: the run's fuel is added to its space's trailing hour, which
    /// blocks the space's claims while it is at its fuel budget. A
    /// successful run whose new state would put its space's states over
    /// [`Quota::max_state_bytes`] writes no state and is recorded as
    /// [`RunOutcome::Quota`] ([`Finish::OverQuota`]); `policy` is then not
    /// asked: the charm is not blamed, and its events stay pending.
    async fn finish_run_if_owned(
        &self,
        run: RunId,
        node: &NodeId,
        finished: &Finished,
        policy: UpdatePolicy<'_>,
    ) -> Result<Finish, StoreError>;

    /// Records several finished runs, each exactly as
    /// [`Store::finish_run_if_owned`] would, one after the other; returns
    /// each one's result, in `batch`'s order. SQLite records the whole
    /// batch in one transaction (group commit, issue 18: one commit for
    /// many runs). PostgreSQL records the batch's finishes whose writes are
    /// all known from one lookup in one transaction, each kind of write
    /// once for them all, and the others each alone after it
    /// (`postgres/finish.rs`). On both, if the batch's transaction fails,
    /// each run is recorded alone, so one run's error never fails another's
    /// record. The default records each in a transaction of its own.
    async fn finish_runs_if_owned(
        &self,
        batch: &[RunToFinish<'_>],
    ) -> Vec<Result<Finish, StoreError>> {
        finish_each_alone(self, batch).await
    }

    /// Marks `interrupted` every running run whose node is dead (unknown,
    /// retired, or silent for `ttl_ms` or more) or whose lease ran out, and
    /// queues a retry of each at `retry_priority`, keeping the run's
    /// idempotency key and counting the attempt. Each run is taken by one
    /// caller even when several nodes rescue at once. Returns what it took.
    async fn rescue_lost_runs(
        &self,
        ttl_ms: i64,
        retry_priority: i64,
    ) -> Result<Vec<RescuedRun>, StoreError>;

    /// One run, or `None`.
    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError>;

    /// What run `id` recorded, with the source it ran; `None` when it
    /// recorded nothing (cut short before its sandbox reported, or pruned).
    async fn run_recording(
        &self,
        id: RunId,
    ) -> Result<Option<recordings::StoredRecording>, StoreError>;

    /// The newest runs of a charm, newest first; at most `limit`.
    async fn runs_of(&self, charm: &CharmId, limit: u32) -> Result<Vec<RunRecord>, StoreError>;

    /// Deletes the finished runs of one page of charms (the first
    /// `charms` charms, in id order, after `after`; from the first charm
    /// when `None`) beyond each charm's newest `keep` (or its space's
    /// `keep_runs` override, or the default [`Quota::keep_runs`] when not
    /// 0), with their recordings. Call again with [`Pruned::next`] until it
    /// is `None` for a round over every charm (see [`prune`]).
    async fn prune_runs(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError>;

    /// Counts of charms by status and runs by status.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Runs finished since `since`, counted by minute and outcome.
    async fn finished_per_minute(&self, since: i64) -> Result<Vec<MinuteOutcomes>, StoreError>;

    /// Keeps a new API token (its hash only), made now.
    ///
    /// # Errors
    /// A database error when the id or the hash is already kept.
    async fn insert_token(&self, token: &NewToken) -> Result<TokenRecord, StoreError>;

    /// The live (not revoked) token whose SHA-256 is `hash`, or `None`.
    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError>;

    /// Every API token, revoked ones included, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes a token now; whether it was live. A revoked token is refused
    /// by [`Store::token_by_hash`] from the moment this returns.
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError>;

    /// Records a change made through the API, at the database's time.
    async fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError>;

    /// The space of a charm, or of a run's charm; `None` when there is no
    /// such charm or run.
    async fn space_of(&self, of: &SpaceOf) -> Result<Option<String>, StoreError>;

    /// Recorded changes, newest first.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError>;

    /// Version `version` of a charm's state, if it is kept.
    async fn state_version(
        &self,
        charm: &CharmId,
        version: i64,
    ) -> Result<Option<StateRecord>, StoreError>;

    /// The newest `limit` kept versions of a charm's state, newest first.
    async fn state_versions(
        &self,
        charm: &CharmId,
        limit: u32,
    ) -> Result<Vec<StateVersion>, StoreError>;

    /// Makes a copy of kept version `version` the charm's new state (its
    /// version one more than the current), unless a run of the charm is
    /// running. In one transaction: a run that starts after it reads the
    /// copy; one that was claimed just before it finishes as a fault
    /// ("state moved"), never over the copy.
    async fn rollback_state(&self, charm: &CharmId, version: i64) -> Result<Rollback, StoreError>;

    /// Deletes the kept state versions of one page of charms (as
    /// [`Store::prune_runs`]) beyond each charm's newest `keep` (the
    /// current state is always kept). Call again with [`Pruned::next`]
    /// until it is `None`.
    async fn prune_state_versions(
        &self,
        keep: u32,
        after: Option<&CharmId>,
        charms: u32,
    ) -> Result<Pruned, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_out_of_reach_is_unavailable_not_a_fault() {
        let refused = StoreError::Database(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(
            refused.unavailable(),
            Some("the database cannot be reached")
        );
        assert!(refused.is_connection());
        let full = StoreError::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(
            full.unavailable(),
            Some("the database has no free connection")
        );
        assert_eq!(
            StoreError::Busy("x").unavailable(),
            Some("the database is busy")
        );
        let sqlite = |code| {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        // SQLITE_FULL; SQLITE_BUSY_SNAPSHOT, an extended busy code.
        assert_eq!(
            sqlite(13).unavailable(),
            Some("the database's disk is full")
        );
        assert_eq!(sqlite(517).unavailable(), Some("the database is busy"));
        assert_eq!(sqlite(19).unavailable(), None, "a constraint is a fault");
        assert!(!sqlite(5).is_connection());
        let corrupt = corrupt("run", "bad");
        assert_eq!(corrupt.unavailable(), None);
        assert!(!corrupt.is_connection());
    }
}
