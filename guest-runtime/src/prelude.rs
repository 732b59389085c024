//! The prelude: the JavaScript API charms see, one file per family under
//! `js/`, evaluated in the order of their numbers while the runtime is
//! pre-initialised, so it lives in the snapshot and costs nothing per task.
//!
//! Also set up here, once: the promise rejection tracker (unhandled
//! rejections fail a run) and QuickJS's stack guard (deep recursion is a
//! catchable `RangeError`).

use std::cell::{OnceCell, RefCell};
use std::ffi::CString;

use charm_host_abi::SHADOW_STACK_BYTES;
use javy_plugin_api::javy::quickjs::prelude::Func;
use javy_plugin_api::javy::quickjs::{
    qjs, Context, Ctx, Error as JsError, Function, Object, Persistent, Value,
};
use javy_plugin_api::javy::Runtime;

use crate::ops;

/// The prelude's files, in load order. Each is `(function (internals) {...})`.
const FILES: &[(&str, &str)] = &[
    ("00_internals.js", include_str!("../js/00_internals.js")),
    ("10_inspect.js", include_str!("../js/10_inspect.js")),
    ("11_console.js", include_str!("../js/11_console.js")),
    ("12_globals.js", include_str!("../js/12_globals.js")),
    ("20_events.js", include_str!("../js/20_events.js")),
    ("21_event_types.js", include_str!("../js/21_event_types.js")),
    ("25_abort.js", include_str!("../js/25_abort.js")),
    ("27_performance.js", include_str!("../js/27_performance.js")),
    ("30_timers.js", include_str!("../js/30_timers.js")),
    ("32_encoding.js", include_str!("../js/32_encoding.js")),
    ("34_clone.js", include_str!("../js/34_clone.js")),
    ("36_url.js", include_str!("../js/36_url.js")),
    ("38_urlpattern.js", include_str!("../js/38_urlpattern.js")),
    ("40_headers.js", include_str!("../js/40_headers.js")),
    ("42_readable_streams.js", include_str!("../js/42_readable_streams.js")),
    ("43_writable_streams.js", include_str!("../js/43_writable_streams.js")),
    ("44_transform_streams.js", include_str!("../js/44_transform_streams.js")),
    ("46_compression.js", include_str!("../js/46_compression.js")),
    ("47_text_streams.js", include_str!("../js/47_text_streams.js")),
    ("48_body_streams.js", include_str!("../js/48_body_streams.js")),
    ("50_blob.js", include_str!("../js/50_blob.js")),
    ("52_formdata.js", include_str!("../js/52_formdata.js")),
    ("56_crypto.js", include_str!("../js/56_crypto.js")),
    ("57_crypto_algorithms.js", include_str!("../js/57_crypto_algorithms.js")),
    ("60_fetch.js", include_str!("../js/60_fetch.js")),
    ("70_intl.js", include_str!("../js/70_intl.js")),
    ("80_json.js", include_str!("../js/80_json.js")),
    ("90_driver.js", include_str!("../js/90_driver.js")),
];

/// The file name prelude frames carry in stacks (`charm-host:prelude/NN_x.js`),
/// which the driver filters out of the stacks charms' authors see.
const FILE_PREFIX: &str = "charm-host:prelude/";

/// How much of the 4 MiB shadow stack JavaScript may use before QuickJS
/// throws "Maximum call stack size exceeded": about 7,000 plain frames.
/// Recursion runs on wasmtime's 8 MiB native stack too, at about twice
/// the shadow stack's bytes per JavaScript frame, so with this budget the
/// RangeError comes before the native stack is gone.
const STACK_BUDGET_BYTES: u32 = 2 * 1024 * 1024;

/// A rejected promise and its reason.
type Rejection = (Persistent<Value<'static>>, Persistent<Value<'static>>);

