//! The guest runtime artifact: the `charm-runtime` Javy plugin, built from
//! `guest-runtime/` by `make guest` and committed as
//! `host/runtime/charm-runtime.wasm` so the host builds with the stable
//! toolchain alone.
//!
//! Owns the embedded bytes, their identity (sha256) and the check that a
//! module speaks this host's ABI (`charm_host_abi`). It does not instantiate
//! anything; see `sandbox`.

use std::sync::OnceLock;

use charm_host_abi::{export, import, IMPORT_MODULE};
use sha2::{Digest, Sha256};
use wasmtime::{ExternType, Module, ValType};

/// The runtime, as built by `make guest`.
pub const EMBEDDED_RUNTIME: &[u8] = include_bytes!("../runtime/charm-runtime.wasm");

/// Names a runtime file to use instead of the embedded one. For developing
/// the guest runtime, and for `make guest-check` when the toolchain moved.
pub const RUNTIME_OVERRIDE_ENV: &str = "CHARM_HOST_RUNTIME_WASM";

/// The WASI preview 1 module name; the runtime's only other import module.
const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// The override in [`RUNTIME_OVERRIDE_ENV`] could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the runtime named by {RUNTIME_OVERRIDE_ENV} (`{path}`): {reason}")]
pub struct OverrideUnreadable {
    pub path: String,
    pub reason: String,
}

/// The runtime this process uses: the embedded one, or the file named by
/// [`RUNTIME_OVERRIDE_ENV`]. Read once.
///
/// # Errors
/// [`OverrideUnreadable`] when the override names a file that cannot be read.
pub fn runtime_wasm() -> Result<&'static [u8], OverrideUnreadable> {
    static WASM: OnceLock<Result<&'static [u8], OverrideUnreadable>> = OnceLock::new();
    WASM.get_or_init(|| match std::env::var_os(RUNTIME_OVERRIDE_ENV) {
        None => Ok(EMBEDDED_RUNTIME),
        Some(path) => std::fs::read(&path)
            .map(|bytes| &*Vec::leak(bytes))
            .map_err(|e| OverrideUnreadable {
                path: path.to_string_lossy().into_owned(),
                reason: e.to_string(),
            }),
    })
    .clone()
}

/// The hex sha256 of the runtime in use: its identity in cache keys and
/// compiled-charm records (bytecode is only valid for the runtime that
/// produced it).
pub fn runtime_sha256() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hex::encode(Sha256::digest(runtime_wasm().unwrap_or(EMBEDDED_RUNTIME))))
}

/// A module that does not speak this host's ABI. Lists every problem found.
#[derive(Debug, thiserror::Error)]
#[error("the guest runtime does not match this host's ABI ({IMPORT_MODULE}): {}; rebuild it with `make guest`", problems.join("; "))]
pub struct AbiMismatch {
    pub problems: Vec<String>,
}

/// Which stage of the runtime a module is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// As built: must export the initialisation function.
    Plugin,
    /// After pre-initialisation: the initialisation function is gone.
    Snapshot,
}

/// Checks that `module` imports only what the host provides and exports the
/// entry points with the right signatures.
///
/// # Errors
/// [`AbiMismatch`] listing every import or export that is wrong or missing.
pub fn validate(module: &Module, stage: Stage) -> Result<(), AbiMismatch> {
    let mut problems = Vec::new();
    let i32x = |n: usize| vec![ValType::I32; n];
    for imp in module.imports() {
        let expected = match (imp.module(), imp.name()) {
            (WASI_MODULE, _) => continue,
            (IMPORT_MODULE, import::CONSOLE) => (i32x(3), vec![]),
            (IMPORT_MODULE, import::FETCH) | (IMPORT_MODULE, import::FETCH_TAKE) => {
                (i32x(2), i32x(1))
            }
            (other, name) => {
                problems.push(format!("unknown import `{other}::{name}`"));
                continue;
            }
        };
        check_func(
            &mut problems,
            "import",
            imp.name(),
            Some(imp.ty()),
            &expected,
        );
    }
    let mut wanted = vec![
        (export::REALLOC, (i32x(4), i32x(1))),
        (export::COMPILE, (i32x(4), i32x(1))),
        (export::RUN, (i32x(4), i32x(1))),
    ];
    if stage == Stage::Plugin {
        wanted.push((export::INITIALIZE, (vec![], vec![])));
    }
    for (name, expected) in &wanted {
        check_func(
            &mut problems,
            "export",
            name,
            module.get_export(name),
            expected,
        );
    }
    if !matches!(module.get_export("memory"), Some(ExternType::Memory(_))) {
        problems.push("missing export `memory`".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AbiMismatch { problems })
    }
}

fn check_func(
    problems: &mut Vec<String>,
    what: &str,
    name: &str,
    ty: Option<ExternType>,
    (params, results): &(Vec<ValType>, Vec<ValType>),
) {
    match ty {
        Some(ExternType::Func(f)) => {
            let got_params: Vec<ValType> = f.params().collect();
            let got_results: Vec<ValType> = f.results().collect();
            let same = |a: &[ValType], b: &[ValType]| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| ValType::eq(x, y))
            };
            if !same(&got_params, params) || !same(&got_results, results) {
                problems.push(format!(
                    "{what} `{name}` has type {got_params:?} -> {got_results:?}, expected {params:?} -> {results:?}"
                ));
            }
        }
        Some(_) => problems.push(format!("{what} `{name}` is not a function")),
        None => problems.push(format!("missing {what} `{name}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_runtime_speaks_this_abi() {
        let engine = wasmtime::Engine::default();
        let module = Module::new(&engine, EMBEDDED_RUNTIME).unwrap();
        validate(&module, Stage::Plugin).unwrap();
    }

    #[test]
    fn every_problem_is_listed() {
        let engine = wasmtime::Engine::default();
        let wat = r#"(module
            (import "charm-host-v2" "console" (func (param i32 i32 i32)))
            (func (export "charm-run") (param i32) (result i32) i32.const 0))"#;
        let module = Module::new(&engine, wat).unwrap();
        let err = validate(&module, Stage::Snapshot).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unknown import `charm-host-v2::console`"),
            "{text}"
        );
        assert!(text.contains("export `charm-run` has type"), "{text}");
        assert!(text.contains("missing export `cabi_realloc`"), "{text}");
        assert!(text.contains("missing export `memory`"), "{text}");
        assert!(text.contains("make guest"), "{text}");
    }
}
