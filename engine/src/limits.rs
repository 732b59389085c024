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
//! * `timers` and `concurrent_fetches` bound what a task may have pending at
//!   once; going over is a catchable error at the call (`setTimeout` throws,
//!   `fetch` rejects), naming the limit; uncaught, it ends the run as a
//!   limit.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default fuel budget per task. Compiled guest code burns roughly 3 to 12
/// billion fuel per second of CPU (12 on a tight loop, measured on this
/// project's 2-core machine), so this is one to three seconds of CPU. A
/// trivial charm uses about 117,000 (`make bench`).
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
/// Default limit on timers pending at once per task.
pub const DEFAULT_MAX_TIMERS: u32 = 1_000;
/// Default limit on fetches in flight at once per task.
pub const DEFAULT_MAX_CONCURRENT_FETCHES: u32 = 16;

/// The smallest memory limit accepted, in MiB: the runtime starts with about
/// 6 MiB (its 4 MiB C stack, QuickJS and the prelude).
pub const MIN_MEMORY_MB: u64 = 16;

// The largest values accepted, so that no setting can exhaust the machine
// by itself or overflow arithmetic.
/// The largest memory limit accepted, in MiB.
pub const MAX_MEMORY_MB: u64 = 4 * 1024;
/// The largest wall-clock limit accepted (and of one fetch), in ms: an hour.
pub const MAX_TIMEOUT_MS: u64 = 60 * 60 * 1000;
/// The largest output limit accepted, in bytes.
pub const MAX_OUTPUT_BYTES: u64 = 64 * 1024 * 1024;
/// The largest log volume limit accepted, in bytes.
pub const MAX_LOG_BYTES: u64 = 64 * 1024 * 1024;
/// The largest fetch count limit accepted.
pub const MAX_FETCHES: u32 = 10_000;
/// The largest response size limit accepted, in bytes.
pub const MAX_FETCH_RESPONSE_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest pending-timer limit accepted.
pub const MAX_TIMERS: u32 = 1_000_000;
/// The largest concurrent-fetch limit accepted.
pub const MAX_CONCURRENT_FETCHES: u32 = 1_024;

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
    /// Timers pending at once. Default [`DEFAULT_MAX_TIMERS`].
    pub max_timers: u32,
    /// Fetches in flight at once. Default [`DEFAULT_MAX_CONCURRENT_FETCHES`].
    pub max_concurrent_fetches: u32,
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
            max_timers: DEFAULT_MAX_TIMERS,
            max_concurrent_fetches: DEFAULT_MAX_CONCURRENT_FETCHES,
        }
    }
}

