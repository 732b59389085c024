//! This process as a node of the cluster: its registration, its
//! heartbeat, the self-fence that stops it when it cannot prove it is
//! alive, its rejoin, and the rescue of other nodes' lost runs.
//!
//! Owns the node's current [`Incarnation`] (its id, and the token that
//! drops every run it claimed) and nothing else: claiming is the
//! dispatcher's, and every decision about a run is made by a conditional
//! statement in the store, so any number of nodes may run this at once.
//!
//! The timing, for a time to live `ttl` (`--node-ttl-ms`, default 10 s):
//!
//! * a heartbeat every `ttl / 5`, each bounded by that interval;
//! * a node whose last successful heartbeat *started* `ttl * 7 / 10` ago
//!   (a monotonic clock, so a hung connection or a paused process cannot
//!   stretch it) stops claiming and drops its runs, recording nothing,
//!   before its peers may take them at `ttl`: it never runs on as a zombie
//!   beside their retries;
//! * once the database answers again it registers under a new id and
//!   retires the old one, so its dropped runs are rescued at once;
//! * every `ttl / 5` (± 20 %), any node rescues runs of nodes silent for
//!   `ttl` or more: interrupted, and a retry queued.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use charm_store::{NodeId, NodeInfo, Store, StoreError, Trigger};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::clock::now_ms;
use super::metrics::Metrics;
use super::policy::priority;

/// Default time to live of a node, in ms: how long a node may stay silent
/// before its runs are rescued.
pub const DEFAULT_NODE_TTL_MS: u64 = 10_000;
/// The shortest time to live accepted, in ms.
pub const MIN_NODE_TTL_MS: u64 = 3_000;
/// The longest time to live accepted, in ms.
pub const MAX_NODE_TTL_MS: u64 = 600_000;
/// Node-versus-database clock difference above which a warning is logged.
const SKEW_WARNING: Duration = Duration::from_secs(1);

/// One life of this node in the cluster: from a registration to its fence
/// or its stop.
#[derive(Debug, Clone)]
pub(crate) struct Incarnation {
    /// Its id, recorded on every run it claims.
    pub(crate) id: NodeId,
    /// Cancelled when the node fences itself: its runs stop and record
    /// nothing (their rescue records them).
    pub(crate) fence: CancellationToken,
}

/// What the dispatcher asks before each claim.
#[derive(Debug)]
pub(crate) struct NodeState {
    current: watch::Sender<Option<Incarnation>>,
    /// When the last successful heartbeat started, in ms since `epoch`.
    last_ok_ms: AtomicU64,
    epoch: Instant,
    fence_after: Duration,
}

impl NodeState {
    fn since_ok(&self) -> Duration {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(now.saturating_sub(self.last_ok_ms.load(Ordering::Acquire)))
    }

    fn mark_ok(&self, started: Instant) {
        let at = u64::try_from(started.duration_since(self.epoch).as_millis()).unwrap_or(0);
        self.last_ok_ms.fetch_max(at, Ordering::AcqRel);
    }

    /// The incarnation that may claim now: none while fenced, or once the
    /// last successful heartbeat is too old (even before the heartbeat task
    /// notices, e.g. right after the process was paused).
    pub(crate) fn claimable(&self) -> Option<Incarnation> {
        if self.since_ok() >= self.fence_after {
            return None;
        }
        self.current.borrow().clone()
    }

    /// Waits until the incarnation changes.
    pub(crate) async fn changed(&self) {
        let mut watch = self.current.subscribe();
        let _ = watch.changed().await;
    }
}

/// The node's membership: registration, heartbeat, fence, rejoin, rescue.
pub(crate) struct Membership {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    state: Arc<NodeState>,
    info: NodeInfo,
    ttl: Duration,
    /// The id a fenced node retires once it has rejoined.
    retired: Mutex<Option<NodeId>>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn this_host() -> NodeInfo {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string());
    NodeInfo {
        hostname,
        pid: std::process::id(),
    }
}

impl Membership {
    /// Registers this process as a node.
    ///
    /// # Errors
    /// When the database refuses (on SQLite: another process serves from
    /// the same file).
    pub(crate) async fn join(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        ttl: Duration,
    ) -> Result<Arc<Membership>, StoreError> {
        let info = this_host();
        let epoch = Instant::now();
        let id = store.register_node(&info).await?;
        tracing::info!(node = %id, ttl_ms = ms(ttl), "registered as a node");
        let (current, _) = watch::channel(Some(Incarnation {
            id,
            fence: CancellationToken::new(),
        }));
        let state = Arc::new(NodeState {
            current,
            last_ok_ms: AtomicU64::new(0),
            epoch,
            fence_after: ttl * 7 / 10,
        });
        state.mark_ok(epoch);
        metrics.heartbeat_ok(Instant::now(), None);
        Ok(Arc::new(Membership {
            store,
            metrics,
            state,
            info,
            ttl,
            retired: Mutex::new(None),
        }))
    }

    /// What the dispatcher asks before each claim.
    pub(crate) fn state(&self) -> Arc<NodeState> {
        Arc::clone(&self.state)
    }

    fn beat(&self) -> Duration {
        self.ttl / 5
    }

