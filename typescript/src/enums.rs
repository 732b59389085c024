//! Enums, lowered in place so that no line moves.
//!
//! Strip-only mode refuses enums, since they are code rather than types.
//! Each refused enum declaration (its byte range, from swc's diagnostic) is
//! lowered alone by swc's transform mode (`var E = function(E) { ... }({})`,
//! the standard emit), joined onto the declaration's first line, and
//! followed by as many newlines as the declaration had. Lines after the
//! enum keep their numbers; columns are exact except on the enum's own
//! lines, which only its member initialisers could throw from. `export
//! enum` keeps its `export` (outside the range): `export var E = ...`.

use crate::swc::{first_error, line_column, transform_enum};
use crate::StripError;

/// `source` with each enum declaration at `ranges` (byte ranges, any
/// order, not overlapping) replaced by JavaScript with the same number of
/// lines.
///
/// # Errors
/// [`StripError::Unsupported`] for an enum whose lowering has more lines
/// than the declaration and a template literal (whose newlines cannot be
/// joined); a transform error, placed at the enum.
pub(crate) fn lower(source: &str, ranges: &[(usize, usize)]) -> Result<String, StripError> {
    let mut ranges = ranges.to_vec();
    ranges.sort_unstable();
    let mut out = String::with_capacity(source.len() + 256);
    let mut done = 0;
    for (lo, hi) in ranges {
        let Some(declaration) = source.get(lo..hi) else {
            return Err(StripError::Crashed {
                message: format!("an enum's range {lo}..{hi} is not in the source"),
            });
        };
        if lo < done {
            return Err(StripError::Crashed {
                message: format!("enum ranges overlap at byte {lo}"),
            });
        }
        out.push_str(&source[done..lo]);
        out.push_str(&lower_one(source, lo, declaration)?);
        done = hi;
    }
    out.push_str(&source[done..]);
    Ok(out)
}

/// One declaration (starting at byte `at` of `source`), lowered to the
/// same number of lines.
fn lower_one(source: &str, at: usize, declaration: &str) -> Result<String, StripError> {
    let placed = |error: StripError| match error {
        StripError::Syntax { message, .. } | StripError::Unsupported { message, .. } => {
            let (line, column) = line_column(source, at);
            StripError::Unsupported {
                line,
                column,
                message: format!("this enum could not be lowered: {message}"),
            }
        }
        other => other,
    };
    // `declare` cannot reach here (strip-only erases ambient enums); a
    // `const enum` becomes a plain one, as with isolatedModules.
    let js = transform_enum(declaration)
        .map_err(|diagnostics| placed(first_error(declaration, &diagnostics)))?;
    let js = js.trim_end();
    let lines = declaration.matches('\n').count();
    let js_lines = js.matches('\n').count();
    let joined = if js_lines <= lines {
        js.to_string()
    } else if js.contains('`') {
        let (line, column) = line_column(source, at);
        return Err(StripError::Unsupported {
            line,
            column,
            message: "an enum with a template literal that needs more lines than it has is \
                      not supported: charm-host lowers an enum without moving the lines \
                      after it; use a string literal, or spread the enum over more lines"
                .to_string(),
        });
    } else {
        // swc's output has no comments, and its strings escape their
        // newlines: every newline is between tokens.
        js.replace('\n', " ")
    };
    let padding = lines - joined.matches('\n').count();
    Ok(format!("{joined}{}", "\n".repeat(padding)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_globals<T>(f: impl FnOnce() -> T) -> T {
        swc_common::GLOBALS.set(&swc_common::Globals::new(), f)
    }

    #[test]
    fn a_lowered_enum_keeps_its_line_count() {
        let source = "x;\nenum E {\n  A,\n  B = A * 2,\n}\ny;\n";
        let lo = source.find("enum").unwrap_or_default();
        let hi = source.find("}").unwrap_or_default() + 1;
        let js = with_globals(|| lower(source, &[(lo, hi)])).expect("lowers");
        assert_eq!(js.lines().count(), source.lines().count(), "{js}");
        assert!(js.starts_with("x;\nvar E"), "{js}");
        assert!(js.ends_with("\ny;\n"), "{js}");
    }

    #[test]
    fn a_one_line_enum_becomes_one_line() {
        let source = "enum E { A, B }\ny;\n";
        let hi = source.find('}').unwrap_or_default() + 1;
        let js = with_globals(|| lower(source, &[(0, hi)])).expect("lowers");
        assert_eq!(js.lines().nth(1), Some("y;"), "{js}");
    }
}
