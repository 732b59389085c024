//! A run's secrets: the values `ctx.secrets` holds, and their redaction
//! from everything the run leaves behind.
//!
//! Owns [`Secrets`] (name to value, for the guest only: its `Debug` shows
//! names, never values) and [`Redactor`], which replaces each value with
//! [`REDACTED`] in text (console lines, error messages and stacks, traced
//! fetch failures) and in the JSON state a run returns. A run's
//! [`crate::TaskSpec`] carries its redactor, so every capability that
//! writes something out can apply it; [`crate::run`] applies it to the
//! outcome.
//!
//! Redaction guards against a secret reaching a log or a record by
//! accident (a charm that logs its request headers, an error that quotes
//! its URL). It is not a boundary against a charm that means to leak its
//! own secret: an encoded, split or reversed value is not recognised, and
//! `fetch` can send it to any host on the charm's allow-list. Where a
//! secret may go is the allow-list's business (deny by default, checked
//! after DNS and on every redirect).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::js_error::JsError;
use crate::run::RunError;

/// What a secret's value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this, in bytes, are not redacted. Replacing every
/// `a` or `42` in a run's log, errors and state would mangle them beyond
/// use while hiding nothing: a value that short can be guessed anyway.
pub const MIN_REDACTED_BYTES: usize = 4;

/// A run's secrets by name: what the charm sees as `ctx.secrets`
/// (serialised as a JSON object of strings; `{}` when there are none).
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Secrets(BTreeMap<String, String>);

/// Shows the names only.
impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Secrets {
    /// No secrets.
    pub fn none() -> Secrets {
        Secrets::default()
    }

    /// Adds (or replaces) the secret `name`.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The same names, each value replaced by [`REDACTED`]: what a
    /// recording or an export of the run shows, and what its replay gets.
    pub fn redacted(&self) -> Secrets {
        Secrets(
            self.0
                .keys()
                .map(|k| (k.clone(), REDACTED.to_string()))
                .collect(),
        )
    }

    /// The redactor for these values.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.0.values().map(String::as_str))
    }
}

/// Where `needle` (not empty) first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl FromIterator<(String, String)> for Secrets {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Secrets {
        Secrets(iter.into_iter().collect())
    }
}

/// Replaces secret values with [`REDACTED`]. The default redacts nothing.
#[derive(Clone, Default)]
pub struct Redactor {
    /// What to look for, longest first: each value of at least
    /// [`MIN_REDACTED_BYTES`], and its JSON-escaped form where that
    /// differs (how `JSON.stringify` writes it into a log line or a state).
    needles: Vec<String>,
}

/// Shows how many values it looks for, never the values.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} needles)", self.needles.len())
    }
}

