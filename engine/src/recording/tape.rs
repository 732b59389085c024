//! The per-task tape: writes a [`Recording`] while a run records, serves one
//! while a run replays. Shared (behind one mutex) by the WASI clocks and
//! random generator, the `ops` capability and the `fetch` capability.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use charm_host_abi::envelope;

use super::{
    RecordMode, RecordedBody, RecordedFetch, RecordedResponse, Recording, ReplayError, Wake,
};
use crate::secrets::Redactor;

/// What a clock reading, a wake-up or a request line's overhead counts
/// against the cap, in bytes.
const ENTRY_BYTES: u64 = 8;

/// A task's tape. [`RecordMode::Off`] makes every method a no-op.
pub(crate) struct Tape {
    inner: Mutex<Inner>,
    redactor: Arc<Redactor>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &*self.lock() {
            Inner::Off => "off",
            Inner::Writing(_) => "recording",
            Inner::Reading(_) => "replaying",
        };
        f.debug_struct("Tape")
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

enum Inner {
    Off,
    Writing(Writer),
    Reading(Reader),
}

struct Writer {
    recording: Recording,
    /// Bytes left under the cap.
    left: u64,
    /// Operation handle to fetch number.
    fetches: HashMap<u32, usize>,
}

struct Reader {
    recording: Arc<Recording>,
    wall: usize,
    monotonic: usize,
    wakes: usize,
    /// Fetches the replayed charm started, in order.
    started: usize,
    /// Fetch number to operation handle.
    handles: HashMap<usize, u32>,
    /// After the recorded readings ran out: the offset from the live
    /// clock that continues them.
    wall_offset: Option<i128>,
    monotonic_offset: Option<i128>,
}

/// The guest's two clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clock {
    /// `Date.now()`'s: ns since the Unix epoch.
    Wall,
    /// `performance.now()`'s and the timers': ns since the task began.
    Monotonic,
}

impl Recording {
    fn readings_mut(&mut self, clock: Clock) -> &mut Vec<u64> {
        match clock {
            Clock::Wall => &mut self.wall_clock_ns,
            Clock::Monotonic => &mut self.monotonic_clock_ns,
        }
    }
}

/// What a replayed wait gives the guest.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// A timer is due: return at once.
    Timer,
    /// This operation completed with this result.
    Completed(u32, Vec<u8>),
    /// The recorded run's time limit passed here.
    Deadline,
    /// The recording has no more wake-ups: wait for real (a fixed charm's
    /// own timers).
    Live,
}

