//! The wasmtime engine shared by every task, and the clock that interrupts
//! guest code.
//!
//! Owns the engine configuration (one place, so compiled-module caches and
//! the snapshot agree with it) and the epoch ticker thread.
//!
//! Fuel and epochs are both on. Fuel makes CPU limits deterministic; epochs
//! give wall-clock interruption at [`EPOCH_TICK`] granularity: at every tick
//! a running task either yields to the async executor (so other tasks on the
//! same thread make progress) or, past its deadline, traps. Neither stops a
//! host call that is blocked; host calls are async and carry their own
//! deadline (see `capabilities::fetch`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

/// How often the epoch advances: the granularity of wall-clock limits and of
/// time-slicing between tasks on one thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The native stack compiled guest code may use. QuickJS's interpreter
/// takes about 600 bytes of it per JavaScript call, so wasmtime's default
/// (512 KiB) stopped recursion at about 800 frames; 8 MiB allows some ten
/// thousand, like browsers. It is virtual memory until touched.
pub const MAX_WASM_STACK: usize = 8 << 20;

/// The stack of the fiber a task runs on: the wasm stack plus room for the
/// host functions it calls.
const ASYNC_STACK: usize = MAX_WASM_STACK + (1 << 20);

/// Default number of instances that may exist at once (pool slots).
pub const DEFAULT_MAX_INSTANCES: u32 = 1000;

/// How much of a linear memory stays resident in a pool slot between tasks.
///
/// A task's cost was dominated by page faults on fresh copy-on-write memory
/// and by `madvise` resetting it, not by JavaScript. With the pool keeping
/// slots resident and resetting only the pages a task dirtied (found with
/// Linux's `PAGEMAP_SCAN` where the kernel has it, 6.7+), a trivial charm's
/// run went from p50 151 µs to 39 µs (p99 257 -> 75 µs) on this project's
/// 2-core machine, measured side by side.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;

/// How much of a task's function table is zeroed in place, rather than
/// handed back to the kernel, when its pool slot is reused.
///
/// Tables are initialised lazily, so every task fills in the entries it
/// calls through. Resetting them with `madvise` made each task fault the
/// pages back in and, with more than one thread, cost a TLB shootdown on
/// every core: tasks per second on 2 cores went from 25,000 (no faster than
/// one thread) to 56,700 when the table is zeroed in place, and the
/// one-thread p50 from 40 to 34 µs (`make bench`, side by side). The
/// runtime's table is far smaller than this, so the whole table is kept.
const TABLE_KEEP_RESIDENT_BYTES: usize = 1 << 20;

/// Builds the engine every sandbox uses, with a pool of `max_instances`
/// instance slots (each a virtual reservation; only touched pages cost RSS),
/// writing a perf map for profilers when `perf_map` is set.
///
/// # Errors
/// When wasmtime rejects the configuration (for example, an unsupported CPU).
pub(crate) fn build_engine(max_instances: u32, perf_map: bool) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .max_wasm_stack(MAX_WASM_STACK)
        .async_stack_size(ASYNC_STACK)
        // Memory is initialised copy-on-write from the snapshot image: a new
        // instance maps the image instead of copying megabytes.
        .memory_init_cow(true)
        // The guest is a single-threaded core module; proposals it does not
        // use are attack surface. (Reference types stay on: Rust's wasm32
        // target emits their encoding of `call_indirect`.)
        .wasm_threads(false)
        .wasm_gc(false)
        .wasm_component_model(false);
    if perf_map {
        // For profiling with `perf`: name guest functions in /tmp/perf-PID.map.
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(max_instances)
        .total_memories(max_instances)
        .total_tables(max_instances)
        .total_stacks(max_instances)
        .max_memory_size(usize::try_from(crate::limits::MAX_MEMORY_MB << 20).unwrap_or(usize::MAX))
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(TABLE_KEEP_RESIDENT_BYTES)
        .max_unused_warm_slots(max_instances)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config)
}

/// Advances an engine's epoch every [`EPOCH_TICK`] until dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let thread = std::thread::Builder::new()
            .name("charm-epoch".to_string())
            .spawn({
                let stop = Arc::clone(&stop);
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        match engine.upgrade() {
                            Some(engine) => engine.increment_epoch(),
                            None => break,
                        }
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
