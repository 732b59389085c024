//! What `charm-host serve` is configured with, and the one place its
//! settings are checked.
//!
//! Every default is a named constant here (or the engine's limit defaults),
//! and [`ServiceConfig::validate`] refuses a bad value with the flag that set
//! it rather than changing it: a service that silently runs with other
//! settings than the operator gave is worse than one that does not start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use charm_engine::limits::SandboxLimits;
use charm_store::postgres;

use super::alerts::Channel;
use super::node::{MAX_NODE_TTL_MS, MIN_NODE_TTL_MS};
use super::policy::SchedulePolicy;
use super::registry::LimitCeilings;
use super::secrets::KeySource;
use crate::api::{AccessError, AccessPolicy, HookAuth};
use crate::token::{check_token, TokenSetting};

/// Default API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default bound on runs in flight.
pub const DEFAULT_MAX_CONCURRENT: usize = 64;
/// The most runs in flight accepted: each holds an instance-pool slot,
/// a reservation of address space for up to 4 GiB of guest memory.
pub const MAX_CONCURRENT: usize = 4096;
/// `--charm-cache-mb`: MiB of prepared charms kept, about 200,000
/// trivial ones (twice issue 18's 100,000 charms a minute on one node).
pub const DEFAULT_CHARM_CACHE_MB: u64 = 256;
/// The most `--charm-cache-mb` takes: 1 TiB.
pub const MAX_CHARM_CACHE_MB: u64 = 1 << 20;
/// Default number of finished runs kept per charm.
pub const DEFAULT_KEEP_RUNS: u32 = 200;
/// Default versions of each charm's state kept (`--keep-state-versions`).
pub const DEFAULT_KEEP_STATE_VERSIONS: u32 = 20;
/// Default time between prunings of old runs and events, in seconds.
pub const DEFAULT_PRUNE_INTERVAL_S: u64 = 600;
/// Default time an acknowledged event (and so its idempotency key) is
/// kept, in seconds: a day.
pub const DEFAULT_IDEMPOTENCY_WINDOW_S: u64 = 24 * 3600;
/// The most events one run may be given.
pub const MAX_EVENTS_PER_RUN: u32 = 10_000;
/// The largest `--record-bytes-per-run`: 64 MiB, kept per run beside its record.
pub const MAX_RECORD_BYTES_PER_RUN: u64 = 64 * 1024 * 1024;
/// Default time for runs in flight at shutdown, in ms.
pub const DEFAULT_SHUTDOWN_GRACE_MS: u64 = 10_000;
/// Default seconds between summary log lines.
pub const DEFAULT_SUMMARY_INTERVAL_S: u64 = 60;
/// Default limit on request bodies, in bytes: a charm's source (1 MiB)
/// plus room.
pub const DEFAULT_MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The smallest body limit accepted, in bytes: below this not even a small
/// charm can be registered.
pub const MIN_BODY_BYTES: usize = 1024;
/// The largest body limit accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024 * 1024;
/// The most database connections a node may open (`--db-connections`).
pub const MAX_DB_CONNECTIONS: u32 = 100;

/// Where the service keeps its data (`--db`).
#[derive(Clone, PartialEq, Eq)]
pub enum DbTarget {
    /// A SQLite file: one node (the default, `DATA_DIR/charm-host.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL database shared by several nodes
    /// (`postgres://USER@HOST:PORT/DB`).
    Postgres(String),
}

impl DbTarget {
    /// Reads `--db`: a `postgres://` or `postgresql://` URL, a `sqlite:`
    /// path, or a plain path.
    ///
    /// # Errors
    /// A URL that does not parse, or one of another scheme.
    pub fn parse(text: &str) -> Result<DbTarget, ConfigError> {
        if postgres::is_url(text) {
            postgres::check_url(text).map_err(|why| ConfigError::BadDbUrl {
                url: postgres::redact(text),
                why,
            })?;
            return Ok(DbTarget::Postgres(text.to_string()));
        }
        let path = text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
            .unwrap_or(text);
        check_path("--db", Path::new(path)).map_err(|_| ConfigError::NotAPath {
            flag: "--db",
            value: text.to_string(),
            why: "give a file path, `sqlite:PATH`, or `postgres://USER@HOST:PORT/DB`",
        })?;
        Ok(DbTarget::Sqlite(PathBuf::from(path)))
    }
}

