//! The charm registry: registering, editing, triggering and removing charms.
//!
//! Owns the rules for what a valid charm definition is (space names,
//! intervals, limits merged over the daemon's defaults, allow-lists, initial
//! state), compiling its source in the sandbox, and keeping compiled
//! bytecode in step with the runtime. The API and the CLI go through it; it
//! writes only through the store and never runs a charm's `bgUpdater`.

use std::collections::BTreeMap;
use std::sync::Arc;

use charm_engine::limits::SandboxLimits;
use charm_engine::{
    compile_source, AllowList, CharmSource, CompileError, CompiledCharm, Sandbox, TaskSpec,
};
use charm_store::{
    Cancel, CharmCode, CharmId, CharmRecord, Delivered, Enqueued, EventId, EventRecord,
    EventStatus, NewCharm, NewEvent, RunId, Store, StoreError, Trigger,
};
use serde::{Deserialize, Serialize};

use super::in_flight::InFlight;
use super::policy::{priority, Cadence, SchedulePolicy, DEFAULT_MAX_ATTEMPTS, MAX_ATTEMPTS_LIMIT};
use super::schedule::Schedule;
use super::tenants::{Caller, PrivateNetworkPolicy};

/// Default interval between scheduled runs, in seconds (the original
/// service's polling cycle).
pub const DEFAULT_INTERVAL_S: u32 = 60;
/// The longest interval accepted: a year.
pub const MAX_INTERVAL_S: u32 = 366 * 24 * 3600;
/// Compiles that may run at once (each holds a sandbox task); more wait.
pub const COMPILE_SLOTS: usize = 4;
/// Playground tryouts that may run at once, apart from compiles; more wait.
pub const TRYOUT_SLOTS: usize = 2;

/// A running tryout's hold on its slot and its space's turn; both are
/// released when it is dropped.
pub(super) struct TryoutSlot {
    space: String,
    running: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for TryoutSlot {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.space);
    }
}
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
    /// The caller may not do this (a space token asking for another space,
    /// or for what only an operator grants); the message says why.
    #[error("{0}")]
    Forbidden(String),
    /// The request must wait for another to finish; the message says which.
    #[error("{0}")]
    Busy(String),
    /// No charm has this id.
    #[error("no charm with id `{0}`")]
    NotFound(String),
    /// No run has this id.
    #[error("no run with id `{0}`")]
    RunNotFound(RunId),
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
    /// The other modules the source imports (`./parse.ts`), by path
    /// relative to its folder (`parse.ts`, `lib/util.js`). Default none;
    /// modules it does not import are not stored.
    pub modules: Option<BTreeMap<String, String>>,
    /// The tenant. Default [`DEFAULT_SPACE`].
    pub space: Option<String>,
    /// A label; default: the module's `export const integration`.
    pub integration: Option<String>,
    /// Seconds between scheduled runs. Default [`DEFAULT_INTERVAL_S`].
    pub interval_s: Option<u32>,
    /// A schedule instead of `interval_s`: `{"every_s": N}` or
    /// `{"cron": "0 7 * * MON-FRI", "tz": "Europe/Berlin"}` (see
    /// [`Schedule`]).
    pub schedule: Option<Schedule>,
    /// Failed runs an event is given to before it becomes a dead letter.
    /// Default [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: Option<u32>,
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
    /// Seconds between scheduled runs (replacing a cron schedule).
    pub interval_s: Option<u32>,
    /// A new schedule (see [`CharmSpec::schedule`]).
    pub schedule: Option<Schedule>,
    /// Failed runs an event is given to before it becomes a dead letter.
    pub max_attempts: Option<u32>,
    /// Hosts the charm may fetch from (replaces the list).
    pub allowed_hosts: Option<Vec<String>>,
    /// Limits, each field optional, over the charm's current ones.
    pub limits: Option<serde_json::Value>,
    /// A new source, compiled before it is stored.
    pub source: Option<String>,
    /// New or changed modules (see [`CharmSpec::modules`]), each replacing
    /// the stored one of its path; the charm is compiled again, and
    /// modules it no longer imports are dropped.
    pub modules: Option<BTreeMap<String, String>>,
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
    in_flight: InFlight,
    ceilings: LimitCeilings,
    private_network: PrivateNetworkPolicy,
    tryouts: Arc<tokio::sync::Semaphore>,
    tryouts_running: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// The most a charm may set its fuel, memory and time limits to: the
