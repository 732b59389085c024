//! The resource limits of one sandboxed task, and the error that names the
//! limit a task ran into.
//!
//! Owns: [`SandboxLimits`] (every limit, its default and its validation) and
//! [`LimitExceeded`]. It knows nothing about wasmtime or HTTP; the sandbox and
//! the capabilities enforce these numbers.
//!
//! How each limit is enforced, and what it does *not* cover:
//!
//! * `fuel` counts WebAssembly instructions (deterministic: the same charm
//!   with the same input uses the same fuel). It does not advance while the
//!   task waits on a host call such as `fetch`.
//! * `timeout` bounds wall-clock time, including time spent waiting on
//!   `fetch`. Guest code is interrupted at the next epoch tick (10 ms), a
//!   waiting host call at once.
//! * `memory` bounds the guest's linear memory (the whole QuickJS heap and
//!   stack). Growth beyond it traps; the charm cannot catch it.
//! * `output`, `log` and `fetches` bound what a task may produce or ask for.
//!   `fetch_response` and `fetch_timeout` are raised inside the charm as
//!   catchable errors (a slow or huge response is the server's doing, not the
//!   charm's), and name the limit; uncaught, they end the run as a limit.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default fuel budget per task. Compiled guest code burns roughly 3 to 12
/// billion fuel per second of CPU (12 on a tight loop, measured on this
/// project's 2-core machine), so this is one to three seconds of CPU. A
/// trivial charm uses about 0.3 million.
pub const DEFAULT_FUEL: u64 = 10_000_000_000;
/// Default linear memory limit per task, in MiB.
pub const DEFAULT_MEMORY_MB: u64 = 64;
/// Default wall-clock limit per task, in milliseconds (the original service's
/// worker timeout).
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default limit on the size of the state a charm returns, in bytes.
pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1024 * 1024;
/// Default limit on console output per task, in bytes.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 256 * 1024;
/// Default limit on the number of `fetch` calls per task.
pub const DEFAULT_MAX_FETCHES: u32 = 50;
/// Default limit on one fetch response body (after decompression), in bytes.
pub const DEFAULT_MAX_FETCH_RESPONSE_BYTES: u64 = 5 * 1024 * 1024;
/// Default limit on one fetch, from request to the last body byte, in ms.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 10_000;

/// The smallest memory limit accepted, in MiB: the runtime starts with about
/// 6 MiB (its 4 MiB C stack, QuickJS and the prelude).
pub const MIN_MEMORY_MB: u64 = 16;

/// The largest values accepted, so that no setting can exhaust the machine
/// by itself or overflow arithmetic.
pub const MAX_MEMORY_MB: u64 = 4 * 1024;
pub const MAX_TIMEOUT_MS: u64 = 60 * 60 * 1000;
pub const MAX_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
pub const MAX_FETCHES: u32 = 10_000;
pub const MAX_FETCH_RESPONSE_BYTES: u64 = 1024 * 1024 * 1024;

/// Limits for one task. Every field has a `DEFAULT_*` constant and a flag of
/// the same name on `charm-host run` and `charm-host serve`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxLimits {
    /// WebAssembly fuel (roughly, instructions). Default [`DEFAULT_FUEL`].
    pub fuel: u64,
    /// Linear memory, in MiB. Default [`DEFAULT_MEMORY_MB`].
    pub memory_mb: u64,
    /// Wall-clock time, in ms. Default [`DEFAULT_TIMEOUT_MS`].
    pub timeout_ms: u64,
    /// Size of the returned state, in bytes. Default [`DEFAULT_MAX_OUTPUT_BYTES`].
    pub max_output_bytes: u64,
    /// Console output, in bytes. Default [`DEFAULT_MAX_LOG_BYTES`].
    pub max_log_bytes: u64,
    /// Number of `fetch` calls. Default [`DEFAULT_MAX_FETCHES`].
    pub max_fetches: u32,
    /// One response body, in bytes. Default [`DEFAULT_MAX_FETCH_RESPONSE_BYTES`].
    pub max_fetch_response_bytes: u64,
    /// One fetch, in ms. Default [`DEFAULT_FETCH_TIMEOUT_MS`].
    pub fetch_timeout_ms: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            fuel: DEFAULT_FUEL,
            memory_mb: DEFAULT_MEMORY_MB,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
            max_fetches: DEFAULT_MAX_FETCHES,
            max_fetch_response_bytes: DEFAULT_MAX_FETCH_RESPONSE_BYTES,
            fetch_timeout_ms: DEFAULT_FETCH_TIMEOUT_MS,
        }
    }
}

/// A limit setting that is out of range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("limit `{name}` must be between {min} and {max}, got {value}")]
pub struct InvalidLimit {
    pub name: &'static str,
    pub value: u64,
    pub min: u64,
    pub max: u64,
}