impl Redactor {
    /// A redactor of `values`; those shorter than [`MIN_REDACTED_BYTES`]
    /// are left out.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut needles = Vec::new();
        for value in values {
            if value.len() < MIN_REDACTED_BYTES {
                continue;
            }
            needles.push(value.to_string());
            let escaped = serde_json::to_string(value).unwrap_or_default();
            let inner = escaped
                .strip_prefix('"')
                .and_then(|e| e.strip_suffix('"'))
                .unwrap_or_default();
            if inner != value && inner.len() >= MIN_REDACTED_BYTES {
                needles.push(inner.to_string());
            }
        }
        // Longest first, so that a value containing another is replaced
        // whole.
        needles.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        needles.dedup();
        Redactor { needles }
    }

    /// Whether it redacts nothing.
    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Whether `text` holds a value it redacts.
    pub fn finds(&self, text: &str) -> bool {
        self.needles.iter().any(|n| text.contains(n.as_str()))
    }

    /// `text` with every value replaced by [`REDACTED`]; borrowed when
    /// there was none.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.finds(text) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        Cow::Owned(out)
    }

    /// `bytes` (a response body, text or not) with every value replaced by
    /// [`REDACTED`]; borrowed when there was none.
    pub fn bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let mut out: Cow<'a, [u8]> = Cow::Borrowed(bytes);
        for needle in &self.needles {
            let needle = needle.as_bytes();
            let Some(first) = find(&out, needle) else {
                continue;
            };
            let mut replaced = Vec::with_capacity(out.len());
            let mut rest: &[u8] = &out;
            let mut at = Some(first);
            while let Some(i) = at {
                replaced.extend_from_slice(&rest[..i]);
                replaced.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[i + needle.len()..];
                at = find(rest, needle);
            }
            replaced.extend_from_slice(rest);
            out = Cow::Owned(replaced);
        }
        out
    }

    /// A run's new state (JSON text) with every value redacted: in strings
    /// and object keys (compared decoded, so escapes do not hide a value)
    /// and in numbers. The text is kept as it is when nothing is found;
    /// otherwise it is written again (compact, object keys sorted). Should
    /// a value still show in the text (say, one made of JSON punctuation),
    /// the whole state becomes the string `"[redacted]"`: it stays JSON,
    /// and the run still succeeds.
    pub fn json(&self, state: &str) -> String {
        if self.is_empty() {
            return state.to_string();
        }
        let mut value: serde_json::Value = match serde_json::from_str(state) {
            Ok(value) => value,
            Err(_) => return self.text(state).into_owned(),
        };
        if !self.value(&mut value) && !self.finds(state) {
            return state.to_string();
        }
        let text = serde_json::to_string(&value).unwrap_or_default();
        if text.is_empty() || self.finds(&text) {
            return format!("\"{REDACTED}\"");
        }
        text
    }

    /// Redacts `value` in place; whether anything changed.
    fn value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(s) => match self.text(s) {
                Cow::Borrowed(_) => false,
                Cow::Owned(redacted) => {
                    *s = redacted;
                    true
                }
            },
            Value::Number(n) if self.finds(&n.to_string()) => {
                *value = Value::String(REDACTED.to_string());
                true
            }
            Value::Array(items) => {
                // Every item, not just up to the first that changes.
                let mut changed = false;
                for item in items {
                    changed |= self.value(item);
                }
                changed
            }
            Value::Object(map) => {
                let mut changed = false;
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    changed |= self.value(&mut item);
                    let key = match self.text(&key) {
                        Cow::Borrowed(_) => key,
                        Cow::Owned(redacted) => {
                            changed = true;
                            redacted
                        }
                    };
                    map.insert(key, item);
                }
                changed
            }
            _ => false,
        }
    }

    /// A JavaScript error with its name, message and stack redacted.
    pub fn js_error(&self, error: JsError) -> JsError {
        if self.is_empty() {
            return error;
        }
        JsError {
            name: self.text(&error.name).into_owned(),
            message: self.text(&error.message).into_owned(),
            stack: self.text(&error.stack).into_owned(),
            ..error
        }
    }

    /// A run's error with whatever text it carries redacted.
    pub fn run_error(&self, error: RunError) -> RunError {
        match error {
            RunError::Charm(e) => RunError::Charm(self.js_error(e)),
            RunError::Denied(e) => RunError::Denied(self.js_error(e)),
            RunError::Fault(message) => RunError::Fault(self.text(&message).into_owned()),
            limit @ RunError::Limit(_) => limit,
            replay @ RunError::Replay(_) => replay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(values: &[&str]) -> Redactor {
        Redactor::new(values.iter().copied())
    }

    #[test]
    fn values_are_replaced_in_text_longest_first_and_short_ones_are_kept() {
        let r = redactor(&["sk-live-123", "sk-live-123456", "abc"]);
        assert_eq!(
            r.text("key sk-live-123456 and sk-live-123, abc"),
            "key [redacted] and [redacted], abc"
        );
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
        assert!(Redactor::default().is_empty());
    }

    #[test]
    fn an_escaped_value_is_redacted_as_json_writes_it() {
        let r = redactor(&["pa\"ss\nword"]);
        assert_eq!(r.text(r#"{"p":"pa\"ss\nword"}"#), r#"{"p":"[redacted]"}"#);
    }

    #[test]
    fn a_state_keeps_its_text_unless_it_holds_a_value() {
        let r = redactor(&["hunter22"]);
        let untouched = r#"{"z": 1, "a": "x"}"#;
        assert_eq!(r.json(untouched), untouched);
        let state = r#"{"z":"my hunter22","hunter22":[1,"hunter22"],"n":1}"#;
        assert_eq!(
            r.json(state),
            r#"{"[redacted]":[1,"[redacted]"],"n":1,"z":"my [redacted]"}"#
        );
    }

    #[test]
    fn a_value_hidden_by_escapes_or_digits_is_found() {
        let r = redactor(&["ab\"cd", "12345678"]);
        let state = r#"{"s":"ab\"cd","t":"ab\u0022cd","n":12345678}"#;
        let out = r.json(state);
        assert_eq!(
            out,
            r#"{"n":"[redacted]","s":"[redacted]","t":"[redacted]"}"#
        );
    }

    #[test]
    fn a_value_made_of_json_punctuation_redacts_the_whole_state() {
        let r = redactor(&["\":1,\""]);
        let out = r.json(r#"{"a":1,"b":2}"#);
        assert!(!out.contains("\":1,\""), "{out}");
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    }

    #[test]
    fn errors_lose_the_value_in_message_and_stack() {
        let r = redactor(&["s3cr3t-token"]);
        let error = RunError::Charm(JsError {
            stack: "    at f (c.js:1:1) s3cr3t-token".into(),
            ..JsError::new("Error", "bad key s3cr3t-token")
        });
        let shown = r.run_error(error).to_string();
        assert!(!shown.contains("s3cr3t-token"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        let fault = r.run_error(RunError::Fault("x s3cr3t-token".into()));
        assert_eq!(fault.to_string(), "x [redacted]");
    }

    #[test]
    fn secrets_show_names_only_and_serialise_as_an_object() {
        let mut s = Secrets::none();
        s.insert("API_KEY", "v4lue-of-the-key");
        assert_eq!(format!("{s:?}"), r#"{"API_KEY"}"#);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"API_KEY":"v4lue-of-the-key"}"#
        );
        assert_eq!(serde_json::to_string(&Secrets::none()).unwrap(), "{}");
        assert!(!format!("{:?}", s.redactor()).contains("v4lue"));
    }
}
