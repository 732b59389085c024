// Small globals of HTML: `self`, `navigator` (a Navigator whose userAgent
// is "charm-host/<version>"), and `queueMicrotask`, whose callback's
// exception is reported like an uncaught one (`internals.reportException`:
// the global's `error` event, then the run fails unless a listener
// cancelled it).
(function (internals) {
  "use strict";
  const host = internals.host;
  const userAgent = host.userAgent;
  const resolved = Promise.resolve();
  const then = Promise.prototype.then;
  const nativeQueueMicrotask = globalThis.queueMicrotask ?? ((job) => apply(then, resolved, [job]));
  const apply = Reflect.apply;

  const token = Symbol("Navigator");
  class Navigator {
    constructor(key = undefined) {
      if (key !== token) throw new TypeError("Illegal constructor");
    }
    get userAgent() {
      return userAgent;
    }
  }
  Object.defineProperty(Navigator.prototype, Symbol.toStringTag, { value: "Navigator", configurable: true });

  function queueMicrotask(callback) {
    if (arguments.length === 0) throw new TypeError("queueMicrotask: 1 argument required");
    if (typeof callback !== "function") throw new TypeError("queueMicrotask: the callback must be a function");
    nativeQueueMicrotask(() => {
      try {
        apply(callback, undefined, []);
      } catch (error) {
        internals.reportException(error);
      }
    });
  }

  internals.defineGlobal("self", globalThis);
  internals.defineGlobal("Navigator", Navigator);
  internals.defineGlobal("navigator", new Navigator(token));
  internals.defineGlobal("queueMicrotask", queueMicrotask);
});
