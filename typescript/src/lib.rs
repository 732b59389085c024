//! charm-typescript: TypeScript charms to JavaScript, every position kept.
//!
//! [`strip`] turns a TypeScript module into the JavaScript QuickJS compiles,
//! with `swc_ts_fast_strip` in strip-only mode: type syntax (annotations,
//! interfaces, type aliases, generics, `as`, `satisfies`, `!`, `import
//! type`, `declare`, overloads) is replaced by whitespace, so every line and
//! column of the output is where the author wrote it. Syntax errors, stack
//! traces and console locations need no source map. There is no type
//! checking.
//!
//! Enums are the one construct that needs code of its own: [`enums`]
//! lowers each to JavaScript on the enum's first line and pads with the
//! enum's newlines, so lines after it stay put. Namespaces, parameter
//! properties, `import x = require()`, `export =` and `<T>expr` assertions
//! would move code and are refused with the line, column and what to write
//! instead.
//!
//! The stripper runs in the host process on untrusted input, so [`strip`]
//! refuses nesting deeper than [`MAX_NESTING`] before parsing ([`nesting`]),
//! runs on its own thread with a [`STRIP_STACK_BYTES`] stack, and turns a
//! panic of the crate into [`StripError::Crashed`]. It does not limit the
//! source's size: the caller does (the engine's `MAX_SOURCE_BYTES`).
//!
//! [`prepare`] also lists a module's static imports ([`imports`]), with
//! swc's parser in the same isolation: the engine needs them to put a
//! charm of several files together.
//!
//! This crate owns no sandbox, runtime or storage: the engine's compile step
//! calls it for module names [`is_typescript`] accepts, and for the imports
//! of a charm's modules.

mod enums;
mod imports;
mod isolate;
mod nesting;
mod swc;

pub use imports::{Import, Prepared};
pub use isolate::{isolate_in, run_child_if_asked, CHILD_ARGUMENT, CHILD_TIMEOUT};
pub use nesting::MAX_NESTING;

/// The stack of the thread the stripper runs on, in bytes (64 MiB). The
/// parser recurses once per nesting level; [`MAX_NESTING`] levels use far
/// less than this.
pub const STRIP_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Whether a module `name` is TypeScript: it ends in `.ts` or `.mts`
/// (case-sensitive, as TypeScript's own resolution is).
///
/// `feed.ts` and `dir/feed.mts` are; `feed.js`, `feed.tsx` and `feed.TS`
/// are not.
pub fn is_typescript(name: &str) -> bool {
    name.ends_with(".ts") || name.ends_with(".mts")
}

/// Why a TypeScript module was not stripped. Lines and columns are 1-based;
/// a column counts UTF-16 code units, as JavaScript engines do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripError {
    /// The source does not parse as TypeScript.
    #[error("{line}:{column}: SyntaxError: {message}")]
    Syntax {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The parser's message.
        message: String,
    },
    /// TypeScript syntax that cannot be stripped without moving code.
    #[error("{line}:{column}: SyntaxError: {message}")]
    Unsupported {
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// What is refused, why, and what to write instead.
        message: String,
    },
    /// Brackets nest deeper than [`MAX_NESTING`].
    #[error(
        "{line}:{column}: SyntaxError: brackets nest deeper than {limit} levels \
         (charm-host's limit for TypeScript)"
    )]
    TooDeep {
        /// 1-based line of the bracket that went over.
        line: u32,
        /// 1-based column of that bracket.
        column: u32,
        /// [`MAX_NESTING`].
        limit: usize,
    },
    /// The stripper ran out of its stack or memory: the source nests too
    /// deeply in a way [`MAX_NESTING`] does not count (only when it runs in
    /// a child process, see [`isolate_in`]).
    #[error("{message}")]
    Exhausted {
        /// What ran out.
        message: String,
    },
    /// The stripper failed: a bug in it, never the charm's fault.
    #[error("the TypeScript stripper failed: {message}")]
    Crashed {
        /// What failed.
        message: String,
    },
}

