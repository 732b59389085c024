//! 1,000 hostile charms scheduled beside 100 well-behaved ones in one
//! daemon: the good ones keep running, every hostile one ends in its named
//! limit or error, memory stays bounded, and nothing panics.
//!
//! `make test` watches the crowd for 30 seconds. `make soak` runs the same
//! population for `CHARM_HOST_SOAK_SECS` (600) against a release build and
//! keeps the report in `target/soak-report.md` (each run writes it to
//! `CARGO_TARGET_TMPDIR/crowd-report.md`).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{wait_for, Daemon};

/// Ten kinds of hostile charm, 100 of each.
const HOSTILE: [&str; 10] = [
    "infinite-loop.js",
    "memory-bomb.js",
    "deep-recursion.js",
    "huge-return.js",
    "log-flood.js",
    "thrower.js",
    "never-settles.js",
    "fetch-not-allowed.js",
    "limit-catcher.js",
    "not-serialisable.js",
];
const PER_KIND: usize = 100;
const GOOD: usize = 100;
const INTERVAL_S: u64 = 2;
/// What the daemon may hold at most, whatever the charms do: the runtime,
/// SQLite, and the pool slots of `--max-concurrent` runs with their
/// resident pages.
const RSS_BOUND: u64 = 1536 << 20;
/// The daemon's default `--keep-runs`.
const KEPT_RUNS: usize = 200;

fn rss(d: &Daemon) -> u64 {
    let pid = d.child.as_ref().map(|c| c.id()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// `charm_host_runs_total` by outcome.
fn runs_by_outcome(d: &Daemon) -> BTreeMap<String, u64> {
    let (_, metrics) = d.get("/metrics");
    let text = metrics.as_str().unwrap_or_default().to_string();
    text.lines()
        .filter_map(|l| l.strip_prefix("charm_host_runs_total{outcome=\""))
        .filter_map(|l| {
            let (outcome, count) = l.split_once("\"} ")?;
            Some((outcome.to_string(), count.trim().parse().ok()?))
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[test]
fn hostile_charms_do_not_starve_good_ones_or_grow_memory() {
    let watch = Duration::from_secs(
        std::env::var("CHARM_HOST_SOAK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30),
    );
    // Modest default limits so that a round of 1,000 hostile runs costs
    // seconds, not minutes, of CPU; each kind still meets its own limit.
    let d = Daemon::start(&["--fuel", "200000000", "--timeout-ms", "5000"]);
    let interval = json!({ "interval_s": INTERVAL_S });
    let mut good = Vec::new();
    for i in 0..HOSTILE.len() * PER_KIND + GOOD {
        // Interleaved, so neither group is registered (and scheduled) first.
        if i % 11 == 10 {
            good.push(d.register("counter.js", interval.clone()));
        } else {
            d.register(HOSTILE[i % 11 % HOSTILE.len()], interval.clone());
        }
    }
    assert_eq!(good.len(), GOOD);

    let started = Instant::now();
    let rss_start = rss(&d);
    let mut rss_peak = rss_start;
    wait_for("the watch to end", watch.as_secs() + 60, || {
        rss_peak = rss_peak.max(rss(&d));
        assert!(
            rss_peak <= RSS_BOUND,
            "daemon RSS {} MiB is over the bound",
            rss_peak >> 20
        );
        if started.elapsed() < watch {
            std::thread::sleep(Duration::from_millis(500));
            return None;
        }
        Some(())
    });
    let rss_end = rss(&d);
    assert_eq!(d.get("/healthz").0, 200);

    // The good charms: every run kept in history succeeded, and how long
    // runs waited.
    let mut waits_ms = Vec::new();
    let mut gaps_s = Vec::new();
    let mut good_runs = 0;
    let mut fewest = usize::MAX;
    for id in &good {
        let (status, body) = d.get(&format!("/api/charms/{id}/runs?limit=1000"));
        assert_eq!(status, 200, "{body}");
        let runs: Vec<&Value> = body["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "done")
            .collect();
        for run in &runs {
            assert_eq!(run["outcome"], "ok", "a good charm failed: {run}");
            waits_ms.push(
                (run["started_at"].as_i64().unwrap() - run["queued_at"].as_i64().unwrap()) as f64,
            );
        }
        let mut starts: Vec<i64> = runs
            .iter()
            .filter_map(|r| r["started_at"].as_i64())
            .collect();
        starts.sort_unstable();
        gaps_s.extend(starts.windows(2).map(|w| (w[1] - w[0]) as f64 / 1000.0));
        // Run history is pruned to --keep-runs; the state's version counts
        // every successful run.
        let state = d.state(id);
        assert_eq!(
            state["state"]["count"],
            state["version"],
            "{state} DEBUG {} {}",
            d.get(&format!("/api/charms/{id}")).1,
            d.get(&format!("/api/charms/{id}/runs")).1
        );
        let ok_runs = usize::try_from(state["version"].as_u64().unwrap()).unwrap();
        good_runs += ok_runs;
        fewest = fewest.min(ok_runs);
    }
    waits_ms.sort_by(f64::total_cmp);
    gaps_s.sort_by(f64::total_cmp);
    let outcomes = runs_by_outcome(&d);
    let failures: u64 = outcomes
        .iter()
        .filter(|(k, _)| k.as_str() != "ok")
        .map(|(_, v)| v)
        .sum();

    let report = format!(
        "crowd: {} hostile + {GOOD} good charms, interval {INTERVAL_S} s, watched {} s\n\
         - good runs: {good_runs}, all ok; fewest per charm {fewest}\n\
         - (waits and gaps below are over each charm's last {} runs, the history kept)\n\
         - good runs' wait in the queue: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n\
         - gap between a good charm's runs: p50 {:.1} s, p99 {:.1} s, max {:.1} s\n\
         - all runs by outcome: {outcomes:?} ({failures} failures)\n\
         - daemon RSS: start {} MiB, peak {} MiB, end {} MiB (bound {} MiB)\n",
        HOSTILE.len() * PER_KIND,
        watch.as_secs(),
        KEPT_RUNS,
        percentile(&waits_ms, 50.0),
        percentile(&waits_ms, 99.0),
        percentile(&waits_ms, 100.0),
        percentile(&gaps_s, 50.0),
        percentile(&gaps_s, 99.0),
        percentile(&gaps_s, 100.0),
        rss_start >> 20,
        rss_peak >> 20,
        rss_end >> 20,
        RSS_BOUND >> 20,
    );
    eprintln!("{report}");
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crowd-report.md");
    let _ = std::fs::write(out, &report);

    // Every hostile kind met its end, by name.
    for outcome in ["fuel", "memory", "limit", "error", "denied"] {
        assert!(
            outcomes.get(outcome).copied().unwrap_or(0) > 0,
            "no `{outcome}` runs: {outcomes:?}"
        );
    }
    // Each good charm kept running: at least a quarter of its schedule.
    let expected = (watch.as_secs() / INTERVAL_S) as usize;
    assert!(
        fewest >= expected / 4,
        "a good charm ran only {fewest} times in {} s (schedule: {expected})\n{report}",
        watch.as_secs()
    );
    assert!(!d.log_text().contains("panicked"), "the daemon panicked");
}
