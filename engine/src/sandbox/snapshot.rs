//! The pre-initialised runtime snapshot and its compiled-module cache.
//!
//! Owns turning the runtime (`runtime::Runtime`) into a ready-to-instantiate [`Module`]:
//!
//! 1. `wasmtime-wizer` instantiates the plugin, runs `initialize-runtime`
//!    (QuickJS runtime, intrinsics, the charm prelude) and writes the
//!    resulting memory and globals out as a new module: the snapshot;
//! 2. Cranelift compiles the snapshot (wizer has compiled the plugin once
//!    to run it; this is the second and last compile);
//! 3. the compiled code is serialised to the cache directory, keyed by the
//!    runtime's sha256 and the engine's compatibility hash, so the next
//!    process only maps it back in.
//!
//! A cache file carries a checksum of its payload. Deserialising a compiled
//! module trusts its bytes, so a file that fails the checksum, or that
//! wasmtime refuses, is rebuilt and replaced, never used; an unwritable cache
//! directory only costs the rebuild.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wizer::Wizer;

use crate::runtime::{self, Runtime, Stage};

use super::task::TaskState;
use super::SandboxError;

const CACHE_MAGIC: &[u8; 16] = b"charm-host-cwasm";

/// Where a compiled snapshot lives: one file per runtime and engine.
pub fn cache_path(engine: &Engine, runtime: &Runtime, dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let runtime_id = runtime.sha256.get(..16).unwrap_or(&runtime.sha256);
    dir.join(format!(
        "runtime-{runtime_id}-{:016x}.cwasm",
        hasher.finish()
    ))
}

/// Loads the compiled snapshot from `cache_dir`, or builds and caches it.
///
/// # Errors
/// When the runtime does not match the ABI or pre-initialisation fails;
/// cache problems are logged and worked around.
pub async fn load_or_build(
    engine: &Engine,
    linker: &Linker<TaskState>,
    runtime: &Runtime,
    cache_dir: Option<&Path>,
) -> Result<Module, SandboxError> {
    // The namespace is checked on the raw bytes every time, cached or not:
    // it is cheap, and a cache file is keyed by these very bytes.
    runtime::check_namespace(&runtime.wasm)?;
    let path = cache_dir.map(|dir| cache_path(engine, runtime, dir));
    if let Some(path) = &path {
        match read_cached(engine, path) {
            Ok(Some(module)) => {
                tracing::debug!(path = %path.display(), "loaded the compiled runtime from cache");
                return Ok(module);
            }
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "ignoring an unusable runtime cache file; rebuilding it");
            }
        }
    }
    let started = std::time::Instant::now();
    let module = build(engine, linker, runtime).await?;
    tracing::info!(
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "pre-initialised and compiled the charm runtime"
    );
    if let Some(path) = &path {
        if let Err(e) = write_cached(&module, path) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled runtime");
        }
    }
    Ok(module)
}

async fn build(
    engine: &Engine,
    linker: &Linker<TaskState>,
    runtime: &Runtime,
) -> Result<Module, SandboxError> {
    let wasm = &runtime.wasm[..];
    let mut store = Store::new(engine, TaskState::for_initialisation());
    store
        .set_fuel(u64::MAX / 4)
        .map_err(SandboxError::from_wasmtime)?;
    // No wall-clock limit while initialising: it is our own code.
    store.epoch_deadline_callback(|_| Ok(wasmtime::UpdateDeadline::Continue(1 << 20)));
    let mut wizer = Wizer::new();
    wizer.init_func(charm_host_abi::export::INITIALIZE.name);
    // The plugin's ABI is checked on the module wizer compiled (the plugin
    // plus exports of its state), before anything runs: compiling the plugin
    // once more only to check it cost a third of a cold start.
    let mut mismatch = None;
    let snapshot = wizer
        .run(&mut store, wasm, async |store, module| {
            if let Err(e) = runtime::validate(module, Stage::Plugin) {
                mismatch = Some(e);
                return Err(wasmtime::Error::msg(
                    "the runtime does not match this host's ABI",
                ));
            }
            linker.instantiate_async(store, module).await
        })
        .await;
    if let Some(mismatch) = mismatch {
        return Err(mismatch.into());
    }
    let snapshot = snapshot.map_err(|e| SandboxError::Initialise(format!("{e:#}")))?;
    let module = Module::new(engine, &snapshot).map_err(SandboxError::from_wasmtime)?;
    runtime::validate(&module, Stage::Snapshot)?;
    Ok(module)
}

fn read_cached(engine: &Engine, path: &Path) -> Result<Option<Module>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let header = CACHE_MAGIC.len() + 32;
    if bytes.len() < header || &bytes[..CACHE_MAGIC.len()] != CACHE_MAGIC {
        return Err("not a charm-host cache file".to_string());
    }
    let (sum, payload) = bytes[CACHE_MAGIC.len()..].split_at(32);
    if Sha256::digest(payload).as_slice() != sum {
        return Err("checksum mismatch (corrupted)".to_string());
    }
    // SAFETY: the payload is what `Module::serialize` wrote with this
    // engine's configuration (the file name carries the compatibility
    // hash), and the checksum shows it is unchanged since.
    let module = unsafe { Module::deserialize(engine, payload) }.map_err(|e| e.to_string())?;
    runtime::validate(&module, Stage::Snapshot).map_err(|e| e.to_string())?;
    Ok(Some(module))
}

fn write_cached(module: &Module, path: &Path) -> std::io::Result<()> {
    let payload = module.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Write a temporary file and rename it over the target, so a reader
    // never sees half a file and concurrent writers cannot interleave.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("runtime"),
        std::process::id()
    ));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(CACHE_MAGIC)?;
    file.write_all(&Sha256::digest(&payload))?;
    file.write_all(&payload)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use crate::sandbox::{Sandbox, SandboxError, SandboxOptions};

    /// The plugin is checked inside wizer's instantiation now: a runtime
    /// that names this host's namespace but not its functions must still be
    /// refused with every problem listed, before its initialiser runs.
    #[tokio::test]
    async fn a_plugin_with_the_wrong_functions_is_refused_before_it_runs() {
        let ns = charm_host_abi::IMPORT_MODULE;
        let wasm = wat::parse_str(format!(
            r#"(module
                (@custom "import_namespace" "{ns}")
                (import "{ns}" "bogus" (func))
                (memory (export "memory") 1)
                (func (export "initialize-runtime") unreachable))"#
        ))
        .unwrap();
        let dir = std::env::temp_dir().join(format!("charm-abi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("runtime.wasm");
        std::fs::write(&path, wasm).unwrap();
        let result = Sandbox::new(SandboxOptions {
            runtime_override: Some(path),
            max_instances: 2,
            ..SandboxOptions::default()
        })
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        match result {
            Err(SandboxError::Abi(e)) => {
                let text = e.to_string();
                assert!(
                    text.contains("unknown import `charm-host-v2::bogus`"),
                    "{text}"
                );
                assert!(text.contains("missing export `charm-run`"), "{text}");
            }
            Err(e) => panic!("expected an ABI mismatch, got {e}"),
            Ok(_) => panic!("a runtime with the wrong functions was accepted"),
        }
    }
}
