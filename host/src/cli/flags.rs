//! Flags shared by several commands: the sandbox limits, and the default
//! quotas of spaces.
//!
//! Each flag is documented where it is defined, and its default is the
//! library's named constant, so `--help`, the README and the code agree.

use charm_engine::limits::{self, InvalidLimit, SandboxLimits};
use clap::Args;

/// The limits of one sandboxed task.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits (per task)")]
pub struct LimitArgs {
    /// CPU budget in fuel (about one WebAssembly instruction each); running
    /// out is deterministic, unlike a timeout.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_FUEL)]
    pub fuel: u64,

    /// Linear memory (QuickJS heap and stack), in MiB.
    #[arg(long, value_name = "MIB", default_value_t = limits::DEFAULT_MEMORY_MB)]
    pub memory_mb: u64,

    /// Wall-clock time, in milliseconds, including time spent waiting on fetch.
    #[arg(long, value_name = "MS", default_value_t = limits::DEFAULT_TIMEOUT_MS)]
    pub timeout_ms: u64,

    /// Size of the state the charm returns, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = limits::DEFAULT_MAX_OUTPUT_BYTES)]
    pub max_output_bytes: u64,

    /// Console output, in bytes; more ends the task.
    #[arg(long, value_name = "BYTES", default_value_t = limits::DEFAULT_MAX_LOG_BYTES)]
    pub max_log_bytes: u64,

    /// Number of fetch calls; one more ends the task.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_FETCHES)]
    pub max_fetches: u32,

    /// Size of one fetch response body after decompression, in bytes (a
    /// catchable error in the charm).
    #[arg(long, value_name = "BYTES", default_value_t = limits::DEFAULT_MAX_FETCH_RESPONSE_BYTES)]
    pub max_fetch_response_bytes: u64,

    /// Time for one fetch, request to last body byte, in milliseconds (a
    /// catchable error in the charm).
    #[arg(long, value_name = "MS", default_value_t = limits::DEFAULT_FETCH_TIMEOUT_MS)]
    pub fetch_timeout_ms: u64,

    /// Timers (setTimeout, setInterval) pending at once; one more is a
    /// catchable error in the charm.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_TIMERS)]
    pub max_timers: u32,

    /// Fetches in flight at once; one more is a catchable error in the charm.
    #[arg(long, value_name = "N", default_value_t = limits::DEFAULT_MAX_CONCURRENT_FETCHES)]
    pub max_concurrent_fetches: u32,
}

impl LimitArgs {
    /// The validated limits.
    ///
    /// # Errors
    /// [`InvalidLimit`] naming the flag's field that is out of range.
    pub fn to_limits(&self) -> Result<SandboxLimits, InvalidLimit> {
        let limits = SandboxLimits {
            fuel: self.fuel,
            memory_mb: self.memory_mb,
            timeout_ms: self.timeout_ms,
            max_output_bytes: self.max_output_bytes,
            max_log_bytes: self.max_log_bytes,
            max_fetches: self.max_fetches,
            max_fetch_response_bytes: self.max_fetch_response_bytes,
            fetch_timeout_ms: self.fetch_timeout_ms,
            max_timers: self.max_timers,
            max_concurrent_fetches: self.max_concurrent_fetches,
        };
        limits.validate()?;
        Ok(limits)
    }
}

/// The default quotas of every space; the operator overrides them per
/// space with `PUT /api/spaces/{space}/quota` or `charm-host spaces
/// quota`. 0 is unlimited.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Quotas (per space)")]
pub struct SpaceQuotaArgs {
    /// Charms a space may have registered; one more is refused with 403.
    /// 0: unlimited.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "CHARM_HOST_SPACE_MAX_CHARMS"
    )]
    pub space_max_charms: u64,

    /// Runs of a space running at once, on all nodes together; more wait
    /// queued. 0: unlimited (the fair share of slots still applies).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "CHARM_HOST_SPACE_MAX_RUNS_IN_FLIGHT"
    )]
    pub space_max_runs_in_flight: u64,

    /// Fuel a space's runs may use in a trailing hour; a space over it
    /// gets no runs started until enough of the hour's fuel has aged out
    /// (its runs wait; the charms are not blamed). 0: unlimited.
    #[arg(
        long,
        value_name = "FUEL",
        default_value_t = 0,
        env = "CHARM_HOST_SPACE_MAX_FUEL_PER_HOUR"
    )]
    pub space_max_fuel_per_hour: u64,

    /// Bytes of state a space's charms may hold together; a run whose new
    /// state would pass it keeps the old state and ends as `quota`. 0:
    /// unlimited.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 0,
        env = "CHARM_HOST_SPACE_MAX_STATE_BYTES"
    )]
    pub space_max_state_bytes: u64,

    /// Finished runs kept per charm of a space. 0: --keep-runs.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        env = "CHARM_HOST_SPACE_KEEP_RUNS"
    )]
    pub space_keep_runs: u64,
}

impl SpaceQuotaArgs {
    /// The quotas as the store takes them (`keep_runs` 0: `--keep-runs`).
    pub fn to_quota(&self) -> charm_store::Quota {
        charm_store::Quota {
            max_charms: self.space_max_charms,
            max_runs_in_flight: self.space_max_runs_in_flight,
            max_fuel_per_hour: self.space_max_fuel_per_hour,
            max_state_bytes: self.space_max_state_bytes,
            keep_runs: self.space_keep_runs,
        }
    }
}
