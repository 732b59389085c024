//! charm-runtime: the JavaScript engine inside every charm-host sandbox.
//!
//! This is a Javy plugin (QuickJS through `javy-plugin-api`) built for
//! `wasm32-wasip1`. The host pre-initialises it once with `wasmtime-wizer`
//! (running [`initialize_runtime`]), and then every task gets a fresh
//! instance of that snapshot in its own wasmtime `Store`.
//!
//! The pieces, one file each:
//!
//! * `imports.rs`: the host functions of `charm-host-v2`, checked against
//!   the ABI's table at build time;
//! * `ops/`: the native functions the prelude calls, one file per family
//!   (`console`, `fetch`, `url`, `urlpattern`, ...);
//! * `prelude.rs` and `js/`: the Web-facing API charms see, one JavaScript
//!   file per family, evaluated in a fixed order at pre-initialisation;
//! * `driver.rs`: `charm-compile`, `charm-compile-modules` and `charm-run`;
//! * `errors.rs`: how a failure is described to the host (`charm_host_abi::error`).
//!
//! It must not reach anything outside the sandbox except through the
//! imports in `imports.rs`.
//!
//! Javy's stock `invoke` export does not fit charm-host: it has no way to
//! pass arguments, and it aborts the instance on a JavaScript error.
//! `charm-run` instead settles the promise that `bgUpdater` returns, runs the
//! job queue dry, and hands back a structured result (new state, or an error
//! with its kind, name, message and stack). A promise that can never settle
//! is reported as such, rather than treated as success: the original service
//! let async updaters "finish" early.

// The baked Intl data (intl-data/) names `alloc::` paths.
extern crate alloc;

mod driver;
mod errors;
mod imports;
mod ops;
mod prelude;

use javy_plugin_api::{import_namespace, Config};

import_namespace!("charm-host-v2");

/// Collect cycles once this much has been allocated since the last
/// collection. Javy's default (never) would let cyclic garbage grow until the
/// host's memory limit ends the run.
const GC_THRESHOLD_BYTES: usize = 4 * 1024 * 1024;

// There is no JavaScript stack limit here: QuickJS disables its stack guard
// under WASI. Deep recursion is stopped by the host instead (wasmtime's native
// stack limit, or the trap at the bottom of the shadow stack; see build.rs).
fn config() -> Config {
    let mut config = Config::default();
    config
        // TextEncoder and TextDecoder are the prelude's (js/32_encoding.js).
        .text_encoding(false)
        .javy_stream_io(false)
        // WeakRef and FinalizationRegistry (Javy leaves them out by default).
        .weak_ref(true)
        .gc_threshold(GC_THRESHOLD_BYTES);
    config
}

/// Runs once under wizer; its effects become the snapshot.
#[export_name = "initialize-runtime"]
pub extern "C" fn initialize_runtime() {
    if let Err(e) = javy_plugin_api::initialize_runtime(config, prelude::install) {
        panic!("javy runtime failed to initialise: {e}");
    }
}

pub use driver::{charm_compile, charm_compile_modules, charm_run};
