// The Console standard and value formatting: each call below prints what
// host/tests/web_console.rs expects, line for line.
class Point {
  constructor(x, y) {
    this.x = x;
    this.y = y;
  }
  get sum() {
    throw new Error("a getter must not run");
  }
}

export function bgUpdater() {
  console.log("%s is %d years and %f%% done %o", "Ann", "42.9", "12.5", [1], "extra");
  console.log("%c styled %x %", "color: red");
  console.log({ err: new TypeError("bad input") });
  const cycle = { name: "a" };
  cycle.self = cycle;
  console.log(cycle);
  console.log(new Map([["k", { v: 1 }]]), new Set([1, 2]));
  console.log(new Uint8Array([1, 2, 3]), new Date(0), /x+/gi, new Point(1, 2));
  console.log({
    get boom() {
      throw new Error("a getter must not run");
    },
    toJSON() {
      throw new Error("toJSON must not run");
    },
  });
  console.log({ a: { b: { c: { d: { e: { f: 1 } } } } } });
  console.dir({ a: { b: 1 } }, { depth: 0 });
  console.log(Array.from({ length: 150 }, (_, i) => i));
  console.log(["x".repeat(10005)]);
  console.group("outer");
  console.log("inside\nsecond");
  console.groupEnd();
  console.log("outside");
  console.count();
  console.count();
  console.count("x");
  console.countReset();
  console.count();
  console.countReset("never");
  console.assert(false, "%s failed", "thing");
  console.assert(true, "never printed");
  console.table([{ a: 1, b: "x" }, { a: 2 }]);
  console.timeEnd("nope");
  console.trace("here %d", 5);
  let deep = [];
  for (let i = 0; i < 20000; i++) deep = [deep];
  console.log(deep);
  console.log(new Error("outer", { cause: new RangeError("inner") }));
  console.log(Promise.resolve(3), new Promise(() => {}));
  console.log(new Proxy({ a: 1 }, { ownKeys() { throw new Error("a trap must not run"); } }));
  console.log(new Number(3), new String("s"), Object(1n));
  console.log(Object.create(null), Object.assign(Object.create(null), { k: 1 }));
  console.log(function foo() {}, class Bar {}, () => {}, async function baz() {});
  console.log([Symbol("s"), -0, 1n, undefined, null]);
  console.log(["it's", 'say "hi"', "tab\there"]);
  console.log([1, , , 4]);
  console.log("%i %s", Symbol("q"), Symbol("r"));
  console.log({ long: "a".repeat(50), other: "b".repeat(30) });
  console.debug("quiet");
  console.info("info");
  console.warn("careful");
  console.error("broken", 42);
  console.log();
  console.log("lone \ud800 surrogate");
  const response = new Response("{}", { status: 201, headers: { "X-Id": "7", "Content-Type": "application/json" } });
  console.log(response);
  console.log([new CustomEvent("ping", { detail: 1 })]);
  return { done: true };
}