/// The driver's functions (see `js/90_driver.js`).
pub struct Driver {
    /// `run(updater, inputJson) -> Promise<string | undefined>`
    pub run: Persistent<Function<'static>>,
    /// `describe(thrown) -> string`: an error payload.
    pub describe: Persistent<Function<'static>>,
    /// `status() -> [nextDue, pendingOps]`
    pub status: Persistent<Function<'static>>,
    /// `fireTimer(now) -> bool`
    pub fire_timer: Persistent<Function<'static>>,
    /// `complete(handle, meta, body)`
    pub complete: Persistent<Function<'static>>,
    /// `unhandled(promise, reason) -> string`: fires `unhandledrejection`;
    /// "" if a listener cancelled it, else the run's error payload (see
    /// `js/21_event_types.js`).
    pub unhandled: Persistent<Function<'static>>,
    /// `handled(promise, reason)`: fires `rejectionhandled`.
    pub handled: Persistent<Function<'static>>,
}

thread_local! {
    static CONTEXT: OnceCell<Context> = const { OnceCell::new() };
    static DRIVER: OnceCell<Driver> = const { OnceCell::new() };
    /// Promises rejected with no handler yet, with their reasons, in order.
    static UNHANDLED: RefCell<Vec<Rejection>> = const { RefCell::new(Vec::new()) };
    /// Rejections whose `unhandledrejection` event a listener cancelled:
    /// if one gets a handler later, `rejectionhandled` fires.
    static NOTIFIED: RefCell<Vec<Rejection>> = const { RefCell::new(Vec::new()) };
    /// Notified rejections that got a handler since, in order.
    static HANDLED_LATE: RefCell<Vec<Rejection>> = const { RefCell::new(Vec::new()) };
    /// Exceptions that escaped callbacks the runtime called, in order.
    static UNCAUGHT: RefCell<Vec<Persistent<Value<'static>>>> = const { RefCell::new(Vec::new()) };
}

