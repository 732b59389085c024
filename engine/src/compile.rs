//! Compiling a charm: JavaScript source to QuickJS bytecode.
//!
//! Owns the compile step and its errors. The work happens inside a sandbox
//! task (the guest's `charm-compile`), so a hostile module cannot hurt the
//! host while being compiled: QuickJS parses it, writes bytecode, then
//! evaluates the module once to check that it exports a `bgUpdater`
//! function. Module top-level code therefore runs at compile time (and again
//! at the start of every run); `fetch` is refused there.
//!
//! A module whose name ends in `.ts` or `.mts` is TypeScript: its types are
//! stripped first, in the host (`charm_typescript`, which keeps every line
//! and column, so QuickJS's positions are the author's). The stored source
//! and its sha256 are the TypeScript.
//!
//! A charm of several files ([`CharmSource`] with modules) is put together
//! by `modules` and compiled by the guest's `charm-compile-modules`, each
//! module under its own name; a charm of one file compiles exactly as
//! before (`charm-compile`, one module's bytecode).
//!
//! A syntax error is reported with the file, line and column QuickJS (or
//! the TypeScript stripper) gives.
//! Bytecode is only valid for the runtime that produced it, so a
//! [`CompiledCharm`] records the runtime's sha256.

use std::sync::Arc;

use charm_host_abi::error::ErrorKind;
use charm_host_abi::{envelope, export, modules as module_set, Status};

use crate::js_error::JsError;
use crate::limits::LimitExceeded;
use crate::modules::{collect, CharmSource, Graph};
use crate::recording::RecordMode;
use crate::sandbox::{Sandbox, TaskError, TaskSpec};

/// The largest charm source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024 * 1024;
/// The largest bytecode accepted back from the compiler, in bytes.
const MAX_BYTECODE_BYTES: u64 = 16 * 1024 * 1024;

/// A compiled charm, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledCharm {
    /// The module name errors and stack traces show (usually the file name).
    pub name: String,
    /// QuickJS bytecode of the module, valid for [`CompiledCharm::runtime_sha256`] only.
    pub bytecode: Arc<[u8]>,
    /// The charm's `export const integration = "..."`, if it has one.
    pub integration: Option<String>,
    /// Hex sha256 of the source ([`CharmSource::sha256`]: of the stored
    /// text, which for one file is the source).
    pub source_sha256: String,
    /// Hex sha256 of the runtime that compiled it.
    pub runtime_sha256: String,
    /// The paths of the other modules compiled in (relative to the entry's
    /// folder, sorted): those the entry imports, directly or not. Empty for
    /// a charm of one file, and for one rebuilt from stored bytecode.
    pub modules: Vec<String>,
}

/// Why a charm did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// The source does not parse.
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        /// The module name.
        file: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// `SyntaxError: ...`
        message: String,
    },
    /// The module parses but breaks the charm contract.
    #[error("{file}: {message}")]
    Contract {
        /// The module name.
        file: String,
        /// What to fix.
        message: String,
    },
    /// Evaluating the module's top level threw.
    #[error("{file}: the module threw while loading: {error}")]
    TopLevel {
        /// The module name.
        file: String,
        /// What it threw.
        error: JsError,
    },
    /// The source is too large to compile.
    #[error("{file} is {size} bytes, over the source limit of {limit} bytes")]
    TooLarge {
        /// The module name.
        file: String,
        /// The source's size, in bytes.
        size: usize,
        /// [`MAX_SOURCE_BYTES`].
        limit: usize,
    },
    /// Compiling (or evaluating the top level) hit a limit.
    #[error("{file}: compiling {limit}")]
    Limit {
        /// The module name.
        file: String,
        /// Which limit.
        limit: LimitExceeded,
    },
    /// The TypeScript could not be stripped, for a reason with no place in
    /// the source (it nests too deeply for the stripper's stack, or the
    /// stripper failed).
    #[error("{file}: {message}")]
    TypeScript {
        /// The module name.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// An import cannot be followed: a package or URL (bundle it), a path
    /// outside the charm's folder, a cycle or a missing module.
    #[error("{file}:{line}:{column}: {message}")]
    Import {
        /// The importing module's name.
        file: String,
        /// 1-based line of the specifier.
        line: u32,
        /// 1-based column of the specifier.
        column: u32,
        /// `cannot import "x": why, and what to do`
        message: String,
    },
    /// The charm's modules break a rule together: a module path that is
    /// not valid, more than [`crate::MAX_MODULES`] modules, more than
    /// [`MAX_SOURCE_BYTES`] of source, a file that cannot be read.
    #[error("{file}: {message}")]
    Modules {
        /// The entry's name.
        file: String,
        /// What to fix.
        message: String,
    },
    /// The sandbox failed.
    #[error("{file}: {message}")]
    Fault {
        /// The module name.
        file: String,
        /// What failed.
        message: String,
    },
}

