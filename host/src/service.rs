//! `charm-host serve`: wires the store, sandbox, registry, scheduler, queue
//! and API into one process, and takes it down in order.
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
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::limits::SandboxLimits;
use crate::metrics::Metrics;
use crate::queue::{Dispatcher, RunCounters};
use crate::registry::Registry;
use crate::sandbox::{Sandbox, SandboxError, SandboxOptions};
use crate::scheduler::{run_scheduler, SchedulePolicy};
use crate::store::{Store, StoreError};

/// How often old runs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Everything `serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    pub db: PathBuf,
    pub cache_dir: Option<PathBuf>,
    pub token: Option<String>,
    pub max_concurrent: usize,
    pub defaults: SandboxLimits,
    pub policy: SchedulePolicy,
    /// Finished runs kept per charm.
    pub keep_runs: u32,
    pub shutdown_grace: Duration,
    pub summary_interval: Duration,
    pub max_body_bytes: usize,
    /// Where to write the bound address (useful with port 0).
    pub addr_file: Option<PathBuf>,
}

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("refusing to listen on {0} without a token: set --token (or CHARM_HOST_TOKEN), or listen on a loopback address")]
    Insecure(SocketAddr),
    #[error("the token must not be empty")]
    EmptyToken,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl ServiceConfig {
    /// Checks settings that depend on each other.
    ///
    /// # Errors
    /// [`ServiceError::Insecure`] for a non-loopback address without a token.
    pub fn validate(&self) -> Result<(), ServiceError> {
        if self.token.as_deref() == Some("") {
            return Err(ServiceError::EmptyToken);
        }
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(ServiceError::Insecure(self.listen));
        }
        Ok(())
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
    let store = Store::open(&config.db).await?;
    // Every task needs a pool slot: the dispatcher's runs, the registry's
    // compiles, and one for pre-initialisation.
    let max_instances = u32::try_from(config.max_concurrent + crate::registry::COMPILE_SLOTS + 1)
        .unwrap_or(u32::MAX);
    let sandbox = Sandbox::new(SandboxOptions {
        cache_dir: config.cache_dir.clone(),
        max_instances,
    })
    .await?;
    let interrupted = store.recover_interrupted().await?;
    if !interrupted.is_empty() {
        tracing::warn!(
            runs = interrupted.len(),
            "found runs interrupted by the previous process; recorded them and queued retries"
        );
    }
    let registry = Registry::new(
        store.clone(),
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
    let addr = listener.local_addr()?;
    if let Some(path) = &config.addr_file {
        std::fs::write(path, addr.to_string())?;
    }

    let stop = CancellationToken::new();
    let scheduler = tokio::spawn(run_scheduler(
        store.clone(),
        config.policy,
        Arc::clone(&wake),
        stop.clone(),
    ));
    let dispatcher = Dispatcher {
        store: store.clone(),
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
        store.clone(),
        Arc::clone(&counters),
        config.clone(),
        stop.clone(),
    ));

    let app = api::router(
        AppState {
            registry,
            store: store.clone(),
            metrics,
            token: config.token.as_deref().map(Arc::from),
        },
        config.max_body_bytes,
    );
    tracing::info!(%addr, db = %config.db.display(), max_concurrent = config.max_concurrent, "charm-host is listening on http://{addr}");
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
    server.map_err(ServiceError::Io)
}

/// Prunes old runs and logs a summary line now and then.
async fn maintain(
    store: Store,
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
