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

use charm_host_abi::error::ErrorKind;
use charm_host_abi::{export, Status};
use serde::Serialize;

use crate::compile::CompiledCharm;
use crate::js_error::JsError;
use crate::limits::LimitExceeded;
use crate::recording::{Recording, ReplayError};
use crate::sandbox::{Sandbox, TaskError, TaskReport, TaskSpec, TaskStats};
use crate::secrets::Secrets;

/// The `ctx` argument of `bgUpdater`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunContext {
    /// The charm's id.
    pub charm_id: String,
    /// The charm's space (tenant).
    pub space: String,
    /// The charm's integration label, if any.
    pub integration: Option<String>,
    /// The run's id.
    pub run_id: String,
    /// What the trigger passed (`null` for scheduled runs): the newest of
    /// `events`' data.
    pub input: serde_json::Value,
    /// The inbox events this run is given, oldest first: an array of
    /// `{id, receivedAt, source, data}`. A successful run acknowledges
    /// them all; a failed one leaves them for its retry.
    pub events: serde_json::Value,
    /// Milliseconds since the Unix epoch when the run was started.
    pub now: u64,
    /// 1 for a run queued by a trigger; one more for each retry of a run
    /// whose node stopped before it finished.
    pub attempt: u32,
    /// The same for a run and its retries, different for runs queued
    /// apart: a key for the charm to deduplicate its outbound writes with
    /// (side effects outside the state are at least once).
    pub idempotency_key: String,
    /// The charm's secrets by name (`{}` when it has none), read for this
    /// run. Its `Debug` shows names only; the values go to the guest and
    /// nowhere else.
    pub secrets: Secrets,
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
    /// A limit ended the run. Shown without a hint; callers add the one
    /// their user can act on ([`LimitExceeded::hinted`]).
    #[error("{0}")]
    Limit(LimitExceeded),
    /// The sandbox or the runtime failed (a defect, not the charm's doing).
    #[error("{0}")]
    Fault(String),
    /// A replay could not go on: the charm diverged from the recording, or
    /// needs what the recording left out. Only replays end so.
    #[error("{0}")]
    Replay(ReplayError),
}

/// Everything a run produced.
#[derive(Debug)]
pub struct RunReport {
    /// The new state, or why there is none.
    pub outcome: Result<StateChange, RunError>,
    /// What the run cost.
    pub stats: TaskStats,
    /// The first part of its console output.
    pub log_excerpt: String,
    /// The next run the charm asked for (`ctx.scheduleNext(ms)`), in ms
    /// after this one; only a successful run's request counts.
    pub next_run_ms: Option<u64>,
    /// What the run received, when it recorded.
    pub recording: Option<Recording>,
}

/// Runs `charm` once with `state` (JSON text) and `ctx` under `spec`.
///
/// The report is redacted by `spec.redactor`: the new state, the error's
/// message and stack, and (through the console capability) the log
/// excerpt hold no secret value.
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
        limits: GuestLimits,
    }
    /// The limits the runtime itself enforces (the host enforces the rest).
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct GuestLimits {
        max_timers: u32,
    }
    let input = serde_json::value::RawValue::from_string(state.to_string())
        .map_err(|e| RunError::Fault(format!("the stored state is not valid JSON: {e}")))
        .and_then(|state| {
            let limits = GuestLimits {
                max_timers: spec.limits.max_timers,
            };
            serde_json::to_vec(&Input {
                state: &state,
                ctx,
                limits,
            })
            .map_err(|e| RunError::Fault(format!("encoding the run input failed: {e}")))
        });
    let input = match input {
        Ok(input) => input,
        Err(e) => {
            return RunReport {
                outcome: Err(e),
                stats: TaskStats::default(),
                log_excerpt: String::new(),
                next_run_ms: None,
                recording: None,
            }
        }
    };
    let bytecode = Arc::clone(&charm.bytecode);
    let result = sandbox
        .call(
            export::RUN.name,
            [&bytecode, &input],
            spec,
            spec.limits.max_output_bytes,
        )
        .await;
    let outcome = match result.answer {
        Err(TaskError::Limit(limit)) => Err(RunError::Limit(limit)),
        Err(TaskError::Fault(message)) => Err(RunError::Fault(message)),
        Err(TaskError::Replay(e)) => Err(RunError::Replay(e)),
        Ok(answer) => match answer.status {
            Status::Ok if answer.payload.is_empty() => Ok(StateChange::Keep),
            Status::Ok => new_state(answer.payload),
            Status::Error => Err(explain(JsError::from_payload(&answer.payload))),
        },
    };
    let redactor = &spec.redactor;
    let outcome = match outcome {
        Ok(StateChange::Replace(state)) => Ok(StateChange::Replace(redactor.json(&state))),
        Ok(StateChange::Keep) => Ok(StateChange::Keep),
        Err(e) => Err(redactor.run_error(e)),
    };
    let TaskReport {
        stats,
        log_excerpt,
        next_run_ms,
        recording,
    } = result.report;
    RunReport {
        next_run_ms: next_run_ms.filter(|_| outcome.is_ok()),
        outcome,
        stats,
        log_excerpt,
        recording,
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

/// What an uncaught error means, by the kind the guest gave it: a fetch
/// refused by the allow-list, a fetch limit the charm let escape, a defect
/// of the runtime, or the charm's own failure.
fn explain(error: JsError) -> RunError {
    match error.kind {
        ErrorKind::Denied => RunError::Denied(error),
        ErrorKind::Limit => match error.reported_limit() {
            Some(limit) => RunError::Limit(limit),
            None => RunError::Charm(error),
        },
        ErrorKind::Internal => RunError::Fault(error.to_string()),
        ErrorKind::Charm | ErrorKind::Syntax | ErrorKind::Contract => RunError::Charm(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncaught_errors_are_explained_by_their_kind() {
        let with = |kind| JsError {
            kind,
            ..JsError::new("TypeError", "fetch to `x` denied")
        };
        assert!(matches!(
            explain(with(ErrorKind::Denied)),
            RunError::Denied(_)
        ));
        assert!(matches!(
            explain(with(ErrorKind::Charm)),
            RunError::Charm(_)
        ));
        let limit = JsError {
            limit: Some(crate::js_error::ReportedLimit {
                kind: crate::limits::LimitKind::FetchTimeout,
                value: 300,
            }),
            ..with(ErrorKind::Limit)
        };
        assert_eq!(
            explain(limit),
            RunError::Limit(LimitExceeded::FetchTimeout { limit_ms: 300 })
        );
    }
}
