//! How a failure is described to the host: a JSON error payload
//! (`charm_host_abi::error`) with a kind, a name, a message and a stack.

use charm_host_abi::error::{field, ErrorKind};
use javy_plugin_api::javy::quickjs::module::Module;
use javy_plugin_api::javy::quickjs::{Ctx, Error as JsError, Value};

use crate::prelude;

/// An error payload, ready to hand back.
pub struct ErrorJson(pub String);

impl ErrorJson {
    /// A payload of `kind` with a name and message and no stack.
    pub fn plain(kind: ErrorKind, name: &str, message: &str) -> ErrorJson {
        ErrorJson(format!(
            "{{\"{}\":\"{}\",\"{}\":{},\"{}\":{},\"{}\":\"\"}}",
            field::KIND,
            kind.as_str(),
            field::NAME,
            json_string(name),
            field::MESSAGE,
            json_string(message),
            field::STACK,
        ))
    }

    /// A failure of the runtime itself.
    pub fn internal(message: &str) -> ErrorJson {
        ErrorJson::plain(ErrorKind::Internal, "InternalError", message)
    }
}

/// Turns a QuickJS error into a description, using the prelude's `describe`
/// for thrown values so that the charm's own name, message, stack and the
/// kind the prelude tagged it with survive.
pub fn describe(ctx: &Ctx<'_>, error: JsError) -> ErrorJson {
    match error {
        JsError::Exception => describe_value(ctx, ctx.catch()),
        JsError::WouldBlock => ErrorJson::plain(
            ErrorKind::Charm,
            "Error",
            "bgUpdater's promise never settled: it awaits something that nothing will resolve \
             (no fetch or timer was pending)",
        ),
        other => ErrorJson::internal(&other.to_string()),
    }
}

/// Describes a thrown value with the prelude's `describe`.
pub fn describe_value<'js>(ctx: &Ctx<'js>, thrown: Value<'js>) -> ErrorJson {
    let described = prelude::with_driver(|d| {
        let describe = d.describe.clone().restore(ctx).ok()?;
        describe.call::<_, String>((thrown,)).ok()
    })
    .flatten();
    match described {
        Some(json) => ErrorJson(json),
        None => ErrorJson::internal("the charm threw a value that could not be described"),
    }
}

/// The module name used for the parses that locate a syntax error.
const PROBE_MODULE: &str = "charm-host:probe";

