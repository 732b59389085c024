// AbortController and AbortSignal (DOM standard): cancelling fetches and
// anything else that takes a signal.
(function (internals) {
  "use strict";
  const { DOMException, Event, EventTarget } = internals;

  const token = Symbol("AbortSignal");
  const signals = new WeakSet();
  internals.isAbortSignal = (value) => signals.has(value);

  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    #algorithms = new Set();
    #dependents = new Set();
    #sources = new Set();
    #dependent = false;
    constructor(key) {
      if (key !== token) throw new TypeError("Illegal constructor");
      super();
      signals.add(this);
    }
    get aborted() {
      return this.#aborted;
    }
    get reason() {
      return this.#reason;
    }
    throwIfAborted() {
      if (this.#aborted) throw this.#reason;
    }
    static abort(reason) {
      const signal = new AbortSignal(token);
      signal.#aborted = true;
      signal.#reason = reason === undefined ? abortError() : reason;
      return signal;
    }
    static timeout(milliseconds) {
      const ms = enforceRangeU64(milliseconds, "AbortSignal.timeout");
      const signal = new AbortSignal(token);
      internals.setTimer(() => {
        AbortSignal.#signalAbort(signal, new DOMException("signal timed out", "TimeoutError"));
      }, ms);
      return signal;
    }
    static any(iterable) {
      const result = new AbortSignal(token);
      const list = [...iterable];
      for (const signal of list) {
        if (!signals.has(signal)) throw new TypeError("AbortSignal.any: every item must be an AbortSignal");
      }
      for (const signal of list) {
        if (signal.#aborted) {
          result.#aborted = true;
          result.#reason = signal.#reason;
          return result;
        }
      }
      result.#dependent = true;
      for (const signal of list) {
        const sources = signal.#dependent ? signal.#sources : [signal];
        for (const source of sources) {
          result.#sources.add(source);
          source.#dependents.add(result);
        }
      }
      return result;
    }
    // The standard's "signal abort": set the reason, run the abort
    // algorithms, fire `abort`, then abort the dependent signals.
    static #signalAbort(signal, reason) {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? abortError() : reason;
      const dependents = [];
      for (const dependent of signal.#dependents) {
        if (!dependent.#aborted) {
          dependent.#aborted = true;
          dependent.#reason = signal.#reason;
          dependents.push(dependent);
        }
      }
      signal.#runAbortSteps();
      for (const dependent of dependents) dependent.#runAbortSteps();
    }
    #runAbortSteps() {
      const algorithms = [...this.#algorithms];
      this.#algorithms.clear();
      for (const algorithm of algorithms) algorithm();
      internals.dispatch(this, new Event("abort"), true);
    }
    static {
      internals.signalAbort = (signal, reason) => AbortSignal.#signalAbort(signal, reason);
      // Runs `algorithm` when `signal` aborts (at once, if it has). Returns
      // a function that forgets it.
      internals.onAbort = (signal, algorithm) => {
        if (signal.#aborted) {
          algorithm();
          return () => {};
        }
        signal.#algorithms.add(algorithm);
        return () => signal.#algorithms.delete(algorithm);
      };
      internals.newAbortSignal = () => new AbortSignal(token);
    }
  }
  internals.defineEventHandler(AbortSignal.prototype, "abort");

  class AbortController {
    #signal = internals.newAbortSignal();
    get signal() {
      return this.#signal;
    }
    abort(reason) {
      internals.signalAbort(this.#signal, reason);
    }
  }

  function abortError() {
    return new DOMException("signal is aborted without reason", "AbortError");
  }
  internals.abortError = abortError;

  // Web IDL's [EnforceRange] unsigned long long.
  function enforceRangeU64(value, what) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`${what}: ${value} is not a finite number`);
    const t = Math.trunc(n);
    if (t < 0 || t > Number.MAX_SAFE_INTEGER) throw new TypeError(`${what}: ${value} is out of range`);
    return t;
  }

  internals.AbortSignal = AbortSignal;
  internals.defineGlobal("AbortSignal", AbortSignal);
  internals.defineGlobal("AbortController", AbortController);
});
