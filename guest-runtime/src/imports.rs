//! The host functions of `charm-host-v2` (`charm_host_abi::import`).
//!
//! Link names must be literals, so this file checks them, and their
//! arities, against the ABI's table when the runtime is built.

use charm_host_abi::{import, same_str as same, Function, IMPORT_MODULE};

#[link(wasm_import_module = "charm-host-v2")]
extern "C" {
    #[link_name = "console"]
    pub fn console(level: i32, ptr: *const u8, len: usize);
    #[link_name = "fetch-start"]
    pub fn fetch_start(ptr: *const u8, len: usize) -> i32;
    #[link_name = "op-wait"]
    pub fn op_wait(timeout_ms: i64) -> i64;
    #[link_name = "op-take"]
    pub fn op_take(handle: i32, ptr: *mut u8, len: usize) -> i32;
    #[link_name = "op-cancel"]
    pub fn op_cancel(handle: i32);
    #[link_name = "schedule-next"]
    pub fn schedule_next(ms: i64);
}

/// `f` is named `name` and takes `params` values and returns `results`.
const fn declared(f: Function, name: &str, params: usize, results: usize) -> bool {
    same(f.name, name) && f.params.len() == params && f.results.len() == results
}

// Every import the table lists is declared above, with its name and arity,
// and the namespace is the ABI's (the attributes cannot take constants).
const _: () = {
    assert!(same(IMPORT_MODULE, "charm-host-v2"));
    assert!(declared(import::CONSOLE, "console", 3, 0));
    assert!(declared(import::FETCH_START, "fetch-start", 2, 1));
    assert!(declared(import::OP_WAIT, "op-wait", 1, 1));
    assert!(declared(import::OP_TAKE, "op-take", 3, 1));
    assert!(declared(import::OP_CANCEL, "op-cancel", 1, 0));
    assert!(declared(import::SCHEDULE_NEXT, "schedule-next", 1, 0));
    assert!(import::ALL.len() == 6);
};

// The exports are attributes too.
const _: () = {
    use charm_host_abi::export;
    assert!(same(export::INITIALIZE.name, "initialize-runtime"));
    assert!(same(export::COMPILE.name, "charm-compile"));
    assert!(same(export::RUN.name, "charm-run"));
};
