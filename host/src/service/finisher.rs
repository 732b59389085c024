//! Group commit of finished runs: the runs that finish while a batch is
//! being written wait for the next batch, and each batch is one store call
//! ([`Store::finish_runs_if_owned`]: on SQLite one transaction, one commit;
//! on PostgreSQL one transaction for the batch's common finishes, each kind
//! of write once for them all, and a few finishers at once).
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

use std::sync::Arc;

use charm_store::{
    Before, CharmUpdate, Finish, Finished, NodeId, RunId, RunToFinish, Store, StoreError,
};
use tokio::sync::{mpsc, oneshot, Mutex};

/// The most runs one batch records: bounds how long a batch holds
/// SQLite's writer, or its charms' rows on PostgreSQL.
pub(crate) const MAX_BATCH: usize = 64;

/// Decides a finished run's charm update (see `charm_store::UpdatePolicy`).
pub(crate) type Decide = Arc<dyn Fn(Before, i64) -> CharmUpdate + Send + Sync>;

/// One run's result waiting for its batch.
struct Job {
    run: RunId,
    node: NodeId,
    finished: Arc<Finished>,
    decide: Decide,
    done: oneshot::Sender<Result<Finish, StoreError>>,
}

/// The way into the finishers; cheap to clone.
#[derive(Clone)]
pub(crate) struct Finisher {
    store: Arc<dyn Store>,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Finisher {
    /// Starts `workers` finishers, each taking up to `batch` waiting
    /// results at a time (`service::batching` says how many of each, by
    /// store). They stop when the last [`Finisher`] is dropped, after the
    /// results sent before are written.
    pub(crate) fn spawn(store: Arc<dyn Store>, workers: usize, batch: usize) -> Finisher {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..workers.max(1) {
            tokio::spawn(work(Arc::clone(&store), Arc::clone(&queue), batch.max(1)));
        }
        Finisher { store, jobs }
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
        let job = Job {
            run,
            node: node.clone(),
            finished: Arc::clone(finished),
            decide: Arc::clone(&decide),
            done,
        };
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

/// Records one batch and answers each of its jobs.
async fn write(store: Arc<dyn Store>, batch: Vec<Job>) {
    let items: Vec<RunToFinish<'_>> = batch
        .iter()
        .map(|job| RunToFinish {
            run: job.run,
            node: &job.node,
            finished: &job.finished,
            policy: &*job.decide,
        })
        .collect();
    let results = store.finish_runs_if_owned(&items).await;
    drop(items);
    for (job, result) in batch.into_iter().zip(results) {
        // Let go of the result before answering, so that the run task
        // holds the only reference to it again.
        let Job {
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
}