/// operator's ceilings (`--ceiling-fuel`, `--ceiling-memory-mb`,
/// `--ceiling-timeout-ms`). By default the engine's own maximums. A charm
/// over a ceiling is refused at registration and change; one stored before
/// a ceiling was lowered runs at the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitCeilings {
    /// The highest `limits.fuel`.
    pub fuel: u64,
    /// The highest `limits.memory_mb`.
    pub memory_mb: u64,
    /// The highest `limits.timeout_ms`.
    pub timeout_ms: u64,
}

impl Default for LimitCeilings {
    fn default() -> Self {
        LimitCeilings {
            fuel: u64::MAX / 2,
            memory_mb: charm_engine::limits::MAX_MEMORY_MB,
            timeout_ms: charm_engine::limits::MAX_TIMEOUT_MS,
        }
    }
}

impl LimitCeilings {
    /// The first of `limits` over its ceiling: (field, value, ceiling, flag).
    pub fn exceeded(
        &self,
        limits: &SandboxLimits,
    ) -> Option<(&'static str, u64, u64, &'static str)> {
        [
            ("fuel", limits.fuel, self.fuel, "--ceiling-fuel"),
            (
                "memory_mb",
                limits.memory_mb,
                self.memory_mb,
                "--ceiling-memory-mb",
            ),
            (
                "timeout_ms",
                limits.timeout_ms,
                self.timeout_ms,
                "--ceiling-timeout-ms",
            ),
        ]
        .into_iter()
        .find(|(_, value, ceiling, _)| value > ceiling)
    }

    /// `limits` with each field at most its ceiling.
    pub fn clamp(&self, mut limits: SandboxLimits) -> SandboxLimits {
        limits.fuel = limits.fuel.min(self.fuel);
        limits.memory_mb = limits.memory_mb.min(self.memory_mb);
        limits.timeout_ms = limits.timeout_ms.min(self.timeout_ms);
        limits
    }
}

fn invalid(message: impl Into<String>) -> RegistryError {
    RegistryError::Invalid(message.into())
}

/// What the engine needs of a stored charm to plan a run of it, with its
/// limits as [`Registry::stored_limits`] reads them.
pub(super) fn run_settings<'a>(
    code: &'a CharmCode,
    limits: &'a SandboxLimits,
) -> charm_engine::CharmSettings<'a> {
    charm_engine::CharmSettings {
        id: code.id.as_str(),
        space: &code.space,
        integration: code.integration.as_deref(),
        limits,
        allowed_hosts: &code.allowed_hosts,
        private_network: code.private_network,
    }
}

