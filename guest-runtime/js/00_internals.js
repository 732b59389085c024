// Internals shared by the prelude's files, which are evaluated in order of
// their numbers, each as `(function (internals) { ... })`.
//
// `internals` holds the native functions of the runtime (`internals.host`)
// and what one file hands to the next. It is never reachable from charms:
// each file captures what it needs while the runtime is pre-initialised, so
// a charm that overwrites a global (JSON, Promise, ...) confuses the prelude
// only within its own run, and the host validates everything that comes out.
(function (internals) {
  "use strict";

  // The prototypes of the interfaces defined below: their instances are
  // platform objects, which structuredClone refuses (DataCloneError, as in
  // browsers) rather than copying their public fields as a plain object.
  const interfacePrototypes = new Set();

  // Defines a global the way Web IDL interfaces are: writable,
  // configurable, not enumerable.
  internals.defineGlobal = function (name, value) {
    if (typeof value === "function" && typeof value.prototype === "object") {
      interfacePrototypes.add(value.prototype);
    }
    Object.defineProperty(globalThis, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  };

  // Whether `value` is an instance of one of the runtime's interfaces (or of
  // a class extending one).
  internals.isPlatformObject = function (value) {
    for (let p = Object.getPrototypeOf(value); p !== null; p = Object.getPrototypeOf(p)) {
      if (interfacePrototypes.has(p)) return true;
    }
    return false;
  };

  // The failure kinds of `charm_host_abi::error::ErrorKind` that errors
  // raised for the charm carry; the driver's `describe` reports them.
  const kinds = new WeakMap();
  internals.tagError = function (error, kind, limit) {
    kinds.set(error, { kind, limit });
    return error;
  };
  internals.errorTag = function (error) {
    return (typeof error === "object" || typeof error === "function") && error !== null
      ? kinds.get(error)
      : undefined;
  };

  // A limit of the run that the charm went over at a call (`setTimeout`,
  // `fetch`): a catchable error that, uncaught, ends the run as that limit.
  internals.limitError = function (ErrorType, message, limitKind, value) {
    return internals.tagError(new ErrorType(message), "limit", { kind: limitKind, value });
  };

  // The run's limits that the runtime itself enforces, from the run input
  // (`limits`); the defaults are `SandboxLimits`'s.
  internals.limits = { maxTimers: 1000 };

  // Host operations in flight: handle -> { resolve, reject }. The event
  // loop (90_driver.js) settles them as the host reports completions.
  internals.ops = new Map();
  internals.startOp = function (handle) {
    return new Promise((resolve, reject) => {
      internals.ops.set(handle, { resolve, reject });
    });
  };
  internals.cancelOp = function (handle) {
    if (internals.ops.delete(handle)) internals.host.opCancel(handle);
  };

  // An exception that escaped a callback the runtime called (an event
  // listener): like an uncaught exception in Deno or Node, it fails the
  // run, at the event loop's next turn.
  internals.reportException = function (error) {
    internals.host.reportException(error);
  };
});
