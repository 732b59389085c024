// structuredClone as HTML's structured serialisation defines it: cycles
// and shared references kept, the built-in types it knows, transfer, and a
// DataCloneError for what it cannot clone; deep values stay cheap.
function failure(f) {
  try {
    f();
    return "no error";
  } catch (e) {
    return e instanceof DOMException ? `${e.name} ${e.code}` : e.name;
  }
}

function depth(value, key) {
  let n = 0;
  for (let v = value; v !== undefined && v !== null; v = v[key]) n++;
  return n;
}

export async function bgUpdater(state, ctx) {
  const shared = { arr: [1, , 3] };
  const original = {
    n: 1,
    s: "x",
    date: new Date(86400000),
    re: /ab+c/giu,
    big: 10n,
    nothing: undefined,
    shared1: shared,
    shared2: shared,
    get computed() {
      return 5;
    },
    ["__proto__"]: "plain",
  };
  Object.defineProperty(original, "hidden", { value: 1, enumerable: false });
  original.re.lastIndex = 3;
  original.self = original;
  const copy = structuredClone(original);
  const graph = {
    fresh: copy !== original && copy.shared1 !== shared,
    cycle: copy.self === copy,
    shared: copy.shared1 === copy.shared2,
    holes: [copy.shared1.arr.length, 1 in copy.shared1.arr, copy.shared1.arr[2]],
    date: [copy.date instanceof Date, copy.date.getTime(), copy.date !== original.date],
    re: [copy.re instanceof RegExp, copy.re.source, copy.re.flags, copy.re.lastIndex],
    big: [typeof copy.big, copy.big === 10n],
    undefinedKept: "nothing" in copy && copy.nothing === undefined,
    getterValue: Object.getOwnPropertyDescriptor(copy, "computed").value,
    protoKey: [Object.getPrototypeOf(copy) === Object.prototype, Object.hasOwn(copy, "__proto__")],
    hidden: "hidden" in copy,
    primitives: [structuredClone(-0), structuredClone(NaN), structuredClone("s"), structuredClone(null)].map(String),
    negativeZero: Object.is(structuredClone(-0), -0),
  };

  const key = { k: 1 };
  const map = new Map([[key, new Set([1, key])]]);
  map.set("self", map);
  const mapCopy = structuredClone(map);
  const [keyCopy, setCopy] = [...mapCopy][0];
  const collections = {
    map: [mapCopy instanceof Map, mapCopy.size, mapCopy.get("self") === mapCopy, keyCopy.k, keyCopy !== key],
    set: [setCopy instanceof Set, setCopy.has(1), setCopy.has(keyCopy)],
    boxed: [
      structuredClone(Object(5)) instanceof Number && structuredClone(Object(5)).valueOf() === 5,
      structuredClone(Object("s")) instanceof String,
      structuredClone(Object(false)).valueOf() === false,
      typeof structuredClone(Object(1n)),
    ],
  };

  const buffer = new ArrayBuffer(8);
  const view = new Uint8Array(buffer, 2, 4);
  const dataView = new DataView(buffer);
  view[0] = 7;
  const floats = new Float64Array([1.5, -2]);
  const [viewCopy, dataViewCopy, floatsCopy] = structuredClone([view, dataView, floats]);
  const toMove = new Uint8Array([1, 2, 3]).buffer;
  const overMoved = new Uint16Array(toMove, 0, 1);
  const moved = structuredClone({ toMove, overMoved }, { transfer: [toMove] });
  const binary = {
    sharedBuffer: viewCopy.buffer === dataViewCopy.buffer && viewCopy.buffer !== buffer,
    view: [viewCopy.constructor.name, viewCopy.byteOffset, viewCopy.length, dataViewCopy.getUint8(2)],
    floats: [...floatsCopy],
    transfer: [toMove.byteLength, toMove.detached, [...new Uint8Array(moved.toMove)], moved.overMoved.buffer === moved.toMove],
    transferErrors: [
      failure(() => structuredClone(1, { transfer: [new Uint8Array(1)] })),
      failure(() => structuredClone(1, { transfer: [toMove] })),
      failure(() => {
        const b = new ArrayBuffer(1);
        structuredClone(1, { transfer: [b, b] });
      }),
      failure(() => structuredClone(1, { transfer: 5 })),
    ],
  };

  const range = structuredClone(new RangeError("boom"));
  class NamedError extends TypeError {
    get name() {
      return "NamedError";
    }
  }
  const named = structuredClone(new NamedError("odd"));
  const dom = structuredClone(new DOMException("gone", "AbortError"));
  const errors = {
    range: [range instanceof RangeError, range.name, range.message, typeof range.stack],
    named: [named.constructor.name, named.message],
    noMessage: Object.hasOwn(structuredClone(new Error()), "message"),
    dom: [dom instanceof DOMException, dom.name, dom.message, dom.code],
  };

  const file = structuredClone(new File(["abc"], "f.txt", { type: "text/plain", lastModified: 5 }));
  const blobs = [file instanceof File, file.name, file.lastModified, file.type, await file.text()];

  class Point {
    x = 1;
    move() {}
  }
  const refused = [
    failure(() => structuredClone(() => 1)),
    failure(() => structuredClone({ f() {} })),
    failure(() => structuredClone(Symbol("s"))),
    failure(() => structuredClone(new WeakMap())),
    failure(() => structuredClone(Promise.resolve())),
    failure(() => structuredClone(new Proxy({}, {}))),
    failure(() => structuredClone([1, [2, [function inner() {}]]])),
    // Platform objects that are not serializable.
    failure(() => structuredClone(new URL("https://example.com/"))),
    failure(() => structuredClone({ headers: new Headers() })),
    failure(() => structuredClone(new AbortController().signal)),
    failure(() => structuredClone(new ReadableStream())),
    failure(() => structuredClone()),
  ];
  const point = structuredClone(new Point());

  // 50,000 levels of objects and of arrays: no stack overflow (a
  // recursive walk overflows before 20,000). Each level costs about
  // 400 bytes while cloning, so 100,000 of both would pass the 64 MiB
  // default memory limit.
  const levels = ctx.input?.levels ?? 50000;
  const deepObject = {};
  let cursor = deepObject;
  for (let i = 1; i < levels; i++) cursor = cursor.next = {};
  const deepArray = [];
  let at = deepArray;
  for (let i = 1; i < levels; i++) {
    const next = [];
    at.push(next);
    at = next;
  }
  const started = Date.now();
  const deep = [depth(structuredClone(deepObject), "next"), depth(structuredClone(deepArray), 0)];

  return {
    graph,
    collections,
    binary,
    errors,
    blobs,
    refused,
    point: [Object.getPrototypeOf(point) === Object.prototype, point.x],
    deep,
    deepMs: Date.now() - started,
  };
}