    /// Heart-beats (and fences, and rejoins) until `stop`.
    pub(crate) async fn heartbeat(self: Arc<Self>, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(self.beat()) => {}
            }
            let current = self.state.current.borrow().clone();
            match current {
                Some(incarnation) => self.beat_once(&incarnation).await,
                None => self.rejoin().await,
            }
        }
    }

    async fn beat_once(&self, incarnation: &Incarnation) {
        if self.state.since_ok() >= self.state.fence_after {
            return self.fence(incarnation, "no successful heartbeat for too long");
        }
        let started = Instant::now();
        let sent_at = now_ms();
        let beat = tokio::time::timeout(
            self.beat(),
            self.store.heartbeat(&incarnation.id, ms(self.ttl)),
        )
        .await;
        match beat {
            Ok(Ok(Some(db_now))) => {
                self.state.mark_ok(started);
                let skew_ms = (sent_at + now_ms()) / 2 - db_now;
                self.metrics.heartbeat_ok(started, Some(skew_ms));
                if Duration::from_millis(skew_ms.unsigned_abs()) > SKEW_WARNING {
                    tracing::warn!(
                        skew_ms,
                        "this node's clock differs from the database's; every stored time uses the database's"
                    );
                }
            }
            Ok(Ok(None)) => self.fence(incarnation, "the other nodes declared it dead"),
            Ok(Err(error)) => {
                tracing::warn!(%error, node = %incarnation.id, "a heartbeat failed");
                self.fence_if_stale(incarnation);
            }
            Err(_) => {
                tracing::warn!(node = %incarnation.id, "a heartbeat timed out");
                self.fence_if_stale(incarnation);
            }
        }
    }

    fn fence_if_stale(&self, incarnation: &Incarnation) {
        if self.state.since_ok() >= self.state.fence_after {
            self.fence(incarnation, "no successful heartbeat for too long");
        }
    }

    /// Stops claiming and drops the incarnation's runs.
    fn fence(&self, incarnation: &Incarnation, why: &str) {
        tracing::error!(
            node = %incarnation.id,
            why,
            since_ok_ms = ms(self.state.since_ok()),
            "fenced: this node stops claiming and drops its runs; they will be retried; it rejoins when the database answers"
        );
        incarnation.fence.cancel();
        self.metrics.fenced();
        if let Ok(mut retired) = self.retired.lock() {
            *retired = Some(incarnation.id.clone());
        }
        self.state.current.send_replace(None);
    }

    async fn rejoin(&self) {
        let started = Instant::now();
        let registered =
            tokio::time::timeout(self.beat(), self.store.register_node(&self.info)).await;
        let id = match registered {
            Ok(Ok(id)) => id,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot rejoin yet");
                return;
            }
            Err(_) => {
                tracing::warn!("cannot rejoin yet: the database does not answer");
                return;
            }
        };
        let old = self.retired.lock().ok().and_then(|mut r| r.take());
        if let Some(old) = &old {
            // Its runs are rescued at the next sweep instead of after the
            // time to live.
            if let Err(error) = self.store.retire_node(old).await {
                tracing::warn!(%error, node = %old, "could not retire the fenced incarnation; its runs wait out the time to live");
            }
        }
        self.state.mark_ok(started);
        self.metrics.heartbeat_ok(started, None);
        tracing::warn!(node = %id, previous = old.as_ref().map(|o| o.to_string()), "rejoined as a new node");
        self.state.current.send_replace(Some(Incarnation {
            id,
            fence: CancellationToken::new(),
        }));
    }

    /// Rescues lost runs of any node every `ttl / 5` (± 20 %) until `stop`.
    pub(crate) async fn rescue(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let beat = ms(self.beat());
            let wait = u64::try_from(beat + fastrand::i64(-beat / 5..=beat / 5)).unwrap_or(1000);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            }
            if self.state.claimable().is_none() {
                continue;
            }
            self.rescue_once().await;
            self.refresh_nodes().await;
        }
    }

    /// Rescues every lost run now, a batch at a time. Called once at start
    /// too, before the node serves: on SQLite that is where the runs of
    /// this process's previous life are recorded and retried.
    pub(crate) async fn rescue_once(&self) {
        loop {
            match self
                .store
                .rescue_lost_runs(ms(self.ttl), priority(Trigger::Recovery))
                .await
            {
                Ok(rescued) if rescued.is_empty() => return,
                Ok(rescued) => {
                    self.metrics.rescued(rescued.len());
                    for run in &rescued {
                        tracing::warn!(
                            run = run.run_id,
                            charm = %run.charm_id,
                            node = run.node.as_ref().map(|n| n.to_string()),
                            retry = run.retry.map(|r| r.run_id),
                            "rescued a run whose node stopped or lost the database; marked interrupted, retry queued"
                        );
                    }
                    if rescued.len() < 1000 {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "rescuing lost runs failed; trying again at the next sweep");
                    return;
                }
            }
        }
    }

    async fn refresh_nodes(&self) {
        match self.store.nodes().await {
            Ok(nodes) => self.metrics.nodes(&nodes),
            Err(error) => tracing::debug!(%error, "could not read the nodes for the metrics"),
        }
    }

    /// On a clean stop, after the runs drained: removes this node's row so
    /// peers need not wait out its time to live.
    pub(crate) async fn leave(&self) {
        let current = self.state.current.send_replace(None);
        if let Some(incarnation) = current {
            match self.store.retire_node(&incarnation.id).await {
                Ok(()) => tracing::info!(node = %incarnation.id, "left the cluster"),
                Err(error) => {
                    tracing::warn!(%error, node = %incarnation.id, "could not remove this node's row; peers will find it silent")
                }
            }
        }
    }
}
