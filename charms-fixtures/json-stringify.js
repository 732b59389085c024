// JSON.stringify on a wide set of values, replacers and spaces: returns,
// per case, the text (or "undefined", or the error's name) and the calls
// that toJSON, replacers and proxy traps saw, in order. The test compares
// the lot with what QuickJS's own JSON.stringify gave for the same cases
// (host/tests/data/json-stringify-quickjs.json).
const log = [];
const note = (...parts) => log.push(parts.map(String).join(" "));

function deep(n, leaf) {
  let v = leaf;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

function proxied(target) {
  return new Proxy(target, {
    get(t, k, r) {
      note("get", typeof k === "symbol" ? "symbol" : k);
      return Reflect.get(t, k, r);
    },
    ownKeys(t) {
      note("ownKeys");
      return Reflect.ownKeys(t);
    },
    getOwnPropertyDescriptor(t, k) {
      note("gopd", typeof k === "symbol" ? "symbol" : k);
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
  });
}

// Doubles of every magnitude, from a fixed pseudo-random sequence: their
// bits at random (NaN and infinities left out), and decimals as prices
// and measurements come.
function doubles() {
  let seed = 0x9e3779b97f4a7c15n;
  const next = () => {
    seed = (seed * 6364136223846793005n + 1442695040888963407n) & 0xffffffffffffffffn;
    return seed;
  };
  const bits = new BigUint64Array(1);
  const view = new Float64Array(bits.buffer);
  const random = [];
  while (random.length < 500) {
    bits[0] = next();
    if (Number.isFinite(view[0])) random.push(view[0]);
  }
  const decimals = [];
  for (let i = 0; i < 500; i++) {
    const scale = 10 ** (Number(next() % 40n) - 20);
    decimals.push(Math.round(Number(next() % 10000000n)) / 1000 * scale);
  }
  return [random, decimals];
}
const [randomDoubles, decimalDoubles] = doubles();

const cycle = { a: 1 };
cycle.self = cycle;
const indirect = { list: [] };
indirect.list.push({ back: indirect });
const shared = { x: 1 };
const revocable = Proxy.revocable({}, {});
revocable.revoke();
const withHidden = Object.defineProperty({ shown: 1 }, "hidden", { value: 2, enumerable: false });
const withSymbol = { [Symbol("s")]: 1, kept: 2 };
const withGetter = { get g() { note("getter"); return 5; }, plain: 1 };
class Point {
  constructor() { this.x = 1; this.y = 2; }
  get sum() { return this.x + this.y; }
}
const nullProto = Object.assign(Object.create(null), { b: 2, a: 1 });
const keyOrder = { b: 1, 2: "two", a: 2, 1: "one", [-1]: "minus", "01": "zero-one", 4294967295: "max" };
const arrayWithProps = Object.assign([1, 2], { extra: true });
const sparse = [, 1, , 3];
sparse.length = 6;
const mutating = {
  a: 1,
  get b() { delete this.c; this.d = 4; return 2; },
  c: 3,
};
const numberObject = Object.assign(new Number(3), { valueOf() { note("valueOf"); return 7; } });
const stringObject = Object.assign(new String("s"), { toString() { note("toString"); return "t"; } });
const stringWithProps = Object.assign(new String("ab"), { x: 1 });
const fnWithToJSON = Object.assign(function () {}, { toJSON() { return "fn"; } });
const args = (function () { return arguments; })(1, "a");

const cases = {
  null: [null],
  true: [true],
  false: [false],
  zero: [0],
  minusZero: [-0],
  ints: [[1, -1, 100, 2147483647, -2147483648, 2147483648, 9007199254740991, 9007199254740993]],
  floats: [[1.5, -0.25, 0.1 + 0.2, 1e21, 1e-7, 1.5e-7, 123e-20, 1e15, 9e15, 1e16, 123456789012345680000, 5e-324, 1.7976931348623157e308, 4.35, 0.000001]],
  nonFinite: [[NaN, Infinity, -Infinity]],
  randomDoubles: [randomDoubles],
  decimalDoubles: [decimalDoubles],
  undefinedTop: [undefined],
  functionTop: [function () {}],
  symbolTop: [Symbol("x")],
  emptyString: [""],
  plainString: ["hello world"],
  escapes: ["quote\" backslash\\ slash/ \b\f\n\r\t"],
  controls: [Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("") + "\u007f"],
  nonAscii: ["é ü 日本 \u00a0 \u2028\u2029 \ufeff"],
  astral: ["😀 𝄞"],
  loneSurrogates: [["\ud800", "\udfff", "a\ud800b", "\udc00\ud800", "\ud83d", "x\ude00"]],
  surrogateKeys: [{ "\ud800": 1, "\ud83d\ude00": 2 }],
  emptyArray: [[]],
  emptyObject: [{}],
  nestedEmpty: [{ a: [], b: {}, c: [[]], d: [{}] }],
  skipped: [[undefined, function () {}, Symbol("y"), null]],
  skippedMembers: [{ u: undefined, f() {}, s: Symbol("z"), n: null, k: 1 }],
  sparse: [sparse],
  arrayWithProps: [arrayWithProps],
  keyOrder: [keyOrder],
  escapedKeys: [{ 'a"b': 1, "\n": 2, "é": 3, "": 4, "\\": 5 }],
  withHidden: [withHidden],
  withSymbol: [withSymbol],
  withGetter: [withGetter],
  classInstance: [new Point()],
  nullProto: [nullProto],
  mutating: [mutating],
  numberObject: [numberObject],
  stringObject: [stringObject],
  boxed: [[new Number(3), new String("s"), new Boolean(false), new Boolean(true), Object(Symbol("q"))]],
  stringWithProps: [stringWithProps],
  bigintBoxed: [Object(1n)],
  bigint: [1n],
  bigintNested: [{ a: [1n] }],
  bigintToJSON: ["bigint-tojson"],
  date: [new Date(Date.UTC(2020, 1, 29, 12, 30, 45, 678))],
  invalidDate: [new Date(NaN)],
  dateInObject: [{ when: new Date(0) }],
  toJSONKeys: [{ a: { toJSON(k) { return `key:${k}`; } }, b: [{ toJSON(k) { return `key:${k}:${typeof k}`; } }] }],
  toJSONTop: [{ toJSON(k) { return `top:${JSON.stringify(k)}`; } }],
  toJSONUndefined: [{ a: { toJSON() { return undefined; } }, b: [{ toJSON() {} }] }],
  toJSONThrows: [{ a: { toJSON() { throw new RangeError("no"); } } }],
  toJSONNotCallable: [{ toJSON: 1, v: 2 }],
  fnWithToJSON: [fnWithToJSON],
  getterThrows: [{ get a() { throw new SyntaxError("no"); } }],
  typedArray: [new Uint8Array([1, 2, 3])],
  float64Array: [new Float64Array([0.5, -0])],
  mapSet: [[new Map([[1, 2]]), new Set([1]), new WeakMap()]],
  errors: [[new Error("e"), new TypeError("t")]],
  regexp: [/a+/g],
  arguments: [args],
  rawJSON: [[JSON.rawJSON("123"), JSON.rawJSON('"x"'), JSON.rawJSON("1e1000")]],
  cycle: [cycle],
  indirectCycle: [indirect],
  sharedNotCycle: [{ a: shared, b: shared, c: [shared, shared] }],
  proxyArray: [proxied([1, { a: 2 }])],
  proxyObject: [proxied({ b: 1, a: [2] })],
  proxyOfProxyArray: [new Proxy(new Proxy([1, 2], {}), {})],
  revokedProxy: [revocable.proxy],
  revokedInArray: [[1, revocable.proxy]],
  deep1000: [deep(1000, { leaf: true })],
  longString: ["ab\"c".repeat(5000)],
  manyKeys: [Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, i % 7 === 0 ? null : i]))],
  replacerDouble: [{ a: 1, b: [2, 3], c: "x" }, (k, v) => (typeof v === "number" ? v * 2 : v)],
  replacerSeesHolder: [{ a: { b: 1 }, c: [5] }, function (k, v) {
    note("replacer", JSON.stringify(k), Array.isArray(this) ? "array" : Object.keys(this).join("|"), typeof v);
    return v;
  }],
  replacerWrapper: [7, function (k, v) { return k === "" ? Object.keys(this).concat(Object.getPrototypeOf(this) === Object.prototype) : v; }],
  replacerUndefinedTop: [{ a: 1 }, () => undefined],
  replacerDropsKeys: [{ a: 1, b: 2, c: [1, 2] }, (k, v) => (k === "b" || k === "0" ? undefined : v)],
  replacerAfterToJSON: [{ d: { toJSON() { return "from toJSON"; } } }, (k, v) => (k === "d" ? `replaced ${v}` : v)],
  replacerReturnsObjects: [1, (k, v) => (k === "" ? { x: 1, y: [2] } : k === "x" ? { nested: true } : v)],
  replacerThrows: [{ a: 1 }, (k) => { if (k === "a") throw new EvalError("r"); return k === "" ? { a: 1 } : 1; }],
  propertyList: [{ a: 1, b: 2, c: { a: 3, d: 4 }, 1: "one", 2: "two" }, ["a", "c", 1, new String("b"), new Number(2), {}, "a", null, true]],
  propertyListArrays: [[{ a: 1, b: 2 }, [{ a: 3 }]], ["a"]],
  propertyListMissing: [{ a: 1 }, ["z", "a"]],
  propertyListProxy: [{ a: 1, b: 2 }, new Proxy(["b"], {})],
  propertyListEmpty: [{ a: 1 }, []],
  replacerNotUsable: [{ a: 1 }, { a: true }],
  spaceTwo: [{ a: [1, { b: 2 }], c: {}, d: [] }, null, 2],
  spaceTab: [{ a: [1, 2] }, null, "\t"],
  spaceLongString: [{ a: [1] }, null, "abcdefghijklmnop"],
  spaceTwenty: [{ a: [1] }, null, 20],
  spaceZero: [{ a: [1] }, null, 0],
  spaceNegative: [{ a: [1] }, null, -3],
  spaceFraction: [{ a: [1] }, null, 2.9],
  spaceNumberObject: [{ a: [1] }, null, new Number(3)],
  spaceStringObject: [{ a: [1] }, null, new String("--")],
  spaceEmptyString: [{ a: [1] }, null, ""],
  spaceOther: [{ a: [1] }, null, true],
  spaceEmoji: [{ a: [1] }, null, "😀😀😀😀😀😀"],
  spaceWithReplacer: [{ a: { b: [1, undefined] } }, (k, v) => v, 1],
  spaceWithList: [{ a: { b: 1, c: 2 } }, ["a", "b"], 4],
};

export function bgUpdater() {
  const results = {};
  for (const [name, [value, replacer, space]] of Object.entries(cases)) {
    log.length = 0;
    let out;
    try {
      let text;
      if (value === "bigint-tojson") {
        BigInt.prototype.toJSON = function (k) { return `${this}n at ${JSON.stringify(k)}`; };
        try {
          text = JSON.stringify({ a: 1n, b: [2n] });
        } finally {
          delete BigInt.prototype.toJSON;
        }
      } else {
        text = JSON.stringify(value, replacer, space);
      }
      out = text === undefined ? "undefined" : text;
    } catch (e) {
      out = `throws ${e.name}`;
    }
    results[name] = log.length ? [out, log.slice()] : [out];
  }
  return {
    results,
    length: JSON.stringify.length,
    name: JSON.stringify.name,
  };
}
