//! Prometheus metrics of the service.
//!
//! Owns the metric registry and its text encoding. Counters and histograms
//! are updated as runs are claimed and finish; gauges that describe stored
//! data (queue depth, charms by status) are read from the store at scrape
//! time, so they are always true rather than kept in step by hand. The
//! cluster's nodes and their running runs are read at each rescue sweep
//! (every `--node-ttl-ms` / 5), and the heartbeat age is computed at scrape
//! time.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use charm_store::{Counts, NodeRecord, QuotaBlock, RunOutcome};

type Labels = [(&'static str, &'static str); 1];
/// Labels whose values are known only at run time (a node id).
type NodeLabels = Vec<(&'static str, String)>;

/// The service's metrics. One per process, shared.
pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    run_seconds: Histogram,
    fuel: Counter<u64, AtomicU64>,
    running: Gauge<i64, AtomicI64>,
    queued: Gauge<i64, AtomicI64>,
    charms: Family<Labels, Gauge<i64, AtomicI64>>,
    events: Family<Labels, Gauge<i64, AtomicI64>>,
    penalized: Gauge<i64, AtomicI64>,
    space_fuel: Family<NodeLabels, Counter<u64, AtomicU64>>,
    space_queue_wait: Family<NodeLabels, Histogram>,
    claimed: Family<NodeLabels, Counter>,
    queue_wait: Histogram,
    rescued: Counter,
    lease_lost: Counter,
    charm_reads: Family<Labels, Counter>,
    webhooks: Counter,
    fenced: Counter,
    heartbeat_age: Gauge<f64, AtomicU64>,
    clock_skew: Gauge<f64, AtomicU64>,
    nodes: Gauge<i64, AtomicI64>,
    node_running: Family<NodeLabels, Gauge<i64, AtomicI64>>,
    quota_blocked: Family<NodeLabels, Gauge<i64, AtomicI64>>,
    last_heartbeat: Mutex<Option<Instant>>,
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
        let penalized = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "penalized_charms",
            "Charms in the penalty box: their runs keep using most of a limit, so their interval is stretched",
            penalized.clone(),
        );
        let space_fuel = Family::<NodeLabels, Counter<u64, AtomicU64>>::default();
        registry.register(
            "space_fuel",
            "Fuel burnt by each space's runs on this node (rate() of it is fuel per space per second)",
            space_fuel.clone(),
        );
        let space_queue_wait = Family::<NodeLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 17))
        });
        registry.register(
            "space_queue_wait_seconds",
            "Time each space's runs waited in the queue before a slot took them",
            space_queue_wait.clone(),
        );
        let events = Family::<Labels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "events",
            "Inbox events by status: pending (waiting for a run) and dead (dead letters)",
            events.clone(),
        );
        for outcome in RunOutcome::ALL {
            // Every outcome is present from the start, at zero.
            let _ = runs.get_or_create(&[("outcome", outcome.as_str())]);
        }
        let claimed = Family::<NodeLabels, Counter>::default();
        registry.register(
            "runs_claimed",
            "Runs claimed by this process, by node id (a new id after each rejoin)",
            claimed.clone(),
        );
        // 1 ms to about 65 s.
        let queue_wait = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "queue_wait_seconds",
            "Time from queued to started of the runs this process claimed (the database's clock)",
            queue_wait.clone(),
        );
        let rescued = Counter::default();
        registry.register(
            "rescued_runs",
            "Runs of dead nodes this process marked interrupted and queued again",
            rescued.clone(),
        );
        let lease_lost = Counter::default();
        registry.register(
            "lease_lost_runs",
            "Finished runs whose result was dropped: the run had been rescued from this node",
            lease_lost.clone(),
        );
        let charm_reads = Family::<Labels, Counter>::default();
        registry.register(
            "charm_reads",
            "Charms prepared for a run, by where from: kept from an earlier run at the same revision, or read from the store",
            charm_reads.clone(),
        );
        let webhooks = Counter::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries accepted into an inbox (duplicates included)",
            webhooks.clone(),
        );
        let fenced = Counter::default();
        registry.register(
            "fenced",
            "Times this node stopped itself for want of a heartbeat, and dropped its runs",
            fenced.clone(),
        );
        let heartbeat_age = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "heartbeat_age_seconds",
            "Time since this node's last successful heartbeat",
            heartbeat_age.clone(),
        );
        let clock_skew = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "clock_skew_seconds",
            "This node's clock minus the database's, at the last heartbeat",
            clock_skew.clone(),
        );
        let nodes = Gauge::<i64, AtomicI64>::default();
        registry.register("nodes", "Nodes registered in the database", nodes.clone());
        let node_running = Family::<NodeLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "node_running_tasks",
            "Runs running now, by the node that claimed them (every node's view of all)",
            node_running.clone(),
        );
        let quota_blocked = Family::<NodeLabels, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "space_quota_blocked",
            "1 for each space whose runs get no slot because it is over a quota (quota=\"max_fuel_per_hour\"), by space",
            quota_blocked.clone(),
        );
        Metrics {
            registry,
            runs,
            run_seconds,
            fuel,
            running,
            queued,
            charms,
            events,
            penalized,
            space_fuel,
            space_queue_wait,
            claimed,
            queue_wait,
            rescued,
            lease_lost,
            charm_reads,
            webhooks,
            fenced,
            heartbeat_age,
            clock_skew,
            nodes,
            node_running,
            quota_blocked,
            last_heartbeat: Mutex::new(None),
        }
    }

    /// A run was claimed by `node` after waiting `wait_ms` in the queue.
    pub fn run_claimed(&self, node: &str, wait_ms: i64) {
        self.claimed
            .get_or_create(&vec![("node", node.to_string())])
            .inc();
        // Both times are the database's; a negative wait cannot happen.
        self.queue_wait.observe(wait_ms.max(0) as f64 / 1000.0);
    }

    /// Runs were rescued by this node.
    pub fn rescued(&self, runs: usize) {
        self.rescued.inc_by(u64::try_from(runs).unwrap_or(u64::MAX));
    }

    /// A run of a charm in `space` waited `wait_ms` in the queue and burnt
    /// `fuel`.
    pub fn space_run(&self, space: &str, wait_ms: i64, fuel: u64) {
        let labels = vec![("space", space.to_string())];
        self.space_fuel.get_or_create(&labels).inc_by(fuel);
        self.space_queue_wait
            .get_or_create(&labels)
            .observe(wait_ms.max(0) as f64 / 1000.0);
    }

    /// Counts a webhook delivery accepted into an inbox.
    pub fn webhook_delivered(&self) {
        self.webhooks.inc();
    }

    /// A run's charm was prepared: `kept` from an earlier run, or read
    /// from the store.
    pub fn charm_read(&self, kept: bool) {
        let from = if kept { "kept" } else { "store" };
        self.charm_reads.get_or_create(&[("from", from)]).inc();
    }

    /// A finish was refused: the run was no longer this node's.
    pub fn lease_lost(&self) {
        self.lease_lost.inc();
    }

    /// This node fenced itself.
    pub fn fenced(&self) {
        self.fenced.inc();
    }

    /// A heartbeat that started at `at` succeeded; `skew_ms` is this node's
    /// clock minus the database's, when measured.
    pub fn heartbeat_ok(&self, at: Instant, skew_ms: Option<i64>) {
        if let Ok(mut last) = self.last_heartbeat.lock() {
            *last = Some(last.map_or(at, |l| l.max(at)));
        }
        if let Some(skew) = skew_ms {
            self.clock_skew.set(skew as f64 / 1000.0);
        }
    }

    /// The nodes registered now, with the runs each holds.
    pub fn nodes(&self, nodes: &[NodeRecord]) {
        self.nodes
            .set(i64::try_from(nodes.len()).unwrap_or(i64::MAX));
        self.node_running.clear();
        for node in nodes {
            self.node_running
                .get_or_create(&vec![("node", node.id.to_string())])
                .set(i64::try_from(node.running).unwrap_or(i64::MAX));
        }
    }

    /// The spaces blocked now by a quota (each node's view of all).
    pub fn quota_blocked(&self, blocked: &[(String, QuotaBlock)]) {
        self.quota_blocked.clear();
        for (space, block) in blocked {
            self.quota_blocked
                .get_or_create(&vec![
                    ("space", space.clone()),
                    ("quota", block.quota.as_str().to_string()),
                ])
                .set(1);
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
        self.penalized
            .set(i64::try_from(counts.penalized).unwrap_or(i64::MAX));
        self.events
            .get_or_create(&[("status", "pending")])
            .set(i64::try_from(counts.events_pending).unwrap_or(i64::MAX));
        self.events
            .get_or_create(&[("status", "dead")])
            .set(i64::try_from(counts.events_dead).unwrap_or(i64::MAX));
        if let Some(at) = self.last_heartbeat.lock().ok().and_then(|l| *l) {
            self.heartbeat_age.set(at.elapsed().as_secs_f64());
        }
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
            events_pending: 5,
            events_dead: 1,
            penalized: 2,
        });
        assert!(text.contains("charm_host_penalized_charms 2"), "{text}");
        m.space_run("team-a", 40, 1_000);
        let later = m.render(Counts::default());
        assert!(
            later.contains("charm_host_space_fuel_total{space=\"team-a\"} 1000"),
            "{later}"
        );
        assert!(
            text.contains("charm_host_events{status=\"dead\"} 1"),
            "{text}"
        );
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

    #[test]
    fn renders_the_cluster_metrics() {
        let m = Metrics::new();
        m.run_claimed("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4", 3);
        m.rescued(2);
        m.heartbeat_ok(Instant::now(), Some(-250));
        let id = charm_store::NodeId::parse("0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4").unwrap();
        m.nodes(&[NodeRecord {
            id,
            hostname: "h".into(),
            pid: 1,
            started_at: 0,
            last_seen_at: 0,
            running: 4,
        }]);
        let text = m.render(Counts::default());
        for expected in [
            "charm_host_runs_claimed_total{node=\"0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4\"} 1",
            "charm_host_queue_wait_seconds_count 1",
            "charm_host_queue_wait_seconds_bucket{le=\"0.004\"} 1",
            "charm_host_rescued_runs_total 2",
            "charm_host_clock_skew_seconds -0.25",
            "charm_host_nodes 1",
            "charm_host_node_running_tasks{node=\"0192f1c2a3b4c5d6e7f8a9b0c1d2e3f4\"} 4",
            "charm_host_heartbeat_age_seconds ",
            "charm_host_fenced_total 0",
            "charm_host_lease_lost_runs_total 0",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
    }
}