/// Shows the target with any password replaced by `***`.
impl std::fmt::Display for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbTarget::Sqlite(path) => write!(f, "{}", path.display()),
            DbTarget::Postgres(url) => f.write_str(&postgres::redact(url)),
        }
    }
}

impl std::fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbTarget({self})")
    }
}

/// Everything `serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// API address (`--listen`).
    pub listen: SocketAddr,
    /// The database (`--db`).
    pub db: DbTarget,
    /// PostgreSQL connections of this node (`--db-connections`), besides
    /// its one listening connection. Default 8.
    pub db_connections: u32,
    /// How long this node may stay silent before its runs are rescued
    /// (`--node-ttl-ms`). Default 10 s. It heartbeats every fifth of it and
    /// stops itself after seven tenths without one.
    pub node_ttl: Duration,
    /// The compiled-runtime cache (`--cache-dir`); `None` compiles it in
    /// the process.
    pub cache_dir: Option<PathBuf>,
    /// A runtime file to use instead of the embedded one.
    pub runtime_override: Option<PathBuf>,
    /// Where the bearer token required on every `/api` request comes from:
    /// `--token`, the token file in the data directory (the default), or
    /// nowhere (`--no-token`, loopback only).
    pub token: TokenSetting,
    /// Where the key that seals charms' secrets comes from: the key file
    /// made in the data directory (the default, `DATA_DIR/secrets-key`), or
    /// the operator's file (`--secrets-key-file`, which must exist; every
    /// node of a cluster needs the same key).
    pub secrets_key: KeySource,
    /// Host names admitted besides IP addresses, `localhost` and
    /// `*.localhost` (`--allowed-host`); none by default.
    pub allowed_hosts: Vec<String>,
    /// Web origins whose pages may change charms and get CORS headers
    /// (`--allowed-origin`); none by default.
    pub allowed_origins: Vec<String>,
    /// Where the server file that local clients read is written
    /// (RUNTIME_DIR); `None` writes none.
    pub runtime_dir: Option<PathBuf>,
    /// Runs in flight at once (`--max-concurrent`).
    pub max_concurrent: usize,
    /// MiB of prepared charms kept between runs (`--charm-cache-mb`).
    pub charm_cache_mb: u64,
    /// Default limits of charms (the limit flags).
    pub defaults: SandboxLimits,
    /// The most a charm may set its fuel, memory and time limits to
    /// (`--ceiling-fuel`, `--ceiling-memory-mb`, `--ceiling-timeout-ms`).
    pub ceilings: LimitCeilings,
    /// Spaces whose charms may reach loopback, private and link-local
    /// addresses although a space token set their allow-list
    /// (`--allow-private-hosts-for`); none by default.
    pub private_hosts_for: Vec<String>,
    /// Backoff and auto-disable (`--max-failures`, `--max-backoff-s`).
    pub policy: SchedulePolicy,
    /// Finished runs kept per charm (`--keep-runs`).
    pub keep_runs: u32,
    /// Versions of each charm's state kept, the current one included
    /// (`--keep-state-versions`).
    pub keep_state_versions: u32,
    /// The default quotas of every space (`--space-max-charms`,
    /// `--space-max-runs-in-flight`, `--space-max-fuel-per-hour`,
    /// `--space-max-state-bytes`, `--space-keep-runs`): 0 is unlimited, and
    /// `keep_runs` 0 is `keep_runs` above. Default: all 0.
    pub space_quota: charm_store::Quota,
    /// Time between prunings of old runs and events
    /// (`--prune-interval-s`). Default 10 minutes.
    pub prune_interval: Duration,
    /// Events a run is given at most (`--max-events-per-run`).
    pub max_events_per_run: u32,
    /// Bytes each run's recording keeps at most
    /// (`--record-bytes-per-run`); 0 records nothing. Default
    /// [`charm_engine::DEFAULT_RECORD_BYTES`] (1 MiB).
    pub record_bytes_per_run: u64,
    /// How long acknowledged events, and so their idempotency keys, are
    /// kept (`--idempotency-window-s`).
    pub idempotency_window: Duration,
    /// How webhook deliveries prove themselves (`--hook-auth`).
    pub hook_auth: HookAuth,
    /// The largest webhook body, in bytes (`--max-hook-body-bytes`).
    pub max_hook_body_bytes: usize,
    /// Webhook deliveries a minute per charm (`--hook-rate`).
    pub hook_rate_per_minute: u32,
    /// Headers kept with a webhook delivery (`--hook-header`).
    pub hook_headers: Vec<String>,
    /// Where alerts go (`--alert-webhook`, `--alert-slack`).
    pub alert_channels: Vec<Channel>,
    /// Intervals without a success after which a charm is silent
    /// (`--alert-silent-intervals`).
    pub alert_silent_intervals: u32,
    /// The dashboard's address for links in alerts (`--dashboard-url`);
    /// default `http://LISTEN`.
    pub dashboard_url: Option<String>,
    /// Time for runs in flight at shutdown (`--shutdown-grace-ms`).
    pub shutdown_grace: Duration,
    /// Time between summary log lines (`--summary-interval-s`).
    pub summary_interval: Duration,
    /// Time between reports of where SQLite's write connection spent its
    /// time, statement by statement (`--sqlite-profile-s`); `None`, the
    /// default, reports nothing (see `charm_store::sqlite::profile`).
    pub sqlite_profile: Option<Duration>,
    /// Largest request body, in bytes (`--max-body-bytes`).
    pub max_body_bytes: usize,
    /// Where to write the bound address (`--addr-file`; useful with port 0).
    pub addr_file: Option<PathBuf>,
    /// Write a perf map for profilers.
    pub perf_map: bool,
}

