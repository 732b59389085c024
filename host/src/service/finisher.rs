//! Group commit of finished runs: the runs that finish while a batch is
//! being written wait for the next batch, and each batch is one store call
//! ([`Store::finish_runs_if_owned`]: on SQLite one transaction, one commit;
//! on PostgreSQL a transaction per run, several finishers at once).
//!
//! Why: every run ends in a write transaction, and on SQLite one writer
//! does them all, one commit each; at thousands of runs a second the
//! commits, not the runs, were the queue (issue 18). A run's result is
//! still recorded exactly as alone (the store's contract), and a run task
//! waits for its own result, so nothing is acknowledged before it is
//! committed.
//!
//! The batches form by themselves: a finisher takes every result waiting
//! when it is free (up to [`MAX_BATCH`] on SQLite), so a lone run is
//! written at once and a busy node writes many per commit.
//!
//! On SQLite the claim loop's claims join the batches too
//! ([`Finisher::claim_runs`]): a claim waiting when a batch is taken is made
//! in the batch's transaction, after its finishes
//! ([`Store::finish_runs_and_claim`]). A busy node's claims refill the
//! slots its finishes free, so a claim and a batch of finishes were two
//! commits a cycle on the one writer; now they are one. A claim with no
//! finish waiting is made at once, alone.

use std::sync::Arc;

use charm_store::{
    Before, CharmUpdate, ClaimRuns, ClaimedRun, FairShare, Finish, Finished, NodeId, RunId,
    RunToFinish, Store, StoreError,
};
use tokio::sync::{mpsc, oneshot, Mutex};

/// The most runs one commit records on a store that groups commits
/// (SQLite): bounds how long a batch holds the writer.
pub(crate) const MAX_BATCH: usize = 64;

/// Decides a finished run's charm update (see `charm_store::UpdatePolicy`).
pub(crate) type Decide = Arc<dyn Fn(Before, i64) -> CharmUpdate + Send + Sync>;

/// What waits for a batch.
enum Job {
    Finish(FinishJob),
    Claim(ClaimJob),
}

/// One run's result waiting for its batch.
struct FinishJob {
    run: RunId,
    node: NodeId,
    finished: Arc<Finished>,
    decide: Decide,
    done: oneshot::Sender<Result<Finish, StoreError>>,
}

/// A claim waiting for a batch to join (see [`Finisher::claim_runs`]).
struct ClaimJob {
    node: NodeId,
    lease_ms: i64,
    max_events: u32,
    fair: FairShare,
    limit: u32,
    done: oneshot::Sender<Result<Vec<ClaimedRun>, StoreError>>,
}

impl ClaimJob {
    fn claim(&self) -> ClaimRuns<'_> {
        ClaimRuns {
            node: &self.node,
            lease_ms: self.lease_ms,
            max_events: self.max_events,
            fair: self.fair,
            limit: self.limit,
        }
    }
}

/// The way into the finishers; cheap to clone.
#[derive(Clone)]
pub(crate) struct Finisher {
    store: Arc<dyn Store>,
    jobs: mpsc::UnboundedSender<Job>,
    /// Whether claims join the batches (SQLite: one writer, so one commit
    /// for both), or go to the store at once (PostgreSQL: commits overlap).
    claims_join: bool,
}

impl Finisher {
    /// Starts `workers` finishers, each taking up to `batch` waiting
    /// results at a time. SQLite: one finisher (one writer) and
    /// [`MAX_BATCH`], a commit per batch. PostgreSQL: several finishers
    /// and a batch of 1, each run its own transaction, so that commits
    /// overlap and a run waiting on a row lock holds up no other run. They
    /// stop when the last [`Finisher`] is dropped, after the results sent
    /// before are written. With `claims_join`, [`Finisher::claim_runs`]
    /// makes its claims in the batches' transactions.
    pub(crate) fn spawn(
        store: Arc<dyn Store>,
        workers: usize,
        batch: usize,
        claims_join: bool,
    ) -> Finisher {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..workers.max(1) {
            tokio::spawn(work(Arc::clone(&store), Arc::clone(&queue), batch.max(1)));
        }
        Finisher {
            store,
            jobs,
            claims_join,
        }
    }