impl StripError {
    /// Where the error is, as (line, column), when it has a place.
    pub fn location(&self) -> Option<(u32, u32)> {
        match self {
            StripError::Syntax { line, column, .. }
            | StripError::Unsupported { line, column, .. }
            | StripError::TooDeep { line, column, .. } => Some((*line, *column)),
            StripError::Exhausted { .. } | StripError::Crashed { .. } => None,
        }
    }

    /// The message without its location: `SyntaxError: ...`.
    pub fn headline(&self) -> String {
        let text = self.to_string();
        match self.location() {
            Some((line, column)) => text
                .strip_prefix(&format!("{line}:{column}: "))
                .unwrap_or(&text)
                .to_string(),
            None => text,
        }
    }
}

/// Strips the TypeScript module `source` (named `name` in messages) to
/// JavaScript with the same lines and columns (see the crate docs for
/// enums).
///
/// Blocks the calling thread while a child process (after [`isolate_in`])
/// or a thread of its own (with a [`STRIP_STACK_BYTES`] stack) does the
/// work, a few milliseconds for a small charm; call it from a blocking
/// context in async code.
///
/// # Errors
/// [`StripError`]: a syntax error or refused construct with its line and
/// column, nesting over [`MAX_NESTING`], a child that ran out of stack, or
/// a failure of the stripper itself.
pub fn strip(name: &str, source: &str) -> Result<String, StripError> {
    nesting::check(source)?;
    match isolate::in_child(isolate::Job::Strip, name, source) {
        Some(result) => result.map(|prepared| prepared.javascript),
        None => strip_here(name, source),
    }
}

/// The module `source` (named `name`) as QuickJS will compile it, with
/// its static imports: TypeScript (by [`is_typescript`]) is stripped as
/// [`strip`] does, then the JavaScript is parsed for its `import` and
/// `export ... from` declarations.
///
/// Blocks as [`strip`] does, in the same child process or thread.
///
/// # Errors
/// As [`strip`]; for JavaScript, a syntax error swc finds (QuickJS's own
/// parser may word it differently) or nesting over [`MAX_NESTING`]
/// (counting `(`, `[`, `{` and `${`).
pub fn prepare(name: &str, source: &str) -> Result<Prepared, StripError> {
    nesting::check_with(source, is_typescript(name))?;
    match isolate::in_child(isolate::Job::Prepare, name, source) {
        Some(result) => result,
        None => on_own_stack(name, source, prepare_here),
    }
}

/// [`prepare`] in this process, on the caller's stack.
fn prepare_here(name: &str, source: String) -> Result<Prepared, StripError> {
    let javascript = if is_typescript(name) {
        swc::strip_with_enums(name, source)?
    } else {
        source
    };
    let imports = imports::scan(&javascript)?;
    Ok(Prepared {
        javascript,
        imports,
    })
}

/// [`strip`] in this process: a thread with a [`STRIP_STACK_BYTES`]
/// stack, panics caught. A chain that nests without brackets deeper than
/// the stack holds aborts the process (see [`isolate_in`]).
fn strip_here(name: &str, source: &str) -> Result<String, StripError> {
    nesting::check(source)?;
    on_own_stack(name, source, swc::strip_with_enums)
}

