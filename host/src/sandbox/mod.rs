//! The sandbox: every task in a fresh WebAssembly instance with its own limits.
//!
//! Owns wasmtime: the engine, the linker (WASI preview 1 and the
//! capabilities), the pre-initialised runtime snapshot and the per-task store.
//! It knows nothing of charms' storage, schedules or HTTP routes; callers hand
//! it bytes and a [`TaskSpec`] and get back the guest's answer with the task's
//! [`TaskStats`]. `compile` and `run` build on [`Sandbox::call`].
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use charm_host::sandbox::{Sandbox, SandboxOptions};
//! let sandbox = Sandbox::new(SandboxOptions::default()).await?;
//! let charm = charm_host::compile::compile(
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

use charm_host_abi::{export, Status};
use wasmtime::{Engine, InstancePre, Linker, Store};

pub use engine::{DEFAULT_MAX_INSTANCES, EPOCH_TICK};
pub use task::{TaskError, TaskSpec, TaskState};

use crate::capabilities::fetch::{FetchFailure, HttpGateway};
use crate::capabilities::{console, fetch};
use crate::runtime::AbiMismatch;

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
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            cache_dir: None,
            max_instances: DEFAULT_MAX_INSTANCES,
        }
    }
}

/// The sandbox could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    Abi(#[from] AbiMismatch),
    #[error(transparent)]
    Override(#[from] crate::runtime::OverrideUnreadable),
    #[error("wasmtime: {0}")]
    Wasmtime(String),
    #[error("pre-initialising the runtime failed: {0}")]
    Initialise(String),
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
    /// Fuel consumed.
    pub fuel: u64,
    /// Largest linear memory, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock time from store creation to the answer.
    pub duration: Duration,
    /// Number of `fetch` calls.
    pub fetches: u32,
}

/// The guest's answer: a status and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestAnswer {
    pub status: Status,
    pub payload: Vec<u8>,
}

/// Everything a task leaves behind.
#[derive(Debug)]
pub struct TaskResult {
    pub answer: Result<GuestAnswer, TaskError>,
    pub stats: TaskStats,
    /// The first part of the console output (see `capabilities::console`).
    pub log_excerpt: String,
    /// Fetch failures the charm was told about.
    pub fetch_failures: Vec<FetchFailure>,
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
    gateway: Arc<HttpGateway>,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Builds the engine, links the capabilities and loads (or builds and
    /// caches) the pre-initialised runtime.
    ///
    /// # Errors
    /// [`SandboxError`] when the runtime does not match this host or cannot
    /// be initialised.
    pub async fn new(options: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let engine = engine::build_engine(options.max_instances.max(2))
            .map_err(SandboxError::from_wasmtime)?;
        let mut linker: Linker<TaskState> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |s: &mut TaskState| &mut s.wasi)
            .map_err(SandboxError::from_wasmtime)?;
        console::add_to_linker(&mut linker, |s: &mut TaskState| &mut s.console)
            .map_err(SandboxError::from_wasmtime)?;
        fetch::add_to_linker(&mut linker, |s: &mut TaskState| &mut s.fetch)
            .map_err(SandboxError::from_wasmtime)?;
        let ticker = engine::EpochTicker::start(&engine)?;
        let module =
            snapshot::load_or_build(&engine, &linker, options.cache_dir.as_deref()).await?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(SandboxError::from_wasmtime)?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                pre,
                gateway: Arc::new(HttpGateway::new()),
                _ticker: ticker,
            }),
        })
    }

    /// Runs one entry point of the runtime in a fresh task: instantiate the
    /// snapshot, copy `args` in, call `entry` with their (pointer, length)
    /// pairs, and copy the answer out. A successful payload longer than
    /// `max_payload` ends the task with [`crate::limits::LimitExceeded::Output`].
    pub async fn call(
        &self,
        entry: &str,
        args: [&[u8]; 2],
        spec: &TaskSpec,
        max_payload: u64,
    ) -> TaskResult {
        let started = Instant::now();
        let store = task::new_store(
            &self.inner.engine,
            spec,
            Arc::clone(&self.inner.gateway),
            started,
        );
        let mut store = match store {
            Ok(store) => store,
            Err(e) => {
                return TaskResult {
                    answer: Err(TaskError::Fault(format!("creating the task failed: {e:#}"))),
                    stats: TaskStats::default(),
                    log_excerpt: String::new(),
                    fetch_failures: Vec::new(),
                }
            }
        };
        let answer = self
            .call_in(&mut store, entry, args, max_payload)
            .await
            .map_err(|e| task::classify(e, &mut store, &spec.limits));
        let data = store.data();
        let stats = TaskStats {
            fuel: spec
                .limits
                .fuel
                .saturating_sub(store.get_fuel().unwrap_or(0)),
            memory_bytes: data.peak_memory(),
            duration: started.elapsed(),
            fetches: data.fetch.count(),
        };
        TaskResult {
            answer,
            stats,
            log_excerpt: data.console.excerpt(),
            fetch_failures: data.fetch.failures().to_vec(),
        }
    }

    async fn call_in(
        &self,
        store: &mut Store<TaskState>,
        entry: &str,
        args: [&[u8]; 2],
        max_payload: u64,
    ) -> wasmtime::Result<GuestAnswer> {
        type Abi4 = (u32, u32, u32, u32);
        let instance = self.inner.pre.instantiate_async(&mut *store).await?;
        store.data_mut().instance = Some(instance);
        let memory = instance
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| crate::capabilities::AbiViolation("no memory export".to_string()))?;
        let realloc = instance.get_typed_func::<Abi4, u32>(&mut *store, export::REALLOC)?;
        let mut words = [0u32; 4];
        for (i, bytes) in args.iter().enumerate() {
            let len = u32::try_from(bytes.len())?;
            let ptr = realloc.call_async(&mut *store, (0, 0, 1, len)).await?;
            memory.write(&mut *store, usize::try_from(ptr)?, bytes)?;
            words[2 * i] = ptr;
            words[2 * i + 1] = len;
        }
        let function = instance.get_typed_func::<Abi4, u32>(&mut *store, entry)?;
        let area_ptr = function
            .call_async(&mut *store, (words[0], words[1], words[2], words[3]))
            .await?;
        let mut area = [0u8; 12];
        memory.read(&*store, usize::try_from(area_ptr)?, &mut area)?;
        let word = |i: usize| {
            u32::from_le_bytes([
                area[4 * i],
                area[4 * i + 1],
                area[4 * i + 2],
                area[4 * i + 3],
            ])
        };
        let status = Status::from_u32(word(0)).ok_or_else(|| {
            crate::capabilities::AbiViolation(format!("unknown status {}", word(0)))
        })?;
        let (ptr, len) = (usize::try_from(word(1))?, u64::from(word(2)));
        let read_len = match status {
            Status::Ok if len > max_payload => {
                return Err(crate::limits::LimitExceeded::Output {
                    size: len,
                    limit: max_payload,
                }
                .into())
            }
            Status::Ok => len,
            Status::Error => len.min(MAX_ERROR_PAYLOAD),
        };
        let mut payload = vec![0u8; usize::try_from(read_len)?];
        memory.read(&*store, ptr, &mut payload)?;
        Ok(GuestAnswer { status, payload })
    }
}
