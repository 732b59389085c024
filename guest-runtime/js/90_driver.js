// The driver: calls `bgUpdater`, describes what a charm threw, and is the
// JavaScript half of the event loop whose turns the runtime's Rust side
// (`src/driver.rs`) runs. It hands `internals.driver` to the Rust side.
(function (internals) {
  "use strict";
  const stringify = JSON.stringify;
  const parse = internals.nativeJsonParse;
  const PRELUDE_FRAME = "charm-host:prelude";

  // The stack without the prelude's own frames: a charm's author reads
  // their code's lines, not the runtime's.
  function charmStack(stack) {
    return String(stack || "")
      .split("\n")
      .filter((line) => !line.includes(PRELUDE_FRAME))
      .join("\n");
  }
  internals.charmStack = charmStack;

  // An error payload (`charm_host_abi::error`) for a thrown value: its
  // kind (from the tag the prelude gave it, else "charm"), name, message and
  // stack; a limit error also carries the limit it reports.
  function describe(error, prefix = "") {
    try {
      const tag = internals.errorTag(error);
      const kind = tag && typeof tag.kind === "string" ? tag.kind : "charm";
      if (error instanceof Error) {
        const payload = {
          kind,
          name: String(error.name),
          message: prefix + String(error.message),
          stack: charmStack(error.stack),
        };
        if (tag && tag.limit) payload.limit = tag.limit;
        return stringify(payload);
      }
      let shown;
      try {
        shown = typeof error === "string" ? error : stringify(error);
      } catch (_) {
        shown = undefined;
      }
      return stringify({
        kind: "charm",
        name: "Error",
        message: `${prefix}uncaught ${shown === undefined ? typeof error : shown}`,
        stack: "",
      });
    } catch (_) {
      return '{"kind":"charm","name":"Error","message":"uncaught value that cannot be described","stack":""}';
    }
  }

  // The new state as JSON text, or undefined to keep the old state.
  function serialize(result) {
    if (result === undefined) return undefined;
    let text;
    try {
      text = stringify(result);
    } catch (e) {
      throw new TypeError(`bgUpdater returned a value that is not JSON-serialisable: ${e.message}`);
    }
    if (text === undefined) {
      throw new TypeError(`bgUpdater returned a value that is not JSON-serialisable (a ${typeof result})`);
    }
    return text;
  }

  // `ctx.scheduleNext(ms)`: run next `ms` milliseconds after this run, if
  // it succeeds (the host bounds it by its operator's minimum and maximum).
  // The last call counts.
  function scheduleNext(ms) {
    const delay = Number(ms);
    if (!Number.isFinite(delay) || delay < 0) {
      throw new RangeError(
        `ctx.scheduleNext takes a number of milliseconds, 0 or more; got ${typeof ms === "symbol" ? "a symbol" : String(ms)}`,
      );
    }
    internals.host.scheduleNext(Math.floor(delay));
  }

  function isThenable(value) {
    return value !== null && (typeof value === "object" || typeof value === "function") &&
      typeof value.then === "function";
  }

  // Calls the charm. A synchronous bgUpdater's new state comes back at once
  // (as JSON text, or undefined to keep the old state), with no promise or
  // microtask; an asynchronous one's comes back as a promise, whose state
  // the Rust side reads. What bgUpdater throws or rejects with is the
  // charm's own error.
  function run(updater, inputJson) {
    if (typeof updater !== "function") {
      throw new TypeError("the charm does not export a function named `bgUpdater`");
    }
    const input = parse(inputJson);
    if (input.limits !== undefined) internals.limits = input.limits;
    if (input.ctx !== null && typeof input.ctx === "object") {
      // Not enumerable: `JSON.stringify(ctx)` shows the run's data only.
      Object.defineProperty(input.ctx, "scheduleNext", {
        value: scheduleNext,
        writable: true,
        configurable: true,
      });
      // Read only: a library the charm loads cannot swap a key for the
      // rest of the run (a change would not be stored anyway).
      if (input.ctx.secrets !== null && typeof input.ctx.secrets === "object") {
        Object.freeze(input.ctx.secrets);
      }
    }
    const result = updater(input.state, input.ctx);
    if (isThenable(result)) return (async () => serialize(await result))();
    return serialize(result);
  }

  internals.driver = {
    describe,
    // `describe` for a promise rejection no handler took.
    describeUnhandled(reason) {
      return describe(reason, "unhandled promise rejection: ");
    },
    run,
    // [the next timer's deadline or -1, host operations in flight].
    status() {
      return [internals.timers.nextDue(), internals.ops.size];
    },
    // Fires the first timer if it is due: one task.
    fireTimer(now) {
      return internals.timers.fireDue(now);
    },
    // Settles the operation `handle` with its result: one task.
    complete(handle, meta, body) {
      const op = internals.ops.get(handle);
      if (!op) return;
      internals.ops.delete(handle);
      op.resolve({ meta, body });
    },
  };
});