impl CompileError {
    /// Where a syntax error is, as (line, column).
    pub fn location(&self) -> Option<(u32, u32)> {
        match self {
            CompileError::Syntax { line, column, .. }
            | CompileError::Import { line, column, .. } => Some((*line, *column)),
            _ => None,
        }
    }
}

/// Compiles `source` as the module `name` with default limits.
///
/// # Errors
/// [`CompileError`], saying where and why.
pub async fn compile(
    sandbox: &Sandbox,
    name: &str,
    source: &str,
) -> Result<CompiledCharm, CompileError> {
    compile_with(sandbox, name, source, &TaskSpec::offline(name)).await
}

/// Compiles `source` as the module `name` under `spec`'s limits: a charm
/// of one file ([`compile_source`] with no other modules).
///
/// # Errors
/// [`CompileError`], saying where and why.
pub async fn compile_with(
    sandbox: &Sandbox,
    name: &str,
    source: &str,
    spec: &TaskSpec,
) -> Result<CompiledCharm, CompileError> {
    compile_source(sandbox, &CharmSource::single(name, source), spec).await
}

/// Compiles `charm`, its entry and the modules it imports, under `spec`'s
/// limits. Modules it does not import are left out (see
/// [`CompiledCharm::modules`]).
///
/// # Errors
/// [`CompileError`], saying where and why: in which module, for an error
/// in an imported one.
pub async fn compile_source(
    sandbox: &Sandbox,
    charm: &CharmSource,
    spec: &TaskSpec,
) -> Result<CompiledCharm, CompileError> {
    let file = charm.name.clone();
    if charm.source.len() > MAX_SOURCE_BYTES {
        return Err(CompileError::TooLarge {
            file,
            size: charm.source.len(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    let graph = list_modules(charm).await?;
    let used = CharmSource {
        modules: graph.used,
        ..charm.clone()
    };
    // Compiling is not part of a run: it neither records nor replays.
    let spec = &TaskSpec {
        recording: RecordMode::Off,
        ..spec.clone()
    };
    let names: Vec<&str> = graph.order.iter().map(|n| n.name.as_str()).collect();
    let (integration, bytecode) = match graph.order.as_slice() {
        [one] => {
            let args = [one.javascript.as_bytes(), file.as_bytes()];
            call_compiler(sandbox, export::COMPILE.name, args, spec, &names).await?
        }
        several => {
            let set = source_set(several);
            let args = [set.as_slice(), file.as_bytes()];
            call_compiler(sandbox, export::COMPILE_MODULES.name, args, spec, &names).await?
        }
    };
    Ok(CompiledCharm {
        name: file,
        bytecode: Arc::from(bytecode),
        integration,
        source_sha256: used.sha256(),
        runtime_sha256: sandbox.runtime_sha256().to_string(),
        modules: used.modules.into_keys().collect(),
    })
}

/// The modules of `charm` in compile order, listed on a blocking thread
/// (the TypeScript stripper and the import scanner run in a child process).
#[allow(clippy::result_large_err)] // as `collect`
async fn list_modules(charm: &CharmSource) -> Result<Graph, CompileError> {
    let owned = charm.clone();
    tokio::task::spawn_blocking(move || {
        let modules = owned.modules.clone();
        collect(&owned, &mut |path: &str| Ok(modules.get(path).cloned()))
    })
    .await
    .map_err(|e| CompileError::TypeScript {
        file: charm.name.clone(),
        message: format!("listing the modules failed: {e}"),
    })?
}

/// The [`module_set`] of `nodes`' JavaScript, in their order.
fn source_set(nodes: &[crate::modules::Node]) -> Vec<u8> {
    let count = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    let mut set = module_set::header(count).to_vec();
    for node in nodes {
        for part in [node.name.as_bytes(), node.javascript.as_bytes()] {
            // Sources are at most MAX_SOURCE_BYTES, far below 4 GiB.
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            set.extend_from_slice(&len.to_le_bytes());
            set.extend_from_slice(part);
        }
    }
    set
}

/// One compile task of the modules `names` (the entry last): the
/// integration label and the bytecode it answered.
async fn call_compiler(
    sandbox: &Sandbox,
    export: &str,
    args: [&[u8]; 2],
    spec: &TaskSpec,
    names: &[&str],
) -> Result<(Option<String>, Vec<u8>), CompileError> {
    let file = names.last().copied().unwrap_or_default().to_string();
    let result = sandbox.call(export, args, spec, MAX_BYTECODE_BYTES).await;
    let answer = match result.answer {
        Ok(answer) => answer,
        Err(TaskError::Limit(limit)) => return Err(CompileError::Limit { file, limit }),
        Err(TaskError::Fault(message)) => return Err(CompileError::Fault { file, message }),
        Err(TaskError::Replay(e)) => {
            return Err(CompileError::Fault {
                file,
                message: e.to_string(),
            })
        }
    };
    match answer.status {
        Status::Ok => {
            let (meta, bytecode) =
                envelope::split(&answer.payload).ok_or_else(|| CompileError::Fault {
                    file: file.clone(),
                    message: "the compiler returned a malformed payload".to_string(),
                })?;
            #[derive(serde::Deserialize)]
            struct Meta {
                integration: Option<String>,
            }
            let meta: Meta = serde_json::from_slice(meta).map_err(|e| CompileError::Fault {
                file: file.clone(),
                message: format!("the compiler returned malformed metadata: {e}"),
            })?;
            Ok((meta.integration, bytecode.to_vec()))
        }
        Status::Error => {
            let error = JsError::from_payload(&answer.payload);
            // A syntax error is in the module whose frame comes first.
            let file = match error.kind {
                ErrorKind::Syntax => first_frame(&error.stack, names)
                    .map(str::to_string)
                    .unwrap_or(file),
                _ => file,
            };
            Err(classify(file, error))
        }
    }
}

/// Which of `names` the first frame of `stack` (`at name:1:2` or
/// `at f (name:1:2)`) is in.
fn first_frame<'a>(stack: &str, names: &[&'a str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|name| {
            let at = [format!("at {name}:"), format!("({name}:")]
                .iter()
                .filter_map(|needle| stack.find(needle.as_str()))
                .min()?;
            Some((at, *name))
        })
        .min()
        .map(|(_, name)| name)
}

/// A stripper's error as a compile error: with a place, a syntax error.
pub(crate) fn typescript_error(file: &str, error: charm_typescript::StripError) -> CompileError {
    match error.location() {
        Some((line, column)) => CompileError::Syntax {
            file: file.to_string(),
            line,
            column,
            message: error.headline(),
        },
        None => CompileError::TypeScript {
            file: file.to_string(),
            message: error.to_string(),
        },
    }
}

fn classify(file: String, error: JsError) -> CompileError {
    if error.kind == ErrorKind::Contract {
        return CompileError::Contract {
            file,
            message: error.message,
        };
    }
    if error.kind == ErrorKind::Syntax {
        // The guest's own location is exact; the stack's column is not (see
        // `describe_parse_error` in the runtime).
        let location = match (error.line, error.column) {
            (Some(line), Some(column)) => Some((line, column)),
            _ => locate(&error.stack, &file),
        };
        if let Some((line, column)) = location {
            return CompileError::Syntax {
                file,
                line,
                column,
                message: error.headline(),
            };
        }
    }
    CompileError::TopLevel { file, error }
}

/// Finds `file:line:column` in a QuickJS stack.
fn locate(stack: &str, file: &str) -> Option<(u32, u32)> {
    let start = stack.find(&format!("{file}:"))? + file.len() + 1;
    let mut numbers = stack[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .map(|n| n.parse::<u32>().ok());
    Some((numbers.next()??, numbers.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_frame_names_the_module() {
        let names = ["b.js", "lib/b.js", "main.js"];
        assert_eq!(
            first_frame("    at lib/b.js:2:1\n    at main.js:1:1", &names),
            Some("lib/b.js")
        );
        assert_eq!(first_frame("    at f (b.js:2:1)\n", &names), Some("b.js"));
        assert_eq!(first_frame("    at other.js:2:1\n", &names), None);
    }

    #[test]
    fn locates_line_and_column_in_a_quickjs_stack() {
        assert_eq!(locate("    at bad.js:3:14\n", "bad.js"), Some((3, 14)));
        assert_eq!(
            locate("    at f (dir/x.js:10:2)\n", "dir/x.js"),
            Some((10, 2))
        );
        assert_eq!(locate("    at other.js:1:1", "bad.js"), None);
        assert_eq!(locate("    at bad.js:", "bad.js"), None);
    }

    #[test]
    fn syntax_errors_show_file_line_and_column() {
        let e = classify(
            "bad.js".to_string(),
            JsError {
                kind: ErrorKind::Syntax,
                stack: "    at bad.js:2:99\n".to_string(),
                line: Some(2),
                column: Some(7),
                ..JsError::new("SyntaxError", "unexpected token")
            },
        );
        assert_eq!(
            e.location(),
            Some((2, 7)),
            "the guest's column wins over the stack's"
        );
        assert_eq!(e.to_string(), "bad.js:2:7: SyntaxError: unexpected token");
        let e = classify(
            "bad.js".to_string(),
            JsError {
                kind: ErrorKind::Syntax,
                stack: "    at bad.js:4:1\n".to_string(),
                ..JsError::new("SyntaxError", "x")
            },
        );
        assert_eq!(e.location(), Some((4, 1)));
    }

    #[test]
    fn typescript_errors_name_the_file_line_and_column() {
        let e = typescript_error(
            "feed.ts",
            charm_typescript::StripError::Syntax {
                line: 3,
                column: 12,
                message: "Expected ';', got 'x'".to_string(),
            },
        );
        assert_eq!(e.location(), Some((3, 12)));
        assert_eq!(
            e.to_string(),
            "feed.ts:3:12: SyntaxError: Expected ';', got 'x'"
        );
        let e = typescript_error(
            "feed.ts",
            charm_typescript::StripError::Exhausted {
                message: "the source nests too deeply".to_string(),
            },
        );
        assert_eq!(e.location(), None);
        assert_eq!(e.to_string(), "feed.ts: the source nests too deeply");
    }

    #[test]
    fn the_kind_decides_not_the_name() {
        let contract = JsError {
            kind: ErrorKind::Contract,
            ..JsError::new("Error", "add a bgUpdater")
        };
        assert!(matches!(
            classify("c.js".into(), contract),
            CompileError::Contract { .. }
        ));
        let named_like_one = JsError::new("SyntaxError", "thrown by the charm itself");
        assert!(matches!(
            classify("c.js".into(), named_like_one),
            CompileError::TopLevel { .. }
        ));
    }
}
