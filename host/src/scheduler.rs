//! When charms run: the scheduling policy and the loop that queues due runs.
//!
//! Owns the decisions (first run, next run with jitter, exponential backoff,
//! auto-disable after consecutive failures) as pure functions of
//! [`SchedulePolicy`], and [`run_scheduler`], which queues due charms and
//! then sleeps until the next charm is due (at most a [`TICK`], so charms
//! changed meanwhile are seen within one). It never runs a charm (that is
//! `queue`'s job) and never writes SQL itself.
//!
//! Jitter spreads runs: thousands of charms registered at once, or sharing an
//! interval, do not fire in the same second.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::store::{now_ms, CharmUpdate, RunOutcome, Store};

/// The longest the scheduler sleeps between looks for due charms.
///
/// It wakes earlier when a charm is due sooner. Waking only on whole ticks
/// made a charm with a 2 s interval run every 3 s (the soak measured it): a
/// run due just after a tick waited for the next.
pub const TICK: Duration = Duration::from_secs(1);
/// Default: consecutive failures before a charm is disabled.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default: the longest backoff after failures, in seconds.
pub const DEFAULT_MAX_BACKOFF_S: u64 = 3600;
/// How many due charms one tick queues at most (the rest wait a tick).
const DUE_BATCH: u32 = 2000;
/// A new charm's first run comes within this long (or its interval, if shorter).
const FIRST_RUN_SPREAD_MS: i64 = 10_000;

/// The scheduling rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// Consecutive failures after which a charm is disabled. Default
    /// [`DEFAULT_MAX_FAILURES`].
    pub max_failures: u32,
    /// Cap on the backoff delay, in seconds (never below the interval).
    /// Default [`DEFAULT_MAX_BACKOFF_S`].
    pub max_backoff_s: u64,
}

impl Default for SchedulePolicy {
    fn default() -> Self {
        SchedulePolicy {
            max_failures: DEFAULT_MAX_FAILURES,
            max_backoff_s: DEFAULT_MAX_BACKOFF_S,
        }
    }
}

fn interval_ms(interval_s: u32) -> i64 {
    i64::from(interval_s) * 1000
}

impl SchedulePolicy {
    /// When a newly registered (or re-enabled) charm first runs: soon, at a
    /// random point within ten seconds (or its interval, if shorter).
    pub fn first_run_at(&self, now: i64, interval_s: u32) -> i64 {
        let spread = FIRST_RUN_SPREAD_MS.min(interval_ms(interval_s)).max(1);
        now + fastrand::i64(0..spread)
    }

    /// The next scheduled run after one is queued: one interval on, give or
    /// take 10%.
    pub fn next_run_at(&self, now: i64, interval_s: u32) -> i64 {
        let interval = interval_ms(interval_s);
        let jitter = interval / 10;
        now + interval
            + if jitter > 0 {
                fastrand::i64(-jitter..=jitter)
            } else {
                0
            }
    }

    /// The delay before retrying after `failures` consecutive failures: the
    /// interval doubled per failure, capped at `max_backoff_s` (but never
    /// shorter than the interval itself).
    pub fn backoff_ms(&self, interval_s: u32, failures: u32) -> i64 {
        let cap = i64::try_from(self.max_backoff_s)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000)
            .max(interval_ms(interval_s));
        let factor = 1i64.checked_shl(failures.min(62)).unwrap_or(i64::MAX);
        interval_ms(interval_s).saturating_mul(factor).min(cap)
    }

    /// How a finished run changes its charm, given its failures before it.
    /// A success restarts the schedule: the next scheduled run comes one
    /// interval after it (so "run now" does not run twice in a row).
    pub fn after_run(
        &self,
        outcome: RunOutcome,
        error: Option<&str>,
        failures_before: u32,
        interval_s: u32,
        now: i64,
    ) -> CharmUpdate {
        if outcome == RunOutcome::Ok {
            return CharmUpdate {
                consecutive_failures: 0,
                next_run_at: Some(self.next_run_at(now, interval_s)),
                disable: None,
            };
        }
        if !outcome.is_failure() {
            return CharmUpdate {
                consecutive_failures: failures_before,
                next_run_at: None,
                disable: None,
            };
        }
        let failures = failures_before.saturating_add(1);
        if failures >= self.max_failures {
            let last = error
                .and_then(|e| e.lines().next())
                .unwrap_or(outcome.as_str());
            return CharmUpdate {
                consecutive_failures: failures,
                next_run_at: None,
                disable: Some(format!(
                    "disabled after {failures} consecutive failures; the last ({outcome}): {last}"
                )),
            };
        }
        CharmUpdate {
            consecutive_failures: failures,
            next_run_at: Some(now + self.backoff_ms(interval_s, failures)),
            disable: None,
        }
    }
}