/// Runs `work` on a thread with a [`STRIP_STACK_BYTES`] stack, its panics
/// caught.
fn on_own_stack<T: Send + 'static>(
    name: &str,
    source: &str,
    work: fn(&str, String) -> Result<T, StripError>,
) -> Result<T, StripError> {
    let name = name.to_string();
    let source = source.to_string();
    let worker = std::thread::Builder::new()
        .name("typescript-strip".to_string())
        .stack_size(STRIP_STACK_BYTES)
        .spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&name, source)))
        })
        .map_err(|e| StripError::Crashed {
            message: format!("cannot start its thread: {e}"),
        })?;
    match worker.join() {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) | Err(panic) => Err(StripError::Crashed {
            message: panic_message(panic.as_ref()),
        }),
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        format!("it panicked: {text}")
    } else if let Some(text) = payload.downcast_ref::<String>() {
        format!("it panicked: {text}")
    } else {
        "it panicked".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(source: &str) -> String {
        match strip("t.ts", source) {
            Ok(js) => js,
            Err(e) => panic!("did not strip: {e}"),
        }
    }

    #[test]
    fn names_decide_the_language() {
        assert!(is_typescript("feed.ts"));
        assert!(is_typescript("dir/feed.mts"));
        assert!(!is_typescript("feed.js"));
        assert!(!is_typescript("feed.tsx"));
        assert!(!is_typescript("feed.TS"));
    }

    #[test]
    fn types_become_whitespace_and_positions_stay() {
        let ts = "interface S { n: number }\n\
                  export function bgUpdater(state: S, ctx: any): S {\n  \
                  return { n: (state.n as number)! + 1 } satisfies S;\n}\n";
        let js = ok(ts);
        assert_eq!(js.len(), ts.len(), "same length: {js:?}");
        assert_eq!(js.lines().count(), ts.lines().count());
        let line = js.lines().nth(2).unwrap_or_default();
        let at = ts.lines().nth(2).unwrap_or_default().find("state.n");
        assert_eq!(line.find("state.n"), at, "{js}");
        assert!(
            !js.contains("interface") && !js.contains("satisfies"),
            "{js}"
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let e = strip("t.ts", "const a = 1;\nconst b: = 2;\n").unwrap_err();
        assert!(matches!(e, StripError::Syntax { .. }), "{e:?}");
        assert_eq!(e.location().map(|(line, _)| line), Some(2), "{e}");
        assert!(e.headline().starts_with("SyntaxError: "), "{e}");
    }

    #[test]
    fn enums_are_lowered_on_their_own_lines() {
        let ts = "export enum Color {\n  Red,\n  Green = 5,\n  Blue = \"b\",\n}\n\
                  const enum Small { A }\nexport const after = Color.Green + Small.A;\n";
        let js = ok(ts);
        assert_eq!(js.lines().count(), ts.lines().count(), "{js}");
        assert_eq!(js.lines().nth(6), ts.lines().nth(6), "{js}");
        assert!(js.starts_with("export var Color"), "{js}");
        assert!(!js.contains("enum"), "{js}");
    }

    #[test]
    fn code_that_would_move_is_refused_with_its_place() {
        for (source, what, at) in [
            ("namespace N { export const x = 1 }\n", "namespace", (1, 1)),
            (
                "class A {\n  constructor(private x: number) {}\n}\n",
                "parameter property",
                (2, 23),
            ),
            ("let x = <any>1;\n", "type assertion", (1, 9)),
        ] {
            let e = strip("t.ts", source).unwrap_err();
            assert!(matches!(e, StripError::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains(what), "{e}");
            assert_eq!(e.location(), Some(at), "{e}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("let x = {}1{};\n", "(".repeat(100_000), ")".repeat(100_000));
        let e = strip("t.ts", &deep).unwrap_err();
        assert!(matches!(e, StripError::TooDeep { .. }), "{e:?}");
        let generic = format!("let x: {}1{};\n", "A<".repeat(100_000), ">".repeat(100_000));
        assert!(matches!(
            strip("t.ts", &generic),
            Err(StripError::TooDeep { .. })
        ));
    }

    #[test]
    fn nesting_up_to_the_limit_strips() {
        let depth = MAX_NESTING - 1;
        let source = format!("let x = {}1{};\n", "(".repeat(depth), ")".repeat(depth));
        ok(&source);
        let source = format!(
            "let x: {}1{} = 1;\n",
            "Array<".repeat(depth),
            ">".repeat(depth)
        );
        ok(&source);
    }
}
