//! `ctx.scheduleNext(ms)`: the charm asks for its next run; the host keeps
//! the request and bounds it (see `js/90_driver.js`, which checks `ms`).

use crate::imports;

/// `host.scheduleNext(ms)`: `ms` is a whole, finite, non-negative number
/// (the prelude checked it); beyond `i64` it is the largest.
pub fn schedule_next(ms: f64) {
    let ms = if ms.is_finite() && ms >= 0.0 {
        // `as` saturates: 1e300 becomes i64::MAX.
        ms as i64
    } else {
        0
    };
    // SAFETY: an import with a plain integer argument.
    unsafe { imports::schedule_next(ms) }
}
