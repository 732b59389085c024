//! The queue's consumer: claims queued runs and executes them.
//!
//! Owns concurrency (at most `max_concurrent` runs executing, each a tokio
//! task; a run waiting on `fetch` is a parked future, not a thread; every
//! free slot is claimed in one batch; a run that has ended waits for its
//! finish out of its slot, in [`super::finishing`]), the execution of one
//! claimed run
//! (take its charm as prepared by an earlier run ([`super::ready_charms`])
//! or load it, its state and its secrets, run `bgUpdater` in a fresh
//! sandbox task, record the outcome and what the run received
//! (`--record-bytes-per-run`) through the [`super::finisher`], several
//! runs per commit), and the two-stage shutdown: stop claiming, let running
//! tasks finish within a grace period, then cancel the rest (dropping a
//! task's future interrupts its guest at the next epoch tick) and record
//! them as cancelled.
//!
//! The queue itself is the store's runs (see `charm_store`), so it survives
//! restarts; which runs go next is the store's `claim_runs`. Claims
//! are made for this node's current incarnation ([`super::node`]); when the
//! node fences itself its runs are dropped without a record (their rescue
//! records them and queues their retries), and claiming resumes under the
//! next incarnation.
//!
//! Wake-ups: the claim loop looks again as soon as the store says work was
//! queued (by this process, or on PostgreSQL by another node), and every
//! [`IDLE_POLL`] regardless, which is the guarantee.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use charm_engine::limits::SandboxLimits;
use charm_engine::{RecordMode, Recording, RunPlan, RunRequest, Sandbox, StateChange};
use charm_store::recordings::NewRecording;
use charm_store::{
    Before, CharmCode, ClaimedRun, FairShare, Finish, Finished, NodeId, RunOutcome, Store,
    StoreError,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::alerts::Alerts;
use super::finisher::{Decide, Finisher};
use super::finishing::Finishing;
use super::in_flight::CANCEL_POLL;
use super::metrics::Metrics;
use super::node::{Incarnation, NodeState};
use super::policy::{self, Cadence, RunEnd, SchedulePolicy};
use super::ready_charms::{ReadyCharm, ReadyCharms};
use super::registry::Registry;
use super::secrets::SecretKeeper;
use crate::run_file::{RunFileError, RunInputs};

/// How long the dispatcher sleeps when the queue is empty and nothing wakes
/// it: the bound on how late a run queued on another node is noticed when
/// its notification is lost.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// The most runs one claim takes (as many as there are free slots, up to
/// this): on SQLite a batch is one write transaction, so this bounds how
/// long it holds the writer; on PostgreSQL, how many queued runs one
/// statement locks.
pub(crate) const MAX_CLAIM_BATCH: usize = 32;
/// A claimed run's lease, in ms: after it, any node may rescue the run even
/// though its node still heartbeats. The longest run the limits allow
/// (`timeout_ms` up to an hour) plus five minutes to record it, so it only
/// catches a node that is alive but wedged.
pub(crate) const RUN_LEASE_MS: i64 = charm_engine::limits::MAX_TIMEOUT_MS as i64 + 300_000;

/// Counts since start, for the periodic summary.
#[derive(Debug, Default)]
pub struct RunCounters {
    /// Runs that succeeded.
    pub ok: AtomicU64,
    /// Runs that failed (any outcome that counts as a failure).
    pub failed: AtomicU64,
    /// Runs cut short by the host (cancelled, interrupted), or whose state
    /// did not fit its space's quota.
    pub cancelled: AtomicU64,
}

/// Everything a run needs; shared by all run tasks.
pub(crate) struct Dispatcher {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Registry,
    pub(crate) sandbox: Sandbox,
    pub(crate) policy: SchedulePolicy,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) counters: Arc<RunCounters>,
    pub(crate) max_concurrent: usize,
    /// Events a run is given at most.
    pub(crate) max_events: u32,
    /// Bytes each run's recording keeps at most; 0 records nothing.
    pub(crate) record_bytes: u64,
    /// Raises alerts from runs' outcomes.
    pub(crate) alerts: Alerts,
    /// Whether this node may claim, and as which incarnation.
    pub(crate) node: Arc<NodeState>,
    /// Opens each run's secrets (read per run: a rotation counts at the
    /// next one).
    pub(crate) secrets: SecretKeeper,
    /// Records finished runs, several per commit on SQLite.
    pub(crate) finisher: Finisher,
    /// The most runs claimed at once (free slots permitting).
    pub(crate) claim_batch: usize,
    /// Runs that ended and wait for their finish, out of their slots.
    pub(crate) finishing: Finishing,
    /// Charms prepared by earlier runs, by revision: most runs start
    /// without reading their charm.
    pub(crate) ready: ReadyCharms,
}

