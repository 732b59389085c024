//! The nesting guard: refuse deep brackets before the parser recurses.
//!
//! swc's parser, its AST visitors and the AST's drop all recurse once per
//! nesting level, so 100,000 nested parentheses would overflow any stack.
//! [`check`] scans the source once, lexically and without recursion,
//! counting open brackets: `(`, `[`, `{`, `${` in template literals, and
//! `<` when it opens a type argument list (written without a space before
//! a name or bracket: `Array<Array<T>>`). Strings, template text, comments
//! and regular expression literals are skipped. A close bracket closes the
//! nearest open one of its kind (and any `<` opened inside it), so that an
//! unmatched `<` (a comparison `a<b`) or a bracket in a regular expression
//! the scan took for division never adds up beyond its block.

use crate::swc::line_column;
use crate::StripError;

/// The deepest bracket nesting accepted in a TypeScript charm: 1,000
/// levels. Hand-written code rarely goes past 20; the stripper's stack
/// ([`crate::STRIP_STACK_BYTES`]) holds many times this.
pub const MAX_NESTING: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Paren,
    Bracket,
    Brace,
    /// `${` in a template literal: its `}` resumes the template text.
    Substitution,
    Angle,
}

/// Refuses `source` if its brackets nest deeper than [`MAX_NESTING`].
///
/// # Errors
/// [`StripError::TooDeep`] at the bracket that went over.
pub(crate) fn check(source: &str) -> Result<(), StripError> {
    check_with(source, true)
}

/// [`check`] for TypeScript (`type_arguments`: a `<` may open a type
/// argument list) or JavaScript (where `<` only compares).
pub(crate) fn check_with(source: &str, type_arguments: bool) -> Result<(), StripError> {
    let bytes = source.as_bytes();
    let mut stack: Vec<Open> = Vec::new();
    let mut i = 0;
    // The last significant byte, to tell a regular expression from a
    // division.
    let mut last = b'(';
    // Whether whitespace came right before this byte.
    let mut spaced = false;
    // Where the innermost bracket opened, for the error.
    let mut last_open = 0;
    loop {
        if stack.len() > MAX_NESTING {
            let (line, column) = line_column(source, last_open);
            return Err(StripError::TooDeep {
                line,
                column,
                limit: MAX_NESTING,
            });
        }
        let Some(&b) = bytes.get(i) else {
            return Ok(());
        };
        let opened = match b {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = skip_until(bytes, i + 2, b"\n");
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_until(bytes, i + 2, b"*/");
                continue;
            }
            b'/' if starts_expression(last) => {
                i = skip_regex(bytes, i + 1);
                last = b'a';
                spaced = false;
                continue;
            }
            b'\'' | b'"' => {
                i = skip_string(bytes, i + 1, b);
                last = b'a';
                spaced = false;
                continue;
            }
            b'`' => {
                (i, last_open) = template_text(bytes, i + 1, &mut stack, last_open);
                last = b'a';
                spaced = false;
                continue;
            }
            b'(' => Some(Open::Paren),
            b'[' => Some(Open::Bracket),
            b'{' => Some(Open::Brace),
            b'<' if type_arguments
                && bytes
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphabetic() || b"_$({[".contains(n))
                && !spaced =>
            {
                Some(Open::Angle)
            }
            b')' => {
                close(&mut stack, Open::Paren);
                None
            }
            b']' => {
                close(&mut stack, Open::Bracket);
                None
            }
            b'}' => {
                if close(&mut stack, Open::Brace) == Some(Open::Substitution) {
                    (i, last_open) = template_text(bytes, i + 1, &mut stack, last_open);
                    last = b'a';
                    spaced = false;
                    continue;
                }
                None
            }
            b'>' if stack.last() == Some(&Open::Angle) && last != b'=' => {
                stack.pop();
                None
            }
            b';' => {
                while stack.last() == Some(&Open::Angle) {
                    stack.pop();
                }
                None
            }
            _ => None,
        };
        if let Some(open) = opened {
            stack.push(open);
            last_open = i;
        }
        spaced = b.is_ascii_whitespace();
        if !spaced {
            last = b;
        }
        i += 1;
    }
}