/// Evaluates the prelude into the runtime's context (Javy's
/// `modify_runtime` hook).
pub fn install(runtime: Runtime) -> Runtime {
    let context = runtime.context().clone();
    // Outside `with`: the tracker is set on the runtime, which `with` holds.
    context
        .runtime()
        .set_host_promise_rejection_tracker(Some(Box::new(track_rejection)));
    let driver = context.with(|ctx| -> Result<Driver, JsError> {
        enable_stack_guard(&ctx);
        let host = Object::new(ctx.clone())?;
        ops::classes::init(&ctx)?;
        host.set("log", Func::from(ops::console::log))?;
        host.set("inspectKind", Func::from(ops::console::inspect_kind))?;
        host.set("promiseState", Func::from(ops::console::promise_state))?;
        host.set("proxyTarget", Func::from(ops::console::proxy_target))?;
        host.set("userAgent", charm_host_abi::USER_AGENT)?;
        host.set("fetchStart", Func::from(ops::fetch::fetch_start))?;
        host.set("opCancel", Func::from(ops::event_loop::op_cancel))?;
        host.set("scheduleNext", Func::from(ops::schedule::schedule_next))?;
        host.set("now", Func::from(ops::event_loop::now))?;
        host.set("jsonDepth", Func::from(ops::json::json_depth))?;
        host.set("encodingFor", Func::from(ops::encoding::encoding_for))?;
        host.set("decode", Func::from(ops::encoding::decode))?;
        host.set("decoderNew", Func::from(ops::encoding::decoder_new))?;
        host.set("decoderDecode", Func::from(ops::encoding::decoder_decode))?;
        host.set("decodeSniffed", Func::from(ops::encoding::decode_sniffed))?;
        host.set("encode", Func::from(ops::encoding::encode))?;
        host.set("encodeInto", Func::from(ops::encoding::encode_into))?;
        host.set("atob", Func::from(ops::encoding::atob))?;
        host.set("btoa", Func::from(ops::encoding::btoa))?;
        host.set("classId", Func::from(ops::clone::class_id))?;
        ops::json::init(&ctx)?;
        host.set("jsonStringify", Func::from(ops::json::json_stringify))?;
        host.set("codecOpen", Func::from(ops::compression::codec_open))?;
        host.set("codecStep", Func::from(ops::compression::codec_step))?;
        host.set("codecClose", Func::from(ops::compression::codec_close))?;
        host.set("reportException", Func::from(report_exception))?;
        ops::crypto::install(&host)?;
        host.set("urlParse", Func::from(ops::url::url_parse))?;
        host.set("urlCanParse", Func::from(ops::url::url_can_parse))?;
        host.set("urlSet", Func::from(ops::url::url_set))?;
        host.set("formParse", Func::from(ops::url::form_parse))?;
        host.set("formSerialize", Func::from(ops::url::form_serialize))?;
        host.set("urlPatternParse", Func::from(ops::urlpattern::url_pattern_parse))?;
        host.set("urlPatternExec", Func::from(ops::urlpattern::url_pattern_exec))?;
        host.set("intlCanonicalize", Func::from(ops::intl::canonicalize))?;
        host.set("intlNumberFormat", Func::from(ops::intl::number_format))?;
        host.set("intlFormatNumber", Func::from(ops::intl::format_number))?;
        host.set("intlPluralRules", Func::from(ops::intl::plural_rules))?;
        host.set("intlPluralSelect", Func::from(ops::intl::plural_select))?;
        host.set("intlPluralCategories", Func::from(ops::intl::plural_categories))?;
        host.set("intlCollator", Func::from(ops::intl::collator))?;
        host.set("intlCompare", Func::from(ops::intl::compare))?;
        host.set("intlDateTimeFormat", Func::from(ops::intl::date_time_format))?;
        host.set("intlFormatDate", Func::from(ops::intl::format_date))?;
        host.set("intlRelativeTimeFormat", Func::from(ops::intl::relative_time_format))?;
        host.set("intlFormatRelative", Func::from(ops::intl::format_relative))?;
        let internals = Object::new(ctx.clone())?;
        internals.set("host", host)?;
        for (name, source) in FILES {
            let file: Function = eval_without_source(&ctx, name, source)?.get()?;
            file.call::<_, ()>((internals.clone(),))?;
        }
        let driver: Object = internals.get("driver")?;
        let rejections: Object = internals.get("rejections")?;
        let function = |name: &str| -> Result<Persistent<Function<'static>>, JsError> {
            Ok(Persistent::save(&ctx, driver.get::<_, Function>(name)?))
        };
        let rejection_function = |name: &str| -> Result<Persistent<Function<'static>>, JsError> {
            Ok(Persistent::save(&ctx, rejections.get::<_, Function>(name)?))
        };
        Ok(Driver {
            run: function("run")?,
            describe: function("describe")?,
            status: function("status")?,
            fire_timer: function("fireTimer")?,
            complete: function("complete")?,
            unhandled: rejection_function("unhandled")?,
            handled: rejection_function("handled")?,
        })
    });
    let driver = match driver {
        Ok(driver) => driver,
        // A broken prelude is a build defect: fail initialisation loudly so
        // the host never snapshots a runtime without its API.
        Err(e) => panic!("charm prelude failed to initialise: {e}"),
    };
    // Free what initialisation left behind, then take the allocator's
    // scattered free chunks out of use (see `settle_heap`).
    context.runtime().run_gc();
    settle_heap();
    CONTEXT.with(|c| c.set(context).ok());
    DRIVER.with(|d| d.set(driver).ok());
    runtime
}

/// Evaluates a prelude file as a script, keeping none of its text in the
/// heap. QuickJS keeps every function's source for `toString`, each
/// function its own, nested in its parent's: for the prelude that is its
/// text several times over, in the snapshot every task starts from (and
/// the measured cost of it was slower tasks). So the file is compiled,
/// written as bytecode without source, and read back; the compiled
/// original is freed at once. Prelude functions then print as QuickJS
/// prints functions without source, as built-ins do elsewhere.
fn eval_without_source<'js>(ctx: &Ctx<'js>, name: &str, source: &str) -> Result<Value<'js>, JsError> {
    let filename = CString::new(format!("{FILE_PREFIX}{name}"))
        .map_err(|_| JsError::Unknown)?;
    let code = CString::new(source).map_err(|_| JsError::Unknown)?;
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: `raw` is this context; the strings outlive the calls; every
    // value made is freed or handed to rquickjs exactly once, and the
    // buffer QuickJS allocates is freed with its allocator.
    unsafe {
        let compiled = qjs::JS_Eval(
            raw,
            code.as_ptr(),
            source.len() as _,
            filename.as_ptr(),
            (qjs::JS_EVAL_TYPE_GLOBAL | qjs::JS_EVAL_FLAG_COMPILE_ONLY) as i32,
        );
        if qjs::JS_IsException(compiled) {
            return Err(JsError::Exception);
        }
        let mut len = 0;
        let bytes = qjs::JS_WriteObject(
            raw,
            &mut len,
            compiled,
            (qjs::JS_WRITE_OBJ_BYTECODE | qjs::JS_WRITE_OBJ_STRIP_SOURCE) as i32,
        );
        qjs::JS_FreeValue(raw, compiled);
        if bytes.is_null() {
            return Err(JsError::Exception);
        }
        let stripped = qjs::JS_ReadObject(raw, bytes, len, qjs::JS_READ_OBJ_BYTECODE as i32);
        qjs::js_free(raw, bytes.cast());
        if qjs::JS_IsException(stripped) {
            return Err(JsError::Exception);
        }
        let result = qjs::JS_EvalFunction(raw, stripped);
        if qjs::JS_IsException(result) {
            return Err(JsError::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), result))
    }
}

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
}

