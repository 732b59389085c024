//! The service's policy: who goes first, what counts as a failure, and
//! when a charm runs next.
//!
//! Pure functions and plain values, so each rule is tested on its own and
//! every store backend applies the same decisions (the store takes them as
//! values: a priority, a `CharmUpdate`).

use charm_engine::limits::{LimitExceeded, LimitHint};
use charm_engine::RunError;
use charm_store::{CharmUpdate, RunOutcome, Trigger};

/// Default: consecutive failures before a charm is disabled.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default: the longest backoff after failures, in seconds.
pub const DEFAULT_MAX_BACKOFF_S: u64 = 3600;
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
        if !is_failure(outcome) {
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

/// The queue priority of a trigger: manual work first, then retries of
/// interrupted runs, then scheduled work. Higher runs first. Retries go
/// before scheduled work so that, under a backlog, a run lost with its node
/// is re-run within the rescue's bound rather than behind every scheduled
/// run.
pub fn priority(trigger: Trigger) -> i64 {
    match trigger {
        Trigger::Manual => 20,
        Trigger::Recovery => 15,
        Trigger::Schedule => 10,
    }
}

/// Whether a run counts against its charm (backoff, auto-disable). A run
/// cut short by the host (shutdown, crash) does not.
pub fn is_failure(outcome: RunOutcome) -> bool {
    !matches!(
        outcome,
        RunOutcome::Ok | RunOutcome::Cancelled | RunOutcome::Interrupted
    )
}

/// The outcome a failed run is recorded with.
pub fn outcome_of(error: &RunError) -> RunOutcome {
    match error {
        RunError::Charm(_) => RunOutcome::Error,
        RunError::Denied(_) => RunOutcome::Denied,
        RunError::Limit(LimitExceeded::Fuel { .. }) => RunOutcome::Fuel,
        RunError::Limit(LimitExceeded::Memory { .. }) => RunOutcome::Memory,
        RunError::Limit(LimitExceeded::Timeout { .. }) => RunOutcome::Timeout,
        RunError::Limit(_) => RunOutcome::Limit,
        RunError::Fault(_) => RunOutcome::Fault,
    }
}

/// The error a failed run is recorded with. A limit names the field of the
/// charm's `limits` that raises it: a charm in the service is configured
/// through the API, not with flags.
pub fn recorded_error(error: &RunError) -> String {
    match error {
        RunError::Limit(limit) => limit.hinted(LimitHint::Field),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_work_goes_before_retries_before_scheduled_work() {
        assert!(priority(Trigger::Manual) > priority(Trigger::Recovery));
        assert!(priority(Trigger::Recovery) > priority(Trigger::Schedule));
    }

    #[test]
    fn a_recorded_limit_names_the_field_to_raise() {
        let error = RunError::Limit(LimitExceeded::Fuel { limit: 7 });
        assert_eq!(outcome_of(&error), RunOutcome::Fuel);
        assert_eq!(
            recorded_error(&error),
            "ran out of fuel (limit 7; raise it with limits.fuel)"
        );
    }

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