/// Checks a space's name: 1 to 128 letters, digits, `.`, `_` or `-`.
///
/// # Errors
/// [`RegistryError::Invalid`] quoting the name.
pub fn check_space(space: &str) -> Result<(), RegistryError> {
    check_name("space", space)
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

fn check_attempts(attempts: u32) -> Result<u32, RegistryError> {
    if (1..=MAX_ATTEMPTS_LIMIT).contains(&attempts) {
        Ok(attempts)
    } else {
        Err(invalid(format!(
            "max_attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}, got {attempts}"
        )))
    }
}

/// A charm's interval and stored schedule (JSON, for a cron schedule) from
/// what a request gave: `interval_s`, or `schedule`, not both.
fn check_schedule(
    interval_s: Option<u32>,
    schedule: Option<Schedule>,
) -> Result<Option<(u32, Option<String>)>, RegistryError> {
    match (interval_s, schedule) {
        (Some(_), Some(_)) => Err(invalid(
            "give interval_s or schedule, not both (schedule {\"every_s\": N} is interval_s N)",
        )),
        (Some(interval_s), None) => Ok(Some((check_interval(interval_s)?, None))),
        (None, Some(Schedule::Interval { seconds })) => match u32::try_from(seconds) {
            Ok(interval_s) => Ok(Some((check_interval(interval_s)?, None))),
            Err(_) => Err(invalid(format!(
                "schedule.every_s must be between 1 and {MAX_INTERVAL_S} seconds, got {seconds}"
            ))),
        },
        (None, Some(cron)) => {
            cron.validate()
                .map_err(|e| invalid(format!("schedule: {e}")))?;
            let text = serde_json::to_string(&cron).map_err(|e| invalid(e.to_string()))?;
            Ok(Some((DEFAULT_INTERVAL_S, Some(text))))
        }
        (None, None) => Ok(None),
    }
}

/// What queueing a run or delivering an event did (the API's 202 body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Triggered {
    /// The run that will run (new, or the queued one this joined); `None`
    /// for a duplicate event.
    pub run_id: Option<RunId>,
    /// True when an already queued run absorbed this request.
    pub coalesced: bool,
    /// The event appended to the inbox, when the trigger had an input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// True when an event with the same idempotency key was kept already:
    /// nothing was appended or queued.
    pub duplicate: bool,
    /// For a run asked for later: when it will be queued (ms since the
    /// epoch); `run_id` is then `None` until that time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
}

impl Triggered {
    fn run(queued: Enqueued) -> Triggered {
        Triggered {
            run_id: Some(queued.run_id),
            coalesced: queued.coalesced,
            event_id: None,
            duplicate: false,
            at: None,
        }
    }

    fn event(delivered: Delivered) -> Triggered {
        Triggered {
            run_id: delivered.run.map(|r| r.run_id),
            coalesced: delivered.run.is_some_and(|r| r.coalesced),
            event_id: Some(delivered.event_id),
            duplicate: delivered.duplicate,
            at: None,
        }
    }
}

/// A trigger: an input (an event for the inbox), or a run, now or later.
#[derive(Debug, Clone, Default)]
pub struct TriggerRequest {
    /// The input, appended to the inbox as an event (`ctx.events`, and
    /// `ctx.input` for the newest).
    pub input: Option<serde_json::Value>,
    /// Where the event comes from (`manual`, `webhook`, ...).
    pub source: Option<String>,
    /// A duplicate of a kept event's key is accepted and ignored.
    pub idempotency_key: Option<String>,
    /// Run no earlier than this (ms since the Unix epoch); only without an
    /// input.
    pub not_before: Option<i64>,
}

