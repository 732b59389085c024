//! charm-runtime: the JavaScript engine inside every charm-host sandbox.
//!
//! This is a Javy plugin (QuickJS through `javy-plugin-api`) built for
//! `wasm32-wasip1`. The host pre-initialises it once with `wasmtime-wizer`
//! (running [`initialize_runtime`]), and then every task gets a fresh
//! instance of that snapshot in its own wasmtime `Store`.
//!
//! What it owns: the QuickJS runtime, the charm prelude (`prelude.js`: `fetch`,
//! `Headers`, `Response`, `console` and the `bgUpdater` driver), and the two
//! entry points [`charm_compile`] and [`charm_run`]. What it must not do:
//! reach anything outside the sandbox except through the `charm-host-v1`
//! imports, all of which are declared in [`host`].
//!
//! Javy's stock `invoke` export does not fit charm-host: it has no way to pass
//! arguments, it needs the plugin's event-loop flag to await promises, and it
//! aborts the instance on a JavaScript error. `charm-run` instead settles the
//! promise that `bgUpdater` returns, runs the job queue dry, and hands back a
//! structured result (new state, or an error with name, message and stack).
//! A promise that can never settle is reported as such, rather than treated
//! as success: the original service let async updaters "finish" early.

use std::cell::{Cell, OnceCell, RefCell};
use std::slice;

use charm_host_abi::{envelope, export, Status, IMPORT_MODULE};
use javy_plugin_api::javy::quickjs::module::WriteOptions;
use javy_plugin_api::javy::quickjs::prelude::Func;
use javy_plugin_api::javy::quickjs::{
    ArrayBuffer, Context, Ctx, Error as JsError, Exception, Function, Module, Object, Persistent,
    Promise, Value,
};
use javy_plugin_api::javy::Runtime;
use javy_plugin_api::{import_namespace, Config};

import_namespace!("charm-host-v1");

/// The host functions of `charm-host-v1` (see `charm_host_abi::import`).
mod host {
    #[link(wasm_import_module = "charm-host-v1")]
    extern "C" {
        #[link_name = "console"]
        pub fn console(level: i32, ptr: *const u8, len: usize);
        #[link_name = "fetch"]
        pub fn fetch(ptr: *const u8, len: usize) -> i32;
        #[link_name = "fetch-take"]
        pub fn fetch_take(ptr: *mut u8, len: usize) -> i32;
    }
}

const PRELUDE: &str = include_str!("prelude.js");

/// Collect cycles once this much has been allocated since the last
/// collection. Javy's default (never) would let cyclic garbage grow until the
/// host's memory limit ends the run.
const GC_THRESHOLD_BYTES: usize = 4 * 1024 * 1024;

thread_local! {
    static CONTEXT: OnceCell<Context> = const { OnceCell::new() };
    static DRIVER: OnceCell<Driver> = const { OnceCell::new() };
    /// True only while `bgUpdater` runs: `fetch` is refused at module top
    /// level, so that evaluating a module (at compile time, or when loading
    /// it for a task) never does I/O.
    static IN_UPDATER: Cell<bool> = const { Cell::new(false) };
    static RET_AREA: RefCell<[u32; 3]> = const { RefCell::new([0; 3]) };
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The two functions the prelude hands back.
struct Driver {
    run: Persistent<Function<'static>>,
    describe: Persistent<Function<'static>>,
}

// There is no JavaScript stack limit here: QuickJS disables its stack guard
// under WASI. Deep recursion is stopped by the host instead (wasmtime's native
// stack limit, or the trap at the bottom of the shadow stack; see build.rs).
fn config() -> Config {
    let mut config = Config::default();
    config
        .text_encoding(true)
        .javy_stream_io(false)
        .gc_threshold(GC_THRESHOLD_BYTES);
    config.event_loop(true);
    config
}

fn modify_runtime(runtime: Runtime) -> Runtime {
    let context = runtime.context().clone();
    let driver = context.with(|ctx| -> Result<Driver, JsError> {
        let host = Object::new(ctx.clone())?;
        host.set("log", Func::from(native_log))?;
        host.set("fetch", Func::from(native_fetch))?;
        let factory: Function = ctx.eval(PRELUDE)?;
        let api: Object = factory.call((host,))?;
        Ok(Driver {
            run: Persistent::save(&ctx, api.get::<_, Function>("run")?),
            describe: Persistent::save(&ctx, api.get::<_, Function>("describe")?),
        })
    });
    let driver = match driver {
        Ok(driver) => driver,
        // A broken prelude is a build defect: fail initialisation loudly so
        // the host never snapshots a runtime without its API.
        Err(e) => panic!("charm prelude failed to initialise: {e}"),
    };
    CONTEXT.with(|c| c.set(context).ok());
    DRIVER.with(|d| d.set(driver).ok());
    runtime
}

fn native_log(level: i32, text: String) {
    unsafe { host::console(level, text.as_ptr(), text.len()) }
}

fn native_fetch<'js>(ctx: Ctx<'js>, request: String) -> Result<Object<'js>, JsError> {
    if !IN_UPDATER.with(Cell::get) {
        return Err(Exception::throw_type(
            &ctx,
            "fetch is only available while bgUpdater runs, not at module top level",
        ));
    }
    let len = unsafe { host::fetch(request.as_ptr(), request.len()) };
    let len = usize::try_from(len)
        .map_err(|_| Exception::throw_internal(&ctx, "host returned a negative fetch length"))?;
    let mut reply = vec![0u8; len];
    let written = unsafe { host::fetch_take(reply.as_mut_ptr(), reply.len()) };
    if usize::try_from(written).ok() != Some(len) {
        return Err(Exception::throw_internal(&ctx, "host fetch reply was truncated"));
    }
    let (meta, body) = envelope::split(&reply)
        .ok_or_else(|| Exception::throw_internal(&ctx, "host fetch reply is malformed"))?;
    let result = Object::new(ctx.clone())?;
    result.set("meta", String::from_utf8_lossy(meta).into_owned())?;
    result.set("body", ArrayBuffer::new_copy(ctx.clone(), body)?)?;
    Ok(result)
}