/// Keeps each task's allocations together, in fresh memory.
///
/// Evaluating the prelude leaves small free chunks all over the heap. A task
/// that allocated from them would write to dozens of pages of the snapshot,
/// and every page a task writes is copied back from the image before the
/// next task. So, once, before the snapshot, every free chunk below the top
/// of the heap is allocated and kept (about 0.3 MiB of the snapshot, never
/// touched again): a task's allocations then come from the top, page after
/// page. Measured on the trivial charm: 34 pages written per task before, 24
/// after, and row 1 of `make bench` faster by about as much.
fn settle_heap() {
    const LARGEST_KEPT: usize = 2048;
    // SAFETY: plain libc allocation; kept chunks are never freed, and each
    // probe is freed at once.
    unsafe {
        let probe = malloc(256 * 1024);
        if probe.is_null() {
            return;
        }
        free(probe);
        // A block this large comes from the top: everything below it is
        // older heap.
        let top = probe as usize;
        for size in (8..=LARGEST_KEPT).step_by(8) {
            loop {
                let chunk = malloc(size);
                if chunk.is_null() {
                    break;
                }
                if chunk as usize >= top {
                    free(chunk);
                    break;
                }
            }
        }
    }
}

/// The rejection tracker: QuickJS calls it with `false` when a promise is
/// rejected with no handler, and with `true` when a handler is attached to
/// such a promise later. Only what is left at the event loop's checkpoint
/// is unhandled, so a rejection handled later in the same turn is not.
fn track_rejection<'js>(ctx: Ctx<'js>, promise: Value<'js>, reason: Value<'js>, handled: bool) {
    if !handled {
        UNHANDLED.with(|list| {
            list.borrow_mut()
                .push((Persistent::save(&ctx, promise), Persistent::save(&ctx, reason)))
        });
        return;
    }
    if remove_rejection(&UNHANDLED, &ctx, &promise).is_none() {
        if let Some(late) = remove_rejection(&NOTIFIED, &ctx, &promise) {
            HANDLED_LATE.with(|list| list.borrow_mut().push(late));
        }
    }
}

/// Takes `promise`'s entry out of `list`, if it is there.
fn remove_rejection<'js>(
    list: &'static std::thread::LocalKey<RefCell<Vec<Rejection>>>,
    ctx: &Ctx<'js>,
    promise: &Value<'js>,
) -> Option<Rejection> {
    list.with(|list| {
        let mut list = list.borrow_mut();
        let at = list
            .iter()
            .position(|(p, _)| p.clone().restore(ctx).is_ok_and(|p| p == *promise))?;
        Some(list.remove(at))
    })
}

/// `host.reportException(error)`: an exception that escaped a callback.
fn report_exception<'js>(ctx: Ctx<'js>, error: Value<'js>) {
    UNCAUGHT.with(|list| list.borrow_mut().push(Persistent::save(&ctx, error)));
}

/// The oldest exception a callback let escape, if any; the list is cleared
/// (the run fails on the first).
pub fn take_uncaught<'js>(ctx: &Ctx<'js>) -> Option<Value<'js>> {
    let first = UNCAUGHT.with(|list| {
        let mut list = list.borrow_mut();
        let first = list.first().cloned();
        list.clear();
        first
    })?;
    first.restore(ctx).ok()
}

