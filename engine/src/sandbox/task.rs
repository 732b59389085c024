//! One task: a fresh `Store`, its limits, and what it leaves behind.
//!
//! Owns [`TaskSpec`] (what a task may do), [`TaskState`] (the store's data:
//! WASI, the capabilities' contexts and the memory guard), the construction
//! of a limited store, and the translation of a trap into the limit or fault
//! that caused it.
//!
//! Nothing survives a task: the store and the instance are dropped when the
//! call returns, so no state leaks from one run (or one charm) to the next.

use std::sync::Arc;
use std::time::Instant;

use charm_host_abi::{export, SHADOW_STACK_BYTES};
use wasmtime::{Engine, Instance, ResourceLimiter, Store, Trap, UpdateDeadline, Val};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::WasiCtxBuilder;

use crate::capabilities::console::LogIdentity;
use crate::capabilities::fetch::AllowList;
use crate::capabilities::{AbiViolation, Contexts, Registered, TaskSetup};
use crate::limits::{LimitExceeded, SandboxLimits};
use crate::recording::{clocks, RecordMode, ReplayError, Tape};
use crate::secrets::Redactor;

/// How much of the guest's stderr (panic messages) is kept for diagnosis.
const STDERR_CAPTURE_BYTES: usize = 4096;
/// Tables are not grown by the runtime; this only bounds a broken guest.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What a task may do and who it is for.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// Its resource limits.
    pub limits: SandboxLimits,
    /// The hosts its `fetch` may reach.
    pub allow: Arc<AllowList>,
    /// The ids its console lines carry.
    pub identity: LogIdentity,
    /// The run's secret values, replaced wherever the task writes text out
    /// (console lines, traced fetch failures); the default redacts
    /// nothing.
    pub redactor: Arc<Redactor>,
    /// Whether the task records what it receives or replays a recording;
    /// default [`RecordMode::Off`].
    pub recording: RecordMode,
}

impl TaskSpec {
    /// Default limits, no network, and `name` as the charm id in logs: what
    /// compiling a charm outside the service needs.
    pub fn offline(name: &str) -> TaskSpec {
        TaskSpec {
            limits: SandboxLimits::default(),
            allow: Arc::new(AllowList::default()),
            identity: LogIdentity {
                charm_id: name.to_string(),
                ..LogIdentity::default()
            },
            redactor: Arc::default(),
            recording: RecordMode::Off,
        }
    }
}

/// The data of a task's store.
pub struct TaskState {
    pub(crate) wasi: WasiP1Ctx,
    /// The capabilities' per-task contexts.
    pub(crate) contexts: Contexts,
    memory: MemoryGuard,
    stderr: MemoryOutputPipe,
    /// The task's instance, once created: read after a trap to tell a stack
    /// overflow from other faults.
    pub(crate) instance: Option<Instance>,
    /// What the task receives, recorded or replayed.
    pub(crate) tape: Arc<Tape>,
}

impl TaskState {
    fn new(
        spec: &TaskSpec,
        capabilities: &[Arc<dyn Registered>],
        deadline: tokio::time::Instant,
    ) -> TaskState {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let tape = Tape::new(&spec.recording, Arc::clone(&spec.redactor));
        // No arguments, environment, files or sockets: the guest's WASI world
        // is a clock, randomness and a captured stderr; the clocks and the
        // random generator go through the tape.
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        clocks::install(&mut wasi, &tape);
        let wasi = wasi.build_p1();
        let setup = TaskSetup {
            spec,
            deadline,
            tape: &tape,
        };
        TaskState {
            wasi,
            contexts: Contexts::new(capabilities, &setup),
            memory: MemoryGuard::new(&spec.limits),
            stderr,
            instance: None,
            tape,
        }
    }

    /// The state used while pre-initialising the runtime (no capabilities
    /// are called then).
    pub(crate) fn for_initialisation() -> TaskState {
        let spec = TaskSpec {
            limits: SandboxLimits {
                memory_mb: crate::limits::MAX_MEMORY_MB,
                ..SandboxLimits::default()
            },
            ..TaskSpec::offline("initialisation")
        };
        TaskState::new(&spec, &[], tokio::time::Instant::now())
    }