/// A running dispatcher.
pub(crate) struct DispatcherHandle {
    loop_task: tokio::task::JoinHandle<()>,
    tracker: TaskTracker,
    cancel_runs: CancellationToken,
}

impl Dispatcher {
    /// Starts claiming runs until `stop` is cancelled.
    pub(crate) fn spawn(self, stop: CancellationToken) -> DispatcherHandle {
        let tracker = TaskTracker::new();
        let cancel_runs = CancellationToken::new();
        let shared = Arc::new(self);
        tokio::spawn(cancel_requests_loop(Arc::clone(&shared), stop.clone()));
        let loop_task = tokio::spawn(claim_loop(
            Arc::clone(&shared),
            stop,
            tracker.clone(),
            cancel_runs.clone(),
        ));
        DispatcherHandle {
            loop_task,
            tracker,
            cancel_runs,
        }
    }
}

impl DispatcherHandle {
    /// After `stop` was cancelled: waits for the claim loop, then up to
    /// `grace` for runs in flight, then cancels the rest and waits for them
    /// to record themselves.
    pub(crate) async fn drain(self, grace: Duration) {
        let _ = self.loop_task.await;
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
                "runs still in flight after the grace period; cancelling them"
            );
            self.cancel_runs.cancel();
            self.tracker.wait().await;
        }
    }
}

