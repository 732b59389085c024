//! The queue's producer: the loop that queues due charms.
//!
//! Queues every charm that is due, then sleeps until the next charm is due
//! (at most a [`TICK`], so charms changed meanwhile are seen within one). It
//! never runs a charm (that is the dispatcher's job) and never writes SQL
//! itself; when a charm runs next is [`SchedulePolicy`]'s decision.
//!
//! Jitter spreads runs: thousands of charms registered at once, or sharing an
//! interval, do not fire in the same second.

use std::sync::Arc;
use std::time::Duration;

use charm_store::{Store, Trigger};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::clock::now_ms;
use super::policy::{priority, SchedulePolicy};

/// The longest the scheduler sleeps between looks for due charms.
///
/// It wakes earlier when a charm is due sooner. Waking only on whole ticks
/// made a charm with a 2 s interval run every 3 s (the soak measured it): a
/// run due just after a tick waited for the next.
pub const TICK: Duration = Duration::from_secs(1);
/// How many due charms one tick queues at most (the rest wait a tick).
const DUE_BATCH: u32 = 2000;

/// Queues due charms every [`TICK`] until `stop` is cancelled, waking the
/// dispatcher through `wake` when it queued anything.
pub async fn run_scheduler(
    store: Arc<dyn Store>,
    policy: SchedulePolicy,
    wake: Arc<Notify>,
    stop: CancellationToken,
) {
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = TICK;
        let now = now_ms();
        let due = match store.due_charms(now, DUE_BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "the scheduler could not read due charms");
                continue;
            }
        };
        let mut queued = 0usize;
        for (charm, interval_s) in due {
            let next = policy.next_run_at(now, interval_s);
            match store
                .enqueue_scheduled_run(&charm, priority(Trigger::Schedule), next)
                .await
            {
                Ok(Some(_)) => queued += 1,
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(%error, charm = %charm, "could not queue a scheduled run")
                }
            }
        }
        if queued > 0 {
            tracing::debug!(queued, "queued scheduled runs");
            wake.notify_one();
        }
        match store.next_due_after(now_ms()).await {
            Ok(Some(at)) => {
                let until = u64::try_from(at - now_ms()).unwrap_or(0);
                wait = wait.min(Duration::from_millis(until));
            }
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "the scheduler could not read the next due time"),
        }
    }
}