/// Queues due charms every [`TICK`] until `stop` is cancelled, waking the
/// dispatcher through `wake` when it queued anything.
pub async fn run_scheduler(
    store: Store,
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
            match store
                .enqueue_scheduled(&charm, policy.next_run_at(now, interval_s))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_run_is_an_interval_away_within_ten_percent() {
        let p = SchedulePolicy::default();
        for _ in 0..1000 {
            let at = p.next_run_at(1_000_000, 60);
            assert!((1_054_000..=1_066_000).contains(&at), "{at}");
        }
    }

    #[test]
    fn first_runs_are_spread_over_ten_seconds_or_the_interval() {
        let p = SchedulePolicy::default();
        let times: Vec<i64> = (0..1000).map(|_| p.first_run_at(0, 3600)).collect();
        assert!(times.iter().all(|t| (0..10_000).contains(t)));
        assert!(
            times.iter().collect::<std::collections::HashSet<_>>().len() > 500,
            "spread, not one instant"
        );
        assert!((0..1000).all(|_| p.first_run_at(0, 2) < 2000));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = SchedulePolicy {
            max_failures: 5,
            max_backoff_s: 600,
        };
        assert_eq!(p.backoff_ms(60, 1), 120_000);
        assert_eq!(p.backoff_ms(60, 2), 240_000);
        assert_eq!(p.backoff_ms(60, 4), 600_000, "capped");
        assert_eq!(p.backoff_ms(60, 200), 600_000, "no overflow");
        assert_eq!(p.backoff_ms(7200, 3), 7_200_000, "never below the interval");
    }

    #[test]
    fn failures_back_off_then_disable_with_the_reason() {
        let p = SchedulePolicy::default();
        let u = p.after_run(RunOutcome::Error, Some("TypeError: x\n  at f"), 0, 60, 0);
        assert_eq!(
            u,
            CharmUpdate {
                consecutive_failures: 1,
                next_run_at: Some(120_000),
                disable: None
            }
        );
        let u = p.after_run(RunOutcome::Fuel, Some("ran out of fuel"), 4, 60, 0);
        assert_eq!(u.consecutive_failures, 5);
        assert_eq!(
            u.disable.as_deref(),
            Some("disabled after 5 consecutive failures; the last (fuel): ran out of fuel")
        );
    }

    #[test]
    fn success_resets_and_host_interruptions_do_not_count() {
        let p = SchedulePolicy::default();
        let u = p.after_run(RunOutcome::Ok, None, 3, 60, 0);
        assert_eq!(u.consecutive_failures, 0);
        assert!(
            u.next_run_at
                .is_some_and(|t| (54_000..=66_000).contains(&t)),
            "{u:?}"
        );
        for outcome in [RunOutcome::Cancelled, RunOutcome::Interrupted] {
            let u = p.after_run(outcome, None, 3, 60, 0);
            assert_eq!(
                u,
                CharmUpdate {
                    consecutive_failures: 3,
                    next_run_at: None,
                    disable: None
                }
            );
        }
    }
}
