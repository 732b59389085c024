//! The charm registry: registering, editing, triggering and removing charms.
//!
//! Owns the rules for what a valid charm definition is (space names,
//! intervals, limits merged over the daemon's defaults, allow-lists, initial
//! state), compiling its source in the sandbox, and keeping compiled
//! bytecode in step with the runtime. The API and the CLI go through it; it
//! writes only through the store and never runs a charm's `bgUpdater`.

use std::sync::Arc;

use charm_engine::limits::SandboxLimits;
use charm_engine::{compile_with, AllowList, CompileError, CompiledCharm, Sandbox, TaskSpec};
use charm_store::{
    CharmCode, CharmId, CharmRecord, Enqueued, NewCharm, Store, StoreError, Trigger,
};
use serde::Deserialize;

use super::policy::{priority, SchedulePolicy};

/// Default interval between scheduled runs, in seconds (the original
/// service's polling cycle).
pub const DEFAULT_INTERVAL_S: u32 = 60;
/// The longest interval accepted: a year.
pub const MAX_INTERVAL_S: u32 = 366 * 24 * 3600;
/// Compiles that may run at once (each holds a sandbox task); more wait.
pub const COMPILE_SLOTS: usize = 4;
/// The space of a charm registered without one.
pub const DEFAULT_SPACE: &str = "default";
/// The longest space, integration or module name accepted.
const MAX_NAME_LEN: usize = 128;
/// The most allow-list entries a charm may have.
const MAX_ALLOWED_HOSTS: usize = 256;

/// Why a registry operation failed. Each variant says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request is malformed or out of range; the message says which
    /// field and what is accepted.
    #[error("{0}")]
    Invalid(String),
    /// The source does not compile.
    #[error("{0}")]
    Compile(Box<CompileError>),
    /// No charm has this id.
    #[error("no charm with id `{0}`")]
    NotFound(String),
    /// The charm is disabled; it must be enabled to run.
    #[error("charm `{id}` is disabled ({reason}); enable it first")]
    Disabled {
        /// The charm.
        id: String,
        /// Why it was disabled.
        reason: String,
    },
    /// A stored value is not what the service wrote (a damaged database).
    #[error("stored {what} of charm `{id}` is invalid: {reason}")]
    Stored {
        /// Which value.
        what: &'static str,
        /// The charm.
        id: String,
        /// Why it does not decode.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A new charm, as the API receives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharmSpec {
    /// The module source.
    pub source: String,
    /// The module name shown in errors and stacks. Default `charm.js`.
    pub name: Option<String>,
    /// The tenant. Default [`DEFAULT_SPACE`].
    pub space: Option<String>,
    /// A label; default: the module's `export const integration`.
    pub integration: Option<String>,
    /// Seconds between scheduled runs. Default [`DEFAULT_INTERVAL_S`].
    pub interval_s: Option<u32>,
    /// Hosts the charm may fetch from. Default none.
    pub allowed_hosts: Option<Vec<String>>,
    /// Limits, each field optional, over the daemon's defaults.
    pub limits: Option<serde_json::Value>,
    /// The initial state. Default `{}`.
    pub state: Option<serde_json::Value>,
    /// Whether it runs on its schedule. Default true.
    pub enabled: Option<bool>,
}

/// Changes to a charm; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharmChanges {
    /// Enable (clearing the failure count) or disable (cancelling the
    /// queued run).
    pub enabled: Option<bool>,
    /// Seconds between scheduled runs.
    pub interval_s: Option<u32>,
    /// Hosts the charm may fetch from (replaces the list).
    pub allowed_hosts: Option<Vec<String>>,
    /// Limits, each field optional, over the charm's current ones.
    pub limits: Option<serde_json::Value>,
    /// A new source, compiled before it is stored.
    pub source: Option<String>,
    /// A new module name.
    pub name: Option<String>,
}

/// Registers and edits charms.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    sandbox: Sandbox,
    defaults: SandboxLimits,
    policy: SchedulePolicy,
    compiles: Arc<tokio::sync::Semaphore>,
}

fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(message.into())
}

fn check_name(what: &str, value: &str) -> Result<(), RegistryError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} `{value}` is not valid: use 1 to {MAX_NAME_LEN} letters, digits, `.`, `_` or `-`"
        )))
    }
}

