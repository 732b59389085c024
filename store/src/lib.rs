//! charm-store: what charm-host keeps, behind one trait.
//!
//! Charms, their state, and runs, which are also the job queue. The
//! [`Store`] trait names each operation by what it does (claim the next run,
//! finish a run if it is still running, rescue interrupted runs, ...); a
//! backend implements it with its own SQL and migrations, and one
//! conformance suite (`store/tests/conformance/`) runs against every backend,
//! as River's driver tests and Oban's engine tests do.
//!
//! Backends: [`sqlite`] (embedded; the default).
//!
//! The store keeps these invariants, as database rules where it can:
//!
//! * a charm's state is written only by a successful run, in the same
//!   transaction as that run's record, and its version goes up by one;
//! * a charm has at most one queued and at most one running run (unique
//!   partial indexes), so triggers coalesce and a charm never runs
//!   concurrently with itself;
//! * a finish writes nothing unless its run is still running;
//! * runs left running by a process that died are found and retried
//!   ([`Store::rescue_interrupted_runs`]).
//!
//! It knows nothing about wasmtime, HTTP or scheduling policy: callers pass
//! the decisions (a priority, a [`CharmUpdate`]) and the store applies them
//! atomically.
#![warn(missing_docs)]

mod domain;
pub mod sqlite;

use async_trait::async_trait;

pub use domain::{
    CharmChange, CharmCode, CharmFilter, CharmId, CharmRecord, CharmUpdate, ClaimedRun, Counts,
    Enqueued, Finished, MinuteOutcomes, NewCharm, RunId, RunOutcome, RunRecord, RunStatus,
    RunSummary, SortKey, StateRecord, Trigger, UpdatePolicy,
};

/// A store error. Messages say what failed; the API turns them into 500s
/// without showing them, or into 503s when [`StoreError::unavailable`] says
/// the condition passes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
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
    /// is a condition that passes (a full disk, a busy or locked database)
    /// rather than a fault: the API answers these with 503.
    pub fn unavailable(&self) -> Option<&'static str> {
        let StoreError::Database(sqlx::Error::Database(e)) = self else {
            return None;
        };
        sqlite::unavailable(e.as_ref())
    }
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

    /// Inserts a charm and its initial state (version 0).
    async fn insert_charm(&self, new: &NewCharm) -> Result<(), StoreError>;

    /// One charm, or `None`.
    async fn charm(&self, id: &CharmId) -> Result<Option<CharmRecord>, StoreError>;

    /// A page of charms matching `filter`, and how many match in all.
    async fn charms(&self, filter: &CharmFilter) -> Result<(Vec<CharmRecord>, u64), StoreError>;

    /// A charm's code and settings, source included, or `None`.
    async fn charm_code(&self, id: &CharmId) -> Result<Option<CharmCode>, StoreError>;

    /// What a run needs: the charm's code and settings without its source
    /// (`source` is empty). A run reads this on every execution, and the
    /// source, up to 1 MiB, is only needed to recompile.
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

    /// Deletes a charm with its state and runs. Returns whether it existed.
    async fn delete_charm(&self, id: &CharmId) -> Result<bool, StoreError>;

    /// A charm's state, or `None` for an unknown charm.
    async fn state(&self, id: &CharmId) -> Result<Option<StateRecord>, StoreError>;

    /// Enabled charms whose next run is due at `now`, oldest first, with
    /// their intervals in seconds; at most `limit`.
    async fn due_charms(&self, now: i64, limit: u32) -> Result<Vec<(CharmId, u32)>, StoreError>;

    /// When the next enabled charm falls due after `now`, if any.
    async fn next_due_after(&self, now: i64) -> Result<Option<i64>, StoreError>;

    /// Queues a run of `charm` at `priority` (higher runs first), or joins
    /// its queued run (raising that run's priority to this one's, and taking
    /// `input` if given). `None` for an unknown or disabled charm.
    async fn enqueue_run(
        &self,
        charm: &CharmId,
        trigger: Trigger,
        priority: i64,
        input: Option<&str>,
    ) -> Result<Option<Enqueued>, StoreError>;

    /// Queues a scheduled run at `priority` and moves the charm's next run
    /// to `next_run_at`, in one transaction.
    async fn enqueue_scheduled_run(
        &self,
        charm: &CharmId,
        priority: i64,
        next_run_at: i64,
    ) -> Result<Option<Enqueued>, StoreError>;

    /// Claims the most urgent queued run (priority, then age) whose charm is
    /// enabled and not already running, marking it running.
    async fn claim_next_run(&self) -> Result<Option<ClaimedRun>, StoreError>;

    /// Records a finished run, if it is still running: the run, the new
    /// state (if any, version + 1) and the charm's update decided by
    /// `policy` from its failure count before this run, all or nothing.
    /// Returns the state version written, if any; `Ok(None)` also when the
    /// run is no longer running or the charm is gone.
    async fn finish_run_if_running(
        &self,
        run: RunId,
        charm: &CharmId,
        finished: &Finished,
        policy: UpdatePolicy<'_>,
    ) -> Result<Option<i64>, StoreError>;

    /// Marks every run left running by a previous process as interrupted
    /// (its state untouched) and queues a retry of each at
    /// `retry_priority`. Call once, before claiming. Returns the charms that
    /// were interrupted.
    async fn rescue_interrupted_runs(
        &self,
        retry_priority: i64,
    ) -> Result<Vec<CharmId>, StoreError>;

    /// One run, or `None`.
    async fn run(&self, id: RunId) -> Result<Option<RunRecord>, StoreError>;

    /// The newest runs of a charm, newest first; at most `limit`.
    async fn runs_of(&self, charm: &CharmId, limit: u32) -> Result<Vec<RunRecord>, StoreError>;

    /// Deletes finished runs beyond the newest `keep` of each charm.
    /// Returns how many were deleted.
    async fn prune_runs(&self, keep: u32) -> Result<u64, StoreError>;

    /// Counts of charms by status and runs by status.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Runs finished since `since`, counted by minute and outcome.
    async fn finished_per_minute(&self, since: i64) -> Result<Vec<MinuteOutcomes>, StoreError>;
}
