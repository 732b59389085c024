//! The sandbox: every task in a fresh WebAssembly instance with its own limits.
//!
//! Owns wasmtime: the engine, the linker (WASI preview 1 and the
//! capabilities), the pre-initialised runtime snapshot and the per-task store.
//! It knows nothing of charms' storage, schedules or HTTP routes; callers hand
//! it bytes and a [`TaskSpec`] and get back the guest's answer with the task's
//! [`TaskReport`]. `compile` and `run` build on [`Sandbox::call`].
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use charm_engine::{Sandbox, SandboxOptions};
//! let sandbox = Sandbox::new(SandboxOptions::default()).await?;
//! let charm = charm_engine::compile(
//!     &sandbox,
//!     "counter.js",
//!     "export function bgUpdater(s) { return { n: (s.n ?? 0) + 1 } }",
//! )
//! .await?;
//! # let _ = charm; Ok(()) }
//! ```

mod engine;
mod snapshot;
mod task;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use charm_host_abi::ret_area::{self, RetArea};
use charm_host_abi::{export, Status};
use wasmtime::{Engine, Instance, InstancePre, Linker, Memory, Store, TypedFunc};

pub use engine::{DEFAULT_MAX_INSTANCES, EPOCH_TICK};
pub(crate) use task::TaskState;
pub use task::{TaskError, TaskSpec};

use crate::capabilities::fetch::ReservedAddrs;
use crate::capabilities::{self, AbiViolation, Registered};
use crate::limits::LimitExceeded;
use crate::recording::Recording;
use crate::runtime::{AbiMismatch, OverrideUnreadable};

/// How to build a [`Sandbox`].
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where the compiled runtime is cached between processes. `None`
    /// compiles it in every process (about two seconds).
    pub cache_dir: Option<PathBuf>,
    /// Tasks that may exist at once (instance pool slots). A task beyond
    /// this fails to start, so callers bound their concurrency below it.
    /// Default [`DEFAULT_MAX_INSTANCES`].
    pub max_instances: u32,
    /// A runtime file to use instead of the embedded one (for developing
    /// the guest, and for `make guest-check` when the toolchain moved).
    /// Default `None`: the embedded runtime.
    pub runtime_override: Option<PathBuf>,
    /// Write a perf map (`/tmp/perf-PID.map`) so that `perf` names guest
    /// functions, for profiling. Default `false`.
    pub perf_map: bool,
    /// Socket addresses no charm may fetch from, whatever its allow-list
    /// says: the daemon's own API and database. Default none.
    pub reserved: ReservedAddrs,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            cache_dir: None,
            max_instances: DEFAULT_MAX_INSTANCES,
            runtime_override: None,
            perf_map: false,
            reserved: ReservedAddrs::none(),
        }
    }
}

/// The sandbox could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The runtime does not speak this host's ABI.
    #[error(transparent)]
    Abi(#[from] AbiMismatch),
    /// The runtime file named in [`SandboxOptions::runtime_override`] could
    /// not be read.
    #[error(transparent)]
    Override(#[from] OverrideUnreadable),
    /// wasmtime refused the configuration or the module.
    #[error("wasmtime: {0}")]
    Wasmtime(String),
    /// Running the runtime's initialiser failed.
    #[error("pre-initialising the runtime failed: {0}")]
    Initialise(String),
    /// The thread that advances the epoch could not start.
    #[error("could not start the epoch ticker: {0}")]
    Ticker(#[from] std::io::Error),
}

impl SandboxError {
    fn from_wasmtime(e: wasmtime::Error) -> SandboxError {
        SandboxError::Wasmtime(format!("{e:#}"))
    }
}

/// What a task cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskStats {
    /// Fuel consumed (about one WebAssembly instruction each).
    pub fuel: u64,
    /// Largest linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time from store creation to the answer.
    pub duration: Duration,
    /// Number of `fetch` calls.
    pub fetches: u32,
}

/// What a task leaves behind besides the guest's answer: its cost, and what
/// the capabilities recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskReport {
    /// What the task cost.
    pub stats: TaskStats,
    /// The first part of the console output (see `capabilities::console`).
    pub log_excerpt: String,
    /// The next run the charm asked for, in ms after this one (see
    /// `capabilities::schedule`).
    pub next_run_ms: Option<u64>,
    /// What the task received, when it recorded (see
    /// [`crate::recording`]).
    pub recording: Option<Recording>,
}

