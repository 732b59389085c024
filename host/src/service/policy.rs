//! The service's policy: who goes first, what counts as a failure, and
//! when a charm runs next.
//!
//! Pure functions and plain values, so each rule is tested on its own and
//! every store backend applies the same decisions (the store takes them as
//! values: a priority, a `CharmUpdate`).

use charm_engine::limits::{LimitExceeded, LimitHint};
use charm_engine::RunError;
use charm_store::{Before, CharmUpdate, EventsAfter, RunOutcome, Trigger};

use super::schedule::Schedule;

/// Default: consecutive failures before a charm is disabled.
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Default: the longest backoff after failures, in seconds.
pub const DEFAULT_MAX_BACKOFF_S: u64 = 3600;
/// A new charm's first run comes within this long (or its interval, if shorter).
const FIRST_RUN_SPREAD_MS: i64 = 10_000;
/// Default: events a run is given at most (`ctx.events`); more wait for
/// the next run, queued at once.
pub const DEFAULT_MAX_EVENTS_PER_RUN: u32 = 100;
/// Default: failed runs an event is given to before it is a dead letter.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The most attempts a charm may ask for.
pub const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// The first retry of a failed run's events comes this long after it, in
/// ms; each further one waits twice as long (capped at the backoff cap).
pub const RETRY_BASE_MS: i64 = 5_000;
/// For backing off a cron charm after failures, the interval its backoff
/// doubles from, in seconds.
const CRON_BACKOFF_BASE_S: u32 = 60;

/// When a charm runs on its own: every so many seconds (give or take 10%),
/// or at the times of a cron schedule, exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum Cadence {
    /// Every this many seconds.
    Every(u32),
    /// At a cron schedule's times.
    Cron(Schedule),
}

impl Cadence {
    /// A stored charm's cadence: its schedule (JSON text) when it has one,
    /// else its interval. A stored schedule that no longer parses (it was
    /// checked when stored) falls back to the interval, and says so.
    pub fn of(interval_s: u32, schedule: Option<&str>) -> Cadence {
        let Some(text) = schedule else {
            return Cadence::Every(interval_s);
        };
        match serde_json::from_str::<Schedule>(text) {
            Ok(Schedule::Interval { seconds }) => {
                Cadence::Every(u32::try_from(seconds).unwrap_or(u32::MAX))
            }
            Ok(cron) => Cadence::Cron(cron),
            Err(error) => {
                tracing::error!(%error, schedule = text, "a stored schedule does not parse; running on the interval instead");
                Cadence::Every(interval_s)
            }
        }
    }

    /// The next time of a cron schedule at or after `at`, or a year on when
    /// it has none (a schedule is checked to fire when it is stored).
    fn cron_at_or_after(schedule: &Schedule, at: i64) -> i64 {
        schedule
            .next_after(at.saturating_sub(1))
            .unwrap_or_else(|_| at.saturating_add(366 * 24 * 3_600_000))
    }
}

/// The scheduling rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulePolicy {
    /// Consecutive failures after which a charm is disabled. Default
    /// [`DEFAULT_MAX_FAILURES`].
    pub max_failures: u32,
    /// Cap on the backoff delay, in seconds (never below the interval).
    /// Default [`DEFAULT_MAX_BACKOFF_S`].
    pub max_backoff_s: u64,
    /// The soonest a charm may ask for its next run
    /// (`ctx.scheduleNext(ms)`), in seconds. Default
    /// [`DEFAULT_MIN_REQUESTED_NEXT_S`].
    pub min_requested_next_s: u64,
    /// The latest a charm may ask for its next run, in seconds. Default
    /// [`DEFAULT_MAX_REQUESTED_NEXT_S`].
    pub max_requested_next_s: u64,
    /// A run is heavy when it uses at least this percentage of its fuel or
    /// time limit (or runs out of either). Default
    /// [`DEFAULT_PENALTY_PERCENT`].
    pub penalty_percent: u32,
    /// Heavy runs in a row that put a charm in the penalty box; 0 turns
    /// the penalty box off. Default [`DEFAULT_PENALTY_AFTER_RUNS`].
    pub penalty_after_runs: u32,
    /// How many times its interval a charm in the penalty box waits.
    /// Default [`DEFAULT_PENALTY_FACTOR`].
    pub penalty_factor: u32,
}