/// Stops runs in flight here that a user cancelled through another node
/// (a cancel through this node's API stops them at once).
async fn cancel_requests_loop(d: Arc<Dispatcher>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(CANCEL_POLL) => {}
        }
        let in_flight = d.registry.in_flight();
        let Some(incarnation) = d.node.claimable() else {
            continue;
        };
        if in_flight.is_empty() {
            continue;
        }
        match d.store.cancel_requests(&incarnation.id).await {
            Ok(runs) => {
                for run in runs {
                    if in_flight.cancel(run) {
                        tracing::info!(
                            run,
                            "cancelling a run a user cancelled through another node"
                        );
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not read cancel requests"),
        }
    }
}

async fn claim_loop(
    d: Arc<Dispatcher>,
    stop: CancellationToken,
    tracker: TaskTracker,
    cancel_runs: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(d.max_concurrent.max(1)));
    // The incarnation the kept charms were prepared under.
    let mut prepared_under: Option<NodeId> = None;
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => return,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        if stop.is_cancelled() {
            return;
        }
        let Some(incarnation) = d.node.claimable() else {
            drop(permit);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = d.node.changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
            continue;
        };
        if prepared_under.as_ref() != Some(&incarnation.id) {
            // A node that fenced itself may come back to a database that
            // lost commits (a failover, a restore), where a charm's
            // revision can repeat with other contents.
            if prepared_under.is_some() {
                d.ready.clear();
            }
            prepared_under = Some(incarnation.id.clone());
        }
        // Every slot free now is claimed in one batch (on SQLite: one
        // write for them all, issue 18), each run still the one a lone
        // claim would take.
        let mut permits = vec![permit];
        while permits.len() < d.claim_batch {
            match Arc::clone(&slots).try_acquire_owned() {
                Ok(more) => permits.push(more),
                Err(_) => break,
            }
        }
        let batch = u32::try_from(permits.len()).unwrap_or(1);
        match d
            .store
            .claim_runs(
                &incarnation.id,
                RUN_LEASE_MS,
                d.max_events,
                FairShare {
                    slots_per_node: u32::try_from(d.max_concurrent).unwrap_or(u32::MAX),
                    finishing: d.finishing.runs(),
                },
                batch,
            )
            .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                for (claimed, permit) in claimed.into_iter().zip(permits) {
                    d.metrics.run_claimed(
                        incarnation.id.as_str(),
                        claimed.started_at - claimed.queued_at,
                    );
                    let span = tracing::info_span!("run", charm = %claimed.charm_id, run = claimed.id, attempt = claimed.attempt, space = tracing::field::Empty);
                    let (d, cancel, incarnation) =
                        (Arc::clone(&d), cancel_runs.clone(), incarnation.clone());
                    tracker.spawn(
                        async move {
                            execute(&d, claimed, &incarnation, cancel, permit).await;
                        }
                        .instrument(span),
                    );
                }
                // Permits left over (fewer runs could start) drop here.
            }
            Ok(_) => {
                drop(permits);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = d.store.work_queued() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
            Err(error) => {
                drop(permits);
                tracing::error!(%error, "could not claim a run; retrying in a second");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

fn failed(outcome: RunOutcome, error: impl Into<String>) -> Finished {
    Finished {
        outcome,
        error: Some(error.into()),
        new_state: None,
        fuel: 0,
        memory_bytes: 0,
        duration_ms: 0,
        log: String::new(),
        recording: None,
    }
}

/// Runs one claimed run in its run `slot` and records it from a finishing
/// place ([`super::finishing`]). Never panics on charm behaviour: every
/// failure becomes an outcome. When the node fences itself meanwhile the
/// run stops and records nothing.
async fn execute(
    d: &Dispatcher,
    claimed: ClaimedRun,
    incarnation: &Incarnation,
    cancel: CancellationToken,
    slot: OwnedSemaphorePermit,
) {
    d.metrics.running(1);
    let started = std::time::Instant::now();
    let by_user = d.registry.in_flight().register(claimed.id);
    let ran = tokio::select! {
        result = prepare_and_run(d, &claimed) => Some(result),
        _ = cancel.cancelled() => Some((failed(RunOutcome::Cancelled, "the daemon shut down before this run finished"), Charm::Unread, None)),
        _ = by_user.token.cancelled() => Some((failed(RunOutcome::Cancelled, "cancelled by a user"), Charm::Unread, None)),
        _ = incarnation.fence.cancelled() => None,
    };
    drop(by_user);
    let Some((mut finished, charm, requested_next_ms)) = ran else {
        d.metrics.running(-1);
        tracing::warn!(
            "dropped: this node fenced itself; a rescue records the run and queues its retry"
        );
        return;
    };
    if finished.outcome == RunOutcome::Cancelled && finished.duration_ms == 0 {
        // Cut short before the sandbox reported: the time it ran until then.
        finished.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    }
    let charm = match charm {
        Charm::Unread => match d.store.charm_for_run(&claimed.charm_id).await {
            Ok(Some(code)) => Charm::Read(Box::new(code)),
            _ => Charm::Unread,
        },
        charm => charm,
    };
    let code = charm.code();
    let cadence = match code {
        Some(code) => Cadence::of(code.interval_s, code.schedule.as_deref()),
        None => Cadence::Every(super::registry::DEFAULT_INTERVAL_S),
    };
    let heavy = charm.limits(&d.registry).is_some_and(|limits| {
        d.policy.is_heavy(
            finished.outcome,
            (finished.fuel, limits.fuel),
            (finished.duration_ms, limits.timeout_ms),
        )
    });
    if let Some(code) = code {
        d.metrics.space_run(
            &code.space,
            claimed.started_at - claimed.queued_at,
            finished.fuel,
        );
    }
    // Held to the end: the alerts below may read the store, with the
    // result still in memory.
    let _finishing = d.finishing.enter(claimed.id, &finished, slot).await;
    let (finished, recorded) = record(
        d,
        &claimed,
        incarnation,
        finished,
        (&cadence, requested_next_ms, heavy),
        &cancel,
    )
    .await;
    let outcome = finished.outcome;
    d.metrics.running(-1);
    d.metrics
        .run_finished(outcome, started.elapsed().as_secs_f64(), finished.fuel);
    let counter = match outcome {
        RunOutcome::Ok => &d.counters.ok,
        outcome if policy::is_failure(outcome) => &d.counters.failed,
        _ => &d.counters.cancelled,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    if let (Ok(Finish::Recorded { .. }), Some(code)) = (&recorded, code) {
        d.alerts
            .after_run(code, claimed.id, outcome, finished.error.as_deref())
            .await;
    }
    let first_line = finished.error.as_deref().and_then(|e| e.lines().next());
    match recorded {
        Ok(Finish::Recorded { state_version }) => tracing::info!(
            outcome = %outcome,
            duration_ms = finished.duration_ms,
            fuel = finished.fuel,
            state_version,
            error = first_line,
            "run finished"
        ),
        Ok(Finish::NotOwned) => {
            d.metrics.lease_lost();
            tracing::warn!(
                outcome = %outcome,
                "run finished after its node lost it (it was rescued and retried); its result was dropped, nothing written"
            );
        }
        Ok(Finish::Gone) => {
            tracing::info!(outcome = %outcome, "run finished after its charm was deleted; nothing written")
        }
        Ok(Finish::OverQuota(over)) => tracing::warn!(
            space = %over.space,
            quota = %over.kind,
            limit = over.limit,
            state_bytes = over.would_be,
            duration_ms = finished.duration_ms,
            fuel = finished.fuel,
            "run finished over its space's state quota; the old state is kept and the charm is not blamed"
        ),
        Ok(Finish::StateMoved { expected }) => tracing::error!(
            expected_version = expected,
            "the charm's state moved while this run held it; recorded as a fault, state not written"
        ),
        Err(error) => {
            tracing::error!(%error, outcome = %outcome, "could not record a finished run; it will be recovered as interrupted")
        }
    }
}

/// How long a run's result is retried when the store refuses it (a full
/// disk, a locked database) before it is recorded as a failure instead.
const RECORD_RETRY: Duration = Duration::from_secs(2);
/// The longest pause between attempts to record a failure.
const RECORD_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Records a finished run. A run whose row cannot be closed would hold its
/// charm's single running slot until it is rescued, so this never gives up
/// while the node holds the run: a result the store refuses is retried for
/// [`RECORD_RETRY`], then recorded as a fault that changes no state (a
/// smaller write, and the honest outcome: its result was lost), retried
/// with backoff. A result that could not reach the database at all is
/// retried as it is, until the database answers or the node fences itself
/// (then nothing is recorded; the rescue does it). The state is written in
/// the same transaction as the run, so it is either the new state with its
/// run or untouched.
async fn record(
    d: &Dispatcher,
    claimed: &ClaimedRun,
    incarnation: &Incarnation,
    finished: Finished,
    (cadence, requested_next_ms, heavy): (&Cadence, Option<u64>, bool),
    cancel: &CancellationToken,
) -> (Finished, Result<Finish, StoreError>) {
    // Shared with the finisher while it is written, not copied (a state
    // may be megabytes).
    let mut finished = Arc::new(finished);
    let mut pause = Duration::from_millis(50);
    // From the first refusal, not from now: the wait for a batch is not
    // the store refusing.
    let mut give_up_result_at = None;
    loop {
        let (outcome, error, policy) = (finished.outcome, finished.error.clone(), d.policy);
        let (attempt, had_events) = (claimed.attempt, !claimed.events.is_empty());
        let cadence = cadence.clone();
        let decide: Decide = Arc::new(move |before: Before, now: i64| {
            let end = RunEnd {
                outcome,
                error: error.as_deref(),
                attempt,
                requested_next_ms,
                heavy,
                had_events,
            };
            policy.decide(&end, before, &cadence, now)
        });
        let result = d
            .finisher
            .finish(claimed.id, &incarnation.id, &finished, decide)
            .await;
        let error = match result {
            Ok(Finish::OverQuota(over)) => {
                // The store recorded it so: the run as the API shows it.
                let recorded = Finished {
                    outcome: RunOutcome::Quota,
                    error: Some(over.run_error()),
                    new_state: None,
                    ..Arc::unwrap_or_clone(finished)
                };
                return (recorded, Ok(Finish::OverQuota(over)));
            }
            Ok(finish) => return (Arc::unwrap_or_clone(finished), Ok(finish)),
            Err(error) => error,
        };
        let give_up_at =
            *give_up_result_at.get_or_insert_with(|| tokio::time::Instant::now() + RECORD_RETRY);
        if finished.outcome != RunOutcome::Fault
            && !error.is_connection()
            && tokio::time::Instant::now() >= give_up_at
        {
            tracing::error!(%error, outcome = %finished.outcome, "could not record the run's result; recording it as a fault, state unchanged");
            finished = Arc::new(failed(
                RunOutcome::Fault,
                format!("the run's result could not be stored ({error}); the state is unchanged"),
            ));
        } else {
            tracing::warn!(%error, retry_in_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX), "could not record a finished run; retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = cancel.cancelled() => return (Arc::unwrap_or_clone(finished), Err(error)),
            _ = incarnation.fence.cancelled() => return (Arc::unwrap_or_clone(finished), Err(error)),
        }
        pause = (pause * 2).min(RECORD_BACKOFF_MAX);
    }
}

/// The charm a run read, for what follows it (the scheduling policy, the
/// metrics and alerts).
enum Charm {
    /// Prepared for the run, from [`ReadyCharms`] or read and kept there.
    Ready(Arc<ReadyCharm>),
    /// Read, but it could not be prepared (it no longer compiles, or its
    /// stored limits are invalid).
    Read(Box<CharmCode>),
    /// Not read: the run ended first, or the charm is gone.
    Unread,
}

impl Charm {
    fn code(&self) -> Option<&CharmCode> {
        match self {
            Charm::Ready(ready) => Some(&ready.code),
            Charm::Read(code) => Some(code),
            Charm::Unread => None,
        }
    }

    fn limits(&self, registry: &Registry) -> Option<SandboxLimits> {
        match self {
            Charm::Ready(ready) => Some(ready.limits.clone()),
            Charm::Read(code) => registry.stored_limits(&code.id, &code.limits).ok(),
            Charm::Unread => None,
        }
    }
}

/// The claimed run's charm, prepared: kept from an earlier run when the
/// claim's revision says it is still current, else read, compiled and
/// kept. Fails with the run's record (and the charm, if it was read).
async fn ready_charm(
    d: &Dispatcher,
    claimed: &ClaimedRun,
) -> Result<Arc<ReadyCharm>, (Finished, Charm)> {
    if let Some(ready) = d.ready.get(&claimed.charm_id, claimed.charm_revision) {
        d.metrics.charm_read(true);
        tracing::Span::current().record("space", ready.code.space.as_str());
        return Ok(ready);
    }
    d.metrics.charm_read(false);
    let code = match d.store.charm_for_run(&claimed.charm_id).await {
        Ok(Some(code)) => {
            tracing::Span::current().record("space", code.space.as_str());
            code
        }
        Ok(None) => {
            return Err((
                failed(RunOutcome::Cancelled, "the charm was removed"),
                Charm::Unread,
            ))
        }
        Err(e) => {
            return Err((
                failed(RunOutcome::Fault, format!("loading the charm failed: {e}")),
                Charm::Unread,
            ))
        }
    };
    let compiled = match d.registry.compiled(&code).await {
        Ok(compiled) => compiled,
        Err(e) => {
            return Err((
                failed(
                    RunOutcome::Error,
                    format!("the charm no longer compiles: {e}"),
                ),
                Charm::Read(Box::new(code)),
            ))
        }
    };
    let limits = match d.registry.stored_limits(&code.id, &code.limits) {
        Ok(limits) => limits,
        Err(e) => {
            return Err((
                failed(RunOutcome::Fault, e.to_string()),
                Charm::Read(Box::new(code)),
            ))
        }
    };
    let ready = Arc::new(ReadyCharm::new(code, compiled, limits));
    d.ready.keep(Arc::clone(&ready));
    Ok(ready)
}

/// Loads what the run needs and runs it. Returns the record to write, the
/// charm as read for the run (for the scheduling policy and alerts), and
/// the next run the charm asked for.
async fn prepare_and_run(d: &Dispatcher, claimed: &ClaimedRun) -> (Finished, Charm, Option<u64>) {
    let ready = match ready_charm(d, claimed).await {
        Ok(ready) => ready,
        Err((finished, charm)) => return (finished, charm, None),
    };
    let (code, limits) = (&ready.code, &ready.limits);
    let fail = |finished: Finished| (finished, Charm::Ready(Arc::clone(&ready)), None);
    let input = claimed
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(serde_json::Value::Null);
    let events = match serde_json::to_value(&claimed.events) {
        Ok(events) => events,
        Err(e) => {
            return fail(failed(
                RunOutcome::Fault,
                format!("a stored event is not JSON: {e}"),
            ))
        }
    };
    // Read now, not cached: a secret set or rotated since the last run
    // counts. The values go into `ctx.secrets` and the run's redactor only;
    // the run's record never holds them (its input is the trigger's).
    let secrets = match d.secrets.for_run_of(code).await {
        Ok(secrets) => secrets,
        Err(e) => return fail(failed(RunOutcome::Fault, e.to_string())),
    };
    let settings = super::registry::run_settings(code, limits);
    let request = RunRequest {
        run_id: claimed.id.to_string(),
        input,
        events,
        // When it was claimed, by the database's clock: the same on every node.
        now_ms: u64::try_from(claimed.started_at).unwrap_or(0),
        attempt: claimed.attempt,
        idempotency_key: claimed.idempotency_key.clone(),
        secrets,
    };
    let mut plan = match RunPlan::new(settings, request) {
        Ok(plan) => plan,
        Err(e) => {
            return fail(failed(
                RunOutcome::Fault,
                format!("the stored charm is invalid: {e}"),
            ))
        }
    };
    plan.spec.recording = match d.record_bytes {
        0 => RecordMode::Off,
        max_bytes => RecordMode::Record { max_bytes },
    };
    let mut report = plan.run(&d.sandbox, &ready.compiled, &claimed.state).await;
    let recording = match report.recording.take() {
        Some(recording) => keep_recording(claimed, code, limits, &plan, recording).await,
        None => None,
    };
    let stats = report.stats;
    let (outcome, error, new_state) = match report.outcome {
        Ok(StateChange::Keep) => (RunOutcome::Ok, None, None),
        Ok(StateChange::Replace(state)) => (RunOutcome::Ok, None, Some(state)),
        Err(e) => (
            policy::outcome_of(&e),
            Some(policy::recorded_error(&e)),
            None,
        ),
    };
    let finished = Finished {
        outcome,
        error,
        new_state,
        fuel: stats.fuel,
        memory_bytes: stats.memory_bytes,
        duration_ms: u64::try_from(stats.duration.as_millis()).unwrap_or(u64::MAX),
        log: report.log_excerpt,
        recording,
    };
    (finished, Charm::Ready(ready), report.next_run_ms)
}

/// What a run recorded, in the form kept beside its record; `None` (and a
/// warning) when it cannot be encoded: the run is recorded without it. A
/// recording with responses is compressed on the blocking pool (a large
/// body takes milliseconds); a trivial one here.
async fn keep_recording(
    claimed: &ClaimedRun,
    code: &CharmCode,
    limits: &SandboxLimits,
    plan: &RunPlan,
    recording: Recording,
) -> Option<Arc<NewRecording>> {
    let inputs = RunInputs::new(
        &claimed.state,
        &plan.ctx,
        limits,
        (&code.allowed_hosts, code.private_network),
        recording,
        &plan.spec.redactor,
    );
    let encoded = match inputs {
        Ok(inputs) if inputs.recording.fetches.is_empty() => inputs.encode(),
        Ok(inputs) => match tokio::task::spawn_blocking(move || inputs.encode()).await {
            Ok(encoded) => encoded,
            Err(e) => Err(RunFileError::Stored(format!(
                "the encoding task failed: {e}"
            ))),
        },
        Err(e) => Err(e),
    };
    match encoded {
        Ok(data) => Some(Arc::new(NewRecording {
            source_sha256: code.source_sha256.clone(),
            data,
        })),
        Err(error) => {
            tracing::warn!(%error, "the run's recording was not kept");
            None
        }
    }
}