/// Forgets a rejection the runtime handles itself (a module's evaluation,
/// bgUpdater's promise): it is the run's outcome, not an unhandled
/// rejection.
pub fn forget_rejection<'js>(ctx: &Ctx<'js>, promise: &Value<'js>) {
    drop(remove_rejection(&UNHANDLED, ctx, promise));
}

/// Forgets every rejection, for a new task: nothing from before it counts
/// against it.
pub fn clear_rejections() {
    for list in [&UNHANDLED, &NOTIFIED, &HANDLED_LATE] {
        list.with(|list| list.borrow_mut().clear());
    }
}

/// The oldest rejection that no handler took, if any, taken off the list
/// (the others stay, so that a handler one's event attaches counts).
pub fn next_unhandled<'js>(ctx: &Ctx<'js>) -> Option<(Value<'js>, Value<'js>)> {
    let (promise, reason) = UNHANDLED.with(|list| {
        let mut list = list.borrow_mut();
        (!list.is_empty()).then(|| list.remove(0))
    })?;
    Some((promise.restore(ctx).ok()?, reason.restore(ctx).ok()?))
}

/// Records that a listener cancelled `promise`'s `unhandledrejection`.
pub fn notified<'js>(ctx: &Ctx<'js>, promise: Value<'js>, reason: Value<'js>) {
    NOTIFIED.with(|list| {
        list.borrow_mut()
            .push((Persistent::save(ctx, promise), Persistent::save(ctx, reason)))
    });
}

/// The notified rejections that got a handler since the last call.
pub fn take_handled_late<'js>(ctx: &Ctx<'js>) -> Vec<(Value<'js>, Value<'js>)> {
    let late = HANDLED_LATE.with(|list| std::mem::take(&mut *list.borrow_mut()));
    late.into_iter()
        .filter_map(|(p, r)| Some((p.restore(ctx).ok()?, r.restore(ctx).ok()?)))
        .collect()
}

/// Turns on QuickJS's stack guard, which quickjs-ng compiles out under WASI
/// (`update_stack_limit` sets the limit to 0 there, and no build flag
/// changes that). The guard compares the shadow-stack pointer with
/// `JSRuntime.stack_limit`; this finds that field by setting `stack_size`,
/// its neighbour, to a probe value through the public API, checks the
/// layout it expects around it, and writes the limit. The runtime is
/// created once, under wizer, so the limit is in the snapshot; nothing
/// calls `JS_SetMaxStackSize` afterwards (it would reset the limit).
fn enable_stack_guard(ctx: &Ctx<'_>) {
    const PROBE: u32 = 0x5A17_C0DE;
    // SAFETY: `rt` is this context's live runtime. The words read are
    // within the JSRuntime struct (it is far larger than 64 words), and
    // the one written is the `stack_limit` field, found and checked below.
    unsafe {
        let rt = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
        qjs::JS_SetMaxStackSize(rt, PROBE);
        let words = rt.cast::<u32>();
        let hits: Vec<usize> = (0..64).filter(|&i| *words.add(i) == PROBE).collect();
        let [size] = hits[..] else {
            panic!("stack guard: found `stack_size` {} times in JSRuntime", hits.len());
        };
        // stack_size, stack_top, stack_limit (quickjs.c's JSRuntime).
        let top = *words.add(size + 1);
        let limit = *words.add(size + 2);
        if !(SHADOW_STACK_BYTES / 2..=SHADOW_STACK_BYTES).contains(&top) || limit != 0 {
            panic!("stack guard: unexpected JSRuntime layout (stack_top {top}, stack_limit {limit})");
        }
        *words.add(size) = STACK_BUDGET_BYTES;
        *words.add(size + 2) = SHADOW_STACK_BYTES - STACK_BUDGET_BYTES;
    }
}

/// Runs `f` in the runtime's context; `None` before [`install`] ran.
pub fn with_context<R>(f: impl FnOnce(Ctx<'_>) -> R) -> Option<R> {
    CONTEXT.with(|c| c.get().map(|context| context.with(f)))
}

/// Runs `f` with the driver's functions; `None` before [`install`] ran.
pub fn with_driver<R>(f: impl FnOnce(&Driver) -> R) -> Option<R> {
    DRIVER.with(|d| d.get().map(f))
}