/// The guest's answer: a status and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestAnswer {
    /// Whether the payload is a result or an error description.
    pub status: Status,
    /// The result, or the `charm_host_abi::error` payload.
    pub payload: Vec<u8>,
}

/// Everything a task leaves behind.
#[derive(Debug)]
pub struct TaskResult {
    /// The guest's answer, or why the task ended without one.
    pub answer: Result<GuestAnswer, TaskError>,
    /// Cost and capability records.
    pub report: TaskReport,
}

/// The largest error description read back from the guest.
const MAX_ERROR_PAYLOAD: u64 = 64 * 1024;

/// A ready sandbox. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: InstancePre<TaskState>,
    capabilities: Vec<Arc<dyn Registered>>,
    runtime_sha256: String,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

/// The entry points every task calls through.
struct Entry {
    memory: Memory,
    realloc: TypedFunc<(u32, u32, u32, u32), u32>,
    function: TypedFunc<(u32, u32, u32, u32), u32>,
}

impl Sandbox {
    /// Builds the engine, links the capabilities and loads (or builds and
    /// caches) the pre-initialised runtime.
    ///
    /// # Errors
    /// [`SandboxError`] when the runtime does not match this host or cannot
    /// be initialised.
    pub async fn new(options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let runtime = crate::runtime::Runtime::load(options.runtime_override.as_deref())?;
        let engine = engine::build_engine(options.max_instances.max(2), options.perf_map)
            .map_err(SandboxError::from_wasmtime)?;
        let mut linker: Linker<TaskState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut TaskState| &mut s.wasi)
            .map_err(SandboxError::from_wasmtime)?;
        let capabilities = capabilities::registered(&options.reserved);
        capabilities::check_coverage(&capabilities)?;
        for capability in &capabilities {
            capability
                .add_to_linker(&mut linker)
                .map_err(SandboxError::from_wasmtime)?;
        }
        let ticker = engine::EpochTicker::start(&engine)?;
        let module =
            snapshot::load_or_build(&engine, &linker, &runtime, options.cache_dir.as_deref())
                .await?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(SandboxError::from_wasmtime)?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                pre,
                capabilities,
                runtime_sha256: runtime.sha256.clone(),
                _ticker: ticker,
            }),
        })
    }

    /// Hex sha256 of the runtime this sandbox runs: bytecode compiled by
    /// another runtime must be compiled again.
    pub fn runtime_sha256(&self) -> &str {
        &self.inner.runtime_sha256
    }

    /// Runs one entry point of the runtime in a fresh task: instantiate the
    /// snapshot, copy `args` in, call `entry` with their (pointer, length)
    /// pairs, and copy the answer out. A successful payload longer than
    /// `max_payload` bytes ends the task with [`LimitExceeded::Output`].
    pub async fn call(
        &self,
        entry: &str,
        args: [&[u8]; 2],
        spec: &TaskSpec,
        max_payload: u64,
    ) -> TaskResult {
        let started = Instant::now();
        let capabilities = &self.inner.capabilities;
        let mut store = match task::new_store(&self.inner.engine, spec, capabilities, started) {
            Ok(store) => store,
            Err(e) => {
                return TaskResult {
                    answer: Err(TaskError::Fault(format!("creating the task failed: {e:#}"))),
                    report: TaskReport::default(),
                }
            }
        };
        let answer = self
            .call_in(&mut store, entry, args, max_payload)
            .await
            .map_err(|e| task::classify(e, &mut store, &spec.limits));
        let mut report = TaskReport {
            stats: TaskStats {
                fuel: spec
                    .limits
                    .fuel
                    .saturating_sub(store.get_fuel().unwrap_or(0)),
                memory_bytes: store.data().peak_memory(),
                duration: started.elapsed(),
                fetches: 0,
            },
            log_excerpt: String::new(),
            next_run_ms: None,
            recording: store.data().tape.take(),
        };
        store.data().contexts.report(capabilities, &mut report);
        TaskResult { answer, report }
    }

    /// The four steps of a call, as Javy's host-side compile has them.
    async fn call_in(
        &self,
        store: &mut Store<TaskState>,
        entry: &str,
        args: [&[u8]; 2],
        max_payload: u64,
    ) -> wasmtime::Result<GuestAnswer> {
        let (instance, entry) = self.instantiate(store, entry).await?;
        store.data_mut().instance = Some(instance);
        let words = copy_in(store, &entry, args).await?;
        let area_ptr = entry
            .function
            .call_async(&mut *store, (words[0], words[1], words[2], words[3]))
            .await?;
        copy_out(store, entry.memory, area_ptr, max_payload)
    }

    /// A fresh instance of the snapshot, and its entry points.
    async fn instantiate(
        &self,
        store: &mut Store<TaskState>,
        entry: &str,
    ) -> wasmtime::Result<(Instance, Entry)> {
        let instance = self.inner.pre.instantiate_async(&mut *store).await?;
        let memory = instance
            .get_memory(&mut *store, export::MEMORY)
            .ok_or_else(|| AbiViolation("no memory export".to_string()))?;
        let realloc = instance.get_typed_func(&mut *store, export::REALLOC.name)?;
        let function = instance.get_typed_func(&mut *store, entry)?;
        Ok((
            instance,
            Entry {
                memory,
                realloc,
                function,
            },
        ))
    }
}