/// The longest idempotency key accepted, in bytes.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

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
            in_flight: InFlight::default(),
            ceilings: LimitCeilings::default(),
            private_network: PrivateNetworkPolicy::default(),
            tryouts: Arc::new(tokio::sync::Semaphore::new(TRYOUT_SLOTS)),
            tryouts_running: Arc::default(),
        }
    }

    /// This registry with the spaces whose charms may reach private
    /// addresses although a space token set their allow-list.
    pub fn with_private_network(mut self, policy: PrivateNetworkPolicy) -> Registry {
        self.private_network = policy;
        self
    }

    /// This registry with the operator's ceilings on charms' limits.
    pub fn with_ceilings(mut self, ceilings: LimitCeilings) -> Registry {
        self.ceilings = ceilings;
        self
    }

    /// Refuses limits over the operator's ceilings, naming the field and
    /// the flag.
    /// Whether an allow-list `by` sets for a charm of `space` may reach
    /// non-public addresses: an operator's list may, and so may one for a
    /// space named by `--allow-private-hosts-for`; a space token's list
    /// reaches public addresses only.
    ///
    /// # Errors
    /// [`RegistryError::Forbidden`] when a space token's list names a
    /// non-public place outright (`127.0.0.1:8080`, `10.0.0.5`,
    /// `localhost`): only an operator grants those.
    fn check_network_grant(
        &self,
        by: &Caller,
        space: &str,
        hosts: &[String],
    ) -> Result<bool, RegistryError> {
        if self.private_network.grants(by, space) {
            return Ok(true);
        }
        let list = AllowList::parse(hosts).map_err(|e| invalid(e.to_string()))?;
        if let Some((entry, range)) = list.non_public_entries().first() {
            return Err(RegistryError::Forbidden(format!(
                "the allow-list entry `{entry}` is a {range} address, which only an operator \
                 may grant: ask one to set this allow-list with an operator token, or to start \
                 the service with --allow-private-hosts-for {space}"
            )));
        }
        Ok(false)
    }

    fn check_ceilings(&self, limits: &SandboxLimits) -> Result<(), RegistryError> {
        match self.ceilings.exceeded(limits) {
            Some((field, value, ceiling, flag)) => Err(invalid(format!(
                "limits.{field} {value} is over this service's ceiling of {ceiling} (the operator's {flag})"
            ))),
            None => Ok(()),
        }
    }

    /// The runs this process executes: the dispatcher registers each, and
    /// a cancel stops it here at once.
    pub(crate) fn in_flight(&self) -> &InFlight {
        &self.in_flight
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
            .map(|limits| self.ceilings.clamp(limits))
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

    /// The store it writes through.
    pub(super) fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// A slot for a playground tryout, held until dropped: at most
    /// [`TRYOUT_SLOTS`] at once, apart from the compile slots (so tryouts
    /// never hold up registrations), and one per space at a time.
    ///
    /// # Errors
    /// [`RegistryError::Busy`] when a tryout of `space` is running.
    pub(super) async fn tryout_slot(&self, space: &str) -> Result<TryoutSlot, RegistryError> {
        {
            let mut running = self
                .tryouts_running
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !running.insert(space.to_string()) {
                return Err(RegistryError::Busy(format!(
                    "a tryout of space `{space}` is running; send this one when it has finished"
                )));
            }
        }
        // Made before waiting, so the space's turn is released however
        // the wait ends.
        let mut held = TryoutSlot {
            space: space.to_string(),
            running: Arc::clone(&self.tryouts_running),
            _permit: None,
        };
        let permit = Arc::clone(&self.tryouts)
            .acquire_owned()
            .await
            .map_err(|_| invalid("the service is shutting down"))?;
        held._permit = Some(permit);
        Ok(held)
    }

    /// The sandbox charms compile and try out in.
    pub(super) fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// A slot for a compile the API asked for, held until dropped; at most
    /// [`COMPILE_SLOTS`] at once, so requests cannot take the run slots' CPU.
    pub(super) async fn api_task_slot(
        &self,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, RegistryError> {
        // The semaphore is never closed; a closed one would only mean shutdown.
        self.compiles
            .acquire()
            .await
            .map_err(|_| invalid("the service is shutting down"))
    }

    /// Compiles `charm`; on success `charm` keeps only the modules it
    /// imports, as they are to be stored.
    pub(super) async fn compile(
        &self,
        charm: &mut CharmSource,
    ) -> Result<CompiledCharm, RegistryError> {
        let _slot = self.api_task_slot().await?;
        let spec = TaskSpec {
            limits: self.defaults.clone(),
            ..TaskSpec::offline(&charm.name)
        };
        let compiled = compile_source(&self.sandbox, charm, &spec)
            .await
            .map_err(|e| RegistryError::Compile(Box::new(e)))?;
        charm
            .modules
            .retain(|path, _| compiled.modules.contains(path));
        Ok(compiled)
    }

    /// The stored source of `code`, as modules.
    ///
    /// # Errors
    /// [`RegistryError::Stored`] when it does not decode.
    pub fn charm_source(code: &CharmCode) -> Result<CharmSource, RegistryError> {
        CharmSource::from_stored(&code.name, &code.source).map_err(|e| RegistryError::Stored {
            what: "source",
            id: code.id.to_string(),
            reason: e.to_string(),
        })
    }

    /// Validates, compiles and stores a new charm.
    ///
    /// # Errors
    /// [`RegistryError::Invalid`] or [`RegistryError::Compile`] saying what
    /// to fix; [`RegistryError::Store`] on a database failure.
    pub async fn register(
        &self,
        spec: CharmSpec,
        by: &Caller,
    ) -> Result<CharmRecord, RegistryError> {
        let space = spec
            .space
            .or_else(|| by.space().map(str::to_string))
            .unwrap_or_else(|| DEFAULT_SPACE.to_string());
        check_name("space", &space)?;
        if !by.reaches(&space) {
            return Err(RegistryError::Forbidden(format!(
                "this token reaches the space `{}` only; leave `space` out or give that one",
                by.space().unwrap_or_default()
            )));
        }
        let name = spec.name.unwrap_or_else(|| "charm.js".to_string());
        check_name("name", &name)?;
        if let Some(integration) = &spec.integration {
            check_name("integration", integration)?;
        }
        let (interval_s, schedule) =
            check_schedule(spec.interval_s, spec.schedule)?.unwrap_or((DEFAULT_INTERVAL_S, None));
        let max_attempts = check_attempts(spec.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS))?;
        let allowed_hosts = check_hosts(spec.allowed_hosts.unwrap_or_default())?;
        let private_network = self.check_network_grant(by, &space, &allowed_hosts)?;
        let limits = self.limits_over(&self.defaults, spec.limits)?;
        self.check_ceilings(&limits)?;
        let state = spec.state.unwrap_or_else(|| serde_json::json!({}));
        let state = state.to_string();
        if state.len() as u64 > limits.max_output_bytes {
            return Err(invalid(format!(
                "the initial state is {} bytes, over the output limit of {}",
                state.len(),
                limits.max_output_bytes
            )));
        }
        let mut charm = CharmSource {
            name: name.clone(),
            source: spec.source,
            modules: spec.modules.unwrap_or_default(),
        };
        let compiled = self.compile(&mut charm).await?;
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
            source: charm.stored(),
            source_sha256: compiled.source_sha256,
            bytecode: compiled.bytecode.to_vec(),
            runtime_sha256: compiled.runtime_sha256,
            interval_s,
            next_run_at: self
                .policy
                .first_run_at(now, &Cadence::of(interval_s, schedule.as_deref())),
            schedule,
            max_attempts,
            limits,
            allowed_hosts,
            private_network,
            enabled,
            disabled_reason: (!enabled).then(|| "registered disabled".to_string()),
            disabled_at: (!enabled).then_some(now),
            consecutive_failures: 0,
            alert_state: None,
            alert_fingerprint: None,
            has_secrets: false,
            // The database's to set: the insert leaves it at 0.
            revision: 0,
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
        mut changes: CharmChanges,
        by: &Caller,
    ) -> Result<CharmRecord, RegistryError> {
        let id = charm_id(id)?;
        let current = self
            .store
            .charm_code(&id)
            .await?
            .filter(|c| by.reaches(&c.space))
            .ok_or_else(|| RegistryError::NotFound(id.to_string()))?;
        let cadence = check_schedule(changes.interval_s, changes.schedule)?;
        let max_attempts = changes.max_attempts.map(check_attempts).transpose()?;
        let hosts = changes.allowed_hosts.map(check_hosts).transpose()?;
        let grant = hosts
            .as_deref()
            .map(|hosts| self.check_network_grant(by, &current.space, hosts))
            .transpose()?;
        let limits = match changes.limits {
            Some(partial) => {
                let base = self.stored_limits(&id, &current.limits)?;
                let merged = self.limits_over(&base, Some(partial))?;
                self.check_ceilings(&merged)?;
                Some(serde_json::to_value(&merged).map_err(|e| invalid(e.to_string()))?)
            }
            None => None,
        };
        if let Some(name) = &changes.name {
            check_name("name", name)?;
        }
        let compiled = if changes.source.is_some() || changes.modules.is_some() {
            let mut charm = Self::charm_source(&current)?;
            charm.name = changes.name.clone().unwrap_or(charm.name);
            if let Some(source) = changes.source.take() {
                charm.source = source;
            }
            charm
                .modules
                .extend(changes.modules.take().unwrap_or_default());
            let compiled = self.compile(&mut charm).await?;
            Some((charm.stored(), compiled))
        } else {
            None
        };
        let policy = self.policy;
        let now = self.store.now_ms().await?;
        let change = move |c: &mut CharmCode| {
            if let Some((interval_s, schedule)) = cadence {
                let cadence = Cadence::of(interval_s, schedule.as_deref());
                c.next_run_at = match cadence {
                    // A shorter interval takes effect at once; a longer one
                    // after the run already due.
                    Cadence::Every(_) if c.schedule.is_none() => {
                        c.next_run_at.min(policy.next_run_at(now, &cadence))
                    }
                    _ => policy.first_run_at(now, &cadence),
                };
                c.interval_s = interval_s;
                c.schedule = schedule;
            }
            if let Some(max_attempts) = max_attempts {
                c.max_attempts = max_attempts;
            }
            if let Some(hosts) = hosts {
                c.allowed_hosts = hosts;
            }
            if let Some(grant) = grant {
                c.private_network = grant;
            }
            if let Some(limits) = limits {
                c.limits = limits;
            }
            if let Some(name) = changes.name {
                c.name = name;
            }
            if let Some((source, compiled)) = compiled {
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
                    c.next_run_at =
                        policy.first_run_at(now, &Cadence::of(c.interval_s, c.schedule.as_deref()));
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

    /// Triggers a charm: an input becomes an event in its inbox (a
    /// duplicate idempotency key is accepted and ignored) and a run is
    /// queued for it; without an input a run is queued, at once or from
    /// `not_before`, coalescing with a queued one.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], [`RegistryError::Disabled`],
    /// [`RegistryError::Invalid`] for an input over the charm's output limit
    /// or a key too long, or a store failure.
    pub async fn trigger(
        &self,
        id: &str,
        trigger: Trigger,
        request: TriggerRequest,
    ) -> Result<Triggered, RegistryError> {
        let charm = self.get(id).await?;
        let disabled = |reason: Option<String>| RegistryError::Disabled {
            id: id.to_string(),
            reason: reason.unwrap_or_else(|| "disabled".to_string()),
        };
        if !charm.enabled {
            return Err(disabled(charm.disabled_reason));
        }
        let Some(input) = request.input else {
            if let Some(at) = request.not_before {
                // Apart from the queue: neither the schedule nor another
                // trigger takes its place.
                self.store
                    .wake_at(&charm.id, at)
                    .await?
                    .ok_or_else(|| disabled(None))?;
                return Ok(Triggered {
                    run_id: None,
                    coalesced: false,
                    event_id: None,
                    duplicate: false,
                    at: Some(at),
                });
            }
            let queued = self
                .store
                .enqueue_run(&charm.id, trigger, priority(trigger), None)
                .await?
                .ok_or_else(|| disabled(None))?;
            return Ok(Triggered::run(queued));
        };
        if request.not_before.is_some() {
            return Err(invalid(
                "an input is delivered at once; a run for later takes no input",
            ));
        }
        if let Some(key) = &request.idempotency_key {
            if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
                return Err(invalid(format!(
                    "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} bytes"
                )));
            }
        }
        let data = input.to_string();
        let max_output_bytes = self
            .stored_limits(&charm.id, &charm.limits)?
            .max_output_bytes;
        if u64::try_from(data.len()).unwrap_or(u64::MAX) > max_output_bytes {
            return Err(invalid(
                "the run input is larger than the charm's output limit",
            ));
        }
        let event = NewEvent {
            source: request
                .source
                .unwrap_or_else(|| trigger.as_str().to_string()),
            data,
            idempotency_key: request.idempotency_key,
        };
        let delivered = self
            .store
            .deliver_event(&charm.id, trigger, priority(trigger), &event)
            .await?
            .ok_or_else(|| disabled(None))?;
        Ok(Triggered::event(delivered))
    }

    /// A charm's events with `status` (all when `None`), oldest first.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a store failure.
    pub async fn events(
        &self,
        id: &str,
        status: Option<EventStatus>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, RegistryError> {
        let charm = self.get(id).await?;
        Ok(self.store.events(&charm.id, status, limit).await?)
    }

    /// Returns dead letters (all when `ids` is `None`) to the inbox and
    /// queues a run; how many.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a store failure.
    pub async fn redrive(&self, id: &str, ids: Option<&[EventId]>) -> Result<u64, RegistryError> {
        let charm = self.get(id).await?;
        Ok(self
            .store
            .redrive_events(&charm.id, ids, priority(Trigger::Inbox))
            .await?)
    }

    /// Deletes dead letters (all when `ids` is `None`), or pending events
    /// no run holds; how many.
    ///
    /// # Errors
    /// [`RegistryError::NotFound`], or a store failure.
    pub async fn discard(&self, id: &str, ids: Option<&[EventId]>) -> Result<u64, RegistryError> {
        let charm = self.get(id).await?;
        Ok(self.store.discard_events(&charm.id, ids).await?)
    }

    /// Cancels a run: a queued one at once; a running one is stopped by
    /// its node (this one at once, another within a second).
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] for an unknown run, or a store failure.
    pub async fn cancel_run(&self, run: RunId) -> Result<Cancel, RegistryError> {
        let cancel = self
            .store
            .cancel_run(run, "cancelled by a user")
            .await?
            .ok_or(RegistryError::RunNotFound(run))?;
        if matches!(cancel, Cancel::Requested { .. }) && self.in_flight.cancel(run) {
            tracing::info!(run, "cancelling a run in flight here");
        }
        Ok(cancel)
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
                modules: Vec::new(),
            });
        }
        let mut charm = match self.store.charm_code(&code.id).await? {
            Some(full) => Self::charm_source(&full)?,
            None => return Err(RegistryError::NotFound(code.id.to_string())),
        };
        let compiled = self.compile(&mut charm).await?;
        self.keep_recompiled(&code.id, &compiled).await?;
        Ok(compiled)
    }

    /// Stores `compiled`, a fresh compile of charm `id`'s source for the
    /// current runtime, as its bytecode, unless the source changed since it
    /// was read: the new source's bytecode came with it, and this one would
    /// not match its hash. A charm removed meanwhile stays removed.
    ///
    /// # Errors
    /// On a store failure.
    async fn keep_recompiled(
        &self,
        id: &CharmId,
        compiled: &CompiledCharm,
    ) -> Result<(), RegistryError> {
        let (bytecode, runtime_sha256, source_sha256) = (
            compiled.bytecode.to_vec(),
            compiled.runtime_sha256.clone(),
            compiled.source_sha256.clone(),
        );
        let change = move |c: &mut CharmCode| {
            if c.source_sha256 == source_sha256 {
                c.bytecode = bytecode;
                c.runtime_sha256 = runtime_sha256;
            }
        };
        // The change stored the bytecode exactly when the hashes matched.
        match self.store.modify_charm(id, Box::new(change)).await? {
            None => tracing::info!(
                charm = %id,
                "recompiled a charm for the current runtime; it was removed meanwhile"
            ),
            Some(kept) if kept.source_sha256 == compiled.source_sha256 => {
                tracing::info!(charm = %id, "recompiled a charm for the current runtime");
            }
            Some(_) => tracing::info!(
                charm = %id,
                "recompiled a charm for the current runtime; its source changed meanwhile, so its new bytecode was kept"
            ),
        }
        Ok(())
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

    /// A registry over a SQLite store and a sandbox in `dir`.
    async fn registry_in(dir: &std::path::Path) -> (Arc<dyn Store>, Sandbox, Registry) {
        let db = dir.join("charm-host.db");
        let store: Arc<dyn Store> =
            Arc::new(charm_store::sqlite::SqliteStore::open(&db).await.unwrap());
        let sandbox = Sandbox::new(charm_engine::SandboxOptions {
            cache_dir: Some(dir.join("cache")),
            ..charm_engine::SandboxOptions::default()
        })
        .await
        .unwrap();
        let registry = Registry::new(
            Arc::clone(&store),
            sandbox.clone(),
            SandboxLimits::default(),
            SchedulePolicy::default(),
        );
        (store, sandbox, registry)
    }

    fn operator() -> Caller {
        Caller::Operator {
            actor: "test".into(),
        }
    }

    /// A charm's source that adds `n` to its state.
    fn adds(n: u32) -> String {
        format!("export function bgUpdater(state) {{ return (state ?? 0) + {n}; }}")
    }

    /// Registers a charm that adds 1, as the operator.
    async fn register_adder(registry: &Registry) -> CharmRecord {
        let spec: CharmSpec =
            serde_json::from_value(serde_json::json!({ "source": adds(1) })).unwrap();
        registry.register(spec, &operator()).await.unwrap()
    }

    /// A charm stored by a release with another guest runtime is compiled
    /// again from its source when it runs, and the new bytecode is stored,
    /// so the next run takes it as it is.
    #[tokio::test]
    async fn a_charm_compiled_for_another_runtime_is_recompiled_and_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sandbox, registry) = registry_in(dir.path()).await;
        let charm = register_adder(&registry).await;
        let stale = |c: &mut CharmCode| {
            c.runtime_sha256 = "0".repeat(64);
            c.bytecode = b"another runtime's bytecode".to_vec();
        };
        store
            .modify_charm(&charm.id, Box::new(stale))
            .await
            .unwrap();
        let for_run = store.charm_for_run(&charm.id).await.unwrap().unwrap();
        assert_ne!(for_run.runtime_sha256, sandbox.runtime_sha256());

        let compiled = registry.compiled(&for_run).await.unwrap();
        assert_eq!(compiled.runtime_sha256, sandbox.runtime_sha256());
        assert_ne!(&*compiled.bytecode, for_run.bytecode.as_slice());
        let stored = store.charm_for_run(&charm.id).await.unwrap().unwrap();
        assert_eq!(stored.runtime_sha256, sandbox.runtime_sha256());
        assert_eq!(stored.bytecode.as_slice(), &*compiled.bytecode);
        assert_eq!(stored.source_sha256, for_run.source_sha256);
        let again = registry.compiled(&stored).await.unwrap();
        assert_eq!(again.bytecode, compiled.bytecode, "taken as stored");
    }

    /// A recompile is stored only over the source it was made from: a
    /// source replaced meanwhile keeps the bytecode that came with it, and
    /// a charm removed meanwhile stays removed.
    #[tokio::test]
    async fn a_recompile_yields_to_a_source_changed_or_removed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _sandbox, registry) = registry_in(dir.path()).await;
        let charm = register_adder(&registry).await;
        // The recompile read the first source...
        let full = store.charm_code(&charm.id).await.unwrap().unwrap();
        let mut first = Registry::charm_source(&full).unwrap();
        let recompiled = registry.compile(&mut first).await.unwrap();
        // ...and the source was replaced before it was stored.
        let changes = CharmChanges {
            source: Some(adds(2)),
            ..CharmChanges::default()
        };
        registry
            .update(charm.id.as_str(), changes, &operator())
            .await
            .unwrap();
        let replaced = store.charm_for_run(&charm.id).await.unwrap().unwrap();
        assert_ne!(replaced.source_sha256, recompiled.source_sha256);
        assert_ne!(replaced.bytecode.as_slice(), &*recompiled.bytecode);

        registry
            .keep_recompiled(&charm.id, &recompiled)
            .await
            .unwrap();
        let kept = store.charm_for_run(&charm.id).await.unwrap().unwrap();
        assert_eq!(kept.source_sha256, replaced.source_sha256);
        assert_eq!(
            kept.bytecode, replaced.bytecode,
            "the new source's bytecode"
        );

        registry.remove(charm.id.as_str()).await.unwrap();
        registry
            .keep_recompiled(&charm.id, &recompiled)
            .await
            .unwrap();
        assert!(store.charm_for_run(&charm.id).await.unwrap().is_none());
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
