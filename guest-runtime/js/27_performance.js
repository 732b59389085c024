// `performance` (High Resolution Time) and its User Timing marks and
// measures. The time origin is the start of the task: `performance.now()`
// is milliseconds since then (`host.now()`, monotonic, sub-millisecond),
// and `performance.timeOrigin` the Unix time of that instant. Marks and
// measures live for the run (nothing observes them across runs).
(function (internals) {
  "use strict";
  const { EventTarget, DOMException } = internals;
  const host = internals.host;
  const dateNow = Date.now;

  const token = Symbol("Performance");

  // The detail of a mark or measure: a structured clone, as User Timing
  // says (34_clone.js's; a primitive is its own clone); null when absent.
  function cloneDetail(detail, what) {
    if (detail === undefined || detail === null) return null;
    const clone = internals.structuredClone;
    if (typeof clone !== "function") {
      if (typeof detail !== "object" && typeof detail !== "function") return detail;
      throw new TypeError(`${what}: structured cloning (for detail) is not available in this runtime`);
    }
    return clone(detail);
  }

  class PerformanceEntry {
    #name;
    #entryType;
    #startTime;
    #duration;
    constructor(key = undefined, name = "", entryType = "", startTime = 0, duration = 0) {
      if (key !== token) throw new TypeError("Illegal constructor");
      this.#name = name;
      this.#entryType = entryType;
      this.#startTime = startTime;
      this.#duration = duration;
    }
    get name() { return this.#name; }
    get entryType() { return this.#entryType; }
    get startTime() { return this.#startTime; }
    get duration() { return this.#duration; }
    toJSON() {
      return { name: this.#name, entryType: this.#entryType, startTime: this.#startTime, duration: this.#duration };
    }
  }

  class PerformanceMark extends PerformanceEntry {
    #detail;
    constructor(markName, markOptions = undefined) {
      if (arguments.length === 0) throw new TypeError("PerformanceMark constructor: 1 argument required");
      const name = String(markName);
      const options = markOptions ?? {};
      let startTime;
      if (options.startTime !== undefined) {
        startTime = Number(options.startTime);
        if (!Number.isFinite(startTime)) throw new TypeError("PerformanceMark: startTime must be a finite number");
        if (startTime < 0) throw new TypeError("PerformanceMark: startTime must not be negative");
      } else {
        startTime = host.now();
      }
      super(token, name, "mark", startTime, 0);
      this.#detail = cloneDetail(options.detail, "PerformanceMark");
    }
    get detail() { return this.#detail; }
    toJSON() {
      return { ...super.toJSON(), detail: this.#detail };
    }
  }

  class PerformanceMeasure extends PerformanceEntry {
    #detail;
    constructor(key = undefined, name = "", startTime = 0, duration = 0, detail = null) {
      if (key !== token) throw new TypeError("Illegal constructor");
      super(token, name, "measure", startTime, duration);
      this.#detail = detail;
    }
    get detail() { return this.#detail; }
    toJSON() {
      return { ...super.toJSON(), detail: this.#detail };
    }
  }

  const entries = []; // marks and measures, in the order they were made
  let timeOrigin;

  function byStartTime(list) {
    // Stable: equal start times keep their order.
    return list.slice().sort((a, b) => a.startTime - b.startTime);
  }

  // User Timing's "convert a mark to a timestamp".
  function timestamp(mark, what) {
    if (typeof mark === "string") {
      for (let i = entries.length - 1; i >= 0; i--) {
        if (entries[i].entryType === "mark" && entries[i].name === mark) return entries[i].startTime;
      }
      throw new DOMException(`${what}: there is no mark named "${mark}"`, "SyntaxError");
    }
    const time = Number(mark);
    if (time < 0) throw new TypeError(`${what}: a time must not be negative`);
    return time;
  }

  class Performance extends EventTarget {
    constructor(key = undefined) {
      if (key !== token) throw new TypeError("Illegal constructor");
      super();
    }
    now() {
      return host.now();
    }
    get timeOrigin() {
      // Fixed at its first reading in the task (each task is a fresh
      // instance of the runtime, so nothing carries over).
      if (timeOrigin === undefined) timeOrigin = dateNow() - host.now();
      return timeOrigin;
    }
    toJSON() {
      return { timeOrigin: this.timeOrigin };
    }
    mark(markName, markOptions = undefined) {
      if (arguments.length === 0) throw new TypeError("performance.mark: 1 argument required");
      const mark = new PerformanceMark(markName, markOptions);
      entries.push(mark);
      return mark;
    }
    measure(measureName, startOrMeasureOptions = undefined, endMark = undefined) {
      if (arguments.length === 0) throw new TypeError("performance.measure: 1 argument required");
      const what = "performance.measure";
      const name = String(measureName);
      const options = typeof startOrMeasureOptions === "object" && startOrMeasureOptions !== null
        ? startOrMeasureOptions
        : null;
      if (options !== null && (options.start !== undefined || options.end !== undefined ||
        options.duration !== undefined || options.detail !== undefined)) {
        if (endMark !== undefined) throw new TypeError(`${what}: endMark cannot be given with measure options`);
        if (options.start === undefined && options.end === undefined) {
          throw new TypeError(`${what}: the options need a start or an end`);
        }
        if (options.start !== undefined && options.duration !== undefined && options.end !== undefined) {
          throw new TypeError(`${what}: start, duration and end cannot all be given`);
        }
      }
      let end;
      if (endMark !== undefined) end = timestamp(endMark, what);
      else if (options !== null && options.end !== undefined) end = timestamp(options.end, what);
      else if (options !== null && options.start !== undefined && options.duration !== undefined) {
        end = timestamp(options.start, what) + timestamp(options.duration, what);
      } else end = host.now();
      let start;
      if (options !== null && options.start !== undefined) start = timestamp(options.start, what);
      else if (options !== null && options.duration !== undefined && options.end !== undefined) {
        start = end - timestamp(options.duration, what);
      } else if (typeof startOrMeasureOptions === "string") start = timestamp(startOrMeasureOptions, what);
      else start = 0;
      const detail = cloneDetail(options === null ? undefined : options.detail, what);
      const measure = new PerformanceMeasure(token, name, start, end - start, detail);
      entries.push(measure);
      return measure;
    }
    clearMarks(markName = undefined) {
      this.#clear("mark", markName);
    }
    clearMeasures(measureName = undefined) {
      this.#clear("measure", measureName);
    }
    #clear(type, name) {
      for (let i = entries.length - 1; i >= 0; i--) {
        const entry = entries[i];
        if (entry.entryType === type && (name === undefined || entry.name === String(name))) entries.splice(i, 1);
      }
    }
    getEntries() {
      return byStartTime(entries);
    }
    getEntriesByType(type) {
      return byStartTime(entries.filter((e) => e.entryType === String(type)));
    }
    getEntriesByName(name, type = undefined) {
      return byStartTime(entries.filter((e) => e.name === String(name) && (type === undefined || e.entryType === String(type))));
    }
  }

  for (const [name, Class] of Object.entries({ Performance, PerformanceEntry, PerformanceMark, PerformanceMeasure })) {
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: name, configurable: true });
    internals.defineGlobal(name, Class);
  }
  internals.defineGlobal("performance", new Performance(token));
});