impl SandboxLimits {
    /// Checks every field against its range, reporting the first one out of
    /// range by name.
    ///
    /// # Errors
    /// [`InvalidLimit`] names the field, the value and the accepted range.
    pub fn validate(&self) -> Result<(), InvalidLimit> {
        let check = |name, value: u64, min, max| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(InvalidLimit {
                    name,
                    value,
                    min,
                    max,
                })
            }
        };
        check("fuel", self.fuel, 1_000_000, u64::MAX / 2)?;
        check("memory_mb", self.memory_mb, MIN_MEMORY_MB, MAX_MEMORY_MB)?;
        check("timeout_ms", self.timeout_ms, 1, MAX_TIMEOUT_MS)?;
        check(
            "max_output_bytes",
            self.max_output_bytes,
            2,
            MAX_OUTPUT_BYTES,
        )?;
        check("max_log_bytes", self.max_log_bytes, 0, MAX_LOG_BYTES)?;
        check(
            "max_fetches",
            u64::from(self.max_fetches),
            0,
            u64::from(MAX_FETCHES),
        )?;
        check(
            "max_fetch_response_bytes",
            self.max_fetch_response_bytes,
            0,
            MAX_FETCH_RESPONSE_BYTES,
        )?;
        check("fetch_timeout_ms", self.fetch_timeout_ms, 1, MAX_TIMEOUT_MS)?;
        Ok(())
    }

    /// The memory limit in bytes.
    pub fn memory_bytes(&self) -> usize {
        usize::try_from(self.memory_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
    }

    /// The wall-clock limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The limit on one fetch.
    pub fn fetch_timeout(&self) -> Duration {
        Duration::from_millis(self.fetch_timeout_ms)
    }
}

/// Which limit a task ran into, with the limit's value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The task used up its fuel.
    #[error("ran out of fuel (limit {limit}; raise it with --fuel)")]
    Fuel { limit: u64 },
    /// The task tried to grow its memory past the limit.
    #[error("exceeded the memory limit ({limit_mb} MiB; raise it with --memory-mb)")]
    Memory { limit_mb: u64 },
    /// The task ran longer than its wall-clock limit.
    #[error("exceeded the time limit ({limit_ms} ms; raise it with --timeout-ms)")]
    Timeout { limit_ms: u64 },
    /// The guest's stack overflowed: recursion deeper than about ten
    /// thousand JavaScript frames.
    #[error("exhausted its stack (recursion too deep)")]
    Stack,
    /// The returned state was larger than the output limit.
    #[error(
        "returned {size} bytes of state, over the output limit ({limit} bytes; --max-output-bytes)"
    )]
    Output { size: u64, limit: u64 },
    /// The task logged more than the log volume limit.
    #[error("logged more than the log volume limit ({limit} bytes; --max-log-bytes)")]
    LogVolume { limit: u64 },
    /// The task called `fetch` more often than allowed.
    #[error("called fetch more than the fetch count limit ({limit}; --max-fetches)")]
    FetchCount { limit: u32 },
    /// A response body was larger than allowed (raised in the charm first).
    #[error("received a fetch response over the response size limit ({limit} bytes; --max-fetch-response-bytes)")]
    FetchResponse { limit: u64 },
    /// One fetch took longer than allowed (raised in the charm first).
    #[error(
        "waited on a fetch longer than the fetch time limit ({limit_ms} ms; --fetch-timeout-ms)"
    )]
    FetchTimeout { limit_ms: u64 },
}

impl LimitExceeded {
    /// A short, stable name for metrics, run records and the API.
    pub fn kind(&self) -> LimitKind {
        match self {
            LimitExceeded::Fuel { .. } => LimitKind::Fuel,
            LimitExceeded::Memory { .. } => LimitKind::Memory,
            LimitExceeded::Timeout { .. } => LimitKind::Timeout,
            LimitExceeded::Stack => LimitKind::Stack,
            LimitExceeded::Output { .. } => LimitKind::Output,
            LimitExceeded::LogVolume { .. } => LimitKind::Log,
            LimitExceeded::FetchCount { .. } => LimitKind::Fetches,
            LimitExceeded::FetchResponse { .. } => LimitKind::FetchResponse,
            LimitExceeded::FetchTimeout { .. } => LimitKind::FetchTimeout,
        }
    }
}

/// The name of a limit, without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Fuel,
    Memory,
    Timeout,
    Stack,
    Output,
    Log,
    Fetches,
    FetchResponse,
    FetchTimeout,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::Fuel => "fuel",
            LimitKind::Memory => "memory",
            LimitKind::Timeout => "timeout",
            LimitKind::Stack => "stack",
            LimitKind::Output => "output",
            LimitKind::Log => "log",
            LimitKind::Fetches => "fetches",
            LimitKind::FetchResponse => "fetch_response",
            LimitKind::FetchTimeout => "fetch_timeout",
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SandboxLimits::default().validate().unwrap();
    }

    #[test]
    fn out_of_range_values_are_named() {
        let limits = SandboxLimits {
            memory_mb: 0,
            ..SandboxLimits::default()
        };
        let err = limits.validate().unwrap_err();
        assert_eq!(err.name, "memory_mb");
        assert_eq!(
            err.to_string(),
            "limit `memory_mb` must be between 16 and 4096, got 0"
        );
        let limits = SandboxLimits {
            timeout_ms: u64::MAX,
            ..SandboxLimits::default()
        };
        assert_eq!(limits.validate().unwrap_err().name, "timeout_ms");
    }

    #[test]
    fn partial_json_fills_defaults_and_rejects_unknown_fields() {
        let limits: SandboxLimits = serde_json::from_str(r#"{"fuel": 5000000}"#).unwrap();
        assert_eq!(limits.fuel, 5_000_000);
        assert_eq!(limits.memory_mb, DEFAULT_MEMORY_MB);
        assert!(serde_json::from_str::<SandboxLimits>(r#"{"fule": 1}"#).is_err());
    }

    #[test]
    fn messages_name_the_limit_and_its_value() {
        let e = LimitExceeded::Fuel { limit: 5_000_000 };
        assert_eq!(
            e.to_string(),
            "ran out of fuel (limit 5000000; raise it with --fuel)"
        );
        assert_eq!(e.kind().as_str(), "fuel");
    }
}
