//! The entry points: `charm-compile`, `charm-compile-modules` and `charm-run`
//! (`charm_host_abi::export`), and the return area they answer through.

use std::cell::RefCell;
use std::slice;

use charm_host_abi::error::ErrorKind;
use charm_host_abi::ret_area::RetArea;
use charm_host_abi::{envelope, modules, Status};
use javy_plugin_api::javy::quickjs::module::WriteOptions;
use javy_plugin_api::javy::quickjs::promise::PromiseState;
use javy_plugin_api::javy::quickjs::{ArrayBuffer, Ctx, Error as JsError, Module, Object, Promise, Value};

use crate::errors::{describe, describe_parse_error, describe_value, json_string, ErrorJson};
use crate::ops::event_loop::{self, Woken};
use crate::{ops, prelude};

thread_local! {
    static RET_AREA: RefCell<[u32; 3]> = const { RefCell::new([0; 3]) };
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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
    let module = declare(ctx, name, src)?;
    let bytecode = module.write(write_options()).map_err(|e| describe(ctx, e))?;
    let meta = check_charm(ctx, module)?;
    Ok(with_meta(&meta, &[&bytecode]))
}

/// Compiles a charm of several files: see
/// `charm_host_abi::export::COMPILE_MODULES`.
///
/// # Safety
/// Both ranges must be memory the host allocated through `cabi_realloc`.
#[export_name = "charm-compile-modules"]
pub unsafe extern "C" fn charm_compile_modules(
    set_ptr: *const u8,
    set_len: usize,
    entry_ptr: *const u8,
    entry_len: usize,
) -> *const u32 {
    let set = unsafe { slice::from_raw_parts(set_ptr, set_len) };
    let entry = unsafe { utf8_arg(entry_ptr, entry_len, "entry name") };
    finish(entry.and_then(|entry| in_context(|ctx| compile_set_in(&ctx, set, entry))))
}

/// Each module is declared under its own name, in the host's order (every
/// module after those it imports: declaring resolves a module's imports
/// against the modules already declared, by name), and written as bytecode
/// of its own, so that positions name the file. The entry, last, is then
/// evaluated and checked as a charm of one file is.
fn compile_set_in(ctx: &Ctx<'_>, set: &[u8], entry_name: &str) -> Result<Vec<u8>, ErrorJson> {
    let mut written: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut entry = None;
    for module in modules::iter(set) {
        let (name, src) = module.map_err(|_| malformed_set())?;
        let (name, src) = (utf8(name, "a module name")?, utf8(src, "a module source")?);
        let module = declare(ctx, name, src)?;
        written.push((name, module.write(write_options()).map_err(|e| describe(ctx, e))?));
        entry = Some((name, module));
    }
    let entry = match entry {
        Some((name, module)) if name == entry_name => module,
        _ => return Err(malformed_set()),
    };
    let meta = check_charm(ctx, entry)?;
    let count = u32::try_from(written.len()).map_err(|_| malformed_set())?;
    let mut parts: Vec<Vec<u8>> = vec![modules::header(count).to_vec()];
    for (name, bytecode) in written {
        parts.push(len_prefixed(name.as_bytes())?);
        parts.push(len_prefixed(&bytecode)?);
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Ok(with_meta(&meta, &parts))
}

fn malformed_set() -> ErrorJson {
    ErrorJson::internal("the host sent a malformed module set")
}

fn utf8<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, ErrorJson> {
    std::str::from_utf8(bytes).map_err(|e| ErrorJson::internal(&format!("{what} is not valid UTF-8: {e}")))
}

fn len_prefixed(bytes: &[u8]) -> Result<Vec<u8>, ErrorJson> {
    let len = u32::try_from(bytes.len()).map_err(|_| ErrorJson::internal("a module is over 4 GiB"))?;
    let mut out = Vec::with_capacity(4 + bytes.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
    Ok(out)
}

/// Parses `src` as the module `name`; a syntax error is described with
/// its exact line and column.
fn declare<'js>(ctx: &Ctx<'js>, name: &str, src: &str) -> Result<Module<'js>, ErrorJson> {
    match Module::declare(ctx.clone(), name, src) {
        Ok(module) => Ok(module),
        Err(JsError::Exception) => Err(describe_parse_error(ctx, ctx.catch(), src, name)),
        Err(e) => Err(describe(ctx, e)),
    }
}

fn write_options() -> WriteOptions {
    WriteOptions {
        strip_source: true,
        strip_debug: false,
        ..WriteOptions::default()
    }
}

/// Evaluates the entry once, here, so that a module that throws at top
/// level or lacks `bgUpdater` is refused at registration rather than on
/// every run. Returns the metadata: `{"integration": ...}`.
fn check_charm<'js>(ctx: &Ctx<'js>, module: Module<'js>) -> Result<String, ErrorJson> {
    event_loop::start_clock();
    let (module, done) = module.eval().map_err(|e| describe(ctx, e))?;
    evaluate(ctx, &done)?;
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
    Ok(match integration {
        Some(label) => format!("{{\"integration\":{}}}", json_string(&label)),
        None => "{\"integration\":null}".to_string(),
    })
}

