// crypto.getRandomValues and crypto.randomUUID (W3C Web Cryptography API),
// and the shape of the `crypto` global: a readonly attribute holding a
// Crypto, whose interfaces charms cannot construct.
const failure = (f) => {
  try {
    f();
    return "no error";
  } catch (e) {
    return `${e.name}${e instanceof DOMException ? ` (code ${e.code})` : ""}: ${e.message}`;
  }
};

export function bgUpdater(state) {
  const out = {};
  const a = new Uint8Array(32);
  out.returnsItsArgument = crypto.getRandomValues(a) === a;
  out.filled = a.some((b) => b !== 0);
  out.uint32 = crypto.getRandomValues(new Uint32Array(4)).length;
  out.bigint = typeof crypto.getRandomValues(new BigUint64Array(2))[0];
  out.clamped = crypto.getRandomValues(new Uint8ClampedArray(8)).length;
  out.largest = crypto.getRandomValues(new Uint8Array(65536)).length;
  out.tooLarge = failure(() => crypto.getRandomValues(new Uint8Array(65537)));
  out.tooLargeWords = failure(() => crypto.getRandomValues(new Uint32Array(16385)));
  out.float32 = failure(() => crypto.getRandomValues(new Float32Array(4)));
  out.float64 = failure(() => crypto.getRandomValues(new Float64Array(4)));
  out.dataView = failure(() => crypto.getRandomValues(new DataView(new ArrayBuffer(4))));
  out.plainArray = failure(() => crypto.getRandomValues([1, 2, 3]));
  // Only the view's bytes change, not the rest of its buffer.
  const whole = new Uint8Array(16);
  crypto.getRandomValues(new Uint8Array(whole.buffer, 4, 8));
  out.outsideTheView = [...whole.slice(0, 4), ...whole.slice(12)];

  const uuids = Array.from({ length: 200 }, () => crypto.randomUUID());
  const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  out.uuidsAreV4 = uuids.every((u) => v4.test(u));
  out.distinctUuids = new Set(uuids).size;
  out.uuid = uuids[0];
  out.randomHex = [...a].map((b) => b.toString(16).padStart(2, "0")).join("");

  out.isCrypto = crypto instanceof Crypto;
  out.subtleIsSubtleCrypto = crypto.subtle instanceof SubtleCrypto;
  out.sameSubtle = crypto.subtle === crypto.subtle;
  out.toStringTag = Object.prototype.toString.call(crypto);
  const d = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  out.descriptor = { get: typeof d.get, set: typeof d.set, enumerable: d.enumerable, configurable: d.configurable };
  out.assign = failure(() => {
    globalThis.crypto = {};
  });
  out.stillCrypto = crypto instanceof Crypto;
  out.newCrypto = failure(() => new Crypto());
  out.newSubtleCrypto = failure(() => new SubtleCrypto());
  out.newCryptoKey = failure(() => new CryptoKey());
  const detached = crypto.getRandomValues;
  out.detachedMethod = failure(() => detached(new Uint8Array(4)));
  out.methodsEnumerable = Object.keys(Crypto.prototype).sort();
  return { ...state, ...out };
}
