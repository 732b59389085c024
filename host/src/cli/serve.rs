//! `charm-host serve`: the background service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::flags::{CacheArgs, LimitArgs};
use super::Exit;
use crate::api::DEFAULT_MAX_BODY_BYTES;
use crate::queue::DEFAULT_MAX_CONCURRENT;
use crate::scheduler::{SchedulePolicy, DEFAULT_MAX_BACKOFF_S, DEFAULT_MAX_FAILURES};
use crate::service::{serve, ServiceConfig, ServiceError};

/// Arguments of `charm-host serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the HTTP API. A non-loopback address needs --token.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = "127.0.0.1:8080",
        env = "CHARM_HOST_LISTEN"
    )]
    listen: SocketAddr,

    /// Directory for the database and the compiled-runtime cache. Default:
    /// $XDG_DATA_HOME/charm-host, else ~/.local/share/charm-host.
    #[arg(long, value_name = "DIR", env = "CHARM_HOST_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// The SQLite database file. Default: DATA_DIR/charm-host.db.
    #[arg(long, value_name = "PATH", env = "CHARM_HOST_DB")]
    db: Option<PathBuf>,

    /// Bearer token required on every /api request. Without one the service
    /// only listens on loopback.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CHARM_HOST_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// Runs in flight at once (a run waiting on fetch holds a slot, not a thread).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT)]
    max_concurrent: usize,

    /// Consecutive failures after which a charm is disabled.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FAILURES)]
    max_failures: u32,

    /// Longest backoff after failures, in seconds (never below a charm's interval).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_BACKOFF_S)]
    max_backoff_s: u64,

    /// Finished runs kept per charm; older ones are pruned.
    #[arg(long, value_name = "N", default_value_t = 200)]
    keep_runs: u32,

    /// On SIGTERM/SIGINT, how long runs in flight may take to finish before
    /// they are cancelled, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    shutdown_grace_ms: u64,

    /// Seconds between summary log lines.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    summary_interval_s: u64,

    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,

    /// Write the bound address to this file once listening (for port 0).
    #[arg(long, value_name = "PATH")]
    addr_file: Option<PathBuf>,

    /// The default limits of charms (a charm may override them).
    #[command(flatten)]
    limits: LimitArgs,

    #[command(flatten)]
    cache: CacheArgs,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("charm-host")
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the service");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Runs the service until a signal stops it.
pub async fn execute(args: ServeArgs) -> Exit {
    let defaults = match args.limits.to_limits() {
        Ok(limits) => limits,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    let cache_dir = if args.cache.no_cache {
        None
    } else {
        Some(
            args.cache
                .cache_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("cache")),
        )
    };
    let config = ServiceConfig {
        listen: args.listen,
        db: args.db.unwrap_or_else(|| data_dir.join("charm-host.db")),
        cache_dir,
        token: args.token,
        max_concurrent: args.max_concurrent.max(1),
        defaults,
        policy: SchedulePolicy {
            max_failures: args.max_failures.max(1),
            max_backoff_s: args.max_backoff_s,
        },
        keep_runs: args.keep_runs.max(1),
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        summary_interval: Duration::from_secs(args.summary_interval_s.max(1)),
        max_body_bytes: args.max_body_bytes.max(1024),
        addr_file: args.addr_file,
    };
    match serve(config, shutdown_signal()).await {
        Ok(()) => Exit::Success,
        Err(e @ (ServiceError::Insecure(_) | ServiceError::EmptyToken)) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::HostFailure
        }
    }
}