impl Tape {
    /// A tape for one task in `mode`, redacting with `redactor`.
    pub(crate) fn new(mode: &RecordMode, redactor: Arc<Redactor>) -> Arc<Tape> {
        let inner = match mode {
            RecordMode::Off => Inner::Off,
            RecordMode::Record { max_bytes } => Inner::Writing(Writer {
                recording: Recording {
                    seed: hex::encode(rand::random::<[u8; 32]>()),
                    wall_clock_ns: Vec::new(),
                    monotonic_clock_ns: Vec::new(),
                    fetches: Vec::new(),
                    wakes: Vec::new(),
                    max_bytes: *max_bytes,
                    truncated: false,
                },
                left: *max_bytes,
                fetches: HashMap::new(),
            }),
            RecordMode::Replay(recording) => Inner::Reading(Reader {
                recording: Arc::clone(recording),
                wall: 0,
                monotonic: 0,
                wakes: 0,
                started: 0,
                handles: HashMap::new(),
                wall_offset: None,
                monotonic_offset: None,
            }),
        };
        Arc::new(Tape {
            inner: Mutex::new(inner),
            redactor,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The seed of the task's random generator; `None` when off (the WASI
    /// world's own generator). A seed that does not parse (refused earlier
    /// by [`Recording::check`]) is all zeros.
    pub(crate) fn seed(&self) -> Option<[u8; 32]> {
        let text = match &*self.lock() {
            Inner::Off => return None,
            Inner::Writing(w) => w.recording.seed.clone(),
            Inner::Reading(r) => r.recording.seed.clone(),
        };
        let mut seed = [0u8; 32];
        if hex::decode_to_slice(text, &mut seed).is_err() {
            seed = [0u8; 32];
        }
        Some(seed)
    }

    /// A reading of `clock`: `live` recorded, or the next recorded one
    /// served.
    pub(crate) fn read(&self, clock: Clock, live: u64) -> u64 {
        match &mut *self.lock() {
            Inner::Off => live,
            Inner::Writing(w) => {
                if w.spend(ENTRY_BYTES) {
                    w.recording.readings_mut(clock).push(live);
                }
                live
            }
            Inner::Reading(r) => {
                let (next, offset) = match clock {
                    Clock::Wall => (&mut r.wall, &mut r.wall_offset),
                    Clock::Monotonic => (&mut r.monotonic, &mut r.monotonic_offset),
                };
                let recorded = match clock {
                    Clock::Wall => &r.recording.wall_clock_ns,
                    Clock::Monotonic => &r.recording.monotonic_clock_ns,
                };
                serve(recorded, next, offset, live)
            }
        }
    }

    /// Whether the task replays (fetches are then served, not sent).
    pub(crate) fn replays(&self) -> bool {
        matches!(&*self.lock(), Inner::Reading(_))
    }

    /// The charm started a fetch as operation `handle`. Recording: keeps
    /// its request line. Replaying: checks it against the next recorded
    /// one.
    ///
    /// # Errors
    /// [`ReplayError::Diverged`] naming the request, when it is not the
    /// next recorded one.
    pub(crate) fn fetch_started(
        &self,
        handle: u32,
        method: &str,
        url: &str,
    ) -> Result<(), ReplayError> {
        match &mut *self.lock() {
            Inner::Off => Ok(()),
            Inner::Writing(w) => {
                let url = self.redactor.text(url).into_owned();
                w.spend_always(ENTRY_BYTES + (method.len() + url.len()) as u64);
                w.fetches.insert(handle, w.recording.fetches.len());
                w.recording.fetches.push(RecordedFetch {
                    method: method.to_string(),
                    url,
                    response: None,
                });
                Ok(())
            }
            Inner::Reading(r) => {
                let index = r.started;
                let Some(expected) = r.recording.fetches.get(index) else {
                    return Err(ReplayError::Diverged(format!(
                        "the charm's fetch #{index} ({method} {url}) was not recorded: the recorded run made {index} fetches"
                    )));
                };
                if expected.method != method || expected.url != url {
                    return Err(ReplayError::Diverged(format!(
                        "the charm's fetch #{index} ({method} {url}) was not recorded: the recorded run's fetch #{index} was {} {}",
                        expected.method, expected.url
                    )));
                }
                r.started += 1;
                r.handles.insert(index, handle);
                Ok(())
            }
        }
    }

    /// Recording: operation `handle` completed with `result` (a fetch's
    /// response envelope), and the event loop woke for it.
    pub(crate) fn completed(&self, handle: u32, result: &[u8]) {
        let Inner::Writing(w) = &mut *self.lock() else {
            return;
        };
        w.spend_always(ENTRY_BYTES);
        let Some(&index) = w.fetches.get(&handle) else {
            return;
        };
        w.recording.wakes.push(Wake::Fetch(index));
        let (meta, body) = envelope::split(result).unwrap_or((b"{}", &[]));
        let meta = self.redactor.json(&String::from_utf8_lossy(meta));
        let body = self.redactor.bytes(body);
        let size = (meta.len() + body.len()) as u64;
        let body = if w.spend(size) {
            match std::str::from_utf8(&body) {
                Ok(text) => RecordedBody::Text(text.to_string()),
                Err(_) => {
                    RecordedBody::Base64(base64::engine::general_purpose::STANDARD.encode(&body))
                }
            }
        } else {
            w.spend(meta.len() as u64);
            RecordedBody::Truncated(body.len() as u64)
        };
        if let Some(fetch) = w.recording.fetches.get_mut(index) {
            fetch.response = Some(RecordedResponse { meta, body });
        }
    }

    /// Recording: the event loop woke because its timeout passed, or the
    /// run's time limit passed while it waited.
    pub(crate) fn woke(&self, wake: Wake) {
        if let Inner::Writing(w) = &mut *self.lock() {
            w.spend_always(ENTRY_BYTES);
            w.recording.wakes.push(wake);
        }
    }

    /// Replaying: what the event loop's wait returns next. `timer` says
    /// whether the guest waits with a timeout (a timer is pending);
    /// `pending` whether the operation is still the guest's (not
    /// cancelled).
    ///
    /// # Errors
    /// [`ReplayError`] when the recorded wake-up cannot be served: the
    /// replayed charm has no timer or never started that fetch, or its
    /// body was left out for the cap.
    pub(crate) fn next_wake(
        &self,
        timer: bool,
        pending: impl Fn(u32) -> bool,
    ) -> Result<Served, ReplayError> {
        let Inner::Reading(r) = &mut *self.lock() else {
            return Ok(Served::Live);
        };
        let Some(&wake) = r.recording.wakes.get(r.wakes) else {
            if timer {
                return Ok(Served::Live);
            }
            let waiting = (0..r.started).find(|i| r.handles.get(i).is_some_and(|h| pending(*h)));
            let what = match waiting.and_then(|i| r.recording.fetches.get(i).map(|f| (i, f))) {
                Some((i, f)) => format!("fetch #{i} ({} {})", f.method, f.url),
                None => "an operation".to_string(),
            };
            return Err(ReplayError::Diverged(format!(
                "the charm waits for {what}, whose response the recorded run never received"
            )));
        };
        r.wakes += 1;
        match wake {
            Wake::Timer if timer => Ok(Served::Timer),
            Wake::Timer => Err(ReplayError::Diverged(
                "the recorded run woke for a timer here; the charm has no timer pending"
                    .to_string(),
            )),
            Wake::Deadline => Ok(Served::Deadline),
            Wake::Fetch(index) => {
                let fetch = r.recording.fetches.get(index).ok_or_else(|| {
                    ReplayError::Invalid(format!(
                        "wake-up {} names fetch #{index}, which is not recorded",
                        r.wakes - 1
                    ))
                })?;
                let handle = r.handles.get(&index).copied().filter(|h| pending(*h)).ok_or_else(|| {
                    ReplayError::Diverged(format!(
                        "the recorded run received the response of fetch #{index} ({} {}) here; the charm has not started it, or aborted it",
                        fetch.method, fetch.url
                    ))
                })?;
                let response = fetch.response.as_ref().ok_or_else(|| {
                    ReplayError::Invalid(format!("fetch #{index} completed but has no response"))
                })?;
                let body = match &response.body {
                    RecordedBody::Text(text) => text.as_bytes().to_vec(),
                    RecordedBody::Base64(data) => base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .map_err(|e| {
                            ReplayError::Invalid(format!(
                                "fetch #{index}'s body is not base64: {e}"
                            ))
                        })?,
                    RecordedBody::Truncated(bytes) => {
                        return Err(ReplayError::Truncated {
                            index,
                            method: fetch.method.clone(),
                            url: fetch.url.clone(),
                            bytes: *bytes,
                            max_bytes: r.recording.max_bytes,
                        })
                    }
                };
                let meta = response.meta.as_bytes();
                let mut result = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + body.len());
                let len = u32::try_from(meta.len()).map_err(|_| {
                    ReplayError::Invalid(format!("fetch #{index}'s metadata is too large"))
                })?;
                result.extend_from_slice(&envelope::prefix(len));
                result.extend_from_slice(meta);
                result.extend_from_slice(&body);
                Ok(Served::Completed(handle, result))
            }
        }
    }

    /// Recording: the finished recording; `None` otherwise.
    pub(crate) fn take(&self) -> Option<Recording> {
        let mut inner = self.lock();
        if !matches!(&*inner, Inner::Writing(_)) {
            return None;
        }
        match std::mem::replace(&mut *inner, Inner::Off) {
            Inner::Writing(w) => Some(w.recording),
            _ => None,
        }
    }
}

impl Writer {
    /// Takes `bytes` from the budget if they fit; marks the recording
    /// truncated if not.
    fn spend(&mut self, bytes: u64) -> bool {
        if bytes <= self.left {
            self.left -= bytes;
            true
        } else {
            self.recording.truncated = true;
            false
        }
    }

    /// Takes `bytes` from the budget, down to zero: what is always kept
    /// (request lines and wake-ups, which the replay cannot do without and
    /// the run's limits bound) still counts.
    fn spend_always(&mut self, bytes: u64) {
        self.left = self.left.saturating_sub(bytes);
    }
}

/// The next recorded reading; past the end, the live clock moved to
/// continue from the last one.
fn serve(recorded: &[u64], next: &mut usize, offset: &mut Option<i128>, live: u64) -> u64 {
    if let Some(&reading) = recorded.get(*next) {
        *next += 1;
        return reading;
    }
    let offset = *offset.get_or_insert_with(|| {
        i128::from(recorded.last().copied().unwrap_or(live)) - i128::from(live)
    });
    u64::try_from((i128::from(live) + offset).max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder(max_bytes: u64) -> Arc<Tape> {
        Tape::new(&RecordMode::Record { max_bytes }, Arc::default())
    }

    fn response(meta: &str, body: &[u8]) -> Vec<u8> {
        let mut out = envelope::prefix(meta.len() as u32).to_vec();
        out.extend_from_slice(meta.as_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn a_recording_is_served_back_in_order() {
        let tape = recorder(1 << 20);
        assert_eq!(tape.read(Clock::Wall, 5), 5);
        assert_eq!(tape.read(Clock::Monotonic, 7), 7);
        tape.fetch_started(1, "GET", "http://a.test/").unwrap();
        tape.woke(Wake::Timer);
        let result = response(r#"{"status":200}"#, b"hello");
        tape.completed(1, &result);
        let recording = tape.take().unwrap();
        assert_eq!(recording.wakes, [Wake::Timer, Wake::Fetch(0)]);

        let replay = Tape::new(&RecordMode::Replay(Arc::new(recording)), Arc::default());
        assert_eq!(replay.read(Clock::Wall, 1_000), 5);
        assert_eq!(replay.read(Clock::Monotonic, 1_000), 7);
        // Past the end: live, continued from the last reading.
        assert_eq!(replay.read(Clock::Monotonic, 1_010), 7);
        assert_eq!(replay.read(Clock::Monotonic, 1_020), 17);
        replay.fetch_started(9, "GET", "http://a.test/").unwrap();
        assert_eq!(replay.next_wake(true, |_| true), Ok(Served::Timer));
        assert_eq!(
            replay.next_wake(false, |h| h == 9),
            Ok(Served::Completed(9, result))
        );
        assert_eq!(replay.next_wake(true, |_| true), Ok(Served::Live));
    }

    #[test]
    fn an_unrecorded_request_is_named_with_its_index() {
        let tape = recorder(1 << 20);
        tape.fetch_started(1, "GET", "http://a.test/1").unwrap();
        let recording = Arc::new(tape.take().unwrap());
        let replay = Tape::new(&RecordMode::Replay(recording), Arc::default());
        replay.fetch_started(1, "GET", "http://a.test/1").unwrap();
        let err = replay
            .fetch_started(2, "POST", "http://a.test/2")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fetch #1 (POST http://a.test/2) was not recorded"),
            "{err}"
        );
    }

    #[test]
    fn bodies_over_the_cap_are_kept_as_their_length_and_cannot_be_replayed() {
        let tape = recorder(64);
        tape.fetch_started(1, "GET", "http://a.test/").unwrap();
        tape.completed(1, &response("{}", &[b'x'; 100]));
        let recording = tape.take().unwrap();
        assert!(recording.truncated);
        assert_eq!(
            recording.fetches[0].response.as_ref().unwrap().body,
            RecordedBody::Truncated(100)
        );
        let replay = Tape::new(&RecordMode::Replay(Arc::new(recording)), Arc::default());
        replay.fetch_started(1, "GET", "http://a.test/").unwrap();
        let err = replay.next_wake(false, |_| true).unwrap_err();
        assert!(
            matches!(
                err,
                ReplayError::Truncated {
                    index: 0,
                    bytes: 100,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn secrets_never_reach_the_recording() {
        let redactor = Arc::new(Redactor::new(["s3cr3t-value"]));
        let tape = Tape::new(&RecordMode::Record { max_bytes: 1 << 20 }, redactor);
        tape.fetch_started(1, "GET", "http://a.test/?key=s3cr3t-value")
            .unwrap();
        tape.completed(
            1,
            &response(r#"{"h":"s3cr3t-value"}"#, b"echo s3cr3t-value"),
        );
        let text = serde_json::to_string(&tape.take().unwrap()).unwrap();
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}
