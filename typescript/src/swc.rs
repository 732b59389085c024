//! The calls into swc: strip-only mode, its diagnostics as [`StripError`]s.
//!
//! Everything here runs on the stripper's own thread (see [`crate::strip`]);
//! swc's thread-locals (`GLOBALS`, the diagnostics handler) are set up per
//! call and never shared.

use std::sync::{Arc, Mutex};

use swc_common::errors::{DiagnosticBuilder, DiagnosticId, Emitter, Handler};
use swc_common::sync::Lrc;
use swc_common::{Globals, SourceMap, GLOBALS};
use swc_ts_fast_strip::{operate, Mode, Options};

use crate::enums;
use crate::StripError;

/// One diagnostic swc emitted: its code, message and byte range in the
/// source (0-based, end exclusive), when it has one.
#[derive(Debug, Clone)]
pub(crate) struct Diagnostic {
    pub code: Option<String>,
    pub message: String,
    pub range: Option<(usize, usize)>,
}

/// An [`Emitter`] that keeps what it is given, with swc's byte positions
/// (which start at the file's `start_pos`, not 0).
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Diagnostic>>>);

impl Emitter for Collect {
    fn emit(&mut self, db: &mut DiagnosticBuilder<'_>) {
        let code = match &db.code {
            Some(DiagnosticId::Error(code)) | Some(DiagnosticId::Lint(code)) => Some(code.clone()),
            None => None,
        };
        let range = db
            .span
            .primary_span()
            .and_then(|s| Some((usize::try_from(s.lo.0).ok()?, usize::try_from(s.hi.0).ok()?)));
        if let Ok(mut kept) = self.0.lock() {
            kept.push(Diagnostic {
                code,
                message: db.message(),
                range,
            });
        }
    }
}

/// Strips `source`; when the only constructs refused are enums, lowers
/// them ([`enums::lower`]) and strips again.
pub(crate) fn strip_with_enums(name: &str, source: String) -> Result<String, StripError> {
    GLOBALS.set(&Globals::new(), || {
        let diagnostics = match strip_only(name, source.clone(), Mode::StripOnly) {
            Ok(js) => return Ok(js),
            Err(diagnostics) => diagnostics,
        };
        let enums: Vec<(usize, usize)> = diagnostics
            .iter()
            .filter(|d| is_enum(d))
            .filter_map(|d| d.range)
            .collect();
        if enums.is_empty() || enums.len() != diagnostics.len() {
            return Err(first_error(&source, &diagnostics));
        }
        let lowered = enums::lower(&source, &enums)?;
        strip_only(name, lowered.clone(), Mode::StripOnly)
            .map_err(|diagnostics| first_error(&lowered, &diagnostics))
    })
}

/// Lowers one TypeScript enum declaration (alone, as a script) to
/// JavaScript with swc's transform mode.
pub(crate) fn transform_enum(declaration: &str) -> Result<String, Vec<Diagnostic>> {
    strip_only("enum.ts", declaration.to_string(), Mode::Transform)
}

/// One run of `swc_ts_fast_strip::operate` in `mode`; the source is a
/// module in strip-only mode and a script in transform mode (so that no
/// `export {}` is added to a lowered enum).
fn strip_only(name: &str, source: String, mode: Mode) -> Result<String, Vec<Diagnostic>> {
    let cm: Lrc<SourceMap> = Default::default();
    let collect = Collect::default();
    let handler = Handler::with_emitter(false, false, Box::new(collect.clone()));
    let module = matches!(mode, Mode::StripOnly);
    let options = Options {
        module: Some(module),
        filename: Some(name.to_string()),
        mode,
        ..Options::default()
    };
    // `operate` makes the file the source map's first, starting at byte 1.
    let result =
        swc_common::errors::HANDLER.set(&handler, || operate(&cm, &handler, source, options));
    let start = cm
        .files()
        .first()
        .and_then(|file| usize::try_from(file.start_pos.0).ok())
        .unwrap_or(1);
    match result {
        Ok(output) => Ok(output.code),
        Err(error) => {
            let kept = collect.0.lock().map(|k| k.clone()).unwrap_or_default();
            let mut diagnostics: Vec<Diagnostic> = kept
                .into_iter()
                .map(|d| Diagnostic {
                    range: d.range.and_then(|(lo, hi)| {
                        Some((lo.checked_sub(start)?, hi.checked_sub(start)?))
                    }),
                    ..d
                })
                .collect();
            if diagnostics.is_empty() {
                diagnostics.push(Diagnostic {
                    code: Some(format!("{:?}", error.code)),
                    message: error.message,
                    range: None,
                });
            }
            Err(diagnostics)
        }
    }
}

/// Whether strip-only mode refused an enum.
fn is_enum(d: &Diagnostic) -> bool {
    d.code.as_deref() == Some("UnsupportedSyntax") && d.message.starts_with("TypeScript enum ")
}

/// The first diagnostic (by position) as a [`StripError`] with its line
/// and column in `source`.
pub(crate) fn first_error(source: &str, diagnostics: &[Diagnostic]) -> StripError {
    let first = diagnostics
        .iter()
        .filter(|d| d.range.is_some())
        .min_by_key(|d| d.range.map(|(lo, _)| lo))
        .or(diagnostics.first());
    let Some(first) = first else {
        return StripError::Crashed {
            message: "it failed without saying why".to_string(),
        };
    };
    let (line, column) = first
        .range
        .map(|(lo, _)| line_column(source, lo))
        .unwrap_or((1, 1));
    if first.code.as_deref() == Some("UnsupportedSyntax") {
        StripError::Unsupported {
            line,
            column,
            message: explain(&first.message),
        }
    } else {
        StripError::Syntax {
            line,
            column,
            message: first.message.clone(),
        }
    }
}

/// A refusal in charm-host's words: what, why, and what to write instead.
fn explain(message: &str) -> String {
    let (what, instead) = if message.contains("namespace") {
        (
            "a TypeScript namespace",
            "use a module-level object or plain exports",
        )
    } else if message.contains("parameter property") {
        (
            "a TypeScript parameter property",
            "declare the field in the class body and assign it in the constructor",
        )
    } else if message.contains("import equals") {
        ("`import x = ...`", "use `import` or a `const`")
    } else if message.contains("export assignment") {
        ("`export =`", "use `export` or `export default`")
    } else if message.contains("type assertions") {
        (
            "an angle-bracket type assertion `<T>expr`",
            "write `expr as T`",
        )
    } else if message.contains("`module` keyword") {
        ("the `module` keyword", "use plain exports")
    } else {
        return message.to_string();
    };
    format!(
        "{what} is not supported: charm-host strips types without moving code, so that \
         every line and column stays where you wrote it; {instead}"
    )
}

/// The 1-based line and column (in UTF-16 code units, as JavaScript
/// engines count) of byte `offset` in `source`.
pub(crate) fn line_column(source: &str, offset: usize) -> (u32, u32) {
    let mut end = offset.min(source.len());
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    let before = &source[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].encode_utf16().count() + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é😀x", "é😀".len()), (1, 4));
        assert_eq!(line_column("abc", 99), (1, 4));
    }
}
