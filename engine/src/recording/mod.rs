//! Record and replay: what a run received across the sandbox's boundary.
//!
//! Owns the [`Recording`] (the document: the random seed, the clock
//! readings, each fetch's request line and response, and the order in which
//! the guest's event loop woke: a timer, a fetch's completion, the run's
//! deadline) and the per-task [`Tape`] that writes one while a run records,
//! or serves one back while a run replays. It never touches the network or
//! storage: the seams that feed it are the WASI world ([`clocks`]), the
//! `ops` capability (wake-ups) and the `fetch` capability (requests and
//! responses).
//!
//! Everything else a run depends on is its input (the state, `ctx`, the
//! bytecode), so serving the same values in the same order makes the same
//! charm do the same thing, byte for byte. A different charm (a fix) gets the
//! same responses for the same requests; the first request that is not the
//! next recorded one ends the replay with [`ReplayError::Diverged`].
//!
//! Recording is bounded: at most [`RecordMode::Record::max_bytes`] bytes
//! of clock readings, wake-ups, request lines and bodies per run; past that,
//! bodies are kept as their length only ([`RecordedBody::Truncated`]) and
//! readings are dropped, and the recording says so. A replay that needs a
//! dropped body ends with [`ReplayError::Truncated`]; clock readings past the
//! end are read live (a fixed charm may read the clock more often).
//!
//! Secrets: request URLs, response metadata and bodies pass through the
//! run's redactor before they are kept, so no secret value is recorded; a
//! replay sees `[redacted]` where the run saw a secret.

pub(crate) mod clocks;
mod tape;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub(crate) use tape::{Clock, Served, Tape};

/// The default cap of a run's recording, in bytes (1 MiB).
pub const DEFAULT_RECORD_BYTES: u64 = 1024 * 1024;

/// Whether a task records what it receives, or replays a recording.
#[derive(Debug, Clone, Default)]
pub enum RecordMode {
    /// Neither (compiling, the playground): the WASI world's own clocks
    /// and randomness. The default.
    #[default]
    Off,
    /// Record, keeping at most `max_bytes` bytes.
    Record {
        /// The cap, in bytes of readings, request lines and bodies.
        max_bytes: u64,
    },
    /// Serve this recording instead of the network, the clocks and the
    /// random generator.
    Replay(Arc<Recording>),
}

/// What a run received, in the order it received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    /// The 32-byte seed of the task's random generator (hex): the source of
    /// `crypto.getRandomValues`, `crypto.randomUUID`, the seed of
    /// `Math.random()` and the runtime's other randomness.
    pub seed: String,
    /// Readings of the wall clock (`Date.now()`), ns since the Unix epoch.
    pub wall_clock_ns: Vec<u64>,
    /// Readings of the monotonic clock (`performance.now()`, timers), ns
    /// since the task started.
    pub monotonic_clock_ns: Vec<u64>,
    /// Each `fetch` the charm started, in order.
    pub fetches: Vec<RecordedFetch>,
    /// Each time the event loop woke, in order.
    pub wakes: Vec<Wake>,
    /// The cap the run recorded under, in bytes.
    pub max_bytes: u64,
    /// Whether anything was left out for the cap.
    #[serde(default)]
    pub truncated: bool,
}

impl Recording {
    /// Checks what a replay relies on before it starts.
    ///
    /// # Errors
    /// [`ReplayError::Invalid`] naming the broken part.
    pub fn check(&self) -> Result<(), ReplayError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(&self.seed, &mut seed)
            .map_err(|_| ReplayError::Invalid("`seed` is not 64 hexadecimal digits".to_string()))?;
        for (i, wake) in self.wakes.iter().enumerate() {
            if let Wake::Fetch(n) = wake {
                if self
                    .fetches
                    .get(*n)
                    .and_then(|f| f.response.as_ref())
                    .is_none()
                {
                    return Err(ReplayError::Invalid(format!(
                        "wake-up #{i} names fetch #{n}, which has no recorded response"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// One fetch: the request line the charm sent and what it got back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedFetch {
    /// The method.
    pub method: String,
    /// The URL, redacted.
    pub url: String,
    /// What the charm was given; `None` when the run ended before the
    /// response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RecordedResponse>,
}

/// A response as the guest received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecordedResponse {
    /// The metadata, JSON text: status, statusText, url, redirected and
    /// headers; or, for a fetch that failed, the error the charm saw.
    pub meta: String,
    /// The body.
    pub body: RecordedBody,
}

/// A response body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RecordedBody {
    /// UTF-8 text, as it is.
    Text(String),
    /// Other bytes, in standard base64.
    Base64(String),
    /// Left out for the cap: its length in bytes.
    Truncated(u64),
}

/// Why the guest's event loop woke.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Wake {
    /// Its timeout passed: a timer was due.
    Timer,
    /// Fetch number `n` (from 0, in [`Recording::fetches`]) completed.
    Fetch(usize),
    /// The run's time limit passed while it waited.
    Deadline,
}

/// Why a replay could not go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The charm did something the recorded run did not.
    #[error("the replay diverged from the recording: {0}")]
    Diverged(String),
    /// The charm needs a body the cap left out.
    #[error("the recording of fetch #{index} ({method} {url}) left its body of {bytes} bytes out for the cap of {max_bytes} bytes per run (`--record-bytes-per-run`); it cannot be replayed")]
    Truncated {
        /// The fetch's number, from 0.
        index: usize,
        /// Its method.
        method: String,
        /// Its URL.
        url: String,
        /// The body's length.
        bytes: u64,
        /// The cap.
        max_bytes: u64,
    },
    /// The recording itself is broken (edited by hand, or from a newer
    /// format).
    #[error("the recording is invalid: {0}")]
    Invalid(String),
}