    /// Records `finished` as run `run` of `node` with the next batch: the store's answer, as
    /// [`Store::finish_run_if_owned`] gives it.
    pub(crate) async fn finish(
        &self,
        run: RunId,
        node: &NodeId,
        finished: &Arc<Finished>,
        decide: Decide,
    ) -> Result<Finish, StoreError> {
        let (done, answer) = oneshot::channel();
        let job = Job::Finish(FinishJob {
            run,
            node: node.clone(),
            finished: Arc::clone(finished),
            decide: Arc::clone(&decide),
            done,
        });
        if self.jobs.send(job).is_ok() {
            if let Ok(answer) = answer.await {
                return answer;
            }
        }
        // No finisher answered (its batch panicked, or the runtime is
        // stopping): alone, then. A run already recorded is `NotOwned`.
        tracing::warn!(run, "no finisher answered; recording the run alone");
        self.store
            .finish_run_if_owned(run, node, finished, &*decide)
            .await
    }

    /// Claims runs as [`Store::claim_runs`] does with `claim`: with the next
    /// batch of finishes, in its transaction, when claims join the batches
    /// (and a batch is being written or waits), else at once.
    pub(crate) async fn claim_runs(
        &self,
        claim: ClaimRuns<'_>,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        if self.claims_join {
            let (done, answer) = oneshot::channel();
            let job = Job::Claim(ClaimJob {
                node: claim.node.clone(),
                lease_ms: claim.lease_ms,
                max_events: claim.max_events,
                fair: claim.fair,
                limit: claim.limit,
                done,
            });
            if self.jobs.send(job).is_ok() {
                if let Ok(answer) = answer.await {
                    return answer;
                }
            }
            // No finisher answered (its batch panicked before its
            // transaction committed, or the runtime is stopping): alone.
            tracing::warn!("no finisher answered a claim; claiming alone");
        }
        claim.claim_on(&*self.store).await
    }
}

/// One finisher: takes every job waiting (up to [`MAX_BATCH`]), records
/// them together, answers each.
async fn work(
    store: Arc<dyn Store>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    max_batch: usize,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut queue = queue.lock().await;
            match queue.recv().await {
                Some(job) => batch.push(job),
                None => return,
            }
            while batch.len() < max_batch {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        // On a task of its own: a panic in a batch (a bug; nothing a charm
        // does reaches one) must not stop the finisher. Its jobs go
        // unanswered and their run tasks record them alone.
        let runs = batch.len();
        if let Err(e) = tokio::spawn(write(Arc::clone(&store), batch)).await {
            if !e.is_panic() {
                return; // the runtime is stopping
            }
            tracing::error!(
                runs,
                "recording a batch of runs panicked; each is recorded alone"
            );
        }
    }
}

/// Records one batch and answers each of its jobs: the finishes, and the
/// claim (the claim loop waits for each before it sends another, so a
/// batch has at most one) in the same store call.
async fn write(store: Arc<dyn Store>, batch: Vec<Job>) {
    let mut finishes = Vec::with_capacity(batch.len());
    let mut claims = Vec::new();
    for job in batch {
        match job {
            Job::Finish(finish) => finishes.push(finish),
            Job::Claim(claim) => claims.push(claim),
        }
    }
    let items: Vec<RunToFinish<'_>> = finishes
        .iter()
        .map(|job| RunToFinish {
            run: job.run,
            node: &job.node,
            finished: &job.finished,
            policy: &*job.decide,
        })
        .collect();
    let mut claims = claims.into_iter();
    let (results, claimed) = match claims.next() {
        Some(claim) => {
            let (results, claimed) = store.finish_runs_and_claim(&items, claim.claim()).await;
            (results, Some((claim, claimed)))
        }
        None => (store.finish_runs_if_owned(&items).await, None),
    };
    drop(items);
    for (job, result) in finishes.into_iter().zip(results) {
        // Let go of the result before answering, so that the run task
        // holds the only reference to it again.
        let FinishJob {
            done,
            finished,
            decide,
            ..
        } = job;
        drop((finished, decide));
        // A run task that is gone (the runtime is stopping) needs no
        // answer.
        let _ = done.send(result);
    }
    if let Some((claim, claimed)) = claimed {
        let _ = claim.done.send(claimed);
    }
    // Never sent (one claim at a time), but answered if ever.
    for claim in claims {
        let claimed = claim.claim().claim_on(&*store).await;
        let _ = claim.done.send(claimed);
    }
}
