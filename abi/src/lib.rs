//! The guest/host boundary of charm-host, version 1.
//!
//! Every name that crosses the boundary between the `charm-runtime` guest (a
//! Javy plugin running QuickJS inside WebAssembly) and the `charm-host`
//! process is defined here, once, and both sides depend on this crate. The
//! boundary is deliberately small:
//!
//! * the guest **imports** three host functions from the module
//!   [`IMPORT_MODULE`] (`console`, `fetch`, `fetch-take`), plus WASI preview 1;
//! * the guest **exports** [`export::INITIALIZE`] (run once, before the
//!   snapshot is taken), [`export::COMPILE`] and [`export::RUN`], and the
//!   canonical allocator [`export::REALLOC`] through which the host places
//!   inputs in guest memory.
//!
//! Results come back through a fixed "return area" of three little-endian
//! `u32`s (status, pointer, length), the same convention as Javy's own
//! `compile-src`.
//!
//! # Compatibility
//!
//! Any change to a name, a signature or a payload format below is a breaking
//! change: bump [`ABI_VERSION`] and the version suffix of [`IMPORT_MODULE`],
//! rebuild the runtime (`make guest`), and keep the host able to say which
//! version it found. The host refuses a runtime whose `import_namespace`
//! custom section does not equal [`IMPORT_MODULE`].
#![no_std]

/// The version of this boundary; the suffix of [`IMPORT_MODULE`].
pub const ABI_VERSION: u32 = 1;

/// The wasm import module under which the host provides its capabilities.
/// It is also written to the runtime's `import_namespace` custom section (the
/// Javy convention), which is how the host checks the version of a runtime.
pub const IMPORT_MODULE: &str = "charm-host-v1";

/// Names of the host functions the guest imports from [`IMPORT_MODULE`].
pub mod import {
    /// `console(level: i32, ptr: i32, len: i32)`: one console line, UTF-8.
    /// `level` is a [`crate::LogLevel`]. The host may end the run (trap) when
    /// the run's log volume limit is exceeded.
    pub const CONSOLE: &str = "console";

    /// `fetch(ptr: i32, len: i32) -> i32`: perform the HTTP request described
    /// by the JSON at `ptr..ptr+len` (see [`crate::fetch`]) and return the
    /// length of the response envelope, which the host keeps until
    /// [`FETCH_TAKE`] copies it into guest memory. A denied or failed request
    /// is a response envelope with an `error` field, not a trap; the host
    /// traps only when a limit of the run is exceeded.
    pub const FETCH: &str = "fetch";

    /// `fetch-take(ptr: i32, len: i32) -> i32`: copy the pending response
    /// envelope into `ptr..ptr+len` and return the number of bytes written.
    pub const FETCH_TAKE: &str = "fetch-take";
}

/// Names of the functions the guest exports.
pub mod export {
    /// `initialize-runtime()`: builds the QuickJS runtime and evaluates the
    /// charm prelude. The host runs it once under `wasmtime-wizer` and keeps
    /// the resulting memory as the pre-initialised snapshot.
    pub const INITIALIZE: &str = "initialize-runtime";

    /// `cabi_realloc(old_ptr, old_len, align, new_len) -> ptr`: the guest's
    /// allocator, used by the host to place inputs in guest memory.
    pub const REALLOC: &str = "cabi_realloc";

    /// `charm-compile(src_ptr, src_len, name_ptr, name_len) -> ret_area_ptr`:
    /// compile a charm's source (an ES module) to QuickJS bytecode, then
    /// evaluate it once to check that it exports a `bgUpdater` function.
    /// On success the payload is the bytecode; on failure it is a
    /// [`crate::Status::Error`] JSON error.
    pub const COMPILE: &str = "charm-compile";

    /// `charm-run(bytecode_ptr, bytecode_len, input_ptr, input_len) -> ret_area_ptr`:
    /// load the bytecode, evaluate the module, call
    /// `bgUpdater(input.state, input.ctx)` and settle its promise. On success
    /// the payload is the new state as JSON text, or empty when `bgUpdater`
    /// returned `undefined` (keep the old state).
    pub const RUN: &str = "charm-run";

