//! The prelude: the JavaScript API charms see, one file per family under
//! `js/`, evaluated in the order of their numbers while the runtime is
//! pre-initialised, so it lives in the snapshot and costs nothing per task.

use std::cell::OnceCell;

use javy_plugin_api::javy::quickjs::prelude::Func;
use javy_plugin_api::javy::quickjs::{Context, Ctx, Error as JsError, Function, Object, Persistent};
use javy_plugin_api::javy::Runtime;

use crate::ops;

/// The prelude's files, in load order. Each is `(function (internals) {...})`.
const FILES: &[(&str, &str)] = &[
    ("00_internals.js", include_str!("../js/00_internals.js")),
    ("10_console.js", include_str!("../js/10_console.js")),
    ("20_headers.js", include_str!("../js/20_headers.js")),
    ("30_fetch.js", include_str!("../js/30_fetch.js")),
    ("90_driver.js", include_str!("../js/90_driver.js")),
];

/// The two functions the driver file hands back.
pub struct Driver {
    /// `run(updater, inputJson) -> Promise<string | undefined>`
    pub run: Persistent<Function<'static>>,
    /// `describe(thrown) -> string`: an error payload.
    pub describe: Persistent<Function<'static>>,
}

thread_local! {
    static CONTEXT: OnceCell<Context> = const { OnceCell::new() };
    static DRIVER: OnceCell<Driver> = const { OnceCell::new() };
}

/// Evaluates the prelude into the runtime's context (Javy's
/// `modify_runtime` hook).
pub fn install(runtime: Runtime) -> Runtime {
    let context = runtime.context().clone();
    let driver = context.with(|ctx| -> Result<Driver, JsError> {
        let host = Object::new(ctx.clone())?;
        host.set("log", Func::from(ops::console::log))?;
        host.set("fetch", Func::from(ops::fetch::fetch))?;
        let internals = Object::new(ctx.clone())?;
        internals.set("host", host)?;
        for (_, source) in FILES {
            let file: Function = ctx.eval(*source)?;
            file.call::<_, ()>((internals.clone(),))?;
        }
        let driver: Object = internals.get("driver")?;
        Ok(Driver {
            run: Persistent::save(&ctx, driver.get::<_, Function>("run")?),
            describe: Persistent::save(&ctx, driver.get::<_, Function>("describe")?),
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

/// Runs `f` in the runtime's context; `None` before [`install`] ran.
pub fn with_context<R>(f: impl FnOnce(Ctx<'_>) -> R) -> Option<R> {
    CONTEXT.with(|c| c.get().map(|context| context.with(f)))
}

/// Runs `f` with the driver's functions; `None` before [`install`] ran.
pub fn with_driver<R>(f: impl FnOnce(&Driver) -> R) -> Option<R> {
    DRIVER.with(|d| d.get().map(f))
}