/// Places each argument in guest memory (allocated by the guest's own
/// `cabi_realloc`) and returns the (pointer, length) words of both.
async fn copy_in(
    store: &mut Store<TaskState>,
    entry: &Entry,
    args: [&[u8]; 2],
) -> wasmtime::Result<[u32; 4]> {
    let mut words = [0u32; 4];
    for (i, bytes) in args.iter().enumerate() {
        let len = u32::try_from(bytes.len())?;
        let ptr = entry
            .realloc
            .call_async(&mut *store, (0, 0, 1, len))
            .await?;
        entry
            .memory
            .write(&mut *store, usize::try_from(ptr)?, bytes)?;
        words[2 * i] = ptr;
        words[2 * i + 1] = len;
    }
    Ok(words)
}

/// Reads the return area at `area_ptr` and the payload it points to.
fn copy_out(
    store: &Store<TaskState>,
    memory: Memory,
    area_ptr: u32,
    max_payload: u64,
) -> wasmtime::Result<GuestAnswer> {
    let mut bytes = [0u8; ret_area::LEN];
    memory.read(store, usize::try_from(area_ptr)?, &mut bytes)?;
    let area = RetArea::from_bytes(&bytes);
    let status = Status::from_u32(area.status)
        .ok_or_else(|| AbiViolation(format!("unknown status {}", area.status)))?;
    let len = u64::from(area.len);
    let read_len = match status {
        Status::Ok if len > max_payload => {
            return Err(LimitExceeded::Output {
                size: len,
                limit: max_payload,
            }
            .into())
        }
        Status::Ok => len,
        Status::Error => len.min(MAX_ERROR_PAYLOAD),
    };
    let mut payload = vec![0u8; usize::try_from(read_len)?];
    memory.read(store, usize::try_from(area.ptr)?, &mut payload)?;
    Ok(GuestAnswer { status, payload })
}
