//! How the guest describes a failure, and how the host knows what it was.
//!
//! An error payload (status [`crate::Status::Error`]) is a JSON object:
//!
//! ```text
//! {"kind": "charm", "name": "TypeError", "message": "...", "stack": "...",
//!  "line": 3, "column": 14,                     // syntax errors only
//!  "limit": {"kind": "fetch_response", "value": 1000000}}   // kind "limit" only
//! ```
//!
//! The host decides what happened from [`ErrorKind`], never from the message
//! text, so messages can be reworded freely. A fetch failure the host
//! reports to the guest carries the same `kind` (and `limit`) in its
//! envelope; when the charm lets that error escape, the guest describes it
//! with the kind it was given.

/// What kind of failure an error payload describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The charm threw or rejected (its own error, or one it did not catch).
    Charm,
    /// The source does not parse; `line` and `column` say where.
    Syntax,
    /// The module breaks the charm contract (no `bgUpdater` export).
    Contract,
    /// A fetch the charm did not catch was refused by its allow-list.
    Denied,
    /// A limit the host reported to the charm (a fetch response too large
    /// or too slow) that the charm did not catch; `limit` says which.
    Limit,
    /// The runtime itself failed; a defect, not the charm's doing.
    Internal,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Charm,
        ErrorKind::Syntax,
        ErrorKind::Contract,
        ErrorKind::Denied,
        ErrorKind::Limit,
        ErrorKind::Internal,
    ];

    /// The code in the `kind` field.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Charm => "charm",
            ErrorKind::Syntax => "syntax",
            ErrorKind::Contract => "contract",
            ErrorKind::Denied => "denied",
            ErrorKind::Limit => "limit",
            ErrorKind::Internal => "internal",
        }
    }

    /// Decodes a `kind` code; `None` for a code this version does not know.
    pub fn parse(code: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == code)
    }
}

/// Field names of an error payload.
pub mod field {
    /// [`super::ErrorKind`] code.
    pub const KIND: &str = "kind";
    /// The JavaScript error's `name` (`TypeError`, ...).
    pub const NAME: &str = "name";
    /// The JavaScript error's `message`.
    pub const MESSAGE: &str = "message";
    /// The JavaScript stack, one `    at ...` line per frame.
    pub const STACK: &str = "stack";
    /// Line of a syntax error, 1-based.
    pub const LINE: &str = "line";
    /// Column of a syntax error, 1-based.
    pub const COLUMN: &str = "column";
    /// For [`super::ErrorKind::Limit`]: `{"kind": limit name, "value": number}`.
    pub const LIMIT: &str = "limit";
    /// The limit's name inside [`LIMIT`], as the host named it.
    pub const LIMIT_KIND: &str = "kind";
    /// The limit's value inside [`LIMIT`].
    pub const LIMIT_VALUE: &str = "value";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ErrorKind::parse("Charm"), None);
    }
}
