//! The service behind `charm-host serve`: wires the store, sandbox,
//! registry, scheduler, dispatcher and API into one process, and takes it
//! down in order.
//!
//! Data flows one way: the API and the CLI change charms through the
//! [`Registry`]; the scheduler queues due runs in the store; the dispatcher
//! claims them, plans each run and hands it to the sandbox; results come
//! back through the dispatcher's one recording path. The rules (priorities,
//! backoff, what counts as a failure) are in [`policy`].
//!
//! Start: open the store (migrations), build the sandbox, register this
//! process as a node, bind the listener, then start the node's heartbeat and
//! rescue ([`node`]: runs of dead nodes, or of this process's previous life
//! on SQLite, are interrupted and re-queued), the scheduler, the
//! dispatcher, the maintenance task (pruning, summary line), the quota
//! watch (`quotas`) and the HTTP server.
//!
//! Stop (on the `shutdown` future, e.g. SIGTERM): stop scheduling and
//! claiming, stop accepting HTTP requests, let runs in flight finish within
//! the grace period (still heart-beating, so no peer takes them), cancel the
//! rest (recorded as cancelled), then remove the node's row and close the
//! store.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use charm_engine::{ReservedAddrs, Sandbox, SandboxError, SandboxOptions};
use charm_store::postgres::{PgOptions, PgStore};
use charm_store::sqlite::SqliteStore;
use charm_store::{CharmId, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::api::{self, AccessPolicy, AppState};
use crate::token::{self, TokenError};

pub mod alerts;
mod clock;
mod config;
mod dispatcher;
mod finisher;
mod finishing;
mod in_flight;
mod metrics;
mod node;
mod playground;
pub mod policy;
mod quotas;
mod ready_charms;
mod registry;
pub mod schedule;
mod scheduler;
pub mod secrets;
mod stats;
mod tenants;

pub use config::{
    check_path, ConfigError, DbTarget, ServiceConfig, DEFAULT_CHARM_CACHE_MB,
    DEFAULT_IDEMPOTENCY_WINDOW_S, DEFAULT_KEEP_RUNS, DEFAULT_KEEP_STATE_VERSIONS, DEFAULT_LISTEN,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_PRUNE_INTERVAL_S,
    DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SUMMARY_INTERVAL_S,
};
pub use dispatcher::RunCounters;
pub use metrics::Metrics;
pub use node::DEFAULT_NODE_TTL_MS;
pub use playground::{try_out, Position, Tryout, TryoutReport};
pub use policy::SchedulePolicy;
pub use registry::{
    charm_id, check_space, CharmChanges, CharmSpec, LimitCeilings, Registry, RegistryError,
    TriggerRequest, Triggered, COMPILE_SLOTS, TRYOUT_SLOTS,
};
pub use stats::{minute_stats, MinuteStats};
pub(crate) use tenants::same_secret;
pub use tenants::{
    Caller, MadeToken, PrivateNetworkPolicy, TokenRequestError, Tokens, ANONYMOUS_ACTOR,
    OPERATOR_ACTOR, TOKEN_PREFIX,
};

use dispatcher::Dispatcher;
use finisher::Finisher;
use node::Membership;
use scheduler::run_scheduler;

/// Acknowledged events one pruning statement deletes at most, so that it
/// holds its locks briefly; pruning repeats until a batch comes back short.
const PRUNE_BATCH: u32 = 5000;

/// Charms whose run history and state versions one prune call takes (see
/// `charm_store::prune`): at 210 kept runs each, about 100,000 rows ranked
/// on a read connection, and a few thousand deleted.
const PRUNE_PAGE: u32 = 500;

/// After each page of a prune round of runs or state versions but the
/// last, the round waits this many times as long as the page took, so the
/// round takes about a quarter of one connection's time (as PostgreSQL's
/// autovacuum throttles itself with its cost delay). At 100,000 charms a
/// round (400 pages) cost the database about 11 s of CPU (issue 18's
/// twenty-fourth round); back to back, that can take a core for those
/// seconds on a 2-core node that needs 1.3 to 1.5 of them for its runs. A
/// round is at most four times as long: at 100,000 charms, if the round's
/// time is about its database CPU, under a minute of the ten between
/// rounds (not measured). Acknowledged events are pruned in batches
/// without a pause.
const PRUNE_PAUSE_FACTOR: u32 = 3;

/// Why the service could not start or stopped with an error. Each message
/// names the flag or the path involved.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A setting is refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The API token file could not be read or made.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The secrets key could not be read or made.
    #[error(transparent)]
    SecretsKey(#[from] secrets::KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (--listen): {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database `{db}` (--db): {source}")]
    Store {
        /// The file or URL (its password hidden).
        db: String,
        /// Why.
        source: StoreError,
    },
    /// This process could not register as a node.
    #[error("cannot register this process as a node of `{db}` (--db): {source}")]
    Join {
        /// The file or URL (its password hidden).
        db: String,
        /// Why.
        source: StoreError,
    },
    /// The sandbox could not be built.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The bound address could not be written.
    #[error("cannot write the bound address to `{path}` (--addr-file): {source}")]
    AddrFile {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl ServiceError {
    /// Whether the operator's settings are at fault (exit code 2) rather
    /// than the machine or the service (exit code 5).
    pub fn is_usage(&self) -> bool {
        matches!(self, ServiceError::Config(_))
    }
}

/// The addresses no charm may fetch from: this node's API (`addr`) and its
/// PostgreSQL server's, as resolved now.
async fn control_plane(addr: std::net::SocketAddr, db: &DbTarget) -> ReservedAddrs {
    let mut reserved = ReservedAddrs::none();
    reserved.reserve(addr, "this daemon's API");
    if let DbTarget::Postgres(url) = db {
        match url::Url::parse(url) {
            Ok(parsed) => {
                let host = parsed.host_str().unwrap_or("localhost").to_string();
                let port = parsed.port().unwrap_or(5432);
                let host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let found = tokio::net::lookup_host((host.as_str(), port)).await;
                match found {
                    Ok(found) => {
                        for db_addr in found {
                            reserved.reserve(db_addr, "this daemon's database");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not resolve the database's host to keep charms from it")
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "could not read the database URL's host"),
        }
    }
    reserved
}

/// Runs the service until `shutdown` completes.
///
/// # Errors
/// When it cannot start (bad settings, unusable database, port taken).
pub async fn serve(
    config: ServiceConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServiceError> {
    config.validate()?;
    let access = AccessPolicy::new(&config.allowed_hosts, &config.allowed_origins)
        .map_err(ConfigError::from)?;
    let api_token = config.token.resolve()?;
    let secrets_key = config.secrets_key.load()?;
    if let (DbTarget::Postgres(_), secrets::KeySource::Made(path)) =
        (&config.db, &config.secrets_key)
    {
        tracing::warn!(file = %path.display(), "the secrets key is this node's own: every node of a cluster needs the same key, so give each the same --secrets-key-file");
    }
    let store = open_store(&config).await?;
    store.set_quota_defaults(config.space_quota_defaults());
    let secret_keeper = secrets::SecretKeeper::new(Arc::clone(&store), secrets_key);
    // Every task needs a pool slot: the dispatcher's runs, the registry's
    // compiles, and one for pre-initialisation.
    let max_instances =
        u32::try_from(config.max_concurrent + COMPILE_SLOTS + 1).unwrap_or(u32::MAX);
    // Bound before the sandbox is built: charms must never reach the
    // address it is bound to (port 0 becomes a port here).
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServiceError::Bind {
        addr: config.listen,
        source,
    })?;
    let sandbox = Sandbox::new(SandboxOptions {
        cache_dir: config.cache_dir.clone(),
        max_instances,
        runtime_override: config.runtime_override.clone(),
        perf_map: config.perf_map,
        reserved: control_plane(addr, &config.db).await,
    })
    .await?;
    let metrics = Arc::new(Metrics::new());
    let membership = Membership::join(Arc::clone(&store), Arc::clone(&metrics), config.node_ttl)
        .await
        .map_err(|source| ServiceError::Join {
            db: config.db.to_string(),
            source,
        })?;
    membership.rescue_once().await;
    let registry = Registry::new(
        Arc::clone(&store),
        sandbox.clone(),
        config.defaults.clone(),
        config.policy,
    )
    .with_ceilings(config.ceilings)
    .with_private_network(PrivateNetworkPolicy::new(config.private_hosts_for.clone()));
    let counters = Arc::new(RunCounters::default());

    // Written before the address file, which tells scripts the daemon is
    // up; removed when dropped, as `serve` returns.
    let _server_file = token::publish(api_token.as_deref(), addr, config.runtime_dir.as_deref());
    if let Some(path) = &config.addr_file {
        std::fs::write(path, addr.to_string()).map_err(|source| ServiceError::AddrFile {
            path: path.display().to_string(),
            source,
        })?;
    }

    let stop = CancellationToken::new();
    // The node keeps heart-beating while its runs drain, and stops after.
    let node_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(Arc::clone(&membership).heartbeat(node_stop.clone()));
    let rescue = tokio::spawn(Arc::clone(&membership).rescue(node_stop.clone()));
    let scheduler = tokio::spawn(run_scheduler(
        Arc::clone(&store),
        config.policy,
        stop.clone(),
    ));
    let alerts = alerts::Alerts::new(
        Arc::clone(&store),
        alerts::AlertSettings {
            channels: config.alert_channels.clone(),
            silent_intervals: config.alert_silent_intervals,
            dashboard_url: config
                .dashboard_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}")),
        },
    );
    let alerting = alerts.clone().spawn(stop.clone());
    let (finishers, finish_batch, claim_batch) = batching(&config);
    let dispatcher = Dispatcher {
        store: Arc::clone(&store),
        alerts,
        registry: registry.clone(),
        sandbox,
        policy: config.policy,
        metrics: Arc::clone(&metrics),
        counters: Arc::clone(&counters),
        max_concurrent: config.max_concurrent,
        max_events: config.max_events_per_run,
        record_bytes: config.record_bytes_per_run,
        node: membership.state(),
        secrets: secret_keeper.clone(),
        finisher: Finisher::spawn(Arc::clone(&store), finishers, finish_batch),
        claim_batch,
        // Two batches a finisher: the one being written and the next.
        finishing: finishing::Finishing::new(
            u32::try_from(2 * finishers * finish_batch).unwrap_or(u32::MAX),
        ),
        ready: ready_charms::ReadyCharms::new(config.charm_cache_mb << 20),
    }
    .spawn(stop.clone());
    let quota_watch = tokio::spawn(quotas::watch_quotas(
        Arc::clone(&store),
        Arc::clone(&metrics),
        stop.clone(),
    ));
    let maintenance = tokio::spawn(maintain(
        Arc::clone(&store),
        Arc::clone(&counters),
        config.clone(),
        stop.clone(),
    ));

    let app = api::router(
        AppState {
            registry,
            store: Arc::clone(&store),
            secrets: secret_keeper,
            metrics,
            tokens: Tokens::new(Arc::clone(&store), api_token.as_deref().map(Arc::from)),
            access: Arc::new(access),
            hooks: Arc::new(api::HookSettings::new(
                config.hook_auth,
                config.max_hook_body_bytes,
                config.hook_rate_per_minute,
                config.hook_headers.clone(),
            )),
        },
        config.max_body_bytes,
    );
    tracing::info!(%addr, db = %config.db, max_concurrent = config.max_concurrent, "charm-host is listening on http://{addr}");
    token::log_dashboard(&config.token, api_token.as_deref(), addr);
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: no new runs; waiting for runs in flight");
        signal_stop.cancel();
    });
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;

    let _ = scheduler.await;
    dispatcher.drain(config.shutdown_grace).await;
    node_stop.cancel();
    let _ = heartbeat.await;
    let _ = rescue.await;
    membership.leave().await;
    let _ = maintenance.await;
    let _ = quota_watch.await;
    let _ = alerting.await;
    store.close().await;
    tracing::info!(
        ok = counters.ok.load(Ordering::Relaxed),
        failed = counters.failed.load(Ordering::Relaxed),
        cancelled = counters.cancelled.load(Ordering::Relaxed),
        "charm-host stopped"
    );
    server.map_err(ServiceError::Serve)
}

/// Opens the database `config.db` names.
async fn open_store(config: &ServiceConfig) -> Result<Arc<dyn Store>, ServiceError> {
    let opened: Result<Arc<dyn Store>, StoreError> = match &config.db {
        DbTarget::Sqlite(path) => {
            if let Some(every) = config.sqlite_profile {
                charm_store::sqlite::profile::enable(every);
            }
            SqliteStore::open(path)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
        }
        DbTarget::Postgres(url) => {
            let options = PgOptions {
                max_connections: config.db_connections,
                ..PgOptions::default()
            };
            PgStore::connect(url, &options)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
        }
    };
    opened.map_err(|source| ServiceError::Store {
        db: config.db.to_string(),
        source,
    })
}

/// Runs `batch` (a store's pruning call that deletes at most
/// [`PRUNE_BATCH`] rows) until it deletes fewer, so each call holds its
/// locks briefly; logs how many went, as `done`.
async fn prune_in_batches<F, Fut>(what: &str, done: &str, stop: &CancellationToken, mut batch: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, charm_store::StoreError>>,
{
    let mut pruned = 0;
    while !stop.is_cancelled() {
        match batch().await {
            Ok(n) => {
                pruned += n;
                if n < u64::from(PRUNE_BATCH) {
                    break;
                }
            }
            Err(error) => {
                tracing::error!(%error, "pruning {what} failed");
                break;
            }
        }
    }
    if pruned > 0 {
        tracing::info!(pruned, "{done}");
    }
}

/// Runs `page` (a store's pruning call over one page of charms) from the
/// first page to the last, pausing [`PRUNE_PAUSE_FACTOR`] times each
/// page's time after it, and logs how many rows went and how long the
/// round took, as `done`.
async fn prune_by_pages<F, Fut>(what: &str, done: &str, stop: &CancellationToken, mut page: F)
where
    F: FnMut(Option<CharmId>) -> Fut,
    Fut: std::future::Future<Output = Result<charm_store::Pruned, StoreError>>,
{
    let started = std::time::Instant::now();
    let (mut pruned, mut after, mut pages) = (0, None::<CharmId>, 0u64);
    while !stop.is_cancelled() {
        let cursor = after.clone();
        let page_started = tokio::time::Instant::now();
        match page(after.take()).await {
            Ok(p) => {
                pruned += p.deleted;
                pages += 1;
                match p.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
                let pause = page_started.elapsed() * PRUNE_PAUSE_FACTOR;
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
            Err(error) => {
                // The round stops here; the next one starts again from the
                // first page.
                let after = cursor.as_ref().map(CharmId::as_str);
                tracing::error!(%error, after, pages, "pruning {what} failed");
                break;
            }
        }
    }
    let took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if pruned > 0 {
        tracing::info!(pruned, pages, took_ms, "{done}");
    } else {
        tracing::debug!(pages, took_ms, "{done}: none to prune");
    }
}

/// Deletes finished runs beyond `keep` per charm, state versions beyond
/// `keep_states` per charm, and acknowledged events older than the
/// idempotency window.
async fn prune(store: &dyn Store, config: &ServiceConfig, stop: &CancellationToken) {
    let keep = config.keep_runs;
    prune_by_pages("old runs", "pruned old runs", stop, |after| async move {
        store.prune_runs(keep, after.as_ref(), PRUNE_PAGE).await
    })
    .await;
    let keep = config.keep_state_versions;
    prune_by_pages(
        "old state versions",
        "pruned old state versions",
        stop,
        |after| async move {
            store
                .prune_state_versions(keep, after.as_ref(), PRUNE_PAGE)
                .await
        },
    )
    .await;
    let window = i64::try_from(config.idempotency_window.as_millis()).unwrap_or(i64::MAX);
    prune_in_batches(
        "old events",
        "forgot acknowledged events past the idempotency window",
        stop,
        || async move {
            let before = store.now_ms().await?.saturating_sub(window);
            store.prune_events(before, PRUNE_BATCH).await
        },
    )
    .await;
}

/// Prunes old runs and logs a summary line now and then.
async fn maintain(
    store: Arc<dyn Store>,
    counters: Arc<RunCounters>,
    config: ServiceConfig,
    stop: CancellationToken,
) {
    let mut summary = tokio::time::interval(config.summary_interval);
    // A prune round (paced, so it may outlast a summary interval) holds up
    // the summary. The late one then fires once when the round ends and
    // the next one interval after it; the default would fire one for each
    // interval missed.
    summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Nodes prune at different times: each interval is the setting, give
    // or take a tenth.
    let every = config.prune_interval;
    let jitter = every / 10;
    let mut next_prune = tokio::time::Instant::now() + jitter.mul_f64(fastrand::f64());
    summary.tick().await;
    let (mut last_ok, mut last_failed) = (0, 0);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = summary.tick() => {
                let (ok, failed) = (counters.ok.load(Ordering::Relaxed), counters.failed.load(Ordering::Relaxed));
                match store.counts().await {
                    Ok(c) => tracing::info!(
                        runs_ok = ok - last_ok,
                        runs_failed = failed - last_failed,
                        queued = c.queued,
                        running = c.running,
                        charms_enabled = c.enabled,
                        charms_disabled = c.disabled,
                        "summary"
                    ),
                    Err(error) => tracing::error!(%error, "could not read counts for the summary"),
                }
                (last_ok, last_failed) = (ok, failed);
            }
            _ = tokio::time::sleep_until(next_prune) => {
                prune(&*store, &config, &stop).await;
                next_prune = tokio::time::Instant::now() + every - jitter
                    + (jitter * 2).mul_f64(fastrand::f64());
            }
        }
    }
}

/// How the node batches its writes, by store: `(finishers, runs per
/// finish batch, runs per claim)`. Every free slot is claimed in one
/// statement on both (up to [`dispatcher::MAX_CLAIM_BATCH`]), and a
/// finisher takes up to [`finisher::MAX_BATCH`] waiting runs. SQLite has
/// one writer: one finisher, a commit per batch. On PostgreSQL commits
/// overlap, so [`PG_FINISHERS`] finishers (at most half the connections),
/// each batch one transaction for its known finishes.
fn batching(config: &ServiceConfig) -> (usize, usize, usize) {
    match config.db {
        DbTarget::Sqlite(_) => (1, finisher::MAX_BATCH, dispatcher::MAX_CLAIM_BATCH),
        DbTarget::Postgres(_) => {
            let half = usize::try_from(config.db_connections / 2).unwrap_or(1);
            (
                PG_FINISHERS.min(half).max(1),
                finisher::MAX_BATCH,
                dispatcher::MAX_CLAIM_BATCH,
            )
        }
    }
}

/// Finishers on PostgreSQL. Fewer finishers make larger batches (fewer
/// statements a run); more overlap their commits. Measured at 3,000
/// trivial charms every second on this 2-core machine (15 s windows, in
/// turns, issue 18): 1 finisher 1,431 and 1,216 runs/s; 2, 1,474, 1,898
/// and 1,925; 3, 1,790 and 1,922; 5, 1,663, 1,424 and 1,255. (Before
/// batches there were 4, half the default connections, one run each.)
const PG_FINISHERS: usize = 2;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_api_and_the_database_are_closed_to_charms() {
        let api: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let db = DbTarget::Postgres("postgres://charm@127.0.0.1:5433/charms".into());
        let reserved = control_plane(api, &db).await;
        let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(reserved.serves(lo, 8080), Some("this daemon's API"));
        assert_eq!(reserved.serves(lo, 5433), Some("this daemon's database"));
        assert_eq!(reserved.serves(lo, 9000), None);
        let sqlite = control_plane(api, &DbTarget::Sqlite("x.db".into())).await;
        assert_eq!(sqlite.serves(lo, 5433), None);
    }

    /// A round of `pages` pages of 10 ms each, on tokio's paused clock:
    /// how long it took, and how many pages it read.
    async fn paced_round(pages: u64, stop: &CancellationToken) -> (Duration, u64) {
        let read = std::sync::atomic::AtomicU64::new(0);
        let started = tokio::time::Instant::now();
        prune_by_pages("test rows", "pruned test rows", stop, |_after| {
            let n = read.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let next = (n < pages)
                    .then(|| CharmId::parse(&format!("{n:032x}")))
                    .flatten();
                Ok(charm_store::Pruned { deleted: 1, next })
            }
        })
        .await;
        (started.elapsed(), read.load(Ordering::Relaxed))
    }

    #[tokio::test(start_paused = true)]
    async fn a_prune_round_pauses_three_times_each_page_between_pages() {
        let (took, pages) = paced_round(3, &CancellationToken::new()).await;
        assert_eq!(pages, 3);
        // Three pages of 10 ms, a 30 ms pause after each but the last.
        assert_eq!(took, Duration::from_millis(3 * 10 + 2 * 30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_ends_a_prune_round_during_its_pause() {
        let stop = CancellationToken::new();
        let stopper = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(15)).await;
            stopper.cancel();
        });
        let (took, pages) = paced_round(100, &stop).await;
        assert_eq!(pages, 1, "the pause after the first page was cut short");
        assert_eq!(took, Duration::from_millis(15));
    }
}