/// `name`, `message` and `stack` of a thrown error, and the line of `file`
/// in its stack, if the stack has one.
fn error_parts<'js>(thrown: &Value<'js>, file: &str) -> Option<(String, String, String, Option<u32>)> {
    let obj = thrown.as_object()?;
    let name: String = obj.get("name").ok()?;
    let message: String = obj.get("message").ok()?;
    let stack: String = obj.get("stack").unwrap_or_default();
    let line = stack.find(&format!("{file}:")).and_then(|at| {
        let at = at + file.len() + 1;
        stack[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    });
    Some((name, message, stack, line))
}

/// Describes a failed parse. QuickJS gives the right line but a stale column
/// (quickjs-ng reports the parser's `col_num`, which its tokenizer does not
/// advance; fixed upstream after the version rquickjs 0.12 vendors). So the
/// column is found here: parsing is left to right, so within the reported
/// line the shortest prefix of the source that fails with the same message
/// ends at the offending token. A binary search over the line finds it in a
/// handful of parses, paid only when a charm does not compile.
///
/// A regular expression literal that does not compile (`/(/`) fails with no
/// line at all: quickjs-ng creates that SyntaxError with an empty stack
/// before it adds the position, and an error with a stack keeps it. Its line
/// is found the same way, by a binary search over whole lines, and its
/// column is the literal's opening slash.
pub fn describe_parse_error<'js>(ctx: &Ctx<'js>, thrown: Value<'js>, src: &str, file: &str) -> ErrorJson {
    let Some((name, message, stack, line)) = error_parts(&thrown, file) else {
        return describe_value(ctx, thrown);
    };
    if name != "SyntaxError" {
        return describe_value(ctx, thrown);
    }
    // Whether the first `end` bytes of the source fail to parse with the
    // same message (and on the same line, when the error has one).
    let fails_the_same = |end: usize| -> bool {
        match Module::declare(ctx.clone(), PROBE_MODULE, &src[..end]) {
            Ok(_) => false,
            Err(_) => {
                let probe = ctx.catch();
                matches!(error_parts(&probe, PROBE_MODULE), Some((_, m, _, l)) if m == message && l == line)
            }
        }
    };
    let line = match line {
        Some(line) => line,
        None => match line_of_first_failure(src, &fails_the_same) {
            Some(line) => line,
            None => return describe_value(ctx, thrown),
        },
    };
    let column = (|| {
        let before = usize::try_from(line.checked_sub(1)?).ok()?;
        let line_start = src.split_inclusive('\n').take(before).map(str::len).sum::<usize>();
        let text = src[line_start..].split('\n').next()?;
        // Candidate prefix ends: every char boundary of the line, and its end.
        let ends: Vec<usize> = text
            .char_indices()
            .map(|(i, c)| line_start + i + c.len_utf8())
            .collect();
        let lo = first_failing(&ends, &fails_the_same)?;
        // `ends[lo]` ends the offending token; step back over an identifier
        // or number to its first character, or from a regular expression's
        // closing slash to its opening one.
        let chars: Vec<char> = text.chars().collect();
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let mut start = lo;
        if is_word(chars[lo]) {
            while start > 0 && is_word(chars[start - 1]) {
                start -= 1;
            }
        } else if chars[lo] == '/' {
            start = regexp_start(ctx, &chars, lo, &message).unwrap_or(lo);
        }
        Some(start as u32 + 1)
    })();
    let column = match column {
        Some(c) => c.to_string(),
        None => "null".to_string(),
    };
    ErrorJson(format!(
        "{{\"{}\":\"{}\",\"{}\":\"SyntaxError\",\"{}\":{},\"{}\":{},\"{}\":{line},\"{}\":{column}}}",
        field::KIND,
        ErrorKind::Syntax.as_str(),
        field::NAME,
        field::MESSAGE,
        json_string(&message),
        field::STACK,
        json_string(&stack),
        field::LINE,
        field::COLUMN,
    ))
}

/// The first line (1-based) such that the source up to its end fails as
/// `fails` says; `None` if even the whole source does not.
fn line_of_first_failure(src: &str, fails: &dyn Fn(usize) -> bool) -> Option<u32> {
    let ends: Vec<usize> = src
        .split_inclusive('\n')
        .scan(0, |end, line| {
            *end += line.len();
            Some(*end)
        })
        .collect();
    u32::try_from(first_failing(&ends, fails)? + 1).ok()
}

/// The index of the first of `ends` (prefix lengths, increasing) at which
/// `fails` holds, by binary search: parsing is left to right, so once a
/// prefix fails the same way every longer one does. `None` if the last
/// does not fail.
fn first_failing(ends: &[usize], fails: &dyn Fn(usize) -> bool) -> Option<usize> {
    if !fails(*ends.last()?) {
        return None;
    }
    let (mut lo, mut hi) = (0, ends.len() - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if fails(ends[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The opening slash of the regular expression literal whose closing slash
/// is `chars[close]`: the nearest slash before it that starts a literal
/// failing, on its own, with `message`.
fn regexp_start(ctx: &Ctx<'_>, chars: &[char], close: usize, message: &str) -> Option<usize> {
    (0..close).rev().filter(|&i| chars[i] == '/').find(|&open| {
        let literal: String = chars[open..=close].iter().collect();
        match Module::declare(ctx.clone(), PROBE_MODULE, format!("({literal});")) {
            Ok(_) => false,
            Err(_) => {
                let probe = ctx.catch();
                matches!(error_parts(&probe, PROBE_MODULE), Some((_, m, _, _)) if m == message)
            }
        }
    })
}

/// Quotes `s` as a JSON string.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
