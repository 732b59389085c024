//! `charm-host serve`: the background service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::flags::{LimitArgs, SpaceQuotaArgs};
use super::{CliError, CliResult, Exit};
use crate::api::{
    HookAuth, DEFAULT_HOOK_HEADERS, DEFAULT_HOOK_RATE_PER_MINUTE, DEFAULT_MAX_HOOK_BODY_BYTES,
};
use crate::service::alerts::{Channel, ChannelFormat, DEFAULT_SILENT_INTERVALS};
use crate::service::policy::{
    DEFAULT_MAX_BACKOFF_S, DEFAULT_MAX_EVENTS_PER_RUN, DEFAULT_MAX_FAILURES,
    DEFAULT_MAX_REQUESTED_NEXT_S, DEFAULT_MIN_REQUESTED_NEXT_S, DEFAULT_PENALTY_AFTER_RUNS,
    DEFAULT_PENALTY_FACTOR, DEFAULT_PENALTY_PERCENT,
};
use crate::service::secrets::{KeySource, KEY_FILE};
use crate::service::LimitCeilings;
use crate::service::{
    check_path, serve, DbTarget, SchedulePolicy, ServiceConfig, DEFAULT_CHARM_CACHE_MB,
    DEFAULT_IDEMPOTENCY_WINDOW_S, DEFAULT_KEEP_RUNS, DEFAULT_KEEP_STATE_VERSIONS, DEFAULT_LISTEN,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_CONCURRENT, DEFAULT_NODE_TTL_MS, DEFAULT_PRUNE_INTERVAL_S,
    DEFAULT_SHUTDOWN_GRACE_MS, DEFAULT_SUMMARY_INTERVAL_S,
};
use crate::token::{TokenSetting, TOKEN_FILE};

