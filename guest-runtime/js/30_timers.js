// Timers (HTML's timer initialisation steps): setTimeout, setInterval,
// clearTimeout, clearInterval. The timer list lives here; the event loop
// (90_driver.js) asks for the next deadline, waits on the host, and fires
// due timers one task at a time.
(function (internals) {
  "use strict";
  const host = internals.host;

  // id -> { id, seq, due, handler, args, repeat, delay, nesting }
  const active = new Map();
  // The active timers ordered by (due, seq): HTML runs timers with equal
  // or earlier deadlines that were set earlier first.
  let queue = [];
  let nextId = 1;
  let nextSeq = 1;
  // The nesting level of the timer task running now (0 outside timers).
  let currentNesting = 0;

  function enqueue(timer) {
    let lo = 0, hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = queue[mid];
      if (other.due < timer.due || (other.due === timer.due && other.seq < timer.seq)) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, timer);
  }

  function normalizeDelay(timeout, nesting) {
    let delay = Number(timeout);
    if (!(delay >= 0)) delay = 0; // NaN and negatives are 0
    // "If nesting level is greater than 5, and timeout is less than 4,
    // then set timeout to 4."
    if (nesting > 5 && delay < 4) delay = 4;
    return Math.min(delay, 2 ** 31 - 1);
  }

  function start(handler, timeout, args, repeat) {
    if (typeof handler !== "function") {
      throw new TypeError("the timer's handler must be a function (code strings are not supported)");
    }
    const limit = internals.limits.maxTimers;
    if (active.size >= limit) {
      throw internals.limitError(
        RangeError,
        `too many pending timers: the limit is ${limit} (max_timers)`,
        "timers",
        limit,
      );
    }
    const nesting = currentNesting + 1;
    const delay = normalizeDelay(timeout, nesting);
    const timer = {
      id: nextId++,
      seq: nextSeq++,
      due: host.now() + delay,
      handler,
      args,
      repeat,
      delay: timeout,
      nesting,
    };
    active.set(timer.id, timer);
    enqueue(timer);
    return timer.id;
  }

  function clear(id) {
    const timer = active.get(Number(id));
    if (!timer) return;
    active.delete(timer.id);
    const i = queue.indexOf(timer);
    if (i >= 0) queue.splice(i, 1);
  }

  // The timeout is a Web IDL `long`: ToInt32 wraps it, so Infinity is 0
  // and 2 ** 32 + 5 is 5, as in browsers (a huge delay fires at once).
  function setTimeout(handler, timeout = 0, ...args) {
    return start(handler, timeout | 0, args, false);
  }
  function setInterval(handler, timeout = 0, ...args) {
    return start(handler, timeout | 0, args, true);
  }
  function clearTimeout(id = 0) {
    clear(id);
  }
  function clearInterval(id = 0) {
    clear(id);
  }

  // For the runtime's own timers (AbortSignal.timeout): not limited.
  internals.setTimer = function (callback, delay) {
    const timer = {
      id: nextId++,
      seq: nextSeq++,
      due: host.now() + normalizeDelay(delay, 0),
      handler: callback,
      args: [],
      repeat: false,
      delay,
      nesting: 0,
      internal: true,
    };
    active.set(timer.id, timer);
    enqueue(timer);
    return timer.id;
  };

  internals.timers = {
    // The deadline of the next timer (ms on the host's run clock), or -1.
    nextDue() {
      return queue.length === 0 ? -1 : queue[0].due;
    },
    // Runs the first timer if it is due at `now`: one task. Its exception
    // is reported (the global's `error` event, then the run fails unless a
    // listener cancelled it), as an uncaught exception in a timer task is
    // in Deno.
    fireDue(now) {
      const timer = queue[0];
      if (!timer || timer.due > now) return false;
      queue.shift();
      if (!timer.repeat) active.delete(timer.id);
      const saved = currentNesting;
      currentNesting = timer.nesting;
      try {
        Reflect.apply(timer.handler, globalThis, timer.args);
      } catch (error) {
        internals.reportException(error);
      } finally {
        currentNesting = saved;
        // An interval starts again once its task is over, unless the task
        // cleared it.
        if (timer.repeat && active.get(timer.id) === timer) {
          timer.seq = nextSeq++;
          timer.nesting += 1;
          timer.due = host.now() + normalizeDelay(timer.delay, timer.nesting);
          enqueue(timer);
        }
      }
      return true;
    },
  };

  internals.defineGlobal("setTimeout", setTimeout);
  internals.defineGlobal("setInterval", setInterval);
  internals.defineGlobal("clearTimeout", clearTimeout);
  internals.defineGlobal("clearInterval", clearInterval);
});