/// An envelope of `meta` and the concatenation of `parts`.
fn with_meta(meta: &str, parts: &[&[u8]]) -> Vec<u8> {
    let body: usize = parts.iter().map(|p| p.len()).sum();
    let mut payload = Vec::with_capacity(envelope::PREFIX_LEN + meta.len() + body);
    payload.extend_from_slice(&envelope::prefix(meta.len() as u32));
    payload.extend_from_slice(meta.as_bytes());
    for part in parts {
        payload.extend_from_slice(part);
    }
    payload
}

/// Seeds `Math.random()` (Javy's `fastrand::f64`) from the task's secure
/// generator (WASI `random_get`). Left alone, fastrand seeds itself from a
/// hash of the first monotonic clock reading, a few hundred microseconds
/// into the task: one of about a million sequences. A recorded run's seed
/// reproduces this one, so a replay gives the same values.
fn seed_math_random() {
    let mut seed = [0u8; 8];
    if getrandom::fill(&mut seed).is_ok() {
        fastrand::seed(u64::from_le_bytes(seed));
    }
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
    event_loop::start_clock();
    seed_math_random();
    // Nothing from before this task counts against it.
    prelude::clear_rejections();
    drop(prelude::take_uncaught(ctx));
    let updater: Value = if modules::is_set(bytecode) {
        load_set(ctx, bytecode)?
    } else {
        // SAFETY: the bytecode was produced by `charm-compile` of this same
        // runtime build; the host keys its artifacts by the runtime's hash.
        let module = unsafe { Module::load(ctx.clone(), bytecode) }.map_err(|e| describe(ctx, e))?;
        let (module, done) = module.eval().map_err(|e| describe(ctx, e))?;
        evaluate(ctx, &done)?;
        module.get("bgUpdater").map_err(|e| describe(ctx, e))?
    };
    let run = prelude::with_driver(|d| d.run.clone())
        .ok_or_else(|| ErrorJson::internal("the charm driver is missing"))?
        .restore(ctx)
        .map_err(|e| describe(ctx, e))?;

    let _fetch_allowed = ops::fetch::allow_while_updating();
    let returned: Value = run.call((updater, input)).map_err(|e| describe(ctx, e))?;
    let state: Option<String> = match returned.clone().into_promise() {
        Some(main) => {
            run_until_settled(ctx, &main)?;
            settled(ctx, &main)?
        }
        None => {
            let state = returned_state(ctx, returned)?;
            // Fire-and-forget continuations still run (their console output
            // is part of the run); what they let escape fails it.
            loop {
                drain_jobs(ctx)?;
                if !report_escaped(ctx)? {
                    break;
                }
            }
            state
        }
    };
    Ok(state.map(String::into_bytes).unwrap_or_default())
}

/// Loads every module of a set (`charm-compile-modules`'s bytecode), then
/// evaluates the entry, the last, and returns its `bgUpdater`. Loaded
/// bytecode is not linked: importing the entry by its name resolves its
/// imports against the loaded modules (QuickJS normalises `./x.js`
/// against the importer's name), links and evaluates them all.
fn load_set<'js>(ctx: &Ctx<'js>, set: &[u8]) -> Result<Value<'js>, ErrorJson> {
    let mut entry = None;
    for module in modules::iter(set) {
        let (name, bytecode) = module.map_err(|_| malformed_set())?;
        // SAFETY: as for one module: `charm-compile-modules` of this build.
        unsafe { Module::load(ctx.clone(), bytecode) }.map_err(|e| describe(ctx, e))?;
        entry = Some(name);
    }
    let entry = entry.ok_or_else(malformed_set)?;
    let done = Module::import(ctx, entry.to_vec()).map_err(|e| describe(ctx, e))?;
    run_until_settled(ctx, &done)?;
    let namespace: Object = settled(ctx, &done)?;
    namespace.get("bgUpdater").map_err(|e| describe(ctx, e))
}

/// A synchronous bgUpdater's result: JSON text, or nothing (keep the state).
fn returned_state<'js>(ctx: &Ctx<'js>, returned: Value<'js>) -> Result<Option<String>, ErrorJson> {
    if returned.is_undefined() {
        return Ok(None);
    }
    match returned.into_string() {
        Some(text) => text.to_string().map(Some).map_err(|e| describe(ctx, e)),
        None => Err(ErrorJson::internal("the driver returned neither text nor a promise")),
    }
}

/// Runs a module's evaluation (its promise, `done`) to the end.
fn evaluate<'js>(ctx: &Ctx<'js>, done: &Promise<'js>) -> Result<(), ErrorJson> {
    run_until_settled(ctx, done)?;
    settled::<()>(ctx, done)
}

/// The value of a settled promise, or the description of its rejection.
fn settled<'js, T: javy_plugin_api::javy::quickjs::FromJs<'js>>(
    ctx: &Ctx<'js>,
    promise: &Promise<'js>,
) -> Result<T, ErrorJson> {
    match promise.result::<T>() {
        Some(result) => result.map_err(|e| describe(ctx, e)),
        None => Err(describe(ctx, JsError::WouldBlock)),
    }
}

