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
//! A syntax error is reported with the file, line and column QuickJS (or
//! the TypeScript stripper) gives.
//! Bytecode is only valid for the runtime that produced it, so a
//! [`CompiledCharm`] records the runtime's sha256.

use std::sync::Arc;

use charm_host_abi::error::ErrorKind;
use charm_host_abi::{envelope, export, Status};
use sha2::{Digest, Sha256};

use crate::js_error::JsError;
use crate::limits::LimitExceeded;
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
    /// Hex sha256 of the source.
    pub source_sha256: String,
    /// Hex sha256 of the runtime that compiled it.
    pub runtime_sha256: String,
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
            CompileError::Syntax { line, column, .. } => Some((*line, *column)),
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

/// Compiles `source` as the module `name` under `spec`'s limits.
///
/// # Errors
/// [`CompileError`], saying where and why.
pub async fn compile_with(
    sandbox: &Sandbox,
    name: &str,
    source: &str,
    spec: &TaskSpec,
) -> Result<CompiledCharm, CompileError> {
    let file = name.to_string();
    if source.len() > MAX_SOURCE_BYTES {
        return Err(CompileError::TooLarge {
            file,
            size: source.len(),
            limit: MAX_SOURCE_BYTES,
        });
    }
    let stripped = if charm_typescript::is_typescript(name) {
        Some(strip_types(name, source).await?)
    } else {
        None
    };
    let javascript = stripped.as_deref().unwrap_or(source);
    // Compiling is not part of a run: it neither records nor replays.
    let spec = TaskSpec {
        recording: RecordMode::Off,
        ..spec.clone()
    };
    let result = sandbox
        .call(
            export::COMPILE.name,
            [javascript.as_bytes(), name.as_bytes()],
            &spec,
            MAX_BYTECODE_BYTES,
        )
        .await;
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
            Ok(CompiledCharm {
                name: file,
                bytecode: Arc::from(bytecode),
                integration: meta.integration,
                source_sha256: hex::encode(Sha256::digest(source.as_bytes())),
                runtime_sha256: sandbox.runtime_sha256().to_string(),
            })
        }
        Status::Error => Err(classify(file, JsError::from_payload(&answer.payload))),
    }
}

/// The JavaScript of the TypeScript module `name`, stripped on a blocking
/// thread (see `charm_typescript::strip`).
async fn strip_types(name: &str, source: &str) -> Result<String, CompileError> {
    let (owned_name, owned_source) = (name.to_string(), source.to_string());
    let stripped =
        tokio::task::spawn_blocking(move || charm_typescript::strip(&owned_name, &owned_source))
            .await
            .map_err(|e| CompileError::TypeScript {
                file: name.to_string(),
                message: format!("the TypeScript stripper failed: {e}"),
            })?;
    stripped.map_err(|e| typescript_error(name, e))
}

/// A stripper's error as a compile error: with a place, a syntax error.
fn typescript_error(file: &str, error: charm_typescript::StripError) -> CompileError {
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