    /// The `__stack_pointer` global (mutable `i32`). After an out-of-bounds
    /// trap, a value above [`crate::SHADOW_STACK_BYTES`] means the shadow
    /// stack overflowed (wrapped below zero).
    pub const STACK_POINTER: &str = "__stack_pointer";
}

/// Size of the runtime's shadow stack (QuickJS's C stack), placed at the
/// bottom of linear memory so that an overflow traps rather than corrupting
/// the heap. Set at link time by the runtime's `build.rs`.
pub const SHADOW_STACK_BYTES: u32 = 4 * 1024 * 1024;

/// The first word of the return area.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The payload is the result.
    Ok = 0,
    /// The payload is a JSON object `{"name", "message", "stack"}` describing
    /// a JavaScript error (or a runtime error the guest could describe).
    Error = 1,
}

impl Status {
    /// Decodes the status word; `None` for a value this version does not know.
    pub fn from_u32(word: u32) -> Option<Status> {
        match word {
            0 => Some(Status::Ok),
            1 => Some(Status::Error),
            _ => None,
        }
    }
}

/// The level of a console line, the first argument of [`import::CONSOLE`].
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// `console.debug`
    Debug = 0,
    /// `console.log` and `console.info`
    Info = 1,
    /// `console.warn`
    Warn = 2,
    /// `console.error`
    Error = 3,
}

impl LogLevel {
    /// Decodes a level; unknown values are treated as [`LogLevel::Info`]
    /// because a console line is never worth failing a run over.
    pub fn from_i32(level: i32) -> LogLevel {
        match level {
            0 => LogLevel::Debug,
            2 => LogLevel::Warn,
            3 => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// The envelope used for payloads that carry metadata and bytes: a
/// little-endian `u32` giving the length of a JSON metadata object, the
/// metadata, then the bytes.
///
/// * A successful [`export::COMPILE`] returns `{"integration": string | null}`
///   and the bytecode.
/// * The response to [`import::FETCH`] is
///   `{"status", "statusText", "url", "redirected", "headers": [[name, value], ...]}`
///   and the body, or `{"error": string}` and no body for a request that was
///   refused or failed, which the guest throws as a `TypeError` (as `fetch`
///   does in browsers).
///
/// The fetch *request* the guest sends is plain JSON:
/// `{"url": string, "method": string, "headers": [[name, value], ...], "body": string | null}`.
pub mod envelope {
    /// Size of the metadata length prefix.
    pub const PREFIX_LEN: usize = 4;

    /// Splits an envelope into its JSON metadata and its bytes. Returns
    /// `None` when the envelope is shorter than its own prefix says.
    pub fn split(envelope: &[u8]) -> Option<(&[u8], &[u8])> {
        let prefix = envelope.get(..PREFIX_LEN)?;
        let meta_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let rest = &envelope[PREFIX_LEN..];
        if meta_len > rest.len() {
            return None;
        }
        Some(rest.split_at(meta_len))
    }

    /// The prefix to write before `meta_len` bytes of metadata.
    pub fn prefix(meta_len: u32) -> [u8; PREFIX_LEN] {
        meta_len.to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip() {
        let meta = br#"{"status":200}"#;
        let mut envelope = [0u8; 64];
        let prefix = envelope::prefix(meta.len() as u32);
        envelope[..4].copy_from_slice(&prefix);
        envelope[4..4 + meta.len()].copy_from_slice(meta);
        envelope[4 + meta.len()..4 + meta.len() + 2].copy_from_slice(b"hi");
        let (m, body) = envelope::split(&envelope[..4 + meta.len() + 2]).unwrap();
        assert_eq!(m, meta);
        assert_eq!(body, b"hi");
    }

    #[test]
    fn truncated_envelope_is_rejected() {
        assert!(envelope::split(&[9, 0, 0, 0, b'{']).is_none());
        assert!(envelope::split(&[1, 0]).is_none());
    }

    #[test]
    fn import_module_carries_the_version() {
        assert!(IMPORT_MODULE.ends_with("-v1"));
        assert_eq!(ABI_VERSION, 1);
    }
}