/// Arguments of `charm-host serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address for the HTTP API. A non-loopback address refuses --no-token.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        default_value = DEFAULT_LISTEN,
        env = "CHARM_HOST_LISTEN"
    )]
    listen: SocketAddr,

    /// Directory for the database and the compiled-runtime cache. Default:
    /// $XDG_DATA_HOME/charm-host, else ~/.local/share/charm-host.
    #[arg(long, value_name = "DIR", env = "CHARM_HOST_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// The database: a SQLite file (a path, or `sqlite:PATH`; one node), or
    /// PostgreSQL shared by several nodes (`postgres://USER@HOST:PORT/DB`).
    /// Default: DATA_DIR/charm-host.db.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "CHARM_HOST_DB",
        hide_env_values = true
    )]
    db: Option<String>,

    /// PostgreSQL connections this node opens for its work (it opens one
    /// more to listen for wake-ups). Unused with SQLite.
    #[arg(long, value_name = "N", default_value_t = charm_store::postgres::DEFAULT_MAX_CONNECTIONS)]
    db_connections: u32,

    /// How long a node may stay silent before the others rescue its runs,
    /// in milliseconds. It heartbeats every fifth of this, and stops
    /// claiming and drops its runs after seven tenths without a heartbeat.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_NODE_TTL_MS)]
    node_ttl_ms: u64,

    /// Bearer token required on every /api request. Default: the token in
    /// DATA_DIR/api-token, made on first start (32 random bytes, mode 0600)
    /// and kept; `charm-host charms` on this machine finds it by itself.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "CHARM_HOST_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,

    /// A file holding the key that seals charms' secrets: 32 bytes, raw or
    /// as 64 hex digits (`openssl rand -hex 32`); it must exist. Default:
    /// DATA_DIR/secrets-key, made on first start (mode 0600) and kept.
    /// Every node of a cluster needs the same key.
    #[arg(long, value_name = "PATH", env = "CHARM_HOST_SECRETS_KEY_FILE")]
    secrets_key_file: Option<PathBuf>,

    /// Serve the API without a token (loopback only): every user and
    /// process on this machine can then use it. No environment variable, so
    /// that a stray one cannot turn authentication off.
    #[arg(long)]
    no_token: bool,

    /// A host name to answer to besides IP addresses, localhost and
    /// *.localhost, such as a reverse proxy's name or this machine's name on
    /// your network; on any port. Repeat, or separate with commas. Requests
    /// naming any other host get 403 (a guard against DNS rebinding).
    #[arg(
        long = "allowed-host",
        value_name = "NAME",
        env = "CHARM_HOST_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,

    /// A web origin (scheme://host[:port]) whose pages may change charms
    /// and get CORS headers. Repeat, or separate with commas. By default
    /// only the dashboard's own origin may, and no CORS header is sent.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "CHARM_HOST_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,

    /// A space whose charms may reach loopback, private and link-local
    /// addresses (exact allow-list entries) although a space token set
    /// their allow-list. Repeat, or separate with commas. By default only an
    /// operator token grants those. The daemon's own addresses stay closed.
    #[arg(
        long = "allow-private-hosts-for",
        value_name = "SPACE",
        env = "CHARM_HOST_ALLOW_PRIVATE_HOSTS_FOR",
        value_delimiter = ','
    )]
    allow_private_hosts_for: Vec<String>,

    /// Runs in flight at once (a run waiting on fetch holds a slot, not a thread).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONCURRENT)]
    max_concurrent: usize,

    /// MiB of charms kept prepared between their runs (compiled, limits
    /// parsed), by the charm's revision: about 800 trivial charms a MiB. A
    /// charm not kept is read from the store before its run. Size it to
    /// the charms this node runs within their interval.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_CHARM_CACHE_MB)]
    charm_cache_mb: u64,

    /// Consecutive failures after which a charm is disabled.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_FAILURES)]
    max_failures: u32,

    /// Longest backoff after failures, in seconds (never below a charm's interval).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_BACKOFF_S)]
    max_backoff_s: u64,

    /// The soonest next run a charm may ask for with ctx.scheduleNext, in
    /// seconds (sooner requests are raised to it).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MIN_REQUESTED_NEXT_S)]
    min_requested_next_s: u64,

    /// The latest next run a charm may ask for with ctx.scheduleNext, in
    /// seconds (later requests are lowered to it).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_MAX_REQUESTED_NEXT_S)]
    max_requested_next_s: u64,

    /// A run is heavy when it uses at least this percentage of its fuel or
    /// time limit (or runs out of either).
    #[arg(long, value_name = "PERCENT", default_value_t = DEFAULT_PENALTY_PERCENT)]
    penalty_percent: u32,

    /// Heavy runs in a row that put a charm in the penalty box (its
    /// interval stretched until a run is not heavy); 0 turns it off.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PENALTY_AFTER_RUNS)]
    penalty_after_runs: u32,

    /// How many times its interval a charm in the penalty box waits.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PENALTY_FACTOR)]
    penalty_factor: u32,

    /// The most fuel a charm may set in its limits (default: the engine's
    /// maximum). A charm over it is refused; one stored before runs at it.
    #[arg(long, value_name = "N")]
    ceiling_fuel: Option<u64>,

    /// The most memory, in MiB, a charm may set in its limits (default: 4096).
    #[arg(long, value_name = "MIB")]
    ceiling_memory_mb: Option<u64>,

    /// The longest time limit, in ms, a charm may set (default: an hour).
    #[arg(long, value_name = "MS")]
    ceiling_timeout_ms: Option<u64>,

    /// Finished runs kept per charm; older ones are pruned.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KEEP_RUNS)]
    keep_runs: u32,

    /// Versions of each charm's state kept, the current one included; older
    /// ones are pruned (they are what `charms rollback` can go back to).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_KEEP_STATE_VERSIONS)]
    keep_state_versions: u32,
    /// Seconds between prunings of old runs and acknowledged events (each
    /// node prunes within a tenth of this of the others).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_PRUNE_INTERVAL_S)]
    prune_interval_s: u64,

    /// Bytes each run's recording keeps at most (clock readings, fetch
    /// request lines and response bodies; see `charm-host runs export`):
    /// a body past the cap is kept as its length only, marked truncated.
    /// 0 records nothing.
    #[arg(long, value_name = "BYTES", default_value_t = charm_engine::DEFAULT_RECORD_BYTES)]
    record_bytes_per_run: u64,

    /// Inbox events one run is given at most (`ctx.events`); more wait for
    /// the next run, queued at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_EVENTS_PER_RUN)]
    max_events_per_run: u32,

    /// How long an acknowledged event, and so its idempotency key, is
    /// remembered, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_IDEMPOTENCY_WINDOW_S)]
    idempotency_window_s: u64,

    /// How webhook deliveries prove themselves: `signature` (HMAC-SHA256
    /// of timestamp and body with the charm's hook secret) or `path` (the
    /// secret as the URL's last segment).
    #[arg(long, value_enum, default_value = "signature")]
    hook_auth: HookAuth,

    /// The largest webhook body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_HOOK_BODY_BYTES)]
    max_hook_body_bytes: usize,

    /// Webhook deliveries a minute per charm (bursts up to a tenth of it);
    /// more get 429 with Retry-After.
    #[arg(long, value_name = "PER_MINUTE", default_value_t = DEFAULT_HOOK_RATE_PER_MINUTE)]
    hook_rate: u32,

    /// A request header kept with each webhook delivery (in the event's
    /// `headers`); repeatable. Default: content-type, user-agent,
    /// x-github-event, x-request-id.
    #[arg(long = "hook-header", value_name = "NAME")]
    hook_headers: Vec<String>,

    /// Send alerts (a charm failing, disabled, recovered, silent) as JSON
    /// to this URL; repeatable.
    #[arg(long = "alert-webhook", value_name = "URL", value_parser = alert_url)]
    alert_webhooks: Vec<url::Url>,

    /// Send alerts as Slack-compatible `{"text": ...}` to this incoming
    /// webhook URL; repeatable.
    #[arg(long = "alert-slack", value_name = "URL", value_parser = alert_url)]
    alert_slack: Vec<url::Url>,

    /// A charm on an interval with no successful run for this many of its
    /// intervals is silent (one alert).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SILENT_INTERVALS)]
    alert_silent_intervals: u32,

    /// The dashboard's address as people reach it, for links in alerts.
    /// Default: http://LISTEN.
    #[arg(long, value_name = "URL", value_parser = alert_url)]
    dashboard_url: Option<url::Url>,

    /// On SIGTERM/SIGINT, how long runs in flight may take to finish before
    /// they are cancelled, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = DEFAULT_SHUTDOWN_GRACE_MS)]
    shutdown_grace_ms: u64,

    /// Seconds between summary log lines.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_SUMMARY_INTERVAL_S)]
    summary_interval_s: u64,

    /// Every this many seconds, log where SQLite's write connection spent
    /// its time, statement by statement (1 to 3600; 0, the default, logs
    /// nothing). SQLite only.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    sqlite_profile_s: u64,

    /// Largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,

    /// Write the bound address to this file once listening (for port 0).
    #[arg(long, value_name = "PATH")]
    addr_file: Option<PathBuf>,

    /// The default limits of charms (a charm may override them).
    #[command(flatten)]
    limits: LimitArgs,

    /// The default quotas of spaces (the operator may override them per
    /// space).
    #[command(flatten)]
    quotas: SpaceQuotaArgs,

    /// Directory for the compiled runtime (about 10 MB). Default:
    /// DATA_DIR/cache.
    #[arg(long, value_name = "DIR", env = "CHARM_HOST_CACHE_DIR")]
    cache_dir: Option<PathBuf>,

    /// Do not read or write the cache: compile the runtime in this process
    /// (about two seconds).
    #[arg(long)]
    no_cache: bool,
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
pub async fn execute(args: ServeArgs) -> CliResult {
    let defaults = args.limits.to_limits().map_err(CliError::usage)?;
    let data_dir = match args.data_dir {
        Some(dir) => {
            check_path("--data-dir", &dir).map_err(CliError::usage)?;
            dir
        }
        None => default_data_dir(),
    };
    let cache_dir = match (args.no_cache, args.cache_dir) {
        (true, _) => None,
        (false, Some(dir)) => Some(dir),
        (false, None) => Some(data_dir.join("cache")),
    };
    let token = match (args.token, args.no_token) {
        (Some(_), true) => {
            return Err(CliError::usage(
                "--no-token conflicts with --token (or CHARM_HOST_TOKEN, if it is set): give one of them",
            ))
        }
        (Some(token), false) => TokenSetting::Given(token),
        (None, true) => TokenSetting::Off,
        (None, false) => TokenSetting::File(data_dir.join(TOKEN_FILE)),
    };
    let secrets_key = match args.secrets_key_file {
        Some(path) => KeySource::Given(path),
        None => KeySource::Made(data_dir.join(KEY_FILE)),
    };
    let db = match args.db {
        Some(db) => DbTarget::parse(&db).map_err(CliError::usage)?,
        None => DbTarget::Sqlite(data_dir.join("charm-host.db")),
    };
    let config = ServiceConfig {
        listen: args.listen,
        db,
        db_connections: args.db_connections,
        node_ttl: Duration::from_millis(args.node_ttl_ms),
        cache_dir,
        runtime_override: super::runtime_override(),
        token,
        secrets_key,
        allowed_hosts: args.allowed_hosts,
        allowed_origins: args.allowed_origins,
        private_hosts_for: args.allow_private_hosts_for,
        runtime_dir: super::runtime_dir(),
        max_concurrent: args.max_concurrent,
        charm_cache_mb: args.charm_cache_mb,
        defaults,
        ceilings: {
            let most = LimitCeilings::default();
            LimitCeilings {
                fuel: args.ceiling_fuel.unwrap_or(most.fuel),
                memory_mb: args.ceiling_memory_mb.unwrap_or(most.memory_mb),
                timeout_ms: args.ceiling_timeout_ms.unwrap_or(most.timeout_ms),
            }
        },
        policy: SchedulePolicy {
            max_failures: args.max_failures,
            max_backoff_s: args.max_backoff_s,
            min_requested_next_s: args.min_requested_next_s,
            max_requested_next_s: args.max_requested_next_s,
            penalty_percent: args.penalty_percent,
            penalty_after_runs: args.penalty_after_runs,
            penalty_factor: args.penalty_factor,
        },
        keep_runs: args.keep_runs,
        keep_state_versions: args.keep_state_versions,
        space_quota: args.quotas.to_quota(),
        prune_interval: Duration::from_secs(args.prune_interval_s),
        max_events_per_run: args.max_events_per_run,
        record_bytes_per_run: args.record_bytes_per_run,
        idempotency_window: Duration::from_secs(args.idempotency_window_s),
        hook_auth: args.hook_auth,
        max_hook_body_bytes: args.max_hook_body_bytes,
        hook_rate_per_minute: args.hook_rate,
        alert_channels: args
            .alert_webhooks
            .into_iter()
            .enumerate()
            .map(|(i, url)| Channel::new(i + 1, url, ChannelFormat::Json))
            .chain(
                args.alert_slack
                    .into_iter()
                    .enumerate()
                    .map(|(i, url)| Channel::new(i + 1, url, ChannelFormat::Slack)),
            )
            .collect(),
        alert_silent_intervals: args.alert_silent_intervals,
        dashboard_url: args.dashboard_url.map(|u| u.to_string()),
        hook_headers: if args.hook_headers.is_empty() {
            DEFAULT_HOOK_HEADERS.iter().map(|h| h.to_string()).collect()
        } else {
            args.hook_headers
        },
        shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
        summary_interval: Duration::from_secs(args.summary_interval_s),
        sqlite_profile: (args.sqlite_profile_s > 0)
            .then(|| Duration::from_secs(args.sqlite_profile_s)),
        max_body_bytes: args.max_body_bytes,
        addr_file: args.addr_file,
        perf_map: super::perf_map(),
    };
    match serve(config, shutdown_signal()).await {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.is_usage() => Err(CliError::usage(e)),
        Err(e) => Err(CliError::host(e)),
    }
}

/// An alert receiver or dashboard address: an `http` or `https` URL with a
/// host, nothing else (a path is refused, not taken for a URL).
fn alert_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| {
        format!("`{text}` is not a URL ({e}); give http://HOST/PATH or https://...")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("`{text}` must be an http or https URL with a host"));
    }
    Ok(url)
}
