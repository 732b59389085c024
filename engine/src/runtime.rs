//! The guest runtime artifact: the `charm-runtime` Javy plugin, built from
//! `guest-runtime/` by `make guest` and committed as
//! `engine/runtime/charm-runtime.wasm` so the host builds with the stable
//! toolchain alone.
//!
//! Owns the embedded bytes, their identity (sha256) and the check that a
//! module speaks this host's ABI (`charm_host_abi`): its import namespace
//! section, every import and every export. It does not instantiate
//! anything; see `sandbox`.

use std::path::Path;
use std::sync::Arc;

use charm_host_abi::{export, import, Function, IMPORT_MODULE, IMPORT_NAMESPACE_SECTION};
use sha2::{Digest, Sha256};
use wasmtime::{ExternType, Module, ValType};

/// The runtime, as built by `make guest`.
pub const EMBEDDED_RUNTIME: &[u8] = include_bytes!("../runtime/charm-runtime.wasm");

// The guest tells charms `navigator.userAgent` from the ABI crate, which it
// is built with; it must name this host's version.
const _: () = assert!(charm_host_abi::same_str(
    charm_host_abi::USER_AGENT,
    concat!("charm-host/", env!("CARGO_PKG_VERSION"))
));

/// The WASI preview 1 module name; the runtime's only other import module.
const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// A runtime file given in place of the embedded one could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot read the runtime file `{path}`: {reason}")]
pub struct OverrideUnreadable {
    /// The file.
    pub path: String,
    /// What the operating system said.
    pub reason: String,
}

/// The runtime a sandbox uses, with its identity.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    /// The plugin's bytes, before pre-initialisation.
    pub wasm: Arc<[u8]>,
    /// Hex sha256 of [`Runtime::wasm`]: its identity in cache keys and in
    /// compiled charms (bytecode is only valid for the runtime that made it).
    pub sha256: String,
}

impl Runtime {
    /// The embedded runtime, or the file at `path` when one is given.
    pub(crate) fn load(path: Option<&Path>) -> Result<Runtime, OverrideUnreadable> {
        let wasm: Arc<[u8]> = match path {
            None => Arc::from(EMBEDDED_RUNTIME),
            Some(path) => std::fs::read(path)
                .map(Arc::from)
                .map_err(|e| OverrideUnreadable {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?,
        };
        let sha256 = hex::encode(Sha256::digest(&wasm));
        Ok(Runtime { wasm, sha256 })
    }
}

/// A module that does not speak this host's ABI. Lists every problem found.
#[derive(Debug, thiserror::Error)]
#[error("the guest runtime does not match this host's ABI ({IMPORT_MODULE}): {}; rebuild it with `make guest`", problems.join("; "))]
pub struct AbiMismatch {
    /// One line per problem.
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

/// Checks the runtime's `import_namespace` custom section: the version of
/// the ABI it was built for, as the guest recorded it.
///
/// # Errors
/// [`AbiMismatch`] when the section is missing, repeated, or names another
/// import module, or when the bytes are not a WebAssembly module.
pub fn check_namespace(wasm: &[u8]) -> Result<(), AbiMismatch> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(wasmparser::Payload::CustomSection(section))
                if section.name() == IMPORT_NAMESPACE_SECTION =>
            {
                found.push(String::from_utf8_lossy(section.data()).into_owned());
            }
            Ok(_) => {}
            Err(e) => {
                return Err(AbiMismatch {
                    problems: vec![format!("not a valid WebAssembly module: {e}")],
                })
            }
        }
    }
    let problem = match found.as_slice() {
        [namespace] if namespace == IMPORT_MODULE => return Ok(()),
        [] => format!("no `{IMPORT_NAMESPACE_SECTION}` section"),
        [namespace] => format!("built for `{namespace}`"),
        _ => format!("{} `{IMPORT_NAMESPACE_SECTION}` sections", found.len()),
    };
    Err(AbiMismatch {
        problems: vec![problem],
    })
}

