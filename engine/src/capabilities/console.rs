//! The `console` capability: a charm's `console.log` and friends.
//!
//! Owns the per-task log budget and the run's log excerpt. Each line becomes
//! a `tracing` event with target [`CONSOLE_TARGET`], carrying the charm, space
//! and run ids, so a charm's output lands in the same structured logs as the
//! host's own. The excerpt (the first [`EXCERPT_BYTES`] of output) is kept
//! for run records. Each line is redacted first (the run's secret values
//! become `[redacted]`; see [`Redactor`]), so neither the host's logs nor
//! the run's record hold them. A task that logs more than its `max_log_bytes` is ended
//! with [`LimitExceeded::LogVolume`]: log flooding is a resource, like CPU.

use std::sync::Arc;

use charm_host_abi::{import, Function, LogLevel, IMPORT_MODULE};
use wasmtime::{Caller, Linker};

use super::{context, read_guest, Capability, TaskSetup};
use crate::limits::LimitExceeded;
use crate::sandbox::{TaskReport, TaskState};
use crate::secrets::Redactor;

/// The `tracing` target of console lines. Subscribers filter or format on it.
pub const CONSOLE_TARGET: &str = "charm_console";

/// How much of a run's console output is kept in its record.
pub const EXCERPT_BYTES: usize = 16 * 1024;

/// Ids attached to every console line, so a charm's output can be found by
/// charm, space and run in the host's structured logs.
#[derive(Debug, Clone, Default)]
pub struct LogIdentity {
    /// The charm's id (`charm-host run`: the file's stem).
    pub charm_id: String,
    /// The charm's space (tenant).
    pub space: String,
    /// The run's id.
    pub run_id: String,
}

/// Per-task console state.
#[derive(Debug)]
pub struct ConsoleCtx {
    identity: LogIdentity,
    max_bytes: u64,
    used_bytes: u64,
    excerpt: String,
    truncated: bool,
    redactor: Arc<Redactor>,
}

impl ConsoleCtx {
    /// A context that attaches `identity` and allows `max_bytes` of output.
    pub fn new(identity: LogIdentity, max_bytes: u64) -> ConsoleCtx {
        ConsoleCtx {
            identity,
            max_bytes,
            used_bytes: 0,
            excerpt: String::new(),
            truncated: false,
            redactor: Arc::default(),
        }
    }

    /// This context, replacing the values `redactor` knows in every line
    /// before it is traced or kept.
    pub fn redacting(mut self, redactor: Arc<Redactor>) -> ConsoleCtx {
        self.redactor = redactor;
        self
    }

    /// The first [`EXCERPT_BYTES`] of the run's output, one line per call,
    /// each prefixed with its level; "[truncated]" marks a cut.
    pub fn excerpt(&self) -> String {
        if self.truncated {
            format!("{}[truncated]\n", self.excerpt)
        } else {
            self.excerpt.clone()
        }
    }

    /// Records one line, or fails when the budget is spent.
    fn record(&mut self, len: u32) -> Result<(), LimitExceeded> {
        self.used_bytes = self.used_bytes.saturating_add(u64::from(len) + 1);
        if self.used_bytes > self.max_bytes {
            return Err(LimitExceeded::LogVolume {
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    fn keep(&mut self, level: LogLevel, text: &str) {
        if self.truncated {
            return;
        }
        let prefix = match level {
            LogLevel::Debug => "debug: ",
            LogLevel::Info => "",
            LogLevel::Warn => "warn: ",
            LogLevel::Error => "error: ",
        };
        let room = EXCERPT_BYTES.saturating_sub(self.excerpt.len());
        let line_len = prefix.len() + text.len() + 1;
        if line_len <= room {
            self.excerpt.push_str(prefix);
            self.excerpt.push_str(text);
            self.excerpt.push('\n');
        } else {
            let mut cut = room.saturating_sub(prefix.len());
            while cut > 0 && !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.excerpt.push_str(prefix);
            self.excerpt.push_str(&text[..cut]);
            self.excerpt.push('\n');
            self.truncated = true;
        }
    }

    fn emit(&self, level: LogLevel, text: &str) {
        let LogIdentity {
            charm_id,
            space,
            run_id,
        } = &self.identity;
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: CONSOLE_TARGET, charm = %charm_id, space = %space, run = %run_id, "{text}")
            }
            LogLevel::Info => {
                tracing::info!(target: CONSOLE_TARGET, charm = %charm_id, space = %space, run = %run_id, "{text}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: CONSOLE_TARGET, charm = %charm_id, space = %space, run = %run_id, "{text}")
            }
            LogLevel::Error => {
                tracing::error!(target: CONSOLE_TARGET, charm = %charm_id, space = %space, run = %run_id, "{text}")
            }
        }
    }
}

/// The console capability.
pub(crate) struct Console;

impl Capability for Console {
    type Ctx = ConsoleCtx;
    const IMPORTS: &'static [Function] = &[import::CONSOLE];

    fn add_to_linker(&self, linker: &mut Linker<TaskState>) -> wasmtime::Result<()> {
        linker.func_wrap(
            IMPORT_MODULE,
            import::CONSOLE.name,
            |mut caller: Caller<'_, TaskState>,
             level: i32,
             ptr: u32,
             len: u32|
             -> wasmtime::Result<()> {
                let level = LogLevel::from_i32(level);
                // Check the budget before copying, so a flood costs nothing.
                context::<ConsoleCtx>(caller.data_mut())?.record(len)?;
                let bytes = read_guest(&mut caller, ptr, len)?;
                let text = String::from_utf8_lossy(&bytes);
                let console = context::<ConsoleCtx>(caller.data_mut())?;
                // The budget counted the line as the charm wrote it.
                let redactor = Arc::clone(&console.redactor);
                let text = redactor.text(&text);
                console.emit(level, &text);
                console.keep(level, &text);
                Ok(())
            },
        )?;
        Ok(())
    }

    fn new_context(&self, task: &TaskSetup<'_>) -> ConsoleCtx {
        ConsoleCtx::new(task.spec.identity.clone(), task.spec.limits.max_log_bytes)
            .redacting(Arc::clone(&task.spec.redactor))
    }

    fn report(&self, ctx: &ConsoleCtx, report: &mut TaskReport) {
        report.log_excerpt = ctx.excerpt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_every_line() {
        let mut c = ConsoleCtx::new(LogIdentity::default(), 10);
        assert!(c.record(4).is_ok());
        assert!(c.record(4).is_ok());
        assert_eq!(c.record(4), Err(LimitExceeded::LogVolume { limit: 10 }));
    }

    #[test]
    fn excerpt_is_capped_on_a_char_boundary() {
        let mut c = ConsoleCtx::new(LogIdentity::default(), u64::MAX);
        c.keep(LogLevel::Warn, "careful");
        assert_eq!(c.excerpt(), "warn: careful\n");
        let long = "é".repeat(EXCERPT_BYTES);
        c.keep(LogLevel::Info, &long);
        c.keep(LogLevel::Info, "after the cut");
        let excerpt = c.excerpt();
        assert!(excerpt.len() <= EXCERPT_BYTES + 20);
        assert!(excerpt.ends_with("[truncated]\n"));
        assert!(!excerpt.contains("after the cut"));
    }
}
