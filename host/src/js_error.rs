//! The JavaScript error a charm threw, as the guest runtime describes it.
//!
//! Owns the decoding of the guest's error payload (`{"name", "message",
//! "stack"}`) and how such an error is shown. Used by `compile` and `run`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A thrown JavaScript error (or rejected promise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsError {
    /// `TypeError`, `SyntaxError`, ... or `Error` for thrown non-errors.
    pub name: String,
    pub message: String,
    /// QuickJS's stack: one `    at fn (file:line:column)` line per frame.
    #[serde(default)]
    pub stack: String,
    /// Where a syntax error is, when the guest could tell (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

impl JsError {
    /// Decodes the guest's error payload. A payload that is not the expected
    /// JSON (a tampered or broken runtime) still becomes an error, with the
    /// raw text as its message.
    pub fn from_payload(payload: &[u8]) -> JsError {
        serde_json::from_slice(payload).unwrap_or_else(|_| JsError {
            name: "InternalError".to_string(),
            message: String::from_utf8_lossy(payload).into_owned(),
            stack: String::new(),
            line: None,
            column: None,
        })
    }

    /// An error with a name and message only.
    pub fn new(name: &str, message: impl Into<String>) -> JsError {
        JsError {
            name: name.to_string(),
            message: message.into(),
            stack: String::new(),
            line: None,
            column: None,
        }
    }

    /// `name: message`, without the stack.
    pub fn headline(&self) -> String {
        if self.message.is_empty() {
            self.name.clone()
        } else {
            format!("{}: {}", self.name, self.message)
        }
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.headline())?;
        let stack = self.stack.trim_end();
        if !stack.is_empty() {
            write!(f, "\n{stack}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_shows_the_stack_under_the_headline() {
        let e = JsError::from_payload(
            br#"{"name":"TypeError","message":"x is undefined","stack":"    at f (a.js:2:3)\n"}"#,
        );
        assert_eq!(
            e.to_string(),
            "TypeError: x is undefined\n    at f (a.js:2:3)"
        );
    }

    #[test]
    fn garbage_payload_is_still_an_error() {
        let e = JsError::from_payload(b"boom");
        assert_eq!(e.headline(), "InternalError: boom");
    }
}