/// A limit setting that is out of range.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("limit `{name}` must be between {min} and {max}, got {value}")]
pub struct InvalidLimit {
    /// The field of [`SandboxLimits`].
    pub name: &'static str,
    /// The value given.
    pub value: u64,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
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
        check(
            "max_timers",
            u64::from(self.max_timers),
            0,
            u64::from(MAX_TIMERS),
        )?;
        check(
            "max_concurrent_fetches",
            u64::from(self.max_concurrent_fetches),
            1,
            u64::from(MAX_CONCURRENT_FETCHES),
        )?;
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

/// Which limit a task ran into, with the limit's value. The message names
/// the limit and its value; how to raise it depends on where the charm's
/// limits come from, so callers add that with [`LimitExceeded::hinted`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitExceeded {
    /// The task used up its fuel.
    #[error("ran out of fuel (limit {limit})")]
    Fuel {
        /// The budget, in fuel.
        limit: u64,
    },
    /// The task tried to grow its memory past the limit.
    #[error("exceeded the memory limit ({limit_mb} MiB)")]
    Memory {
        /// The limit, in MiB.
        limit_mb: u64,
    },
    /// The task ran longer than its wall-clock limit.
    #[error("exceeded the time limit ({limit_ms} ms)")]
    Timeout {
        /// The limit, in ms.
        limit_ms: u64,
    },
    /// The guest's stack overflowed: recursion deeper than about ten
    /// thousand JavaScript frames.
    #[error("exhausted its stack (recursion too deep)")]
    Stack,
    /// The returned state was larger than the output limit.
    #[error("returned {size} bytes of state, over the output limit ({limit} bytes)")]
    Output {
        /// The state's size, in bytes.
        size: u64,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The task logged more than the log volume limit.
    #[error("logged more than the log volume limit ({limit} bytes)")]
    LogVolume {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The task called `fetch` more often than allowed.
    #[error("called fetch more than the fetch count limit ({limit})")]
    FetchCount {
        /// The limit, in calls.
        limit: u32,
    },
    /// A response body was larger than allowed (raised in the charm first).
    #[error("received a fetch response over the response size limit ({limit} bytes)")]
    FetchResponse {
        /// The limit, in bytes.
        limit: u64,
    },
    /// One fetch took longer than allowed (raised in the charm first).
    #[error("waited on a fetch longer than the fetch time limit ({limit_ms} ms)")]
    FetchTimeout {
        /// The limit, in ms.
        limit_ms: u64,
    },
    /// More timers were pending than allowed (raised in the charm first).
    #[error("set more timers than the pending timer limit ({limit})")]
    Timers {
        /// The limit, in timers.
        limit: u32,
    },
    /// More fetches were in flight than allowed (raised in the charm first).
    #[error("started more fetches than the concurrent fetch limit ({limit})")]
    ConcurrentFetches {
        /// The limit, in fetches.
        limit: u32,
    },
}

/// How the person reading a limit error raises that limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHint {
    /// With a command-line flag (`charm-host run --fuel`).
    Flag,
    /// With a field of a charm's `limits` (a charm registered through the API).
    Field,
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
            LimitExceeded::Timers { .. } => LimitKind::Timers,
            LimitExceeded::ConcurrentFetches { .. } => LimitKind::ConcurrentFetches,
        }
    }

    /// The limit that the guest reported by name (a fetch limit the charm
    /// did not catch), with its value; `None` for a name or value that does
    /// not fit.
    pub fn from_report(kind: LimitKind, value: u64) -> Option<LimitExceeded> {
        Some(match kind {
            LimitKind::FetchResponse => LimitExceeded::FetchResponse { limit: value },
            LimitKind::FetchTimeout => LimitExceeded::FetchTimeout { limit_ms: value },
            LimitKind::Fuel => LimitExceeded::Fuel { limit: value },
            LimitKind::Memory => LimitExceeded::Memory { limit_mb: value },
            LimitKind::Timeout => LimitExceeded::Timeout { limit_ms: value },
            LimitKind::Log => LimitExceeded::LogVolume { limit: value },
            LimitKind::Fetches => LimitExceeded::FetchCount {
                limit: u32::try_from(value).ok()?,
            },
            LimitKind::Timers => LimitExceeded::Timers {
                limit: u32::try_from(value).ok()?,
            },
            LimitKind::ConcurrentFetches => LimitExceeded::ConcurrentFetches {
                limit: u32::try_from(value).ok()?,
            },
            LimitKind::Stack | LimitKind::Output => return None,
        })
    }

    /// The message with how to raise the limit:
    /// `ran out of fuel (limit 5000000; raise it with --fuel)`.
    pub fn hinted(&self, hint: LimitHint) -> String {
        let message = self.to_string();
        let knob = match hint {
            LimitHint::Flag => self.kind().flag().map(str::to_string),
            LimitHint::Field => self.kind().field().map(|f| format!("limits.{f}")),
        };
        match (knob, message.strip_suffix(')')) {
            (Some(knob), Some(open)) => format!("{open}; raise it with {knob})"),
            _ => message,
        }
    }
}