/// Calls a driver function.
fn call_driver<'js, A, R>(
    ctx: &Ctx<'js>,
    pick: impl FnOnce(&prelude::Driver) -> javy_plugin_api::javy::quickjs::Persistent<javy_plugin_api::javy::quickjs::Function<'static>>,
    args: A,
) -> Result<R, JsError>
where
    A: javy_plugin_api::javy::quickjs::function::IntoArgs<'js>,
    R: javy_plugin_api::javy::quickjs::FromJs<'js>,
{
    let function = prelude::with_driver(pick)
        .ok_or(JsError::Unknown)?
        .restore(ctx)?;
    function.call(args)
}

/// Runs the event loop until `promise` settles. The promise's own
/// rejection is the caller's to report, never an unhandled rejection.
///
/// Each turn: run the microtask queue dry (a job that throws fails the run,
/// as an uncaught exception does), fail on an exception a callback let
/// escape or a rejection no handler took; stop when `promise` has settled;
/// otherwise wait on the host for the next operation to complete or the
/// next timer to come due, and run that one task. A promise that is pending
/// with nothing outstanding can never settle, and fails the run.
fn run_until_settled<'js>(ctx: &Ctx<'js>, promise: &Promise<'js>) -> Result<(), ErrorJson> {
    loop {
        drain_jobs(ctx)?;
        if promise.state() == PromiseState::Rejected {
            prelude::forget_rejection(ctx, promise.as_value());
        }
        if report_escaped(ctx)? {
            // Rejection listeners ran: their microtasks come first.
            continue;
        }
        if promise.state() != PromiseState::Pending {
            return Ok(());
        }
        let status: Vec<f64> =
            call_driver(ctx, |d| d.status.clone(), ()).map_err(|e| describe(ctx, e))?;
        let [next_due, pending_ops] = status[..] else {
            return Err(ErrorJson::internal("the driver's status is malformed"));
        };
        if pending_ops == 0.0 && next_due < 0.0 {
            return Err(describe(ctx, JsError::WouldBlock));
        }
        let timeout_ms = (next_due >= 0.0).then(|| {
            let wait = (next_due - event_loop::now()).ceil();
            if wait > 0.0 { wait as u64 } else { 0 }
        });
        match event_loop::wait(timeout_ms).map_err(ErrorJson::internal)? {
            Woken::Timeout => {
                call_driver::<_, bool>(ctx, |d| d.fire_timer.clone(), (event_loop::now(),))
                    .map_err(|e| describe(ctx, e))?;
            }
            Woken::Completed { handle, result } => {
                let (meta, body) = envelope::split(&result)
                    .ok_or_else(|| ErrorJson::internal("the host's operation result is malformed"))?;
                let meta = String::from_utf8_lossy(meta).into_owned();
                let body = ArrayBuffer::new(ctx.clone(), body.to_vec()).map_err(|e| describe(ctx, e))?;
                call_driver::<_, ()>(ctx, |d| d.complete.clone(), (handle, meta, body))
                    .map_err(|e| describe(ctx, e))?;
            }
        }
    }
}

/// A microtask checkpoint: runs every queued job; a job that throws fails
/// the run.
fn drain_jobs(ctx: &Ctx<'_>) -> Result<(), ErrorJson> {
    while ctx.execute_pending_job() {
        if ctx.has_exception() {
            return Err(describe_value(ctx, ctx.catch()));
        }
    }
    Ok(())
}

/// After a checkpoint: fails the run on an exception that escaped a
/// callback, or on a rejection that no handler took by now and whose
/// `unhandledrejection` event no listener cancelled; fires
/// `rejectionhandled` for cancelled ones that got a handler since. Returns
/// whether any listener may have run (the caller drains microtasks again).
fn report_escaped(ctx: &Ctx<'_>) -> Result<bool, ErrorJson> {
    let mut ran = false;
    if let Some(escaped) = prelude::take_uncaught(ctx) {
        return Err(describe_value(ctx, escaped));
    }
    while let Some((promise, reason)) = prelude::next_unhandled(ctx) {
        let outcome = call_driver::<_, String>(
            ctx,
            |d| d.unhandled.clone(),
            (promise.clone(), reason.clone()),
        );
        match outcome {
            Ok(payload) if payload.is_empty() => {
                prelude::notified(ctx, promise, reason);
                ran = true;
            }
            Ok(payload) => return Err(ErrorJson(payload)),
            Err(e) => return Err(describe(ctx, e)),
        }
        if let Some(escaped) = prelude::take_uncaught(ctx) {
            return Err(describe_value(ctx, escaped));
        }
    }
    for (promise, reason) in prelude::take_handled_late(ctx) {
        call_driver::<_, ()>(ctx, |d| d.handled.clone(), (promise, reason))
            .map_err(|e| describe(ctx, e))?;
        ran = true;
    }
    if let Some(escaped) = prelude::take_uncaught(ctx) {
        return Err(describe_value(ctx, escaped));
    }
    Ok(ran)
}
