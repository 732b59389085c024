//! Flags shared by several commands: the sandbox limits.
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