/// Default: a heavy run uses at least this percentage of a limit.
pub const DEFAULT_PENALTY_PERCENT: u32 = 90;
/// Default: heavy runs in a row before the penalty box.
pub const DEFAULT_PENALTY_AFTER_RUNS: u32 = 3;
/// Default: the penalty box stretches an interval this many times.
pub const DEFAULT_PENALTY_FACTOR: u32 = 4;

/// How a run ended, as the policy weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunEnd<'a> {
    /// Its outcome.
    pub outcome: RunOutcome,
    /// Its error, when it failed.
    pub error: Option<&'a str>,
    /// Its attempt (1 for a first run).
    pub attempt: u32,
    /// The next run it asked for (`ctx.scheduleNext`), in ms.
    pub requested_next_ms: Option<u64>,
    /// Whether it used most of a limit (see [`SchedulePolicy::penalty_percent`]).
    pub heavy: bool,
    /// Whether it was given inbox events: a run without any has none to
    /// settle, so its finish skips the inbox.
    pub had_events: bool,
}

/// Default: the soonest next run a charm may ask for, in seconds.
pub const DEFAULT_MIN_REQUESTED_NEXT_S: u64 = 10;
/// Default: the latest next run a charm may ask for, in seconds (a week).
pub const DEFAULT_MAX_REQUESTED_NEXT_S: u64 = 7 * 24 * 3600;

impl Default for SchedulePolicy {
    fn default() -> Self {
        SchedulePolicy {
            max_failures: DEFAULT_MAX_FAILURES,
            max_backoff_s: DEFAULT_MAX_BACKOFF_S,
            min_requested_next_s: DEFAULT_MIN_REQUESTED_NEXT_S,
            max_requested_next_s: DEFAULT_MAX_REQUESTED_NEXT_S,
            penalty_percent: DEFAULT_PENALTY_PERCENT,
            penalty_after_runs: DEFAULT_PENALTY_AFTER_RUNS,
            penalty_factor: DEFAULT_PENALTY_FACTOR,
        }
    }
}

fn interval_ms(interval_s: u32) -> i64 {
    i64::from(interval_s) * 1000
}

impl SchedulePolicy {
    /// When a newly registered (or re-enabled) charm first runs: on an
    /// interval, soon, at a random point within ten seconds (or its
    /// interval, if shorter); on a cron schedule, at its next time.
    pub fn first_run_at(&self, now: i64, cadence: &Cadence) -> i64 {
        match cadence {
            Cadence::Every(interval_s) => {
                let spread = FIRST_RUN_SPREAD_MS.min(interval_ms(*interval_s)).max(1);
                now + fastrand::i64(0..spread)
            }
            Cadence::Cron(schedule) => Cadence::cron_at_or_after(schedule, now + 1),
        }
    }