/// Closes the nearest open `kind` (a `}` also closes a `${`), and the
/// `<`s opened inside it; returns what it closed.
fn close(stack: &mut Vec<Open>, kind: Open) -> Option<Open> {
    let at = stack
        .iter()
        .rposition(|o| *o == kind || (kind == Open::Brace && *o == Open::Substitution))?;
    let closed = stack[at];
    stack.truncate(at);
    Some(closed)
}

/// Whether a `/` after `last` starts a regular expression.
fn starts_expression(last: u8) -> bool {
    b"(,=:[!&|?{};+-*%<>~^".contains(&last)
}

/// The index after the first `end` at or after `i` (or the end).
fn skip_until(bytes: &[u8], mut i: usize, end: &[u8]) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(end) {
            return i + end.len();
        }
        i += 1;
    }
    bytes.len()
}

/// The index after a string closed by `quote` (or its line's end).
fn skip_string(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after a regular expression literal's body and flags.
fn skip_regex(bytes: &[u8], mut i: usize) -> usize {
    let mut class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            b'[' => {
                class = true;
                i += 1
            }
            b']' => {
                class = false;
                i += 1
            }
            b'/' if !class => {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                return i;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skips template text from `i` to its closing backtick (returning the
/// index after it) or to a `${` (pushing a substitution, returning the
/// index after the `{`); with the index of the last opening (`last_open`,
/// or that `$`).
fn template_text(
    bytes: &[u8],
    mut i: usize,
    stack: &mut Vec<Open>,
    last_open: usize,
) -> (usize, usize) {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => return (i + 1, last_open),
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                stack.push(Open::Substitution);
                return (i + 2, i);
            }
            _ => i += 1,
        }
    }
    (bytes.len(), last_open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(source: &str) -> bool {
        check(source).is_ok()
    }

    #[test]
    fn counts_brackets_of_every_kind() {
        let n = MAX_NESTING + 1;
        assert!(!depth_ok(&"(".repeat(n)));
        assert!(!depth_ok(&"[".repeat(n)));
        assert!(!depth_ok(&"{".repeat(n)));
        assert!(!depth_ok(&format!("{}T", "A<".repeat(n))));
        assert!(!depth_ok(&"`${".repeat(n)));
        assert!(depth_ok(&"(".repeat(MAX_NESTING)));
    }

    #[test]
    fn strings_comments_and_regexes_do_not_count() {
        let many = "(".repeat(MAX_NESTING + 1);
        assert!(depth_ok(&format!("let s = '{many}';")));
        assert!(depth_ok(&format!("let s = \"{many}\";")));
        assert!(depth_ok(&format!("let s = `{many}`;")));
        assert!(depth_ok(&format!("// {many}\n")));
        assert!(depth_ok(&format!("/* {many} */")));
        assert!(depth_ok(&format!(
            "let r = /{}/;",
            "\\(".repeat(MAX_NESTING + 1)
        )));
    }

    #[test]
    fn comparisons_do_not_add_up() {
        let loops = "for (let i = 0; i<n; i++) { if (a<b) x(); }\n".repeat(2);
        assert!(depth_ok(&loops));
        let spaced = "if (a < b && c < d) {}\n".repeat(5000);
        assert!(depth_ok(&spaced));
    }

    #[test]
    fn the_place_is_the_bracket_that_went_over() {
        let source = format!("x;\n{}", "(".repeat(MAX_NESTING + 5));
        match check(&source) {
            Err(StripError::TooDeep { line, column, .. }) => {
                assert_eq!(
                    (line, column),
                    (2, u32::try_from(MAX_NESTING + 1).unwrap_or(0))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
