//! The event loop's native side: the run's clock, waiting on the host for
//! the next completion or timer, and cancelling operations.

use std::cell::Cell;
use std::time::Instant;

use charm_host_abi::completion;

use crate::imports;

thread_local! {
    /// When the current task started: the origin of [`now`]. Instants from
    /// the pre-initialisation process mean nothing in a task, so it is set
    /// at each entry point.
    static ORIGIN: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Starts the task's clock.
pub fn start_clock() {
    ORIGIN.with(|o| o.set(Some(Instant::now())));
}

/// `host.now()`: milliseconds since the task started, monotonic, with
/// sub-millisecond precision.
pub fn now() -> f64 {
    ORIGIN.with(|o| match o.get() {
        Some(origin) => origin.elapsed().as_secs_f64() * 1000.0,
        None => 0.0,
    })
}

/// `host.opCancel(handle)`.
pub fn op_cancel(handle: i32) {
    // SAFETY: a plain call with a value.
    unsafe { imports::op_cancel(handle) }
}

/// What the host said when the loop waited.
pub enum Woken {
    /// The timeout passed: a timer may be due.
    Timeout,
    /// An operation completed with this result.
    Completed { handle: i32, result: Vec<u8> },
}

/// Waits for the next completion, or until `timeout_ms` passed (`None`: no
/// timeout), and takes the completed operation's result.
pub fn wait(timeout_ms: Option<u64>) -> Result<Woken, &'static str> {
    let timeout = timeout_ms.map_or(-1, |ms| i64::try_from(ms).unwrap_or(i64::MAX));
    // SAFETY: a plain call with a value.
    let packed = unsafe { imports::op_wait(timeout) };
    let Some((handle, len)) = completion::unpack(packed) else {
        return Ok(Woken::Timeout);
    };
    let handle = i32::try_from(handle).map_err(|_| "the host returned an invalid handle")?;
    let len = usize::try_from(len).map_err(|_| "the host returned an invalid length")?;
    let mut result = vec![0u8; len];
    // SAFETY: the host writes at most `result.len()` bytes into `result`.
    let written = unsafe { imports::op_take(handle, result.as_mut_ptr(), result.len()) };
    if usize::try_from(written).ok() != Some(len) {
        return Err("the host's operation result was truncated");
    }
    Ok(Woken::Completed { handle, result })
}
