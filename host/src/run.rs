//! Running a charm once: `bgUpdater(state, ctx)` in a fresh sandbox task.
//!
//! Owns the run's input (state and [`RunContext`]), its outcome
//! ([`StateChange`] or [`RunError`]) and the report that carries both with
//! the task's cost and log excerpt. It never stores anything: the caller
//! decides what to do with a new state, and a failed run has none to offer.
//!
//! The new state is checked on the host side too (it must parse as JSON and
//! fit the output limit), whatever the guest claims.

use std::sync::Arc;

use charm_host_abi::{export, Status};
use serde::Serialize;

use crate::capabilities::fetch::FetchFailure;
use crate::compile::CompiledCharm;
use crate::js_error::JsError;
use crate::limits::LimitExceeded;
use crate::sandbox::{Sandbox, TaskError, TaskSpec, TaskStats};

/// The `ctx` argument of `bgUpdater`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunContext {
    pub charm_id: String,
    pub space: String,
    pub integration: Option<String>,
    pub run_id: String,
    /// What the trigger passed (`null` for scheduled runs).
    pub input: serde_json::Value,
    /// Milliseconds since the Unix epoch when the run was started.
    pub now: u64,
}

/// What a successful run does to the charm's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// `bgUpdater` returned `undefined`: keep the state as it is.
    Keep,
    /// The new state, as compact JSON text.
    Replace(String),
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The charm threw, rejected, or returned something that is not JSON.
    #[error("{0}")]
    Charm(JsError),
    /// A fetch the charm did not catch was refused by its allow-list.
    #[error("{0}")]
    Denied(JsError),
    /// A limit ended the run.
    #[error("{0}")]
    Limit(LimitExceeded),
    /// The sandbox failed.
    #[error("{0}")]
    Fault(String),
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunReport {
    pub outcome: Result<StateChange, RunError>,
    pub stats: TaskStats,
    pub log_excerpt: String,
}

/// Runs `charm` once with `state` (JSON text) and `ctx` under `spec`.
pub async fn run(
    sandbox: &Sandbox,
    charm: &CompiledCharm,
    state: &str,
    ctx: &RunContext,
    spec: &TaskSpec,
) -> RunReport {
    #[derive(Serialize)]
    struct Input<'a> {
        state: &'a serde_json::value::RawValue,
        ctx: &'a RunContext,
    }
    let input = serde_json::value::RawValue::from_string(state.to_string())
        .map_err(|e| RunError::Fault(format!("the stored state is not valid JSON: {e}")))
        .and_then(|state| {
            serde_json::to_vec(&Input { state: &state, ctx })
                .map_err(|e| RunError::Fault(format!("encoding the run input failed: {e}")))
        });
    let input = match input {
        Ok(input) => input,
        Err(e) => {
            return RunReport {
                outcome: Err(e),
                stats: TaskStats::default(),
                log_excerpt: String::new(),
            }
        }
    };
    let bytecode = Arc::clone(&charm.bytecode);
    let result = sandbox
        .call(
            export::RUN,
            [&bytecode, &input],
            spec,
            spec.limits.max_output_bytes,
        )
        .await;
    let outcome = match result.answer {
        Err(TaskError::Limit(limit)) => Err(RunError::Limit(limit)),
        Err(TaskError::Fault(message)) => Err(RunError::Fault(message)),
        Ok(answer) => match answer.status {
            Status::Ok if answer.payload.is_empty() => Ok(StateChange::Keep),
            Status::Ok => new_state(answer.payload),
            Status::Error => Err(explain(
                JsError::from_payload(&answer.payload),
                &result.fetch_failures,
            )),
        },
    };
    RunReport {
        outcome,
        stats: result.stats,
        log_excerpt: result.log_excerpt,
    }
}

fn new_state(payload: Vec<u8>) -> Result<StateChange, RunError> {
    let text = String::from_utf8(payload).map_err(|_| {
        RunError::Charm(JsError::new(
            "TypeError",
            "bgUpdater returned a state that is not valid UTF-8",
        ))
    })?;
    match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        Ok(_) => Ok(StateChange::Replace(text)),
        Err(e) => Err(RunError::Charm(JsError::new(
            "TypeError",
            format!("bgUpdater returned a state that is not valid JSON: {e}"),
        ))),
    }
}

/// An uncaught error that is exactly a fetch failure the host reported is
/// that failure: a denial, or the response limit it names.
fn explain(error: JsError, failures: &[FetchFailure]) -> RunError {
    let matching = failures
        .iter()
        .rev()
        .find(|f| f.to_string() == error.message);
    match matching {
        Some(FetchFailure::Denied(_)) => RunError::Denied(error),
        Some(FetchFailure::TooLarge { limit, .. }) => {
            RunError::Limit(LimitExceeded::FetchResponse { limit: *limit })
        }
        Some(FetchFailure::TimedOut { limit_ms, .. }) => {
            RunError::Limit(LimitExceeded::FetchTimeout {
                limit_ms: *limit_ms,
            })
        }
        _ => RunError::Charm(error),
    }
}