    /// The next scheduled run after one is queued (or after a success):
    /// one interval on, give or take 10%, or the cron schedule's next time
    /// after `now`.
    pub fn next_run_at(&self, now: i64, cadence: &Cadence) -> i64 {
        let interval_s = match cadence {
            Cadence::Every(interval_s) => *interval_s,
            Cadence::Cron(schedule) => return Cadence::cron_at_or_after(schedule, now + 1),
        };
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

    /// The delay before the retry of a failed run's events, where
    /// `attempt` is the failed run's (1 for the first): [`RETRY_BASE_MS`]
    /// doubled per attempt, capped at `max_backoff_s`, with "equal jitter"
    /// (between half and all of it) so that charms failing together do not
    /// retry together.
    pub fn retry_delay_ms(&self, attempt: u32) -> i64 {
        let cap = i64::try_from(self.max_backoff_s)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let factor = 1i64
            .checked_shl(attempt.saturating_sub(1).min(40))
            .unwrap_or(i64::MAX);
        let delay = RETRY_BASE_MS.saturating_mul(factor).min(cap).max(2);
        delay / 2 + fastrand::i64(0..=delay / 2)
    }

    /// What a finished run does to the events it was given, by its outcome
    /// and its attempt: a success acknowledges them, a failure retries them
    /// with backoff, a run the host or a user cut short leaves them as they
    /// were.
    pub fn events_after(&self, outcome: RunOutcome, attempt: u32) -> EventsAfter {
        if outcome == RunOutcome::Ok {
            EventsAfter::Ack {
                priority: priority(Trigger::Inbox),
            }
        } else if is_failure(outcome) {
            EventsAfter::Retry {
                delay_ms: self.retry_delay_ms(attempt),
                priority: priority(Trigger::Retry),
            }
        } else {
            EventsAfter::Keep
        }
    }

    /// Whether a run that ended with `outcome` after `fuel` of `fuel_limit`
    /// and `duration_ms` of `timeout_ms` is heavy.
    pub fn is_heavy(
        &self,
        outcome: RunOutcome,
        (fuel, fuel_limit): (u64, u64),
        (duration_ms, timeout_ms): (u64, u64),
    ) -> bool {
        let share = |used: u64, limit: u64| {
            limit > 0
                && u128::from(used) * 100 >= u128::from(limit) * u128::from(self.penalty_percent)
        };
        matches!(outcome, RunOutcome::Fuel | RunOutcome::Timeout)
            || share(fuel, fuel_limit)
            || share(duration_ms, timeout_ms)
    }

    /// How a finished run changes its charm: [`Self::after_run`], then the
    /// penalty box. A charm whose last `penalty_after_runs` runs were all
    /// heavy waits `penalty_factor` times as long for its next run (its
    /// interval, its backoff, or its cron schedule's next time after that),
    /// with the reason recorded; its first run that is not heavy lets it
    /// out.
    pub fn decide(
        &self,
        run: &RunEnd<'_>,
        before: Before,
        cadence: &Cadence,
        now: i64,
    ) -> CharmUpdate {
        let mut update = self.after_run(
            run.outcome,
            run.error,
            before.failures,
            cadence,
            now,
            run.attempt,
            run.requested_next_ms,
        );
        if !run.had_events {
            update.events = EventsAfter::Keep;
        }
        update.heavy_runs = if run.heavy {
            before.heavy_runs.saturating_add(1)
        } else {
            0
        };
        let boxed = self.penalty_after_runs > 0 && update.heavy_runs >= self.penalty_after_runs;
        if boxed && update.disable.is_none() {
            update.penalty = Some(format!(
                "its last {} runs each used at least {}% of its fuel or time limit; \
                 it runs {}x less often until a run uses less",
                update.heavy_runs, self.penalty_percent, self.penalty_factor
            ));
            if let Some(next) = update.next_run_at {
                let stretched = now.saturating_add(
                    (next - now)
                        .max(0)
                        .saturating_mul(i64::from(self.penalty_factor.max(1))),
                );
                update.next_run_at = Some(match cadence {
                    Cadence::Cron(schedule) => Cadence::cron_at_or_after(schedule, stretched),
                    Cadence::Every(_) => stretched,
                });
            }
        }
        update
    }

    /// When a charm that asked for its next run `requested_ms` after this
    /// one runs: that long from `now`, bounded by the operator's minimum
    /// and maximum.
    pub fn requested_next_run_at(&self, now: i64, requested_ms: u64) -> i64 {
        let min = self.min_requested_next_s.saturating_mul(1000);
        let max = self.max_requested_next_s.saturating_mul(1000).max(min);
        let delay = i64::try_from(requested_ms.clamp(min, max)).unwrap_or(i64::MAX);
        now.saturating_add(delay)
    }

    /// How a finished run changes its charm, given its failures before it,
    /// the run's attempt, and the next run it asked for. A success restarts
    /// the schedule: the next scheduled run comes one interval after it (so
    /// "run now" does not run twice in a row), or at the cron schedule's
    /// next time, or when the charm asked (`ctx.scheduleNext`), bounded.
    #[allow(clippy::too_many_arguments)]
    pub fn after_run(
        &self,
        outcome: RunOutcome,
        error: Option<&str>,
        failures_before: u32,
        cadence: &Cadence,
        now: i64,
        attempt: u32,
        requested_next_ms: Option<u64>,
    ) -> CharmUpdate {
        let events = self.events_after(outcome, attempt);
        if outcome == RunOutcome::Ok {
            let next = match requested_next_ms {
                Some(ms) => self.requested_next_run_at(now, ms),
                None => self.next_run_at(now, cadence),
            };
            return CharmUpdate {
                consecutive_failures: 0,
                next_run_at: Some(next),
                disable: None,
                events,
                heavy_runs: 0,
                penalty: None,
            };
        }
        if !is_failure(outcome) {
            return CharmUpdate {
                consecutive_failures: failures_before,
                next_run_at: None,
                disable: None,
                events,
                heavy_runs: 0,
                penalty: None,
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
                events,
                heavy_runs: 0,
                penalty: None,
            };
        }
        let next_run_at = match cadence {
            Cadence::Every(interval_s) => now + self.backoff_ms(*interval_s, failures),
            Cadence::Cron(schedule) => Cadence::cron_at_or_after(
                schedule,
                now + self.backoff_ms(CRON_BACKOFF_BASE_S, failures),
            ),
        };
        CharmUpdate {
            consecutive_failures: failures,
            next_run_at: Some(next_run_at),
            disable: None,
            events,
            heavy_runs: 0,
            penalty: None,
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
        Trigger::Manual | Trigger::Webhook => 20,
        Trigger::Inbox => 18,
        Trigger::Recovery | Trigger::Retry => 15,
        Trigger::Schedule => 10,
    }
}

/// Whether a run counts against its charm (backoff, auto-disable). A run
/// cut short by the host (shutdown, crash) does not, nor one whose state
/// did not fit its space's quota (its neighbours' states count too).
pub fn is_failure(outcome: RunOutcome) -> bool {
    !matches!(
        outcome,
        RunOutcome::Ok | RunOutcome::Cancelled | RunOutcome::Interrupted | RunOutcome::Quota
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
        RunError::Fault(_) | RunError::Replay(_) => RunOutcome::Fault,
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
            let at = p.next_run_at(1_000_000, &Cadence::Every(60));
            assert!((1_054_000..=1_066_000).contains(&at), "{at}");
        }
    }

    #[test]
    fn first_runs_are_spread_over_ten_seconds_or_the_interval() {
        let p = SchedulePolicy::default();
        let times: Vec<i64> = (0..1000)
            .map(|_| p.first_run_at(0, &Cadence::Every(3600)))
            .collect();
        assert!(times.iter().all(|t| (0..10_000).contains(t)));
        assert!(
            times.iter().collect::<std::collections::HashSet<_>>().len() > 500,
            "spread, not one instant"
        );
        assert!((0..1000).all(|_| p.first_run_at(0, &Cadence::Every(2)) < 2000));
    }

    #[test]
    fn event_retries_double_with_jitter_and_are_capped() {
        let p = SchedulePolicy {
            max_failures: 5,
            max_backoff_s: 60,
            ..SchedulePolicy::default()
        };
        for _ in 0..200 {
            assert!((2_500..=5_000).contains(&p.retry_delay_ms(1)));
            assert!((5_000..=10_000).contains(&p.retry_delay_ms(2)));
            assert!((30_000..=60_000).contains(&p.retry_delay_ms(9)), "capped");
            assert!((30_000..=60_000).contains(&p.retry_delay_ms(u32::MAX)));
        }
    }

    #[test]
    fn a_cron_charm_runs_at_its_times_and_backs_off_to_a_later_one() {
        let p = SchedulePolicy::default();
        let hourly = Cadence::of(60, Some(r#"{"cron":"0 * * * *","tz":"UTC"}"#));
        assert!(matches!(hourly, Cadence::Cron(_)));
        let hour = 3_600_000;
        assert_eq!(p.first_run_at(10 * hour + 5, &hourly), 11 * hour);
        assert_eq!(p.next_run_at(10 * hour, &hourly), 11 * hour);
        let u = p.after_run(RunOutcome::Error, None, 3, &hourly, 10 * hour, 1, None);
        // Four failures: 60 s doubled four times is 16 min; the next hour.
        assert_eq!(u.next_run_at, Some(11 * hour));
        assert_eq!(
            Cadence::of(60, Some("not json")),
            Cadence::Every(60),
            "a damaged schedule falls back to the interval"
        );
    }

    #[test]
    fn heavy_runs_in_a_row_stretch_the_interval_until_a_light_one() {
        let p = SchedulePolicy::default();
        let every = Cadence::Every(60);
        let end = |heavy| RunEnd {
            outcome: RunOutcome::Ok,
            error: None,
            attempt: 1,
            requested_next_ms: None,
            heavy,
            had_events: true,
        };
        let before = |heavy_runs| Before {
            failures: 0,
            heavy_runs,
        };
        let u = p.decide(&end(true), before(1), &every, 0);
        assert_eq!((u.heavy_runs, u.penalty.is_none()), (2, true));
        let u = p.decide(&end(true), before(2), &every, 0);
        assert_eq!(u.heavy_runs, 3);
        assert!(
            u.penalty
                .as_deref()
                .is_some_and(|p| p.contains("last 3 runs")),
            "{u:?}"
        );
        let next = u.next_run_at.unwrap_or_default();
        assert!(
            (216_000..=264_000).contains(&next),
            "4 x 60 s +-10%: {next}"
        );
        let u = p.decide(&end(false), before(7), &every, 0);
        assert_eq!(
            (u.heavy_runs, u.penalty),
            (0, None),
            "a light run lets it out"
        );
        assert!(p.is_heavy(RunOutcome::Ok, (95, 100), (0, 1000)));
        assert!(p.is_heavy(RunOutcome::Ok, (0, 100), (950, 1000)));
        assert!(!p.is_heavy(RunOutcome::Ok, (50, 100), (10, 1000)));
        assert!(p.is_heavy(RunOutcome::Fuel, (0, 100), (0, 1000)));
        let off = SchedulePolicy {
            penalty_after_runs: 0,
            ..p
        };
        assert_eq!(off.decide(&end(true), before(50), &every, 0).penalty, None);
        let eventless = RunEnd {
            had_events: false,
            ..end(false)
        };
        assert_eq!(
            p.decide(&eventless, before(0), &every, 0).events,
            EventsAfter::Keep,
            "a run given no events settles none"
        );
    }

    #[test]
    fn a_requested_next_run_is_bounded_by_the_operator() {
        let p = SchedulePolicy::default();
        let every = Cadence::Every(60);
        let ok = |ms| {
            p.after_run(RunOutcome::Ok, None, 0, &every, 0, 1, Some(ms))
                .next_run_at
        };
        assert_eq!(ok(3_600_000), Some(3_600_000));
        assert_eq!(ok(1), Some(10_000), "the minimum");
        assert_eq!(ok(u64::MAX), Some(7 * 24 * 3_600_000), "the maximum");
        let failed = p.after_run(RunOutcome::Error, None, 0, &every, 0, 1, Some(1));
        assert_eq!(
            failed.next_run_at,
            Some(120_000),
            "a failure backs off as usual"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = SchedulePolicy {
            max_failures: 5,
            max_backoff_s: 600,
            ..SchedulePolicy::default()
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
        let every = Cadence::Every(60);
        let u = p.after_run(
            RunOutcome::Error,
            Some("TypeError: x\n  at f"),
            0,
            &every,
            0,
            1,
            None,
        );
        assert_eq!(
            (u.consecutive_failures, u.next_run_at, u.disable),
            (1, Some(120_000), None)
        );
        assert!(
            matches!(u.events, EventsAfter::Retry { delay_ms, .. } if (2_500..=5_000).contains(&delay_ms))
        );
        let u = p.after_run(
            RunOutcome::Fuel,
            Some("ran out of fuel"),
            4,
            &every,
            0,
            1,
            None,
        );
        assert_eq!(u.consecutive_failures, 5);
        assert_eq!(
            u.disable.as_deref(),
            Some("disabled after 5 consecutive failures; the last (fuel): ran out of fuel")
        );
    }

    #[test]
    fn success_resets_and_host_interruptions_do_not_count() {
        let p = SchedulePolicy::default();
        let every = Cadence::Every(60);
        let u = p.after_run(RunOutcome::Ok, None, 3, &every, 0, 1, None);
        assert_eq!(u.consecutive_failures, 0);
        assert!(matches!(u.events, EventsAfter::Ack { .. }));
        assert!(
            u.next_run_at
                .is_some_and(|t| (54_000..=66_000).contains(&t)),
            "{u:?}"
        );
        for outcome in [RunOutcome::Cancelled, RunOutcome::Interrupted] {
            let u = p.after_run(outcome, None, 3, &every, 0, 1, None);
            assert_eq!(
                u,
                CharmUpdate {
                    consecutive_failures: 3,
                    next_run_at: None,
                    disable: None,
                    events: EventsAfter::Keep,
                    heavy_runs: 0,
                    penalty: None,
                }
            );
        }
    }
}