fn check_interval(interval_s: u32) -> Result<u32, RegistryError> {
    if (1..=MAX_INTERVAL_S).contains(&interval_s) {
        Ok(interval_s)
    } else {
        Err(invalid(format!(
            "interval_s must be between 1 and {MAX_INTERVAL_S} seconds, got {interval_s}"
        )))
    }
}

fn check_hosts(hosts: Vec<String>) -> Result<Vec<String>, RegistryError> {
    if hosts.len() > MAX_ALLOWED_HOSTS {
        return Err(invalid(format!(
            "allowed_hosts has {} entries; at most {MAX_ALLOWED_HOSTS}",
            hosts.len()
        )));
    }
    AllowList::parse(&hosts).map_err(|e| invalid(e.to_string()))?;
    Ok(hosts)
}

/// Parses a charm id from a request; anything that is not an id names no
/// charm.
pub fn charm_id(id: &str) -> Result<CharmId, RegistryError> {
    CharmId::parse(id).ok_or_else(|| RegistryError::NotFound(id.to_string()))
}

impl Registry {
    /// A registry over `store`, compiling in `sandbox`, with the daemon's
    /// default limits and scheduling policy.
    pub fn new(
        store: Arc<dyn Store>,
        sandbox: Sandbox,
        defaults: SandboxLimits,
        policy: SchedulePolicy,
    ) -> Registry {
        Registry {
            store,
            sandbox,
            defaults,
            policy,
            compiles: Arc::new(tokio::sync::Semaphore::new(COMPILE_SLOTS)),
        }
    }

    /// A charm's limits as stored: the daemon's defaults under what the
    /// charm set.
    ///
    /// # Errors
    /// [`RegistryError::Stored`] when the stored object is not limits.
    pub fn stored_limits(
        &self,
        id: &CharmId,
        stored: &serde_json::Value,
    ) -> Result<SandboxLimits, RegistryError> {
        self.limits_over(&self.defaults, Some(stored.clone()))
            .map_err(|e| RegistryError::Stored {
                what: "limits",
                id: id.to_string(),
                reason: e.to_string(),
            })
    }

    /// Merges a partial limits object over `base` and validates the result.
    fn limits_over(
        &self,
        base: &SandboxLimits,
        partial: Option<serde_json::Value>,
    ) -> Result<SandboxLimits, RegistryError> {
        let Some(partial) = partial else {
            return Ok(base.clone());
        };
        let serde_json::Value::Object(fields) = partial else {
            return Err(invalid(
                "limits must be an object, e.g. {\"fuel\": 1000000000}",
            ));
        };
        let mut merged = serde_json::to_value(base).map_err(|e| invalid(e.to_string()))?;
        if let serde_json::Value::Object(target) = &mut merged {
            target.extend(fields);
        }
        let limits: SandboxLimits =
            serde_json::from_value(merged).map_err(|e| invalid(format!("limits: {e}")))?;
        limits.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(limits)
    }

    async fn compile(&self, name: &str, source: &str) -> Result<CompiledCharm, RegistryError> {
        // The semaphore is never closed; a closed one would only mean shutdown.
        let _slot = self
            .compiles
            .acquire()
            .await
            .map_err(|_| invalid("the service is shutting down"))?;
        let spec = TaskSpec {
            limits: self.defaults.clone(),
            ..TaskSpec::offline(name)
        };
        compile_with(&self.sandbox, name, source, &spec)
            .await
            .map_err(|e| RegistryError::Compile(Box::new(e)))
    }

