//! The queue's producer: the loop that queues due charms.
//!
//! Each pass asks the store to queue the charms that are due by the
//! database's clock and to move their next run, in one transaction that
//! skips charms another node's pass holds, so every node runs this loop and
//! each due time is queued once, with no leader. Then it sleeps until the
//! next charm is due (at most a [`TICK`], so charms changed meanwhile are
//! seen within one). It never runs a charm (that is the dispatcher's job,
//! woken by the store) and never writes SQL itself; when a charm runs next
//! is [`SchedulePolicy`]'s decision.
//!
//! Jitter spreads runs: thousands of charms registered at once, or sharing an
//! interval, do not fire in the same second.

use std::sync::Arc;
use std::time::Duration;

use charm_store::{Store, Trigger};
use tokio_util::sync::CancellationToken;

use super::policy::{priority, Cadence, SchedulePolicy};

/// The longest the scheduler sleeps between looks for due charms.
///
/// It wakes earlier when a charm is due sooner. Waking only on whole ticks
/// made a charm with a 2 s interval run every 3 s (the soak measured it): a
/// run due just after a tick waited for the next.
pub const TICK: Duration = Duration::from_secs(1);
/// The shortest time between two passes that found no backlog. Charms
/// spread by jitter are due every few ms, and a pass per due time cost six
/// statements for one or two charms (163 passes a second at 300 runs/s,
/// measured for issue 18); a run now waits at most this long after its due
/// time to be queued.
pub const PASS_SPACING: Duration = Duration::from_millis(25);
/// How many due charms one pass queues at most (the next pass follows at
/// once when a pass was full, as more may be due). A pass is one write
/// transaction, so this bounds how long claims and finishes wait behind
/// it. On SQLite at 100,000 charms, a node restarted with every charm
/// overdue ran about 200 runs a second while it queued the backlog in
/// passes of 2,000, and about 800 in passes of 256; both finished the
/// catch-up in 64 s (issue 18's twenty-second round).
const DUE_BATCH: u32 = 256;

/// Each second a space's recent fuel is multiplied by this: its half-life
/// is about 14 s, and a space idle for a few minutes is forgotten.
pub const USAGE_DECAY: f64 = 0.95;

/// Queues due charms until `stop` is cancelled.
pub async fn run_scheduler(store: Arc<dyn Store>, policy: SchedulePolicy, stop: CancellationToken) {
    let mut wait = Duration::ZERO;
    let next_run = move |now: i64, interval_s: u32, schedule: Option<&str>| {
        policy.next_run_at(now, &Cadence::of(interval_s, schedule))
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = TICK;
        // Fair share: spaces' recent fuel fades (once a second, whichever
        // node's scheduler comes first).
        if let Err(error) = store.decay_usage(USAGE_DECAY, 1000).await {
            tracing::warn!(%error, "could not decay the spaces' recent fuel");
        }
        match store
            .schedule_due_runs(
                priority(Trigger::Schedule),
                priority(Trigger::Manual),
                DUE_BATCH,
                &next_run,
            )
            .await
        {
            // A full pass: more charms (or runs asked for later) may be due.
            Ok(pass) if pass.due >= DUE_BATCH => wait = Duration::ZERO,
            Ok(pass) => {
                if pass.queued > 0 {
                    tracing::debug!(
                        due = pass.due,
                        queued = pass.queued,
                        "queued scheduled runs"
                    );
                }
                if let Some(due_in) = pass.next_due_in_ms {
                    wait = wait
                        .min(Duration::from_millis(u64::try_from(due_in).unwrap_or(0)))
                        .max(PASS_SPACING);
                }
            }
            Err(error) => tracing::error!(%error, "the scheduler could not queue due charms"),
        }
    }
}
