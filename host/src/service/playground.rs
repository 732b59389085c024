//! The playground: run a charm once, as it is or with an edited source,
//! state or input, and see what it would do, without touching anything
//! stored.
//!
//! A tryout runs in the same sandbox as real runs, with the charm's own
//! allow-list, network grant and limits, so what it shows is what a run
//! would do; but its result is only reported: no run record, no state
//! write, no inbox change. At most [`super::TRYOUT_SLOTS`] tryouts run at
//! once, one per space, apart from the run and compile slots; a space over
//! its fuel per hour gets none. A tryout's fuel is not counted in the
//! space's hour (it is bounded by the charm's own limits).

use charm_engine::{unix_ms, RunError, RunPlan, RunRequest, StateChange};
use charm_store::RunOutcome;
use serde::{Deserialize, Serialize};

use super::policy::{outcome_of, recorded_error};
use super::registry::{charm_id, Registry, RegistryError};
use super::secrets::SecretKeeper;
use super::tenants::Caller;

/// What to try: each field replaces the stored one when given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tryout {
    /// A source to try instead of the stored one (compiled first; a
    /// compile error is the answer).
    pub source: Option<String>,
    /// Modules to try instead of the stored ones of the same paths (see
    /// `CharmChanges::modules`).
    pub modules: Option<std::collections::BTreeMap<String, String>>,
    /// A state to start from instead of the stored one.
    pub state: Option<serde_json::Value>,
    /// An input: the run gets it as one event (`ctx.events`, `ctx.input`).
    pub input: Option<serde_json::Value>,
}

/// What a tryout did.
#[derive(Debug, Clone, Serialize)]
pub struct TryoutReport {
    /// As a run's: `ok`, `error`, `timeout`, `fuel`, `memory`, `denied`,
    /// `limit` or `fault`.
    pub outcome: RunOutcome,
    /// The error and its stack, or the limit, when it failed.
    pub error: Option<String>,
    /// Where the error is in the source (1-based line and column), when
    /// known: a syntax error's position, or the top frame in the charm's
    /// own file (QuickJS places the frame that threw at its function's
    /// first line; `error`'s stack has the callers' exact positions).
    pub position: Option<Position>,
    /// The state it would leave: the new one, or the one it started from.
    pub state: Box<serde_json::value::RawValue>,
    /// The change from the stored state to `state`, an RFC 6902 JSON Patch
    /// (empty when nothing would change); `None` when either is nested
    /// deeper than the 128 levels a diff reads.
    pub patch: Option<json_patch::Patch>,
    /// Its console output (the first part).
    pub log: String,
    /// Fuel used.
    pub fuel: u64,
    /// Peak linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall time, in ms.
    pub duration_ms: u64,
}

/// A place in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    /// 1-based.
    pub line: u32,
    /// 1-based.
    pub column: u32,
}

