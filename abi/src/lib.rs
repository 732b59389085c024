//! The guest/host boundary of charm-host, version 2.
//!
//! Every name, signature and payload format that crosses the boundary between
//! the `charm-runtime` guest (a Javy plugin running QuickJS inside
//! WebAssembly) and the `charm-host` process is defined here, once, and both
//! sides depend on this crate. The boundary is deliberately small:
//!
//! * the guest **imports** the host functions listed in [`import::ALL`] from
//!   the module [`IMPORT_MODULE`], plus WASI preview 1;
//! * the guest **exports** the functions listed in [`export::ALL`]: an
//!   initialiser run once before the snapshot is taken, `charm-compile`,
//!   `charm-run`, and the allocator through which the host places inputs in
//!   guest memory;
//! * results come back through a fixed [`ret_area`] of three little-endian
//!   `u32`s (status, pointer, length), the convention of Javy's own
//!   `compile-src`; payloads with metadata use the [`envelope`] format;
//! * a failure is a JSON payload whose fields and kinds are in [`error`]: the
//!   host classifies failures by their [`error::ErrorKind`] code, never by
//!   their message text.
//!
//! # Compatibility
//!
//! Any change to a name, a signature or a payload format is a breaking
//! change: bump [`ABI_VERSION`] and the version suffix of [`IMPORT_MODULE`],
//! rebuild the runtime (`make guest`), and keep the host able to say which
//! version it found. The guest writes [`IMPORT_MODULE`] into its
//! [`IMPORT_NAMESPACE_SECTION`] custom section (the Javy convention), and the
//! host refuses a runtime whose section says anything else.
//!
//! | version | change |
//! |---|---|
//! | 1 | `console`, `fetch`, `fetch-take`; errors as `{name, message, stack}` |
//! | 2 | errors carry a `kind` (and a `limit` for limit errors); fetch failures say their kind; asynchronous operations (`fetch-start`, `op-wait`, `op-take`, `op-cancel`) replace the blocking `fetch`/`fetch-take`; request bodies are bytes |
//! | 2, later | additions a version 2 host and runtime still work without: the `schedule-next` import; the optional `charm-compile-modules` export and [`modules`] sets in `charm-run` (charms of several files) |
#![no_std]
#![warn(missing_docs)]

pub mod envelope;
pub mod error;
pub mod modules;
pub mod ret_area;

/// The version of this boundary; the suffix of [`IMPORT_MODULE`].
pub const ABI_VERSION: u32 = 2;

/// The wasm import module under which the host provides its capabilities.
pub const IMPORT_MODULE: &str = "charm-host-v2";

/// The name of the custom section in which the guest records the import
/// module it was built for (Javy's `import_namespace!`).
pub const IMPORT_NAMESPACE_SECTION: &str = "import_namespace";

/// What a charm sees as `navigator.userAgent` and what its fetches send as
/// `User-Agent`: the product and the host's version (the engine checks at
/// build time that this is its own `CARGO_PKG_VERSION`).
pub const USER_AGENT: &str = "charm-host/0.1.0";

/// Whether two strings are equal, usable in constants: the guest and the
/// host check at build time that literals they must repeat (link names,
/// serde field names) are the ABI's.
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The WebAssembly value types the boundary uses (wasm32: pointers and
/// lengths are `i32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    /// A 32-bit integer, pointer or length.
    I32,
    /// A 64-bit integer.
    I64,
}

/// A function that crosses the boundary: its name and signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// The import or export name.
    pub name: &'static str,
    /// Parameter types, in order.
    pub params: &'static [ValType],
    /// Result types, in order.
    pub results: &'static [ValType],
}

use ValType::{I32, I64};

/// The host functions the guest imports from [`IMPORT_MODULE`]. Each host
/// capability owns some of them; [`ALL`](import::ALL) is the whole table,
/// which the host validates a runtime against.
///
/// Asynchronous work is an *operation*: a capability's start import returns
/// a handle (a positive `i32`), the operation runs on the host while the
/// guest goes on, and the guest's event loop collects completions with
/// [`OP_WAIT`](import::OP_WAIT) and [`OP_TAKE`](import::OP_TAKE). While the
/// guest waits, no fuel burns and no host thread is held; the run's
/// wall-clock deadline still ends the run.
pub mod import {
    use super::{Function, I32, I64};