    /// Validates, compiles and stores a new charm.
    ///
    /// # Errors
    /// [`RegistryError::Invalid`] or [`RegistryError::Compile`] saying what
    /// to fix; [`RegistryError::Store`] on a database failure.
    pub async fn register(&self, spec: CharmSpec) -> Result<CharmRecord, RegistryError> {
        let space = spec.space.unwrap_or_else(|| DEFAULT_SPACE.to_string());
        check_name("space", &space)?;
        let name = spec.name.unwrap_or_else(|| "charm.js".to_string());
        check_name("name", &name)?;
        if let Some(integration) = &spec.integration {
            check_name("integration", integration)?;
        }
        let interval_s = check_interval(spec.interval_s.unwrap_or(DEFAULT_INTERVAL_S))?;
        let allowed_hosts = check_hosts(spec.allowed_hosts.unwrap_or_default())?;
        let limits = self.limits_over(&self.defaults, spec.limits)?;
        let state = spec.state.unwrap_or_else(|| serde_json::json!({}));
        let state = state.to_string();
        if state.len() as u64 > limits.max_output_bytes {
            return Err(invalid(format!(
                "the initial state is {} bytes, over the output limit of {}",
                state.len(),
                limits.max_output_bytes
            )));
        }
        let compiled = self.compile(&name, &spec.source).await?;
        let enabled = spec.enabled.unwrap_or(true);
        let id = new_charm_id()?;
        // The database's clock: the one every node schedules by.
        let now = self.store.now_ms().await?;
        let limits = serde_json::to_value(&limits).map_err(|e| invalid(e.to_string()))?;
        let code = CharmCode {
            id: id.clone(),
            space,
            name,
            integration: spec.integration.or(compiled.integration.clone()),
            source: spec.source,
            source_sha256: compiled.source_sha256,
            bytecode: compiled.bytecode.to_vec(),
            runtime_sha256: compiled.runtime_sha256,
            interval_s,
            limits,
            allowed_hosts,
            enabled,
            disabled_reason: (!enabled).then(|| "registered disabled".to_string()),
            disabled_at: (!enabled).then_some(now),
            consecutive_failures: 0,
            next_run_at: self.policy.first_run_at(now, interval_s),
        };
        self.store.insert_charm(&NewCharm { code, state }).await?;
        tracing::info!(charm = %id, "registered a charm");
        self.store
            .charm(&id)
            .await?
            .ok_or(RegistryError::NotFound(id.to_string()))
    }

