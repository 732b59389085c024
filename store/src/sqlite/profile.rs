//! Where the write connection's time goes, statement by statement: an
//! operator's switch for finding what limits a node's runs per second.
//!
//! Why: every write of a SQLite node goes through one connection (issue
//! 18), so its busy time bounds the node's rate, and a CPU profile shows
//! SQLite's inside (`sqlite3VdbeExec`) rather than which statement. SQLite
//! times each statement itself (`sqlite3_trace_v2` with
//! `SQLITE_TRACE_PROFILE`: the wall time from its first step to its last,
//! the caller's time between rows included, and any time the thread was
//! off its core, as on a saturated node). Its clock counts whole
//! milliseconds, so a call of 5 µs counts 0 or 1 ms, 1 ms once in 200
//! calls: a total over many calls is right on average, a mean over a few
//! is not.
//!
//! When switched on ([`enable`]), each write connection opened afterwards
//! reports its statements to one process-wide tally. Every period the
//! tally is logged (target `charm_store::sqlite::profile`, level info) and
//! started again: the period's busy time against its length, then the
//! statements that took the most time, each with its calls, its total and
//! its mean. A statement is shown by its text, its parameters unbound, so
//! no value a charm or a request gave appears. A period is closed by the
//! first statement after it ends: an idle connection logs nothing.
//!
//! The tally is process-wide because SQLite's callback is a plain function:
//! several stores in one process (tests) share it. Off, nothing is
//! installed and nothing is paid; on, each statement costs a lock and a
//! hash lookup (about 32,000 statements a second at 5,000 runs a second).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::trace::{TraceEvent, TraceEventCodes};

/// Statements a report names, the most time first.
const REPORTED: usize = 12;

/// Characters of a statement's text a report shows: enough to tell the
/// store's statements apart.
const SHOWN_CHARS: usize = 120;

/// The periods the service accepts, in seconds (`--sqlite-profile-s`; 0
/// there means off). [`enable`] itself raises anything under a second to
/// one.
pub const PERIOD_RANGE_S: std::ops::RangeInclusive<u64> = 1..=3600;

/// One statement's tally in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    /// Times it ran, first step to last (done, error or reset).
    calls: u64,
    /// Its wall time, all calls together.
    total: Duration,
}

/// The tally of the period under way.
struct Period {
    every: Duration,
    started: Instant,
    by_statement: HashMap<Box<str>, Tally>,
}

/// A closed period: its length, and each statement's tally in it.
type Closed = (Duration, HashMap<Box<str>, Tally>);

impl Period {
    fn new(every: Duration, now: Instant) -> Period {
        Period {
            every,
            started: now,
            by_statement: HashMap::new(),
        }
    }

    /// Counts a call of `sql` that took `took`, ending at `now`; closes the
    /// period and starts the next when `now` is past its end.
    fn record(&mut self, sql: &str, took: Duration, now: Instant) -> Option<Closed> {
        let tally = match self.by_statement.get_mut(sql) {
            Some(tally) => tally,
            None => self.by_statement.entry(sql.into()).or_default(),
        };
        tally.calls += 1;
        tally.total += took;
        let length = now.saturating_duration_since(self.started);
        if length < self.every {
            return None;
        }
        self.started = now;
        Some((length, std::mem::take(&mut self.by_statement)))
    }
}

static PERIOD: OnceLock<Mutex<Period>> = OnceLock::new();

/// Switches the profile on for the write connections opened from now on,
/// reporting every `every` (at least a second). A second call keeps the
/// first period.
pub fn enable(every: Duration) {
    let every = every.max(Duration::from_secs(1));
    PERIOD.get_or_init(|| Mutex::new(Period::new(every, Instant::now())));
}

/// Whether [`enable`] was called.
pub(super) fn enabled() -> bool {
    PERIOD.get().is_some()
}

/// Has `db` report its statements' times to the tally. The callback stays
/// on the handle when this wrapper of it is dropped (rusqlite removes
/// nothing from a handle it does not own).
pub(super) fn install(db: &rusqlite::Connection) {
    db.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(on_event));
}

fn on_event(event: TraceEvent<'_>) {
    let TraceEvent::Profile(statement, took) = event else {
        return;
    };
    let Some(period) = PERIOD.get() else {
        return;
    };
    // Poisoned only if a panic came while it was held, mid-count: the
    // tally is still one to keep counting on.
    let closed = period.lock().unwrap_or_else(|e| e.into_inner()).record(
        &statement.sql(),
        took,
        Instant::now(),
    );
    if let Some((length, tallies)) = closed {
        report(length, tallies);
    }
}

#[cfg(test)]
fn take() -> Vec<(String, Tally)> {
    let Some(period) = PERIOD.get() else {
        return Vec::new();
    };
    let mut period = period.lock().unwrap_or_else(|e| e.into_inner());
    period.started = Instant::now();
    ranked(std::mem::take(&mut period.by_statement))
}