    /// `console(level, ptr, len)`: one console line, UTF-8. `level` is a
    /// [`crate::LogLevel`]. The host may end the run (trap) when the run's
    /// log volume limit is exceeded.
    pub const CONSOLE: Function = Function {
        name: "console",
        params: &[I32, I32, I32],
        results: &[],
    };

    /// `fetch-start(ptr, len) -> handle`: start the HTTP request whose
    /// [`crate::envelope`] (request metadata and body bytes) is at
    /// `ptr..ptr+len`. The operation completes with a response envelope, or
    /// with an error envelope for a request that was refused or failed
    /// (including one over the run's concurrent-fetch limit). The host traps
    /// only when the run's fetch count limit is exceeded.
    pub const FETCH_START: Function = Function {
        name: "fetch-start",
        params: &[I32, I32],
        results: &[I32],
    };

    /// `op-wait(timeout_ms) -> completion`: wait until an operation
    /// completes, or `timeout_ms` milliseconds pass (a negative timeout waits
    /// for an operation only). Returns 0 when the timeout passed first;
    /// otherwise the completed operation's handle in the low 32 bits and the
    /// length of its result in the high 32 bits (see [`crate::completion`]).
    /// Completions that are ready are returned before any waiting.
    pub const OP_WAIT: Function = Function {
        name: "op-wait",
        params: &[I64],
        results: &[I64],
    };

    /// `op-take(handle, ptr, len) -> written`: copy a completed operation's
    /// result into `ptr..ptr+len` (`len` must be the length `op-wait` gave)
    /// and forget the operation.
    pub const OP_TAKE: Function = Function {
        name: "op-take",
        params: &[I32, I32, I32],
        results: &[I32],
    };

    /// `op-cancel(handle)`: abandon an operation that has not been taken;
    /// the host drops its work at once (a fetch's connection is closed). A
    /// handle that is unknown or already taken is ignored.
    pub const OP_CANCEL: Function = Function {
        name: "op-cancel",
        params: &[I32],
        results: &[],
    };

    /// `schedule-next(ms)`: the charm asks for its next scheduled run `ms`
    /// milliseconds after this run ends (`ctx.scheduleNext(ms)`); the last
    /// call of a run counts, and the host bounds it by its operator's
    /// minimum and maximum. Added in version 2 without a bump: a runtime
    /// that does not import it still links.
    pub const SCHEDULE_NEXT: Function = Function {
        name: "schedule-next",
        params: &[I64],
        results: &[],
    };

    /// Every import of this version.
    pub const ALL: &[Function] = &[
        CONSOLE,
        FETCH_START,
        OP_WAIT,
        OP_TAKE,
        OP_CANCEL,
        SCHEDULE_NEXT,
    ];
}

/// The result of [`import::OP_WAIT`], packed into one `i64`.
pub mod completion {
    /// Packs a completed operation: handle in the low 32 bits, result
    /// length in the high 32 bits.
    pub const fn pack(handle: u32, len: u32) -> i64 {
        (((len as u64) << 32) | handle as u64) as i64
    }

    /// Unpacks [`pack`]: `None` for 0 (the timeout passed first).
    pub const fn unpack(packed: i64) -> Option<(u32, u32)> {
        if packed == 0 {
            return None;
        }
        let bits = packed as u64;
        Some(((bits & 0xffff_ffff) as u32, (bits >> 32) as u32))
    }
}

/// The functions the guest exports.
pub mod export {
    use super::{Function, I32};

    /// `initialize-runtime()`: builds the QuickJS runtime and evaluates the
    /// charm prelude. The host runs it once under `wasmtime-wizer` and keeps
    /// the resulting memory as the pre-initialised snapshot; the snapshot no
    /// longer exports it.
    pub const INITIALIZE: Function = Function {
        name: "initialize-runtime",
        params: &[],
        results: &[],
    };