    /// The largest linear memory the task had, in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.memory.peak as u64
    }

    /// What the guest wrote to stderr (a Rust panic message, if any).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents())
            .trim()
            .to_string()
    }
}

/// Enforces the memory limit, and remembers the peak.
struct MemoryGuard {
    limit_bytes: usize,
    limit_mb: u64,
    peak: usize,
}

impl MemoryGuard {
    fn new(limits: &SandboxLimits) -> MemoryGuard {
        MemoryGuard {
            limit_bytes: limits.memory_bytes(),
            limit_mb: limits.memory_mb,
            peak: 0,
        }
    }
}

impl ResourceLimiter for MemoryGuard {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            // An error, not `Ok(false)`: a failed `memory.grow` would surface
            // in QuickJS as a catchable "out of memory", and the charm could
            // keep going. A trap ends the task and names the limit.
            return Err(LimitExceeded::Memory {
                limit_mb: self.limit_mb,
            }
            .into());
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Creates the store for one task, with fuel, memory and deadline set.
pub(crate) fn new_store(
    engine: &Engine,
    spec: &TaskSpec,
    capabilities: &[Arc<dyn Registered>],
    started: Instant,
) -> wasmtime::Result<Store<TaskState>> {
    let deadline = started + spec.limits.timeout();
    let state = TaskState::new(spec, capabilities, tokio::time::Instant::from_std(deadline));
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    store.set_fuel(spec.limits.fuel)?;
    store.set_epoch_deadline(1);
    let limit_ms = spec.limits.timeout_ms;
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(LimitExceeded::Timeout { limit_ms }.into())
        } else {
            // Let other tasks on this thread run, then continue.
            Ok(UpdateDeadline::Yield(1))
        }
    });
    Ok(store)
}

/// Why a task ended without a result from the guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// A limit of the task was exceeded.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
    /// The guest runtime failed (a trap that is no limit, or a broken ABI).
    /// This is a defect of the runtime, or of a charm that found one. The
    /// text is wasmtime's description of the trap, with anything the guest
    /// wrote to stderr.
    #[error("the sandbox failed: {0}")]
    Fault(String),
    /// A replay could not go on (see [`crate::recording`]).
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// The shadow stack sits at the bottom of memory and grows down; after an
/// overflow the stack pointer has wrapped below zero, far above the stack.
fn shadow_stack_overflowed(store: &mut Store<TaskState>) -> bool {
    let Some(instance) = store.data().instance else {
        return false;
    };
    let Some(global) = instance.get_global(&mut *store, export::STACK_POINTER) else {
        return false;
    };
    match global.get(&mut *store) {
        // The stack pointer is an address: reinterpret the bits.
        Val::I32(sp) => u32::from_ne_bytes(sp.to_ne_bytes()) > SHADOW_STACK_BYTES,
        _ => false,
    }
}

/// Names the cause of a failed call.
pub(crate) fn classify(
    error: wasmtime::Error,
    store: &mut Store<TaskState>,
    limits: &SandboxLimits,
) -> TaskError {
    if let Some(limit) = error.downcast_ref::<LimitExceeded>() {
        return TaskError::Limit(limit.clone());
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        match trap {
            Trap::OutOfFuel => return TaskError::Limit(LimitExceeded::Fuel { limit: limits.fuel }),
            Trap::StackOverflow => return TaskError::Limit(LimitExceeded::Stack),
            Trap::Interrupt => {
                return TaskError::Limit(LimitExceeded::Timeout {
                    limit_ms: limits.timeout_ms,
                })
            }
            Trap::MemoryOutOfBounds if shadow_stack_overflowed(store) => {
                return TaskError::Limit(LimitExceeded::Stack)
            }
            _ => {}
        }
    }
    if let Some(replay) = error.downcast_ref::<ReplayError>() {
        return TaskError::Replay(replay.clone());
    }
    if let Some(abi) = error.downcast_ref::<AbiViolation>() {
        return TaskError::Fault(abi.to_string());
    }
    let stderr = store.data().stderr();
    if stderr.is_empty() {
        TaskError::Fault(format!("{error:#}"))
    } else {
        TaskError::Fault(format!("{error:#} (guest said: {stderr})"))
    }
}