/// A setting `serve` refuses. Each message names the flag.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A listen address off loopback with `--no-token`.
    #[error("refusing to listen on {0} with --no-token: drop --no-token (a token is then made in the data directory) or set --token, or listen on a loopback address")]
    Insecure(SocketAddr),
    /// `--token ""`.
    #[error("--token must not be empty")]
    EmptyToken,
    /// A `--token` that cannot travel in an HTTP header.
    #[error("--token {0}")]
    BadToken(&'static str),
    /// An `--allowed-host` or `--allowed-origin` value that is refused.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A number out of its range.
    #[error("{flag} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A default limit over its operator ceiling.
    #[error("the default {field} {value} is over {flag} {ceiling}: lower the default (--{field_flag}) or raise the ceiling", field_flag = field.replace('_', "-"))]
    OverCeiling {
        /// The limit.
        field: &'static str,
        /// The default.
        value: u64,
        /// The ceiling.
        ceiling: u64,
        /// The ceiling's flag.
        flag: &'static str,
    },
    /// An `--allow-private-hosts-for` value that is not a space's name.
    #[error("--allow-private-hosts-for takes a space's name: {0}")]
    BadSpace(String),
    /// A path flag given something else, such as a URL.
    #[error("{flag} takes a file path, not `{value}`: {why}")]
    NotAPath {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: String,
        /// What it looks like instead.
        why: &'static str,
    },
    /// `--db` looks like a PostgreSQL URL but does not parse.
    #[error(
        "--db `{url}` is not a PostgreSQL URL ({why}); the form is postgres://USER@HOST:PORT/DB"
    )]
    BadDbUrl {
        /// The URL, its password hidden.
        url: String,
        /// The parser's complaint.
        why: String,
    },
    /// A flag whose 0 turns something off, set out of its range.
    #[error("{flag} must be 0 (off) or between {min} and {max}, got {value}")]
    OffOrOutOfRange {
        /// The flag.
        flag: &'static str,
        /// The value given.
        value: u64,
        /// The smallest value that is not 0.
        min: u64,
        /// The largest.
        max: u64,
    },
    /// A flag about SQLite given with a PostgreSQL `--db`.
    #[error("{0} is for a SQLite --db; this one is PostgreSQL (use its own statistics, pg_stat_statements)")]
    SqliteOnly(&'static str),
    /// A file's folder does not exist.
    #[error("{flag} `{path}`: the folder `{folder}` does not exist")]
    NoFolder {
        /// The flag.
        flag: &'static str,
        /// The path given.
        path: String,
        /// Its folder.
        folder: String,
    },
}

