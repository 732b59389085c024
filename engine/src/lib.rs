//! charm-engine: the sandbox core of charm-host.
//!
//! Compiles a charm (a JavaScript ES module) to QuickJS bytecode and runs its
//! `bgUpdater` in a fresh WebAssembly sandbox per task, with fuel, memory and
//! wall-clock [`limits`], reaching outside only through host capabilities
//! (console, and fetch through an [`AllowList`]). It has no SQL, no HTTP
//! routes and no command line: the service and the CLI in `charm-host`
//! build on it.
//!
//! The modules follow the data: a source is [`compile`]d inside the
//! [`Sandbox`]; a [`RunPlan`] gathers what a run needs; [`run`] calls
//! `bgUpdater` in a fresh task and reports a [`RunReport`], with the
//! [`Recording`] of what it received, which a later run can replay. The guest side of
//! the boundary is the embedded runtime (`engine/runtime/charm-runtime.wasm`,
//! built from `guest-runtime/`), spoken to through `charm_host_abi`.
#![warn(missing_docs)]

mod capabilities;
mod compile;
mod js_error;
pub mod limits;
mod modules;
mod recording;
mod run;
mod run_plan;
mod runtime;
mod sandbox;
mod secrets;

pub use capabilities::console::{LogIdentity, CONSOLE_TARGET};
pub use capabilities::fetch::{AllowList, Denied, InvalidEntry, ReservedAddrs};
pub use charm_host_abi::error::ErrorKind;
pub use compile::{
    compile, compile_source, compile_with, CompileError, CompiledCharm, MAX_SOURCE_BYTES,
};
pub use js_error::{JsError, ReportedLimit};
pub use modules::{CharmSource, StoredSourceError, MAX_MODULES};
pub use recording::{
    RecordMode, RecordedBody, RecordedFetch, RecordedResponse, Recording, ReplayError, Wake,
    DEFAULT_RECORD_BYTES,
};
pub use run::{run, RunContext, RunError, RunReport, StateChange};
pub use run_plan::{unix_ms, CharmSettings, PlanError, RunPlan, RunRequest};
pub use runtime::{AbiMismatch, OverrideUnreadable, EMBEDDED_RUNTIME};
pub use sandbox::{
    GuestAnswer, Sandbox, SandboxError, SandboxOptions, TaskError, TaskReport, TaskResult,
    TaskSpec, TaskStats, DEFAULT_MAX_INSTANCES, EPOCH_TICK,
};
pub use secrets::{Redactor, Secrets, MIN_REDACTED_BYTES, REDACTED};