/// The statements, the most time first.
fn ranked(tallies: HashMap<Box<str>, Tally>) -> Vec<(String, Tally)> {
    let mut ranked: Vec<(String, Tally)> = tallies
        .into_iter()
        .map(|(sql, tally)| (sql.into_string(), tally))
        .collect();
    ranked.sort_by(|a, b| b.1.total.cmp(&a.1.total).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// Logs a closed period. Its lines have no parent span: the statement that
/// closed the period may have run inside a run's span, which is not theirs.
fn report(length: Duration, tallies: HashMap<Box<str>, Tally>) {
    let ranked = ranked(tallies);
    let busy: Duration = ranked.iter().map(|(_, t)| t.total).sum();
    let calls: u64 = ranked.iter().map(|(_, t)| t.calls).sum();
    tracing::info!(
        target: "charm_store::sqlite::profile",
        parent: None,
        period_ms = ms(length),
        busy_ms = ms(busy),
        busy_share = rounded(busy.as_secs_f64() / length.as_secs_f64().max(f64::MIN_POSITIVE), 3),
        calls,
        statements = ranked.len(),
        "the write connection's statements in the last period"
    );
    for (rank, (sql, tally)) in ranked.iter().take(REPORTED).enumerate() {
        tracing::info!(
            target: "charm_store::sqlite::profile",
            parent: None,
            rank = rank + 1,
            calls = tally.calls,
            total_ms = ms(tally.total),
            mean_us = rounded(tally.total.as_secs_f64() * 1e6 / tally.calls.max(1) as f64, 1),
            statement = %shown(sql),
            "a statement's time"
        );
    }
}

/// `d` in ms, to a tenth.
fn ms(d: Duration) -> f64 {
    rounded(d.as_secs_f64() * 1e3, 1)
}

/// `x` to `digits` decimal places, for a readable log line.
fn rounded(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// `sql` on one line, its whitespace runs as one space, cut to
/// [`SHOWN_CHARS`].
fn shown(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}...", &one_line[..cut]),
        None => one_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_tallied_by_text_and_ranked_by_time() {
        enable(Duration::from_secs(3600));
        let db = rusqlite::Connection::open_in_memory().expect("an in-memory database");
        install(&db);
        take();
        db.execute_batch("CREATE TABLE t (a INTEGER)")
            .expect("a table");
        for a in ["1", "2", "a-bound-value"] {
            db.prepare_cached("INSERT INTO t (a) VALUES (?1)")
                .expect("prepared")
                .execute([a])
                .expect("a row");
        }
        let count: i64 = db
            .query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
                 SELECT COUNT(*) FROM n",
                [],
                |row| row.get(0),
            )
            .expect("a slow count");
        assert_eq!(count, 200_000);
        // Other tests' write connections may report to the same tally
        // meanwhile: only this test's statements are looked at.
        let tallies = take();
        let insert_sql = "INSERT INTO t (a) VALUES (?1)";
        let tally_of = |prefix: &str| {
            tallies
                .iter()
                .find(|(sql, _)| sql.starts_with(prefix))
                .map(|(_, tally)| *tally)
        };
        assert_eq!(
            tally_of(insert_sql).map(|t| t.calls),
            Some(3),
            "{tallies:?}"
        );
        let count = tally_of("WITH RECURSIVE n(i)").expect("the count is tallied");
        assert_eq!(count.calls, 1);
        assert!(
            count.total >= Duration::from_millis(1),
            "counting 200,000 rows takes a millisecond or more: {count:?}"
        );
        assert!(
            tallies.windows(2).all(|w| w[0].1.total >= w[1].1.total),
            "the most time first: {tallies:?}"
        );
        assert!(
            !tallies.iter().any(|(sql, _)| sql.contains("a-bound-value")),
            "a statement is tallied by its text, its parameters unbound: {tallies:?}"
        );
        assert!(
            !take().iter().any(|(sql, _)| sql == insert_sql),
            "a new period starts without them"
        );
    }

    #[test]
    fn a_period_closes_at_its_end_and_the_next_starts_empty() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut period = Period::new(Duration::from_secs(1), start);
        let call = Duration::from_micros(5);
        assert!(period.record("A", call, at(10)).is_none());
        assert!(period.record("B", call, at(500)).is_none());
        assert!(period.record("A", call, at(999)).is_none());
        let (length, tallies) = period
            .record("B", call, at(1200))
            .expect("the call past the period's end closes it");
        assert_eq!(length, Duration::from_millis(1200));
        assert_eq!(
            ranked(tallies),
            [
                (
                    "A".to_string(),
                    Tally {
                        calls: 2,
                        total: call * 2
                    }
                ),
                (
                    "B".to_string(),
                    Tally {
                        calls: 2,
                        total: call * 2
                    }
                ),
            ]
        );
        assert!(
            period.record("C", call, at(2100)).is_none(),
            "the next period runs from the close (1.2 s), not from the start"
        );
        let (length, tallies) = period.record("C", call, at(2200)).expect("closed");
        assert_eq!(length, Duration::from_millis(1000));
        assert_eq!(ranked(tallies).len(), 1, "only what came after the close");
    }

    #[test]
    fn a_statement_is_shown_on_one_line_and_cut() {
        assert_eq!(shown("SELECT a\n   FROM t"), "SELECT a FROM t");
        let long = format!("SELECT {}", "x".repeat(300));
        let cut = shown(&long);
        assert_eq!(cut.chars().count(), SHOWN_CHARS + 3);
        assert!(cut.ends_with("..."));
    }
}