/// Checks that `module` imports only what the host provides and exports the
/// entry points with the right signatures.
///
/// # Errors
/// [`AbiMismatch`] listing every import or export that is wrong or missing.
pub fn validate(module: &Module, stage: Stage) -> Result<(), AbiMismatch> {
    let mut problems = Vec::new();
    for imp in module.imports() {
        if imp.module() == WASI_MODULE {
            continue;
        }
        let known = (imp.module() == IMPORT_MODULE)
            .then(|| import::ALL.iter().find(|f| f.name == imp.name()))
            .flatten();
        match known {
            Some(expected) => check_func(&mut problems, "import", Some(imp.ty()), expected),
            None => problems.push(format!("unknown import `{}::{}`", imp.module(), imp.name())),
        }
    }
    let mut wanted: Vec<&Function> = export::ALL.iter().collect();
    if stage == Stage::Plugin {
        wanted.push(&export::INITIALIZE);
    }
    for expected in wanted {
        check_func(
            &mut problems,
            "export",
            module.get_export(expected.name),
            expected,
        );
    }
    if !matches!(
        module.get_export(export::MEMORY),
        Some(ExternType::Memory(_))
    ) {
        problems.push(format!("missing export `{}`", export::MEMORY));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AbiMismatch { problems })
    }
}

fn wasm_type(ty: charm_host_abi::ValType) -> ValType {
    match ty {
        charm_host_abi::ValType::I32 => ValType::I32,
        charm_host_abi::ValType::I64 => ValType::I64,
    }
}

fn check_func(problems: &mut Vec<String>, what: &str, ty: Option<ExternType>, expected: &Function) {
    let name = expected.name;
    match ty {
        Some(ExternType::Func(f)) => {
            let params: Vec<ValType> = expected.params.iter().copied().map(wasm_type).collect();
            let results: Vec<ValType> = expected.results.iter().copied().map(wasm_type).collect();
            let got_params: Vec<ValType> = f.params().collect();
            let got_results: Vec<ValType> = f.results().collect();
            let same = |a: &[ValType], b: &[ValType]| {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| ValType::eq(x, y))
            };
            if !same(&got_params, &params) || !same(&got_results, &results) {
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
    fn the_committed_runtime_speaks_this_abi() {
        check_namespace(EMBEDDED_RUNTIME).unwrap();
        let engine = wasmtime::Engine::default();
        let module = Module::new(&engine, EMBEDDED_RUNTIME).unwrap();
        validate(&module, Stage::Plugin).unwrap();
    }

    #[test]
    fn every_problem_is_listed() {
        let engine = wasmtime::Engine::default();
        let wat = r#"(module
            (import "charm-host-v0" "console" (func (param i32 i32 i32)))
            (func (export "charm-run") (param i32) (result i32) i32.const 0))"#;
        let module = Module::new(&engine, wat).unwrap();
        let err = validate(&module, Stage::Snapshot).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("unknown import `charm-host-v0::console`"),
            "{text}"
        );
        assert!(text.contains("export `charm-run` has type"), "{text}");
        assert!(text.contains("missing export `cabi_realloc`"), "{text}");
        assert!(text.contains("missing export `memory`"), "{text}");
        assert!(text.contains("make guest"), "{text}");
    }

    #[test]
    fn a_runtime_built_for_another_abi_is_named_by_its_namespace() {
        let module = |namespace: &str| {
            wat::parse_str(format!(
                r#"(module (@custom "import_namespace" "{namespace}"))"#
            ))
            .unwrap()
        };
        let err = check_namespace(&module("charm-host-v1")).unwrap_err();
        assert!(
            err.to_string().contains("built for `charm-host-v1`"),
            "{err}"
        );
        check_namespace(&module(IMPORT_MODULE)).unwrap();
        let bare = wat::parse_str("(module)").unwrap();
        assert!(check_namespace(&bare)
            .unwrap_err()
            .to_string()
            .contains("no `import_namespace` section"));
    }
}
