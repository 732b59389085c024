//! One run plan: everything a run of a charm needs, built in one place.
//!
//! The dispatcher (a charm from the store) and `charm-host run` (a file and
//! flags) both turn a charm's settings and a run's particulars into a
//! [`RunPlan`]: the task's spec (limits, allow-list, log identity, whether
//! it records or replays: [`RecordMode`], off unless the caller sets it) and
//! the `ctx` that `bgUpdater` receives. A run's secrets go into `ctx.secrets`
//! and, as the redactor of their values, into the spec: the run's console
//! lines, errors and new state are redacted on the way out.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::capabilities::console::LogIdentity;
use crate::capabilities::fetch::{AllowList, InvalidEntry};
use crate::compile::CompiledCharm;
use crate::limits::{InvalidLimit, SandboxLimits};
use crate::recording::RecordMode;
use crate::run::{run, RunContext, RunReport};
use crate::sandbox::{Sandbox, TaskSpec};
use crate::secrets::Secrets;

/// A charm's settings, as a run needs them.
#[derive(Debug, Clone, Copy)]
pub struct CharmSettings<'a> {
    /// The charm's id.
    pub id: &'a str,
    /// Its space (tenant).
    pub space: &'a str,
    /// Its integration label, if any.
    pub integration: Option<&'a str>,
    /// Its limits.
    pub limits: &'a SandboxLimits,
    /// Its allow-list entries (see [`AllowList::parse`]).
    pub allowed_hosts: &'a [String],
    /// Whether exact entries may reach loopback, private and link-local
    /// addresses (an operator's grant); when not, the list is
    /// [`AllowList::public_only`].
    pub private_network: bool,
}

/// A run's particulars.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The run's id.
    pub run_id: String,
    /// `ctx.input`: what the trigger passed (`null` for scheduled runs).
    pub input: serde_json::Value,
    /// `ctx.events`: the inbox events given to the run, an array of
    /// `{id, receivedAt, source, data}` (oldest first).
    pub events: serde_json::Value,
    /// `ctx.now`: when the run starts, in ms since the Unix epoch
    /// (see [`unix_ms`]).
    pub now_ms: u64,
    /// `ctx.attempt`: 1, or one more than the run this one retries.
    pub attempt: u32,
    /// `ctx.idempotencyKey`: the same for a run and its retries.
    pub idempotency_key: String,
    /// `ctx.secrets`: the charm's secrets, read for this run
    /// ([`Secrets::none`] for none).
    pub secrets: Secrets,
}

/// Why a run cannot be planned: the charm's settings are not valid.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// An allow-list entry does not parse.
    #[error("the allow-list is invalid: {0}")]
    AllowList(#[from] InvalidEntry),
    /// A limit is out of range.
    #[error("the limits are invalid: {0}")]
    Limits(#[from] InvalidLimit),
}

/// Everything one run of a charm needs besides its bytecode and state.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// What the task may do.
    pub spec: TaskSpec,
    /// What `bgUpdater` receives as `ctx`.
    pub ctx: RunContext,
}

impl RunPlan {
    /// Plans a run of `charm`.
    ///
    /// # Errors
    /// [`PlanError`] when the allow-list or the limits are invalid.
    pub fn new(charm: CharmSettings<'_>, request: RunRequest) -> Result<RunPlan, PlanError> {
        charm.limits.validate()?;
        let allow = AllowList::parse(charm.allowed_hosts)?;
        let allow = Arc::new(if charm.private_network {
            allow
        } else {
            allow.public_only()
        });
        let spec = TaskSpec {
            limits: charm.limits.clone(),
            allow,
            identity: LogIdentity {
                charm_id: charm.id.to_string(),
                space: charm.space.to_string(),
                run_id: request.run_id.clone(),
            },
            redactor: Arc::new(request.secrets.redactor()),
            // Whoever keeps the recording asks for it (the service records
            // every run); `charm-host run` and the playground keep none.
            recording: RecordMode::Off,
        };
        let ctx = RunContext {
            charm_id: charm.id.to_string(),
            space: charm.space.to_string(),
            integration: charm.integration.map(str::to_string),
            run_id: request.run_id,
            input: request.input,
            events: request.events,
            now: request.now_ms,
            attempt: request.attempt,
            idempotency_key: request.idempotency_key,
            secrets: request.secrets,
        };
        Ok(RunPlan { spec, ctx })
    }

    /// Runs `charm` once with `state` (JSON text) under this plan.
    pub async fn run(&self, sandbox: &Sandbox, charm: &CompiledCharm, state: &str) -> RunReport {
        run(sandbox, charm, state, &self.ctx, &self.spec).await
    }
}

/// Milliseconds since the Unix epoch, the clock of `ctx.now`.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(limits: &'a SandboxLimits, hosts: &'a [String]) -> CharmSettings<'a> {
        CharmSettings {
            id: "c1",
            space: "team",
            integration: Some("rss"),
            limits,
            allowed_hosts: hosts,
            private_network: true,
        }
    }

    #[test]
    fn a_plan_carries_the_ids_into_the_spec_and_the_context() {
        let limits = SandboxLimits::default();
        let hosts = vec!["example.com".to_string()];
        let plan = RunPlan::new(
            settings(&limits, &hosts),
            RunRequest {
                run_id: "7".into(),
                input: serde_json::json!({"x": 1}),
                events: serde_json::json!([]),
                now_ms: 42,
                attempt: 2,
                idempotency_key: "c1:5".into(),
                secrets: Secrets::none(),
            },
        )
        .unwrap();
        assert_eq!(plan.spec.identity.run_id, "7");
        assert_eq!(plan.spec.identity.space, "team");
        assert_eq!(plan.spec.allow.entries(), &hosts[..]);
        assert_eq!(plan.ctx.integration.as_deref(), Some("rss"));
        assert_eq!((plan.ctx.now, plan.ctx.input["x"].as_i64()), (42, Some(1)));
        assert_eq!(
            (plan.ctx.attempt, plan.ctx.idempotency_key.as_str()),
            (2, "c1:5")
        );
        let ctx = serde_json::to_value(&plan.ctx).unwrap();
        assert_eq!(
            (&ctx["attempt"], &ctx["idempotencyKey"]),
            (&serde_json::json!(2), &serde_json::json!("c1:5"))
        );
    }

    #[test]
    fn invalid_settings_are_refused_with_the_reason() {
        let limits = SandboxLimits::default();
        let hosts = vec!["http://example.com/".to_string()];
        let request = RunRequest {
            run_id: "1".into(),
            input: serde_json::Value::Null,
            events: serde_json::json!([]),
            now_ms: 0,
            attempt: 1,
            idempotency_key: "c1:1".into(),
            secrets: Secrets::none(),
        };
        let err = RunPlan::new(settings(&limits, &hosts), request.clone()).unwrap_err();
        assert!(matches!(err, PlanError::AllowList(_)), "{err}");
        let limits = SandboxLimits {
            memory_mb: 1,
            ..SandboxLimits::default()
        };
        let err = RunPlan::new(settings(&limits, &[]), request).unwrap_err();
        assert!(err.to_string().contains("memory_mb"), "{err}");
    }
}