/// Runs once under wizer; its effects become the snapshot.
#[export_name = "initialize-runtime"]
pub extern "C" fn initialize_runtime() {
    if let Err(e) = javy_plugin_api::initialize_runtime(config, modify_runtime) {
        panic!("javy runtime failed to initialise: {e}");
    }
}

/// An error payload: JSON `{"name", "message", "stack"}`.
struct ErrorJson(String);

impl ErrorJson {
    fn internal(message: &str) -> ErrorJson {
        ErrorJson(format!(
            "{{\"name\":\"InternalError\",\"message\":{},\"stack\":\"\"}}",
            json_string(message)
        ))
    }
}

/// Turns a QuickJS error into a description, using the prelude's `describe`
/// for thrown values so that the charm's own name, message and stack survive.
fn describe(ctx: &Ctx<'_>, error: JsError) -> ErrorJson {
    match error {
        JsError::Exception => describe_value(ctx, ctx.catch()),
        JsError::WouldBlock => ErrorJson::internal(
            "bgUpdater's promise never settled: it awaits something that nothing will resolve \
             (timers and other event sources are not available to charms)",
        ),
        other => ErrorJson::internal(&other.to_string()),
    }
}

fn describe_value<'js>(ctx: &Ctx<'js>, thrown: Value<'js>) -> ErrorJson {
    let described = DRIVER.with(|d| {
        let d = d.get()?;
        let describe = d.describe.clone().restore(ctx).ok()?;
        describe.call::<_, String>((thrown,)).ok()
    });
    match described {
        Some(json) => ErrorJson(json),
        None => ErrorJson::internal("the charm threw a value that could not be described"),
    }
}

/// The module name used for the parses that locate a syntax error.
const PROBE_MODULE: &str = "charm-host:probe";

