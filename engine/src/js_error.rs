//! The JavaScript error a charm threw, as the guest runtime describes it.
//!
//! Owns the decoding of the guest's error payload (`charm_host_abi::error`:
//! `{"kind", "name", "message", "stack", "line"?, "column"?, "limit"?}`) and
//! how such an error is shown. Used by `compile` and `run`, which decide
//! what happened from [`JsError::kind`], never from the text.

use std::fmt;

use charm_host_abi::error::{field, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::limits::{LimitExceeded, LimitKind};

/// A thrown JavaScript error (or rejected promise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsError {
    /// What kind of failure this is, as the guest classified it.
    #[serde(with = "kind_code", default = "charm_kind")]
    pub kind: ErrorKind,
    /// `TypeError`, `SyntaxError`, ... or `Error` for thrown non-errors.
    pub name: String,
    /// The error's message.
    pub message: String,
    /// QuickJS's stack: one `    at fn (file:line:column)` line per frame.
    #[serde(default)]
    pub stack: String,
    /// Where a syntax error is, when the guest could tell (1-based line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Where a syntax error is (1-based column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// For [`ErrorKind::Limit`]: the limit the host reported, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<ReportedLimit>,
}

/// A limit as the guest echoes it back: `{"kind": "fetch_response", "value": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedLimit {
    /// Which limit.
    pub kind: LimitKind,
    /// Its value, in the limit's unit.
    pub value: u64,
}

fn charm_kind() -> ErrorKind {
    ErrorKind::Charm
}

/// `kind` as its ABI code.
mod kind_code {
    use charm_host_abi::error::ErrorKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorKind, D::Error> {
        let code = String::deserialize(d)?;
        // A code from a newer runtime is still an error: an internal one.
        Ok(ErrorKind::parse(&code).unwrap_or(ErrorKind::Internal))
    }
}

// The payload's field names are the ABI's; serde's derive uses the Rust
// names, so check once that they agree.
const _: () = {
    use charm_host_abi::same_str as eq;
    assert!(eq(field::KIND, "kind"));
    assert!(eq(field::NAME, "name"));
    assert!(eq(field::MESSAGE, "message"));
    assert!(eq(field::STACK, "stack"));
    assert!(eq(field::LINE, "line"));
    assert!(eq(field::COLUMN, "column"));
    assert!(eq(field::LIMIT, "limit"));
    assert!(eq(field::LIMIT_KIND, "kind"));
    assert!(eq(field::LIMIT_VALUE, "value"));
};

impl JsError {
    /// Decodes the guest's error payload. A payload that is not the expected
    /// JSON (a tampered or broken runtime) still becomes an error, an
    /// internal one, with the raw text as its message.
    pub fn from_payload(payload: &[u8]) -> JsError {
        serde_json::from_slice(payload).unwrap_or_else(|_| JsError {
            kind: ErrorKind::Internal,
            ..JsError::new("InternalError", String::from_utf8_lossy(payload))
        })
    }

    /// A charm error with a name and message only.
    pub fn new(name: &str, message: impl Into<String>) -> JsError {
        JsError {
            kind: ErrorKind::Charm,
            name: name.to_string(),
            message: message.into(),
            stack: String::new(),
            line: None,
            column: None,
            limit: None,
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

    /// The limit an uncaught [`ErrorKind::Limit`] error reports.
    pub fn reported_limit(&self) -> Option<LimitExceeded> {
        let limit = self.limit?;
        LimitExceeded::from_report(limit.kind, limit.value)
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
            br#"{"kind":"charm","name":"TypeError","message":"x is undefined","stack":"    at f (a.js:2:3)\n"}"#,
        );
        assert_eq!(e.kind, ErrorKind::Charm);
        assert_eq!(
            e.to_string(),
            "TypeError: x is undefined\n    at f (a.js:2:3)"
        );
    }

    #[test]
    fn a_limit_is_read_from_its_kind_and_value_not_its_message() {
        let e = JsError::from_payload(
            br#"{"kind":"limit","name":"TypeError","message":"reworded at will","stack":"","limit":{"kind":"fetch_response","value":10}}"#,
        );
        assert_eq!(e.kind, ErrorKind::Limit);
        assert_eq!(
            e.reported_limit(),
            Some(LimitExceeded::FetchResponse { limit: 10 })
        );
    }

    #[test]
    fn garbage_or_unknown_kinds_are_internal_errors() {
        let e = JsError::from_payload(b"boom");
        assert_eq!(e.headline(), "InternalError: boom");
        assert_eq!(e.kind, ErrorKind::Internal);
        let e = JsError::from_payload(br#"{"kind":"from-the-future","name":"E","message":"m"}"#);
        assert_eq!(e.kind, ErrorKind::Internal);
    }
}