/// The name of a limit, without its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// [`SandboxLimits::fuel`]
    Fuel,
    /// [`SandboxLimits::memory_mb`]
    Memory,
    /// [`SandboxLimits::timeout_ms`]
    Timeout,
    /// The stack, which has no setting.
    Stack,
    /// [`SandboxLimits::max_output_bytes`]
    Output,
    /// [`SandboxLimits::max_log_bytes`]
    Log,
    /// [`SandboxLimits::max_fetches`]
    Fetches,
    /// [`SandboxLimits::max_fetch_response_bytes`]
    FetchResponse,
    /// [`SandboxLimits::fetch_timeout_ms`]
    FetchTimeout,
    /// [`SandboxLimits::max_timers`]
    Timers,
    /// [`SandboxLimits::max_concurrent_fetches`]
    ConcurrentFetches,
}

impl LimitKind {
    /// Every kind.
    pub const ALL: [LimitKind; 11] = [
        LimitKind::Fuel,
        LimitKind::Memory,
        LimitKind::Timeout,
        LimitKind::Stack,
        LimitKind::Output,
        LimitKind::Log,
        LimitKind::Fetches,
        LimitKind::FetchResponse,
        LimitKind::FetchTimeout,
        LimitKind::Timers,
        LimitKind::ConcurrentFetches,
    ];

    /// The stable name.
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
            LimitKind::Timers => "timers",
            LimitKind::ConcurrentFetches => "concurrent_fetches",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<LimitKind> {
        LimitKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The field of [`SandboxLimits`] that sets this limit, if any.
    pub fn field(self) -> Option<&'static str> {
        Some(match self {
            LimitKind::Fuel => "fuel",
            LimitKind::Memory => "memory_mb",
            LimitKind::Timeout => "timeout_ms",
            LimitKind::Stack => return None,
            LimitKind::Output => "max_output_bytes",
            LimitKind::Log => "max_log_bytes",
            LimitKind::Fetches => "max_fetches",
            LimitKind::FetchResponse => "max_fetch_response_bytes",
            LimitKind::FetchTimeout => "fetch_timeout_ms",
            LimitKind::Timers => "max_timers",
            LimitKind::ConcurrentFetches => "max_concurrent_fetches",
        })
    }

    /// The command-line flag that sets this limit, if any.
    pub fn flag(self) -> Option<&'static str> {
        Some(match self {
            LimitKind::Fuel => "--fuel",
            LimitKind::Memory => "--memory-mb",
            LimitKind::Timeout => "--timeout-ms",
            LimitKind::Stack => return None,
            LimitKind::Output => "--max-output-bytes",
            LimitKind::Log => "--max-log-bytes",
            LimitKind::Fetches => "--max-fetches",
            LimitKind::FetchResponse => "--max-fetch-response-bytes",
            LimitKind::FetchTimeout => "--fetch-timeout-ms",
            LimitKind::Timers => "--max-timers",
            LimitKind::ConcurrentFetches => "--max-concurrent-fetches",
        })
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
    fn messages_name_the_limit_its_value_and_how_to_raise_it() {
        let e = LimitExceeded::Fuel { limit: 5_000_000 };
        assert_eq!(e.to_string(), "ran out of fuel (limit 5000000)");
        assert_eq!(
            e.hinted(LimitHint::Flag),
            "ran out of fuel (limit 5000000; raise it with --fuel)"
        );
        assert_eq!(
            e.hinted(LimitHint::Field),
            "ran out of fuel (limit 5000000; raise it with limits.fuel)"
        );
        assert_eq!(e.kind().as_str(), "fuel");
        assert_eq!(
            LimitExceeded::Stack.hinted(LimitHint::Flag),
            "exhausted its stack (recursion too deep)"
        );
    }

    #[test]
    fn every_settable_limit_has_a_flag_and_a_field_of_the_same_name() {
        let fields = serde_json::to_value(SandboxLimits::default()).unwrap();
        for kind in LimitKind::ALL {
            assert_eq!(LimitKind::parse(kind.as_str()), Some(kind));
            match (kind.field(), kind.flag()) {
                (Some(field), Some(flag)) => {
                    assert!(fields.get(field).is_some(), "{field}");
                    assert_eq!(flag, format!("--{}", field.replace('_', "-")));
                }
                (None, None) => assert_eq!(kind, LimitKind::Stack),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }
}
