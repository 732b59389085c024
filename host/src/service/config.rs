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

use super::policy::SchedulePolicy;
use crate::api::{AccessError, AccessPolicy};
use crate::token::{check_token, TokenSetting};

/// Default API address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default bound on runs in flight.
pub const DEFAULT_MAX_CONCURRENT: usize = 64;
/// The most runs in flight accepted: each holds an instance-pool slot,
/// a reservation of address space for up to 4 GiB of guest memory.
pub const MAX_CONCURRENT: usize = 4096;
/// Default number of finished runs kept per charm.
pub const DEFAULT_KEEP_RUNS: u32 = 200;
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

/// Everything `serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// API address (`--listen`).
    pub listen: SocketAddr,
    /// The SQLite database file (`--db`).
    pub db: PathBuf,
    /// The compiled-runtime cache (`--cache-dir`); `None` compiles it in
    /// the process.
    pub cache_dir: Option<PathBuf>,
    /// A runtime file to use instead of the embedded one.
    pub runtime_override: Option<PathBuf>,
    /// Where the bearer token required on every `/api` request comes from:
    /// `--token`, the token file in the data directory (the default), or
    /// nowhere (`--no-token`, loopback only).
    pub token: TokenSetting,
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
    /// Default limits of charms (the limit flags).
    pub defaults: SandboxLimits,
    /// Backoff and auto-disable (`--max-failures`, `--max-backoff-s`).
    pub policy: SchedulePolicy,
    /// Finished runs kept per charm (`--keep-runs`).
    pub keep_runs: u32,
    /// Time for runs in flight at shutdown (`--shutdown-grace-ms`).
    pub shutdown_grace: Duration,
    /// Time between summary log lines (`--summary-interval-s`).
    pub summary_interval: Duration,
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
        range(
            "--max-concurrent",
            as_u64(self.max_concurrent),
            1,
            as_u64(MAX_CONCURRENT),
        )?;
        range(
            "--max-failures",
            u64::from(self.policy.max_failures),
            1,
            u64::from(u32::MAX),
        )?;
        range(
            "--keep-runs",
            u64::from(self.keep_runs),
            1,
            u64::from(u32::MAX),
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
        check_path("--db", &self.db)?;
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
            db: PathBuf::from("data/charm-host.db"),
            cache_dir: None,
            runtime_override: None,
            token: TokenSetting::File(PathBuf::from("data/api-token")),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            runtime_dir: None,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            defaults: SandboxLimits::default(),
            policy: SchedulePolicy::default(),
            keep_runs: DEFAULT_KEEP_RUNS,
            shutdown_grace: Duration::from_millis(DEFAULT_SHUTDOWN_GRACE_MS),
            summary_interval: Duration::from_secs(DEFAULT_SUMMARY_INTERVAL_S),
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
                    db: PathBuf::from("postgres://u@db:5432/charms"),
                    ..config()
                },
                "--db takes a file path, not `postgres://u@db:5432/charms`",
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
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn windows_like_and_relative_paths_are_paths() {
        check_path("--db", Path::new("./a:b.db")).unwrap();
        check_path("--db", Path::new("C:/data/x.db")).unwrap();
        check_path("--db", Path::new("/var/lib/charm-host/x.db")).unwrap();
        assert!(check_path("--db", Path::new("sqlite:x.db")).is_err());
    }
}