    /// `cabi_realloc(old_ptr, old_len, align, new_len) -> ptr`: the guest's
    /// allocator, used by the host to place inputs in guest memory.
    pub const REALLOC: Function = Function {
        name: "cabi_realloc",
        params: &[I32, I32, I32, I32],
        results: &[I32],
    };

    /// `charm-compile(src_ptr, src_len, name_ptr, name_len) -> ret_area_ptr`:
    /// compile a charm's source (an ES module) to QuickJS bytecode, then
    /// evaluate it once to check that it exports a `bgUpdater` function.
    /// On success the payload is an [`crate::envelope`] of
    /// `{"integration": string | null}` and the bytecode; on failure it is
    /// an [`crate::error`] payload.
    pub const COMPILE: Function = Function {
        name: "charm-compile",
        params: &[I32, I32, I32, I32],
        results: &[I32],
    };

    /// `charm-compile-modules(set_ptr, set_len, entry_ptr, entry_len) -> ret_area_ptr`:
    /// compile a charm of several files, a [`crate::modules`] set of
    /// JavaScript sources (each module after those it imports, the entry
    /// last; its name, UTF-8, is the second argument and must be the last
    /// module's), as
    /// [`COMPILE`] compiles one: each module under its own name, so that
    /// errors and stacks name the file. On success the payload is an
    /// [`crate::envelope`] of `{"integration": string | null}` and a
    /// [`crate::modules`] set of the same names with their bytecode.
    ///
    /// Added in version 2 without a bump and not in [`ALL`]: a runtime
    /// without it still runs every charm of one file, and the host says
    /// that it cannot compile several.
    pub const COMPILE_MODULES: Function = Function {
        name: "charm-compile-modules",
        params: &[I32, I32, I32, I32],
        results: &[I32],
    };

    /// `charm-run(bytecode_ptr, bytecode_len, input_ptr, input_len) -> ret_area_ptr`:
    /// load the bytecode (one module's, or a [`crate::modules`] set from
    /// [`COMPILE_MODULES`]), evaluate the module, call
    /// `bgUpdater(input.state, input.ctx)` and settle its promise. On success
    /// the payload is the new state as JSON text, or empty when `bgUpdater`
    /// returned `undefined` (keep the old state).
    pub const RUN: Function = Function {
        name: "charm-run",
        params: &[I32, I32, I32, I32],
        results: &[I32],
    };

    /// The exports a pre-initialised snapshot must have (the initialiser is
    /// gone by then).
    pub const ALL: &[Function] = &[REALLOC, COMPILE, RUN];

    /// The `__stack_pointer` global (mutable `i32`). After an out-of-bounds
    /// trap, a value above [`crate::SHADOW_STACK_BYTES`] means the shadow
    /// stack overflowed (wrapped below zero).
    pub const STACK_POINTER: &str = "__stack_pointer";

    /// The guest's linear memory.
    pub const MEMORY: &str = "memory";
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
    /// The payload is an [`error`] payload.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_import_module_carries_the_version() {
        let mut digits = [0u8; 10];
        let mut n = ABI_VERSION;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let suffix = &digits[i..];
        let module = IMPORT_MODULE.as_bytes();
        assert!(module.ends_with(suffix));
        assert_eq!(
            module[module.len() - suffix.len() - 2..module.len() - suffix.len()],
            *b"-v"
        );
    }

    #[test]
    fn completions_round_trip() {
        assert_eq!(completion::unpack(0), None);
        for (handle, len) in [(1, 0), (7, 12_345), (u32::MAX >> 1, u32::MAX)] {
            let packed = completion::pack(handle, len);
            assert_ne!(packed, 0);
            assert_eq!(completion::unpack(packed), Some((handle, len)));
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in import::ALL.iter().enumerate() {
            for b in &import::ALL[i + 1..] {
                assert_ne!(a.name, b.name);
            }
        }
    }
}
