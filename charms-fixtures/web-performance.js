// performance (High Resolution Time, User Timing): the clock, the time
// origin, marks and measures, and their errors.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function error(f) {
  try {
    f();
    return "no error";
  } catch (e) {
    return e.name;
  }
}

export async function bgUpdater(state, ctx) {
  const t0 = performance.now();
  await sleep(20);
  const t1 = performance.now();
  performance.mark("a", { detail: "first" });
  await sleep(5);
  performance.mark("b");
  const ab = performance.measure("a to b", "a", "b");
  const fromA = performance.measure("from a", { start: "a", duration: 2 });
  const fixed = performance.measure("fixed", { start: 1, end: 4 });
  const early = performance.mark("early", { startTime: 0.5 });
  const out = {
    clock: [t0 >= 0, t1 - t0 >= 20, t1 - t0 < 1000],
    origin: Math.abs(performance.timeOrigin - ctx.now) < 1000,
    originStable: performance.timeOrigin === performance.timeOrigin,
    measure: [ab.entryType, ab.duration > 0, ab.startTime === performance.getEntriesByName("a")[0].startTime],
    fromA: fromA.duration,
    fixed: [fixed.startTime, fixed.duration, fixed.detail],
    early: [early.startTime, early.detail],
    markDetail: performance.getEntriesByName("a", "mark")[0].detail,
    order: performance.getEntries().map((e) => e.name),
    types: performance.getEntriesByType("measure").map((e) => e.name),
    json: JSON.parse(JSON.stringify(performance.getEntriesByName("fixed")[0])),
    errors: {
      unknownMark: error(() => performance.measure("x", "nope")),
      negative: error(() => performance.mark("x", { startTime: -1 })),
      tooMuch: error(() => performance.measure("x", { start: 1, duration: 1, end: 3 })),
      constructor: error(() => new Performance()),
      entry: error(() => new PerformanceEntry()),
    },
  };
  performance.clearMarks("a");
  performance.clearMeasures();
  out.afterClear = performance.getEntries().map((e) => e.name);
  out.markConstructor = new PerformanceMark("made", { startTime: 3 }).startTime;
  return out;
}
