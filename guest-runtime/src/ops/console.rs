//! `console`: one line to the host, which applies the log volume limit.

use crate::imports;

/// `host.log(level, text)`.
pub fn log(level: i32, text: String) {
    // SAFETY: the pointer and length describe `text`, alive for the call.
    unsafe { imports::console(level, text.as_ptr(), text.len()) }
}
