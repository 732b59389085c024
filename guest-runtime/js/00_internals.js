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

  // Defines a global the way Web IDL interfaces are: writable,
  // configurable, not enumerable.
  internals.defineGlobal = function (name, value) {
    Object.defineProperty(globalThis, name, {
      value,
      writable: true,
      configurable: true,
      enumerable: false,
    });
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
});
