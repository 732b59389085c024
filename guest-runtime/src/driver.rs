//! The two entry points: `charm-compile` and `charm-run`
//! (`charm_host_abi::export`), and the return area they answer through.

use std::cell::RefCell;
use std::slice;

use charm_host_abi::error::ErrorKind;
use charm_host_abi::ret_area::RetArea;
use charm_host_abi::{envelope, Status};
use javy_plugin_api::javy::quickjs::module::WriteOptions;
use javy_plugin_api::javy::quickjs::{Ctx, Error as JsError, Module, Promise, Value};

use crate::errors::{describe, describe_parse_error, json_string, ErrorJson};
use crate::{ops, prelude};

thread_local! {
    static RET_AREA: RefCell<[u32; 3]> = const { RefCell::new([0; 3]) };
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Drives the job queue until `promise` settles.
fn settle<'js, T: javy_plugin_api::javy::quickjs::FromJs<'js>>(
    promise: Promise<'js>,
) -> Result<T, JsError> {
    promise.finish::<T>()
}

fn in_context<R>(f: impl FnOnce(Ctx<'_>) -> Result<R, ErrorJson>) -> Result<R, ErrorJson> {
    prelude::with_context(f).unwrap_or_else(|| {
        Err(ErrorJson::internal(
            "the runtime was not initialised (initialize-runtime has not run)",
        ))
    })
}

/// Stores a result in the return area and returns its address.
fn finish(result: Result<Vec<u8>, ErrorJson>) -> *const u32 {
    let (status, payload) = match result {
        Ok(bytes) => (Status::Ok, bytes),
        Err(ErrorJson(json)) => (Status::Error, json.into_bytes()),
    };
    PAYLOAD.with(|p| {
        let mut p = p.borrow_mut();
        *p = payload;
        RET_AREA.with(|r| {
            let mut r = r.borrow_mut();
            // wasm32 pointers and lengths are 32 bits wide.
            *r = RetArea {
                status: status as u32,
                ptr: p.as_ptr() as u32,
                len: p.len() as u32,
            }
            .to_words();
            r.as_ptr()
        })
    })
}

/// Reads a UTF-8 argument the host placed in memory.
///
/// # Safety
/// `ptr..ptr+len` must be memory the host allocated through `cabi_realloc`.
unsafe fn utf8_arg<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, ErrorJson> {
    std::str::from_utf8(unsafe { slice::from_raw_parts(ptr, len) })
        .map_err(|e| ErrorJson::internal(&format!("{what} is not valid UTF-8: {e}")))
}

/// Compiles a charm: see `charm_host_abi::export::COMPILE`.
///
/// # Safety
/// Both ranges must be memory the host allocated through `cabi_realloc`.
#[export_name = "charm-compile"]
pub unsafe extern "C" fn charm_compile(
    src_ptr: *const u8,
    src_len: usize,
    name_ptr: *const u8,
    name_len: usize,
) -> *const u32 {
    let inputs = unsafe {
        utf8_arg(src_ptr, src_len, "charm source")
            .and_then(|src| Ok((src, utf8_arg(name_ptr, name_len, "charm name")?)))
    };
    finish(inputs.and_then(|(src, name)| in_context(|ctx| compile_in(&ctx, src, name))))
}

fn compile_in(ctx: &Ctx<'_>, src: &str, name: &str) -> Result<Vec<u8>, ErrorJson> {
    let module = match Module::declare(ctx.clone(), name, src) {
        Ok(module) => module,
        Err(JsError::Exception) => return Err(describe_parse_error(ctx, ctx.catch(), src, name)),
        Err(e) => return Err(describe(ctx, e)),
    };
    let options = WriteOptions {
        strip_source: true,
        strip_debug: false,
        ..WriteOptions::default()
    };
    let bytecode = module.write(options).map_err(|e| describe(ctx, e))?;
    // Evaluate once, here, so that a module that throws at top level or lacks
    // `bgUpdater` is refused at registration rather than on every run.
    let (module, done) = module.eval().map_err(|e| describe(ctx, e))?;
    settle::<()>(done).map_err(|e| describe(ctx, e))?;
    let updater: Value = module.get("bgUpdater").map_err(|e| describe(ctx, e))?;
    if !updater.is_function() {
        return Err(ErrorJson::plain(
            ErrorKind::Contract,
            "CharmContractError",
            "the charm does not export a function named `bgUpdater`; \
             add `export async function bgUpdater(state, ctx) { ... }`",
        ));
    }
    let integration: Option<String> = match module.get::<_, Value>("integration") {
        Ok(v) => v.as_string().and_then(|s| s.to_string().ok()),
        Err(_) => None,
    };
    let meta = match integration {
        Some(label) => format!("{{\"integration\":{}}}", json_string(&label)),
        None => "{\"integration\":null}".to_string(),
    };
    let mut payload = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + bytecode.len());
    payload.extend_from_slice(&envelope::prefix(meta.len() as u32));
    payload.extend_from_slice(meta.as_bytes());
    payload.extend_from_slice(&bytecode);
    Ok(payload)
}

/// Runs a charm's `bgUpdater`: see `charm_host_abi::export::RUN`.
///
/// # Safety
/// Both ranges must be memory the host allocated through `cabi_realloc`. The
/// bytecode range must stay valid for the life of the instance (QuickJS reads
/// it in place); the host never frees it, and the instance is discarded after
/// one run.
#[export_name = "charm-run"]
pub unsafe extern "C" fn charm_run(
    bytecode_ptr: *const u8,
    bytecode_len: usize,
    input_ptr: *const u8,
    input_len: usize,
) -> *const u32 {
    let bytecode = unsafe { slice::from_raw_parts(bytecode_ptr, bytecode_len) };
    let input = unsafe { utf8_arg(input_ptr, input_len, "run input") };
    finish(input.and_then(|input| in_context(|ctx| run_in(&ctx, bytecode, input))))
}

fn run_in(ctx: &Ctx<'_>, bytecode: &[u8], input: &str) -> Result<Vec<u8>, ErrorJson> {
    // SAFETY: the bytecode was produced by `charm-compile` of this same
    // runtime build; the host keys its artifacts by the runtime's hash.
    let module = unsafe { Module::load(ctx.clone(), bytecode) }.map_err(|e| describe(ctx, e))?;
    let (module, done) = module.eval().map_err(|e| describe(ctx, e))?;
    settle::<()>(done).map_err(|e| describe(ctx, e))?;
    let updater: Value = module.get("bgUpdater").map_err(|e| describe(ctx, e))?;
    let run = prelude::with_driver(|d| d.run.clone())
        .ok_or_else(|| ErrorJson::internal("the charm driver is missing"))?
        .restore(ctx)
        .map_err(|e| describe(ctx, e))?;

    let outcome = {
        let _fetch_allowed = ops::fetch::allow_while_updating();
        let outcome = run
            .call::<_, Promise>((updater, input))
            .and_then(settle::<Option<String>>);
        // Let fire-and-forget continuations finish (their console output is
        // part of the run); fuel and the wall clock bound this like
        // everything else.
        while ctx.execute_pending_job() {}
        outcome
    };

    match outcome {
        Ok(Some(state)) => Ok(state.into_bytes()),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(describe(ctx, e)),
    }
}