    /// Applies `changes` to a charm. Enabling clears the failure count and
    /// the disabled reason and schedules a run soon; disabling cancels the
    /// queued run; a new source is compiled first.
    ///
    /// # Errors
    /// As [`Registry::register`], and [`RegistryError::NotFound`].
    pub async fn update(
        &self,
        id: &str,
        changes: CharmChanges,
    ) -> Result<CharmRecord, RegistryError> {
        let id = charm_id(id)?;
        let current = self
            .store
            .charm_code(&id)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        let interval_s = changes.interval_s.map(check_interval).transpose()?;
        let hosts = changes.allowed_hosts.map(check_hosts).transpose()?;
        let limits = match changes.limits {
            Some(partial) => {
                let base = self.stored_limits(&id, &current.limits)?;
                let merged = self.limits_over(&base, Some(partial))?;
                Some(serde_json::to_value(&merged).map_err(|e| invalid(e.to_string()))?)
            }
            None => None,
        };
        if let Some(name) = &changes.name {
            check_name("name", name)?;
        }
        let compiled = match &changes.source {
            Some(source) => Some(
                self.compile(changes.name.as_deref().unwrap_or(&current.name), source)
                    .await?,
            ),
            None => None,
        };
        let policy = self.policy;
        let now = self.store.now_ms().await?;
        let change = move |c: &mut CharmCode| {
            if let Some(interval_s) = interval_s {
                c.interval_s = interval_s;
                c.next_run_at = c.next_run_at.min(policy.next_run_at(now, interval_s));
            }
            if let Some(hosts) = hosts {
                c.allowed_hosts = hosts;
            }
            if let Some(limits) = limits {
                c.limits = limits;
            }
            if let Some(name) = changes.name {
                c.name = name;
            }
            if let (Some(source), Some(compiled)) = (changes.source, compiled) {
                c.source = source;
                c.source_sha256 = compiled.source_sha256;
                c.bytecode = compiled.bytecode.to_vec();
                c.runtime_sha256 = compiled.runtime_sha256;
                if compiled.integration.is_some() {
                    c.integration = compiled.integration;
                }
            }
            match changes.enabled {
                Some(true) if !c.enabled => {
                    c.enabled = true;
                    c.disabled_reason = None;
                    c.disabled_at = None;
                    c.consecutive_failures = 0;
                    c.next_run_at = policy.first_run_at(now, c.interval_s);
                }
                Some(false) if c.enabled => {
                    c.enabled = false;
                    c.disabled_reason = Some("disabled by a user".to_string());
                    c.disabled_at = Some(now);
                }
                _ => {}
            }
        };
        let updated = self.store.modify_charm(&id, Box::new(change)).await?;
        updated.ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// Queues a manual run (coalescing with a queued one).
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::Disabled`], or a store failure.
    pub async fn trigger(
        &self,
        id: &str,
        input: Option<serde_json::Value>,
    ) -> Result<Enqueued, RegistryError> {
        let charm = self.get(id).await?;
        if !charm.enabled {
            return Err(RegistryError::Disabled {
                id: id.to_string(),
                reason: charm
                    .disabled_reason
                    .unwrap_or_else(|| "disabled".to_string()),
            });
        }
        let input = input.map(|v| v.to_string());
        let max_output_bytes = self
            .stored_limits(&charm.id, &charm.limits)?
            .max_output_bytes;
        if input
            .as_ref()
            .is_some_and(|i| u64::try_from(i.len()).unwrap_or(u64::MAX) > max_output_bytes)
        {
            return Err(invalid(
                "the run input is larger than the charm's output limit",
            ));
        }
        self.store
            .enqueue_run(
                &charm.id,
                Trigger::Manual,
                priority(Trigger::Manual),
                input.as_deref(),
            )
            .await?
            .ok_or_else(|| RegistryError::Disabled {
                id: id.to_string(),
                reason: "disabled".to_string(),
            })
    }

    /// One charm.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a store failure.
    pub async fn get(&self, id: &str) -> Result<CharmRecord, RegistryError> {
        self.store
            .charm(&charm_id(id)?)
            .await?
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))
    }

    /// Removes a charm, its state and its runs.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a store failure.
    pub async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        if self.store.delete_charm(&charm_id(id)?).await? {
            tracing::info!(charm = %id, "removed a charm");
            Ok(())
        } else {
            Err(RegistryError::NotFound(id.to_string()))
        }
    }

    /// The bytecode to run `code` with: the stored bytecode, or, when the
    /// runtime changed since it was compiled, a fresh compile of the stored
    /// source (stored back). `code` may come without its source
    /// (`Store::charm_for_run`); it is read only when needed.
    ///
    /// # Errors
    /// When the source no longer compiles, or on a store failure.
    pub async fn compiled(&self, code: &CharmCode) -> Result<CompiledCharm, RegistryError> {
        if code.runtime_sha256 == self.sandbox.runtime_sha256() {
            return Ok(CompiledCharm {
                name: code.name.clone(),
                bytecode: Arc::from(code.bytecode.as_slice()),
                integration: code.integration.clone(),
                source_sha256: code.source_sha256.clone(),
                runtime_sha256: code.runtime_sha256.clone(),
            });
        }
        let source = match self.store.charm_code(&code.id).await? {
            Some(full) => full.source,
            None => return Err(RegistryError::NotFound(code.id.to_string())),
        };
        let compiled = self.compile(&code.name, &source).await?;
        let (bytecode, runtime_sha256) =
            (compiled.bytecode.to_vec(), compiled.runtime_sha256.clone());
        let change = move |c: &mut CharmCode| {
            c.bytecode = bytecode;
            c.runtime_sha256 = runtime_sha256;
        };
        self.store.modify_charm(&code.id, Box::new(change)).await?;
        tracing::info!(charm = %code.id, "recompiled a charm for the current runtime");
        Ok(compiled)
    }
}

/// A fresh charm id: a UUID v7 without dashes, so ids sort by creation.
fn new_charm_id() -> Result<CharmId, RegistryError> {
    let text = uuid::Uuid::now_v7().simple().to_string();
    CharmId::parse(&text).ok_or_else(|| invalid(format!("generated an invalid id `{text}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_checked() {
        assert!(check_name("space", "team-a.prod_1").is_ok());
        for bad in ["", "a b", "../x", "x/y", &"a".repeat(200)] {
            let err = check_name("space", bad).unwrap_err().to_string();
            assert!(err.contains("is not valid"), "{bad}: {err}");
        }
        assert!(new_charm_id().is_ok());
        assert!(matches!(
            charm_id("../../etc/passwd"),
            Err(RegistryError::NotFound(_))
        ));
    }

    #[test]
    fn intervals_are_bounded() {
        assert!(check_interval(0).is_err());
        assert!(check_interval(1).is_ok());
        assert!(check_interval(MAX_INTERVAL_S + 1)
            .unwrap_err()
            .to_string()
            .contains("between 1 and"));
    }
}
