//! Prometheus metrics of the service.
//!
//! Owns the metric registry and its text encoding. Counters and histograms
//! are updated as runs finish; gauges that describe stored data (queue depth,
//! charms by status) are read from the store at scrape time, so they are
//! always true rather than kept in step by hand.

use std::sync::atomic::{AtomicI64, AtomicU64};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use charm_store::{Counts, RunOutcome};

type Labels = [(&'static str, &'static str); 1];

/// The service's metrics. One per process, shared.
pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    run_seconds: Histogram,
    fuel: Counter<u64, AtomicU64>,
    running: Gauge<i64, AtomicI64>,
    queued: Gauge<i64, AtomicI64>,
    charms: Family<Labels, Gauge<i64, AtomicI64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, each outcome of `charm_host_runs_total` at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("charm_host");
        let runs = Family::<Labels, Counter>::default();
        registry.register("runs", "Finished runs by outcome", runs.clone());
        // 1 ms to about 65 s.
        let run_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "run_duration_seconds",
            "Wall-clock time of finished runs",
            run_seconds.clone(),
        );
        let fuel = Counter::<u64, AtomicU64>::default();
        registry.register(
            "fuel_consumed",
            "Fuel consumed by finished runs",
            fuel.clone(),
        );
        let running = Gauge::<i64, AtomicI64>::default();
        registry.register("running_tasks", "Runs executing now", running.clone());
        let queued = Gauge::<i64, AtomicI64>::default();
        registry.register("queue_depth", "Runs waiting in the queue", queued.clone());
        let charms = Family::<Labels, Gauge<i64, AtomicI64>>::default();
        registry.register("charms", "Registered charms by status", charms.clone());
        for outcome in RunOutcome::ALL {
            // Every outcome is present from the start, at zero.
            let _ = runs.get_or_create(&[("outcome", outcome.as_str())]);
        }
        Metrics {
            registry,
            runs,
            run_seconds,
            fuel,
            running,
            queued,
            charms,
        }
    }

    /// Records a finished run.
    pub fn run_finished(&self, outcome: RunOutcome, seconds: f64, fuel: u64) {
        self.runs
            .get_or_create(&[("outcome", outcome.as_str())])
            .inc();
        self.run_seconds.observe(seconds);
        self.fuel.inc_by(fuel);
    }

    /// A run started (+1) or ended (-1).
    pub fn running(&self, delta: i64) {
        self.running.inc_by(delta);
    }

    /// The text exposition, with the store's counts as of now.
    pub fn render(&self, counts: Counts) -> String {
        self.queued
            .set(i64::try_from(counts.queued).unwrap_or(i64::MAX));
        self.charms
            .get_or_create(&[("status", "enabled")])
            .set(i64::try_from(counts.enabled).unwrap_or(i64::MAX));
        self.charms
            .get_or_create(&[("status", "disabled")])
            .set(i64::try_from(counts.disabled).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_runs_by_outcome_and_store_counts() {
        let m = Metrics::new();
        m.run_finished(RunOutcome::Ok, 0.01, 300_000);
        m.run_finished(RunOutcome::Fuel, 0.5, 1_000);
        let text = m.render(Counts {
            enabled: 3,
            disabled: 1,
            queued: 2,
            running: 0,
        });
        assert!(
            text.contains("charm_host_runs_total{outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("charm_host_runs_total{outcome=\"denied\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("charm_host_fuel_consumed_total 301000"),
            "{text}"
        );
        assert!(text.contains("charm_host_queue_depth 2"), "{text}");
        assert!(
            text.contains("charm_host_charms{status=\"disabled\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("charm_host_run_duration_seconds_count 2"),
            "{text}"
        );
    }
}