/// Runs charm `id` once as `tryout` says, on behalf of `by`.
///
/// # Errors
/// [`RegistryError::NotFound`] for a charm `by` does not reach,
/// [`RegistryError::Compile`] for a source that does not compile,
/// [`RegistryError::Invalid`] for a state that is over the charm's output
/// limit, or a store failure.
pub async fn try_out(
    registry: &Registry,
    secrets: &SecretKeeper,
    id: &str,
    tryout: Tryout,
    by: &Caller,
) -> Result<TryoutReport, RegistryError> {
    let store = registry.store();
    let charm = charm_id(id)?;
    let code = store
        .charm_code(&charm)
        .await?
        .filter(|c| by.reaches(&c.space))
        .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
    let stored = store
        .state(&charm)
        .await?
        .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
    // A space over its fuel per hour runs nothing, tryouts included.
    if let Some((_, block)) = store
        .blocked_spaces()
        .await?
        .into_iter()
        .find(|(space, _)| *space == code.space)
    {
        return Err(RegistryError::Store(charm_store::StoreError::OverQuota(
            charm_store::QuotaExceeded {
                space: code.space.clone(),
                kind: block.quota,
                limit: block.limit,
                would_be: block.used,
            },
        )));
    }
    let compiled = if tryout.source.is_some() || tryout.modules.is_some() {
        let mut charm = Registry::charm_source(&code)?;
        if let Some(source) = &tryout.source {
            charm.source = source.clone();
        }
        charm
            .modules
            .extend(tryout.modules.clone().unwrap_or_default());
        registry.compile(&mut charm).await?
    } else {
        registry.compiled(&code).await?
    };
    let limits = registry.stored_limits(&code.id, &code.limits)?;
    let state = match &tryout.state {
        Some(state) => state.to_string(),
        None => stored.state.clone(),
    };
    if state.len() as u64 > limits.max_output_bytes {
        return Err(RegistryError::Invalid(format!(
            "the state is {} bytes, over the charm's output limit of {}",
            state.len(),
            limits.max_output_bytes
        )));
    }
    // The charm's secrets, as a run gets them (and redacted from what the
    // tryout reports, as from a run's record).
    let secrets = match secrets.for_run(&code.id).await {
        Ok(secrets) => secrets,
        Err(e) => {
            return Ok(TryoutReport {
                outcome: RunOutcome::Fault,
                error: Some(e.to_string()),
                position: None,
                state: raw_json(id, stored.state.clone())?,
                patch: Some(json_patch::Patch(Vec::new())),
                log: String::new(),
                fuel: 0,
                memory_bytes: 0,
                duration_ms: 0,
            });
        }
    };
    let now = unix_ms();
    let events = match &tryout.input {
        Some(data) => serde_json::json!([{
            "id": 0, "receivedAt": now, "source": "playground", "data": data
        }]),
        None => serde_json::json!([]),
    };
    let settings = super::registry::run_settings(&code, &limits);
    let request = RunRequest {
        run_id: format!("playground-{}", uuid::Uuid::now_v7()),
        input: tryout.input.clone().unwrap_or(serde_json::Value::Null),
        events,
        now_ms: now,
        attempt: 1,
        idempotency_key: "playground".to_string(),
        secrets,
    };
    let plan = RunPlan::new(settings, request).map_err(|e| RegistryError::Stored {
        what: "settings",
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    let report = {
        let _slot = registry.tryout_slot(&code.space).await?;
        plan.run(registry.sandbox(), &compiled, &state).await
    };
    tracing::info!(charm = %code.id, space = %code.space, by = by.actor(), "tried a charm out in the playground");
    let (outcome, error, position, result) = match &report.outcome {
        Ok(StateChange::Keep) => (RunOutcome::Ok, None, None, state.clone()),
        Ok(StateChange::Replace(new)) => (RunOutcome::Ok, None, None, new.clone()),
        Err(e) => (
            outcome_of(e),
            Some(recorded_error(e)),
            position_of(e, &code.name),
            state.clone(),
        ),
    };
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    let patch = match (parse(&stored.state), parse(&result)) {
        (Some(before), Some(after)) => Some(json_patch::diff(&before, &after)),
        _ => None,
    };
    Ok(TryoutReport {
        outcome,
        error,
        position,
        patch,
        state: raw_json(id, result)?,
        log: report.log_excerpt,
        fuel: report.stats.fuel,
        memory_bytes: report.stats.memory_bytes,
        duration_ms: u64::try_from(report.stats.duration.as_millis()).unwrap_or(u64::MAX),
    })
}

/// A state as JSON for the report, however deeply nested.
fn raw_json(id: &str, text: String) -> Result<Box<serde_json::value::RawValue>, RegistryError> {
    serde_json::value::RawValue::from_string(text).map_err(|e| RegistryError::Stored {
        what: "state",
        id: id.to_string(),
        reason: e.to_string(),
    })
}

/// Where an error points in the charm's file `name`: a syntax error's own
/// position, else the first stack frame in that file
/// (`    at fn (name:line:column)`).
fn position_of(error: &RunError, name: &str) -> Option<Position> {
    let js = match error {
        RunError::Charm(js) | RunError::Denied(js) => js,
        RunError::Limit(_) | RunError::Fault(_) | RunError::Replay(_) => return None,
    };
    if let (Some(line), Some(column)) = (js.line, js.column) {
        return Some(Position { line, column });
    }
    js.stack.lines().find_map(|frame| {
        let at = frame.find(&format!("{name}:"))? + name.len() + 1;
        let mut numbers = frame[at..]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        let line = numbers.next()?.parse().ok()?;
        let column = numbers.next()?.parse().ok()?;
        Some(Position { line, column })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use charm_engine::JsError;

    fn thrown(stack: &str) -> RunError {
        RunError::Charm(JsError {
            kind: charm_engine::ErrorKind::Charm,
            name: "TypeError".into(),
            message: "x".into(),
            stack: stack.into(),
            line: None,
            column: None,
            limit: None,
        })
    }

    #[test]
    fn the_position_is_the_top_frame_in_the_charms_own_file() {
        let e = thrown("    at <anonymous> (prelude.js:9:1)\n    at parse (feed.js:12:17)\n    at bgUpdater (feed.js:30:3)");
        assert_eq!(
            position_of(&e, "feed.js"),
            Some(Position {
                line: 12,
                column: 17
            })
        );
        assert_eq!(
            position_of(&thrown("    at f (other.js:1:2)"), "feed.js"),
            None
        );
    }
}