/// `name`, `message` and the line of `file` in the stack of a thrown error.
fn error_parts<'js>(thrown: &Value<'js>, file: &str) -> Option<(String, String, String, u32)> {
    let obj = thrown.as_object()?;
    let name: String = obj.get("name").ok()?;
    let message: String = obj.get("message").ok()?;
    let stack: String = obj.get("stack").unwrap_or_default();
    let at = stack.find(&format!("{file}:"))? + file.len() + 1;
    let line = stack[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((name, message, stack, line))
}

/// Describes a failed parse. QuickJS gives the right line but a stale column
/// (quickjs-ng reports the parser's `col_num`, which its tokenizer does not
/// advance; fixed upstream after the version rquickjs 0.12 vendors). So the
/// column is found here: parsing is left to right, so within the reported
/// line the shortest prefix of the source that fails with the same message
/// ends at the offending token. A binary search over the line finds it in a
/// handful of parses, paid only when a charm does not compile.
fn describe_parse_error<'js>(ctx: &Ctx<'js>, thrown: Value<'js>, src: &str, file: &str) -> ErrorJson {
    let Some((name, message, stack, line)) = error_parts(&thrown, file) else {
        return describe_value(ctx, thrown);
    };
    if name != "SyntaxError" {
        return describe_value(ctx, thrown);
    }
    let fails_the_same = |end: usize| -> bool {
        match Module::declare(ctx.clone(), PROBE_MODULE, &src[..end]) {
            Ok(_) => false,
            Err(_) => {
                let probe = ctx.catch();
                matches!(error_parts(&probe, PROBE_MODULE), Some((_, m, _, l)) if m == message && l == line)
            }
        }
    };
    let column = (|| {
        let line_start = src.split_inclusive('\n').take(line as usize - 1).map(str::len).sum::<usize>();
        let text = src[line_start..].split('\n').next()?;
        // Candidate prefix ends: every char boundary of the line, and its end.
        let ends: Vec<usize> =
            text.char_indices().map(|(i, c)| line_start + i + c.len_utf8()).collect();
        if !fails_the_same(*ends.last()?) {
            return None;
        }
        let (mut lo, mut hi) = (0, ends.len() - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if fails_the_same(ends[mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // `ends[lo]` ends the offending token; step back over an identifier
        // or number to its first character.
        let chars: Vec<char> = text.chars().collect();
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        let mut start = lo;
        if is_word(chars[lo]) {
            while start > 0 && is_word(chars[start - 1]) {
                start -= 1;
            }
        }
        Some(start as u32 + 1)
    })();
    let column = match column {
        Some(c) => c.to_string(),
        None => "null".to_string(),
    };
    ErrorJson(format!(
        "{{\"name\":\"SyntaxError\",\"message\":{},\"stack\":{},\"line\":{line},\"column\":{column}}}",
        json_string(&message),
        json_string(&stack)
    ))
}

/// Drives the job queue until `promise` settles.
fn settle<'js, T: javy_plugin_api::javy::quickjs::FromJs<'js>>(
    promise: Promise<'js>,
) -> Result<T, JsError> {
    promise.finish::<T>()
}

fn with_context<R>(f: impl FnOnce(Ctx<'_>) -> Result<R, ErrorJson>) -> Result<R, ErrorJson> {
    CONTEXT.with(|c| match c.get() {
        Some(context) => context.with(f),
        None => Err(ErrorJson::internal(
            "the runtime was not initialised (initialize-runtime has not run)",
        )),
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
            *r = [status as u32, p.as_ptr() as u32, p.len() as u32];
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
    finish(inputs.and_then(|(src, name)| with_context(|ctx| compile_in(&ctx, src, name))))
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
        return Err(ErrorJson(format!(
            "{{\"name\":\"CharmContractError\",\"message\":{},\"stack\":\"\"}}",
            json_string(
                "the charm does not export a function named `bgUpdater`; \
                 add `export async function bgUpdater(state, ctx) { ... }`"
            )
        )));
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
    finish(input.and_then(|input| with_context(|ctx| run_in(&ctx, bytecode, input))))
}

fn run_in(ctx: &Ctx<'_>, bytecode: &[u8], input: &str) -> Result<Vec<u8>, ErrorJson> {
    // SAFETY: the bytecode was produced by `charm-compile` of this same
    // runtime build; the host keys its artifacts by the runtime's hash.
    let module = unsafe { Module::load(ctx.clone(), bytecode) }.map_err(|e| describe(ctx, e))?;
    let (module, done) = module.eval().map_err(|e| describe(ctx, e))?;
    settle::<()>(done).map_err(|e| describe(ctx, e))?;
    let updater: Value = module.get("bgUpdater").map_err(|e| describe(ctx, e))?;
    let run = DRIVER.with(|d| d.get().map(|d| d.run.clone()));
    let run = run
        .ok_or_else(|| ErrorJson::internal("the charm driver is missing"))?
        .restore(ctx)
        .map_err(|e| describe(ctx, e))?;

    IN_UPDATER.with(|f| f.set(true));
    let outcome = run
        .call::<_, Promise>((updater, input))
        .and_then(settle::<Option<String>>);
    // Let fire-and-forget continuations finish (their console output is part
    // of the run); fuel and the wall clock bound this like everything else.
    while ctx.execute_pending_job() {}
    IN_UPDATER.with(|f| f.set(false));

    match outcome {
        Ok(Some(state)) => Ok(state.into_bytes()),
        Ok(None) => Ok(Vec::new()),
        Err(e) => Err(describe(ctx, e)),
    }
}

/// Quotes `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// The export names and the import namespace above are string literals
// (attributes and macros cannot take constants); this fails the build if they
// ever drift from the ABI's.
const _: () = {
    const fn eq(a: &str, b: &str) -> bool {
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
    assert!(eq(export::INITIALIZE, "initialize-runtime"));
    assert!(eq(export::COMPILE, "charm-compile"));
    assert!(eq(export::RUN, "charm-run"));
    assert!(eq(IMPORT_MODULE, "charm-host-v1"));
};