/// Refuses a value that is not a plain path: `sqlite:...`, `postgres://...`
/// or `http://...` would otherwise become a file named so, in a folder
/// named after the scheme.
pub fn check_path(flag: &'static str, path: &Path) -> Result<(), ConfigError> {
    let text = path.to_string_lossy();
    let scheme_end = text.find(':').filter(|&i| {
        i > 1
            && text[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    if scheme_end.is_some() {
        return Err(ConfigError::NotAPath {
            flag,
            value: text.into_owned(),
            why: "it looks like a URL; give a path on this machine",
        });
    }
    Ok(())
}

fn range(flag: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            flag,
            value,
            min,
            max,
        })
    }
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl ServiceConfig {
    /// The default quotas of every space as the store enforces them:
    /// [`ServiceConfig::space_quota`] with `keep_runs` 0 made `keep_runs`.
    pub fn space_quota_defaults(&self) -> charm_store::Quota {
        charm_store::Quota {
            keep_runs: match self.space_quota.keep_runs {
                0 => u64::from(self.keep_runs),
                n => n,
            },
            ..self.space_quota
        }
    }

    /// Checks every setting, alone and against the others.
    ///
    /// # Errors
    /// [`ConfigError`] for the first bad setting, naming its flag.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.token {
            TokenSetting::Given(token) if token.is_empty() => return Err(ConfigError::EmptyToken),
            TokenSetting::Given(token) => check_token(token).map_err(ConfigError::BadToken)?,
            TokenSetting::Off if !self.listen.ip().is_loopback() => {
                return Err(ConfigError::Insecure(self.listen))
            }
            TokenSetting::File(_) | TokenSetting::Off => {}
        }
        AccessPolicy::new(&self.allowed_hosts, &self.allowed_origins)?;
        for space in &self.private_hosts_for {
            super::registry::check_space(space)
                .map_err(|e| ConfigError::BadSpace(e.to_string()))?;
        }
        if let KeySource::Given(path) = &self.secrets_key {
            check_path("--secrets-key-file", path)?;
        }
        range(
            "--max-concurrent",
            as_u64(self.max_concurrent),
            1,
            as_u64(MAX_CONCURRENT),
        )?;
        range(
            "--charm-cache-mb",
            self.charm_cache_mb,
            1,
            MAX_CHARM_CACHE_MB,
        )?;
        range(
            "--max-failures",
            u64::from(self.policy.max_failures),
            1,
            u64::from(u32::MAX),
        )?;
        if let Some((field, value, ceiling, flag)) = self.ceilings.exceeded(&self.defaults) {
            return Err(ConfigError::OverCeiling {
                field,
                value,
                ceiling,
                flag,
            });
        }
        range(
            "--penalty-percent",
            u64::from(self.policy.penalty_percent),
            1,
            100,
        )?;
        range(
            "--penalty-factor",
            u64::from(self.policy.penalty_factor),
            1,
            1000,
        )?;
        range(
            "--max-requested-next-s",
            self.policy.max_requested_next_s,
            self.policy.min_requested_next_s.max(1),
            366 * 24 * 3600,
        )?;
        range(
            "--keep-runs",
            u64::from(self.keep_runs),
            1,
            u64::from(u32::MAX),
        )?;
        range(
            "--keep-state-versions",
            u64::from(self.keep_state_versions),
            1,
            u64::from(u32::MAX),
        )?;
        range(
            "--space-keep-runs",
            self.space_quota.keep_runs,
            0,
            u64::from(u32::MAX),
        )?;
        range(
            "--prune-interval-s",
            self.prune_interval.as_secs(),
            1,
            7 * 24 * 3600,
        )?;
        range(
            "--max-hook-body-bytes",
            as_u64(self.max_hook_body_bytes),
            1,
            as_u64(MAX_BODY_BYTES),
        )?;
        range(
            "--alert-silent-intervals",
            u64::from(self.alert_silent_intervals),
            1,
            10_000,
        )?;
        range(
            "--hook-rate",
            u64::from(self.hook_rate_per_minute),
            1,
            1_000_000,
        )?;
        range(
            "--record-bytes-per-run",
            self.record_bytes_per_run,
            0,
            MAX_RECORD_BYTES_PER_RUN,
        )?;
        range(
            "--max-events-per-run",
            u64::from(self.max_events_per_run),
            1,
            u64::from(MAX_EVENTS_PER_RUN),
        )?;
        range(
            "--idempotency-window-s",
            self.idempotency_window.as_secs(),
            60,
            366 * 24 * 3600,
        )?;
        range(
            "--summary-interval-s",
            self.summary_interval.as_secs(),
            1,
            7 * 24 * 3600,
        )?;
        range(
            "--max-body-bytes",
            as_u64(self.max_body_bytes),
            as_u64(MIN_BODY_BYTES),
            as_u64(MAX_BODY_BYTES),
        )?;
        range(
            "--node-ttl-ms",
            u64::try_from(self.node_ttl.as_millis()).unwrap_or(u64::MAX),
            MIN_NODE_TTL_MS,
            MAX_NODE_TTL_MS,
        )?;
        range(
            "--db-connections",
            u64::from(self.db_connections),
            1,
            u64::from(MAX_DB_CONNECTIONS),
        )?;
        if let DbTarget::Sqlite(path) = &self.db {
            check_path("--db", path)?;
        }
        if let Some(every) = self.sqlite_profile {
            if matches!(self.db, DbTarget::Postgres(_)) {
                return Err(ConfigError::SqliteOnly("--sqlite-profile-s"));
            }
            let range_s = charm_store::sqlite::profile::PERIOD_RANGE_S;
            if !range_s.contains(&every.as_secs()) {
                return Err(ConfigError::OffOrOutOfRange {
                    flag: "--sqlite-profile-s",
                    value: every.as_secs(),
                    min: *range_s.start(),
                    max: *range_s.end(),
                });
            }
        }
        if let Some(dir) = &self.cache_dir {
            check_path("--cache-dir", dir)?;
        }
        if let Some(file) = &self.addr_file {
            check_path("--addr-file", file)?;
            // Found now rather than after the runtime is built and the port
            // bound, seconds later.
            if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
                if !folder.is_dir() {
                    return Err(ConfigError::NoFolder {
                        flag: "--addr-file",
                        path: file.display().to_string(),
                        folder: folder.display().to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServiceConfig {
        ServiceConfig {
            listen: DEFAULT_LISTEN.parse().unwrap(),
            db: DbTarget::Sqlite(PathBuf::from("data/charm-host.db")),
            db_connections: charm_store::postgres::DEFAULT_MAX_CONNECTIONS,
            node_ttl: Duration::from_millis(super::super::node::DEFAULT_NODE_TTL_MS),
            cache_dir: None,
            runtime_override: None,
            token: TokenSetting::File(PathBuf::from("data/api-token")),
            secrets_key: KeySource::Made(PathBuf::from("data/secrets-key")),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            runtime_dir: None,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            charm_cache_mb: DEFAULT_CHARM_CACHE_MB,
            defaults: SandboxLimits::default(),
            ceilings: LimitCeilings::default(),
            private_hosts_for: Vec::new(),
            policy: SchedulePolicy::default(),
            keep_runs: DEFAULT_KEEP_RUNS,
            keep_state_versions: DEFAULT_KEEP_STATE_VERSIONS,
            space_quota: charm_store::Quota::default(),
            prune_interval: Duration::from_secs(DEFAULT_PRUNE_INTERVAL_S),
            max_events_per_run: super::super::policy::DEFAULT_MAX_EVENTS_PER_RUN,
            record_bytes_per_run: charm_engine::DEFAULT_RECORD_BYTES,
            idempotency_window: Duration::from_secs(DEFAULT_IDEMPOTENCY_WINDOW_S),
            hook_auth: HookAuth::Signature,
            max_hook_body_bytes: crate::api::DEFAULT_MAX_HOOK_BODY_BYTES,
            hook_rate_per_minute: crate::api::DEFAULT_HOOK_RATE_PER_MINUTE,
            hook_headers: Vec::new(),
            alert_channels: Vec::new(),
            alert_silent_intervals: super::super::alerts::DEFAULT_SILENT_INTERVALS,
            dashboard_url: None,
            shutdown_grace: Duration::from_millis(DEFAULT_SHUTDOWN_GRACE_MS),
            summary_interval: Duration::from_secs(DEFAULT_SUMMARY_INTERVAL_S),
            sqlite_profile: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            addr_file: None,
            perf_map: false,
        }
    }

    #[test]
    fn the_defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn a_secrets_key_file_that_looks_like_a_url_is_refused() {
        let given = |path: &str| ServiceConfig {
            secrets_key: KeySource::Given(PathBuf::from(path)),
            ..config()
        };
        given("/etc/charm-host/secrets-key").validate().unwrap();
        let err = given("https://vault.example/key").validate().unwrap_err();
        assert!(err.to_string().contains("--secrets-key-file"), "{err}");
    }

    #[test]
    fn off_loopback_a_token_is_needed_and_made_by_default() {
        let anywhere: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        for token in [
            TokenSetting::File(PathBuf::from("data/api-token")),
            TokenSetting::Given("s3cret".into()),
        ] {
            ServiceConfig {
                listen: anywhere,
                token,
                ..config()
            }
            .validate()
            .unwrap();
        }
        ServiceConfig {
            token: TokenSetting::Off,
            ..config()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn bad_values_are_refused_with_their_flag_not_changed() {
        let cases: Vec<(ServiceConfig, &str)> = vec![
            (
                ServiceConfig {
                    max_concurrent: 0,
                    ..config()
                },
                "--max-concurrent must be between 1 and 4096, got 0",
            ),
            (
                ServiceConfig {
                    charm_cache_mb: 0,
                    ..config()
                },
                "--charm-cache-mb must be between 1 and 1048576, got 0",
            ),
            (
                ServiceConfig {
                    charm_cache_mb: MAX_CHARM_CACHE_MB + 1,
                    ..config()
                },
                "--charm-cache-mb must be between 1 and 1048576, got 1048577",
            ),
            (
                ServiceConfig {
                    max_body_bytes: 1,
                    ..config()
                },
                "--max-body-bytes must be between 1024",
            ),
            (
                ServiceConfig {
                    keep_runs: 0,
                    ..config()
                },
                "--keep-runs",
            ),
            (
                ServiceConfig {
                    node_ttl: Duration::from_millis(100),
                    ..config()
                },
                "--node-ttl-ms must be between 3000 and 600000, got 100",
            ),
            (
                ServiceConfig {
                    db_connections: 0,
                    ..config()
                },
                "--db-connections must be between 1 and 100, got 0",
            ),
            (
                ServiceConfig {
                    addr_file: Some(PathBuf::from("/nonexistent/dir/addr")),
                    ..config()
                },
                "--addr-file `/nonexistent/dir/addr`: the folder `/nonexistent/dir` does not exist",
            ),
            (
                ServiceConfig {
                    listen: "0.0.0.0:8080".parse().unwrap(),
                    token: TokenSetting::Off,
                    ..config()
                },
                "refusing to listen on 0.0.0.0:8080 with --no-token",
            ),
            (
                ServiceConfig {
                    token: TokenSetting::Given(String::new()),
                    ..config()
                },
                "--token must not be empty",
            ),
            (
                ServiceConfig {
                    token: TokenSetting::Given("two words".into()),
                    ..config()
                },
                "--token must be printable ASCII",
            ),
            (
                ServiceConfig {
                    allowed_hosts: vec!["https://charms.example.com/".into()],
                    ..config()
                },
                "--allowed-host takes a host name such as charms.example.com, not `https://charms.example.com/`: it looks like a URL",
            ),
            (
                ServiceConfig {
                    allowed_origins: vec!["*".into()],
                    ..config()
                },
                "--allowed-origin takes an origin",
            ),
            (
                ServiceConfig {
                    sqlite_profile: Some(Duration::from_secs(3601)),
                    ..config()
                },
                "--sqlite-profile-s must be 0 (off) or between 1 and 3600, got 3601",
            ),
            (
                ServiceConfig {
                    sqlite_profile: Some(Duration::from_secs(10)),
                    db: DbTarget::Postgres("postgres://app@db:5432/charms".into()),
                    ..config()
                },
                "--sqlite-profile-s is for a SQLite --db; this one is PostgreSQL",
            ),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn db_takes_a_path_a_sqlite_path_or_a_postgres_url() {
        assert_eq!(
            DbTarget::parse("data/x.db").unwrap(),
            DbTarget::Sqlite(PathBuf::from("data/x.db"))
        );
        assert_eq!(
            DbTarget::parse("sqlite:data/x.db").unwrap(),
            DbTarget::Sqlite(PathBuf::from("data/x.db"))
        );
        assert_eq!(
            DbTarget::parse("postgres://app@db:5432/charms").unwrap(),
            DbTarget::Postgres("postgres://app@db:5432/charms".into())
        );
        let shown = DbTarget::parse("postgresql://app:hunter2@db/charms").unwrap();
        assert_eq!(shown.to_string(), "postgresql://app:***@db/charms");
        assert!(!format!("{shown:?}").contains("hunter2"));
        let err = DbTarget::parse("mysql://db/x").unwrap_err().to_string();
        assert!(err.contains("postgres://USER@HOST:PORT/DB"), "{err}");
        let err = DbTarget::parse("postgres://app:hunter2@db:port/x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--db `postgres://app:***@db:port/x`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn windows_like_and_relative_paths_are_paths() {
        check_path("--db", Path::new("./a:b.db")).unwrap();
        check_path("--db", Path::new("C:/data/x.db")).unwrap();
        check_path("--db", Path::new("/var/lib/charm-host/x.db")).unwrap();
        assert!(check_path("--db", Path::new("sqlite:x.db")).is_err());
    }
}
