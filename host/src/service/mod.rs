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
//! Start: open the store (migrations), build the sandbox, mark runs left
//! running by a previous process as interrupted (and re-queue them), bind the
//! listener, then start the scheduler, the dispatcher, the maintenance task
//! (pruning, summary line) and the HTTP server.
//!
//! Stop (on the `shutdown` future, e.g. SIGTERM): stop scheduling and
//! claiming, stop accepting HTTP requests, let runs in flight finish within
//! the grace period, cancel the rest (recorded as cancelled), close the store.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use charm_engine::{Sandbox, SandboxError, SandboxOptions};
use charm_store::sqlite::SqliteStore;
use charm_store::{Store, StoreError, Trigger};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AccessPolicy, AppState};
use crate::token::{self, TokenError};

mod clock;
mod config;
mod dispatcher;
mod metrics;
pub mod policy;
mod registry;
mod scheduler;
mod stats;

pub use config::{
    check_path, ConfigError, ServiceConfig, DEFAULT_KEEP_RUNS, DEFAULT_LISTEN,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_SHUTDOWN_GRACE_MS,
    DEFAULT_SUMMARY_INTERVAL_S,
};
pub use dispatcher::RunCounters;
pub use metrics::Metrics;
pub use policy::SchedulePolicy;
pub use registry::{charm_id, CharmChanges, CharmSpec, Registry, RegistryError, COMPILE_SLOTS};
pub use stats::{minute_stats, MinuteStats};

use dispatcher::Dispatcher;
use scheduler::run_scheduler;

/// How often old runs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

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
    /// The listen address could not be bound.
    #[error("cannot listen on {addr} (--listen): {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database `{path}` (--db): {source}")]
    Store {
        /// The file.
        path: String,
        /// Why.
        source: StoreError,
    },
    /// Recovering interrupted runs failed.
    #[error("cannot recover runs interrupted by the previous process: {0}")]
    Recover(StoreError),
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
    let store: Arc<dyn Store> = match SqliteStore::open(&config.db).await {
        Ok(store) => Arc::new(store),
        Err(source) => {
            return Err(ServiceError::Store {
                path: config.db.display().to_string(),
                source,
            })
        }
    };
    // Every task needs a pool slot: the dispatcher's runs, the registry's
    // compiles, and one for pre-initialisation.
    let max_instances =
        u32::try_from(config.max_concurrent + COMPILE_SLOTS + 1).unwrap_or(u32::MAX);
    let sandbox = Sandbox::new(SandboxOptions {
        cache_dir: config.cache_dir.clone(),
        max_instances,
        runtime_override: config.runtime_override.clone(),
        perf_map: config.perf_map,
    })
    .await?;
    let interrupted = store
        .rescue_interrupted_runs(policy::priority(Trigger::Recovery))
        .await
        .map_err(ServiceError::Recover)?;
    if !interrupted.is_empty() {
        tracing::warn!(
            runs = interrupted.len(),
            "found runs interrupted by the previous process; recorded them and queued retries"
        );
    }
    let registry = Registry::new(
        Arc::clone(&store),
        sandbox.clone(),
        config.defaults.clone(),
        config.policy,
    );
    let metrics = Arc::new(Metrics::new());
    let counters = Arc::new(RunCounters::default());
    let wake = Arc::new(Notify::new());

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
    let scheduler = tokio::spawn(run_scheduler(
        Arc::clone(&store),
        config.policy,
        Arc::clone(&wake),
        stop.clone(),
    ));
    let dispatcher = Dispatcher {
        store: Arc::clone(&store),
        registry: registry.clone(),
        sandbox,
        policy: config.policy,
        metrics: Arc::clone(&metrics),
        counters: Arc::clone(&counters),
        max_concurrent: config.max_concurrent,
        wake: Arc::clone(&wake),
    }
    .spawn(stop.clone());
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
            metrics,
            token: api_token.as_deref().map(Arc::from),
            access: Arc::new(access),
        },
        config.max_body_bytes,
    );
    tracing::info!(%addr, db = %config.db.display(), max_concurrent = config.max_concurrent, "charm-host is listening on http://{addr}");
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
    let _ = maintenance.await;
    store.close().await;
    tracing::info!(
        ok = counters.ok.load(Ordering::Relaxed),
        failed = counters.failed.load(Ordering::Relaxed),
        cancelled = counters.cancelled.load(Ordering::Relaxed),
        "charm-host stopped"
    );
    server.map_err(ServiceError::Serve)
}

/// Prunes old runs and logs a summary line now and then.
async fn maintain(
    store: Arc<dyn Store>,
    counters: Arc<RunCounters>,
    config: ServiceConfig,
    stop: CancellationToken,
) {
    let mut summary = tokio::time::interval(config.summary_interval);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
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
            _ = prune.tick() => match store.prune_runs(config.keep_runs).await {
                Ok(0) => {}
                Ok(pruned) => tracing::info!(pruned, keep = config.keep_runs, "pruned old runs"),
                Err(error) => tracing::error!(%error, "pruning old runs failed"),
            },
        }
    }
}
