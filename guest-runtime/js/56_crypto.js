// Web Crypto (W3C Web Cryptography API): the `crypto` global, Crypto
// (getRandomValues, randomUUID), CryptoKey, and SubtleCrypto's methods with
// the standard's argument conversions, algorithm normalization and key
// checks. The algorithms themselves are registered by 57_crypto_algorithms.js
// into `internals.crypto.algorithms`; their work is done natively
// (src/ops/crypto/), in the guest: no key crosses to the host.
//
// Every SubtleCrypto method returns a promise, rejected with the standard's
// error on any failure. The work is done synchronously, at the call (there
// is no other thread in the sandbox); the promise is settled when the call
// returns.
(function (internals) {
  "use strict";
  const { DOMException } = internals;
  const host = internals.host;
  host.cryptoInit(DOMException);

  const isView = ArrayBuffer.isView;
  const arrayBufferByteLength = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;
  const typedArrayTag = Object.getOwnPropertyDescriptor(
    Object.getPrototypeOf(Uint8Array.prototype),
    Symbol.toStringTag,
  ).get;
  const SharedBuffer = typeof SharedArrayBuffer === "function" ? SharedArrayBuffer : null;
  const defineProperty = Object.defineProperty;
  const stringify = JSON.stringify;
  const parseJson = JSON.parse;
  const Encoder = TextEncoder;
  const Decoder = TextDecoder;

  // An internal token: the interfaces below are not constructible by charms.
  const token = Symbol("crypto");

  function domError(name, message) {
    return new DOMException(message, name);
  }

  // ---- Web IDL conversions ----

  function isArrayBuffer(value) {
    try {
      arrayBufferByteLength.call(value);
      return true;
    } catch (_) {
      return false;
    }
  }

  // A BufferSource: a copy of its bytes, as a Uint8Array.
  function bufferSource(value, what) {
    if (isArrayBuffer(value)) return new Uint8Array(value.slice(0));
    if (isView(value)) {
      if (SharedBuffer !== null && value.buffer instanceof SharedBuffer) {
        throw new TypeError(`${what} must not be a view of a SharedArrayBuffer`);
      }
      return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
    }
    throw new TypeError(`${what} must be an ArrayBuffer, a typed array or a DataView`);
  }

  // [EnforceRange] integers.
  function enforceRange(value, max, what) {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new TypeError(`${what} must be a finite number, not ${String(value)}`);
    const t = Math.trunc(n);
    if (t < 0 || t > max) throw new TypeError(`${what} must be an integer from 0 to ${max}, not ${String(value)}`);
    return t;
  }

  function required(dict, member, what) {
    const value = dict[member];
    if (value === undefined) throw new TypeError(`${what}: the ${member} member is required`);
    return value;
  }

  function enumValue(value, allowed, what) {
    const text = String(value);
    if (!allowed.includes(text)) {
      throw new TypeError(`${what}: ${stringify(text)} is not one of ${allowed.map((a) => `"${a}"`).join(", ")}`);
    }
    return text;
  }

  // KeyUsage, in the order the standard lists them: usages are kept in
  // this order, without repeats.
  const USAGES = ["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"];
  const FORMATS = ["raw", "spki", "pkcs8", "jwk"];

  function toUsages(value, what) {
    if (value === null || (typeof value !== "object" && typeof value !== "function") ||
      typeof value[Symbol.iterator] !== "function") {
      throw new TypeError(`${what}: keyUsages must be a sequence of usages, such as ["sign", "verify"]`);
    }
    const given = [];
    for (const usage of value) given.push(enumValue(usage, USAGES, `${what}: a key usage`));
    return USAGES.filter((u) => given.includes(u));
  }

  // The standard's "usage intersection".
  function intersect(usages, allowed) {
    return usages.filter((u) => allowed.includes(u));
  }

  // Throws the SyntaxError the standard asks for when a key would get a
  // usage its algorithm does not allow.
  function checkUsages(usages, allowed, what) {
    for (const usage of usages) {
      if (!allowed.includes(usage)) {
        throw domError(
          "SyntaxError",
          `${what}: the usage "${usage}" is not allowed here (allowed: ${allowed.map((a) => `"${a}"`).join(", ") || "none"})`,
        );
      }
    }
  }

  // JsonWebKey (a dictionary): its members, converted; others dropped.
  const JWK_STRINGS = ["alg", "crv", "d", "dp", "dq", "e", "k", "kty", "n", "p", "q", "qi", "use", "x", "y"];
  function jsonWebKey(value, what) {
    if (value === undefined || value === null) value = {};
    if (typeof value !== "object" && typeof value !== "function") {
      throw new TypeError(`${what}: a JWK must be an object`);
    }
    const jwk = {};
    for (const member of JWK_STRINGS) {
      if (value[member] !== undefined) jwk[member] = String(value[member]);
    }
    if (value.ext !== undefined) jwk.ext = !!value.ext;
    if (value.key_ops !== undefined) {
      const ops = value.key_ops;
      if (ops === null || typeof ops !== "object" || typeof ops[Symbol.iterator] !== "function") {
        throw new TypeError(`${what}: the JWK's key_ops must be an array of strings`);
      }
      jwk.key_ops = [...ops].map(String);
    }
    if (value.oth !== undefined) jwk.oth = value.oth;
    return jwk;
  }

  // ---- algorithms ----

  // name (upper case) -> { name, params: { op: convert }, ...operations }
  const algorithms = new Map();
  internals.crypto = { algorithms };

  // The standard's "normalize an algorithm": the algorithm of `op` named by
  // `algorithm` (a string or a dictionary with `name`), case-insensitively,
  // with its parameters converted to that operation's dictionary.
  function normalizeAlgorithm(algorithm, op, what) {
    const isObject = (typeof algorithm === "object" && algorithm !== null) || typeof algorithm === "function";
    const dict = isObject ? algorithm : { name: String(algorithm) };
    const name = required(dict, "name", `${what}: the algorithm`);
    const text = String(name);
    const entry = algorithms.get(text.toUpperCase());
    if (!entry || !(op in entry.params)) {
      const supported = [...algorithms.values()].filter((a) => op in a.params).map((a) => a.name);
      throw domError(
        "NotSupportedError",
        `${what}: the algorithm ${stringify(text)} is not supported for ${op}` +
          (supported.length ? ` (supported: ${supported.join(", ")})` : ""),
      );
    }
    const convert = entry.params[op];
    const normalized = convert ? convert(dict, what) : {};
    normalized.name = entry.name;
    return normalized;
  }

  // Dictionary members shared by several algorithms' parameters.
  const params = {
    hash: (dict, what) => normalizeAlgorithm(required(dict, "hash", what), "digest", `${what}: hash`),
    bytes: (dict, member, what) => bufferSource(required(dict, member, what), `${what}: ${member}`),
    unsignedLong: (value, what) => enforceRange(value, 0xffffffff, what),
    unsignedShort: (value, what) => enforceRange(value, 0xffff, what),
    octet: (value, what) => enforceRange(value, 0xff, what),
  };

  // ---- CryptoKey ----

  class CryptoKey {
    #type;
    #extractable;
    #algorithm; // the internal record: { name, hash?, length?, namedCurve?, ... }
    #usages;
    #handle; // the native key (src/ops/crypto/key.rs)
    #algorithmObject;
    #usagesObject;
    constructor(key, type, extractable, algorithm, usages, handle) {
      if (key !== token) throw new TypeError("Illegal constructor");
      this.#type = type;
      this.#extractable = extractable;
      this.#algorithm = algorithm;
      this.#usages = usages;
      this.#handle = handle;
    }
    get type() {
      return this.#type;
    }
    get extractable() {
      return this.#extractable;
    }
    // The same object each time (the standard's cached [[algorithm]]); a
    // charm that changes it changes nothing about the key.
    get algorithm() {
      if (this.#algorithmObject === undefined) this.#algorithmObject = exposeAlgorithm(this.#algorithm);
      return this.#algorithmObject;
    }
    get usages() {
      if (this.#usagesObject === undefined) this.#usagesObject = [...this.#usages];
      return this.#usagesObject;
    }
    static {
      internals.crypto.newKey = (type, extractable, algorithm, usages, handle) =>
        new CryptoKey(token, type, extractable, algorithm, usages, handle);
      // The internal slots of a CryptoKey, or undefined for anything else.
      internals.crypto.slots = (key) =>
        (typeof key === "object" && key !== null && #type in key)
          ? {
            type: key.#type,
            extractable: key.#extractable,
            algorithm: key.#algorithm,
            usages: key.#usages,
            handle: key.#handle,
          }
          : undefined;
      internals.crypto.setKeyAttributes = (key, extractable, usages) => {
        key.#extractable = extractable;
        key.#usages = usages;
      };
    }
  }

  function exposeAlgorithm(algorithm) {
    const out = {};
    for (const [member, value] of Object.entries(algorithm)) {
      if (member === "hash") out.hash = { name: value.name };
      else if (member === "publicExponent") out.publicExponent = new Uint8Array(value);
      else out[member] = value;
    }
    return out;
  }

  function cryptoKey(value, what) {
    const slots = internals.crypto.slots(value);
    if (slots === undefined) throw new TypeError(`${what} must be a CryptoKey`);
    return slots;
  }

  // ---- SubtleCrypto ----

  function args(given, count, what) {
    if (given < count) {
      throw new TypeError(`${what}: ${count} argument${count === 1 ? "" : "s"} required, but only ${given} present`);
    }
  }

  // The checks every use of a key for an operation begins with.
  function checkKeyFor(op, normalized, slots, what) {
    if (normalized.name !== slots.algorithm.name) {
      throw domError(
        "InvalidAccessError",
        `${what}: the key is a ${slots.algorithm.name} key, not ${normalized.name}`,
      );
    }
    if (!slots.usages.includes(op)) {
      throw domError(
        "InvalidAccessError",
        `${what}: the key's usages (${slots.usages.map((u) => `"${u}"`).join(", ") || "none"}) do not include "${op}"`,
      );
    }
  }

  function entryOf(name) {
    return algorithms.get(name.toUpperCase());
  }

  // The standard's steps after a key was imported or generated.
  function finishKey(result, extractable, usages, what) {
    const pair = result.privateKey !== undefined;
    const check = pair ? internals.crypto.slots(result.privateKey) : internals.crypto.slots(result);
    if ((check.type === "secret" || check.type === "private") && check.usages.length === 0) {
      throw domError(
        "SyntaxError",
        `${what}: a ${check.type} key needs at least one usage (keyUsages is empty or allows none)`,
      );
    }
    return result;
  }

  function exportKeyData(format, slots, what) {
    const entry = entryOf(slots.algorithm.name);
    if (!entry || !entry.exportKey) {
      throw domError("NotSupportedError", `${what}: ${slots.algorithm.name} keys cannot be exported`);
    }
    if (!slots.extractable) {
      throw domError("InvalidAccessError", `${what}: the key is not extractable`);
    }
    return entry.exportKey(format, slots, what);
  }

  function importKeyData(format, keyData, normalized, extractable, usages, what) {
    const key = algorithms.get(normalized.name.toUpperCase()).importKey(
      format, keyData, normalized, extractable, usages, what,
    );
    finishKey(key, extractable, usages, what);
    return key;
  }

  // The JWK object `exportKey` returns: members in the dictionary's
  // (lexicographic) order, as Web IDL converts a dictionary.
  internals.crypto.jwkObject = function (members, slots) {
    members.ext = slots.extractable;
    members.key_ops = [...slots.usages];
    const out = {};
    for (const name of Object.keys(members).sort()) {
      if (members[name] !== undefined) out[name] = members[name];
    }
    return out;
  };

  // JsonWebKey's members, for `unwrapKey` of a "jwk".
  function parseJwk(bytes, what) {
    let value;
    try {
      const text = new Decoder("utf-8", { fatal: true }).decode(bytes);
      // A JWK nests three levels at most; deeper JSON is not one (and
      // QuickJS's parser recurses: see 80_json.js).
      if (host.jsonDepth(text, 8) > 8) throw new SyntaxError("too deep");
      value = parseJson(text);
    } catch (_) {
      throw domError("DataError", `${what}: the unwrapped key is not JSON`);
    }
    if (typeof value !== "object" || value === null || typeof value.kty !== "string") {
      throw domError("DataError", `${what}: the unwrapped key is not a JWK (it has no kty)`);
    }
    return jsonWebKey(value, what);
  }

  class SubtleCrypto {
    constructor(key) {
      if (key !== token) throw new TypeError("Illegal constructor");
    }
    async encrypt(algorithm, key, data) {
      const what = "SubtleCrypto.encrypt";
      checkThis(this, what);
      args(arguments.length, 3, what);
      const slots = cryptoKey(key, `${what}: key`);
      const bytes = bufferSource(data, `${what}: data`);
      const normalized = normalizeAlgorithm(algorithm, "encrypt", what);
      checkKeyFor("encrypt", normalized, slots, what);
      return entryOf(normalized.name).encrypt(normalized, slots, bytes, what);
    }
    async decrypt(algorithm, key, data) {
      const what = "SubtleCrypto.decrypt";
      checkThis(this, what);
      args(arguments.length, 3, what);
      const slots = cryptoKey(key, `${what}: key`);
      const bytes = bufferSource(data, `${what}: data`);
      const normalized = normalizeAlgorithm(algorithm, "decrypt", what);
      checkKeyFor("decrypt", normalized, slots, what);
      return entryOf(normalized.name).decrypt(normalized, slots, bytes, what);
    }
    async sign(algorithm, key, data) {
      const what = "SubtleCrypto.sign";
      checkThis(this, what);
      args(arguments.length, 3, what);
      const slots = cryptoKey(key, `${what}: key`);
      const bytes = bufferSource(data, `${what}: data`);
      const normalized = normalizeAlgorithm(algorithm, "sign", what);
      checkKeyFor("sign", normalized, slots, what);
      return entryOf(normalized.name).sign(normalized, slots, bytes, what);
    }
    async verify(algorithm, key, signature, data) {
      const what = "SubtleCrypto.verify";
      checkThis(this, what);
      args(arguments.length, 4, what);
      const slots = cryptoKey(key, `${what}: key`);
      const sig = bufferSource(signature, `${what}: signature`);
      const bytes = bufferSource(data, `${what}: data`);
      const normalized = normalizeAlgorithm(algorithm, "verify", what);
      checkKeyFor("verify", normalized, slots, what);
      return entryOf(normalized.name).verify(normalized, slots, sig, bytes, what);
    }
    async digest(algorithm, data) {
      const what = "SubtleCrypto.digest";
      checkThis(this, what);
      args(arguments.length, 2, what);
      const bytes = bufferSource(data, `${what}: data`);
      const normalized = normalizeAlgorithm(algorithm, "digest", what);
      return host.cryptoDigest(normalized.name, bytes);
    }
    async generateKey(algorithm, extractable, keyUsages) {
      const what = "SubtleCrypto.generateKey";
      checkThis(this, what);
      args(arguments.length, 3, what);
      const usages = toUsages(keyUsages, what);
      const normalized = normalizeAlgorithm(algorithm, "generateKey", what);
      const result = entryOf(normalized.name).generateKey(normalized, !!extractable, usages, what);
      return finishKey(result, !!extractable, usages, what);
    }
    async deriveKey(algorithm, baseKey, derivedKeyType, extractable, keyUsages) {
      const what = "SubtleCrypto.deriveKey";
      checkThis(this, what);
      args(arguments.length, 5, what);
      cryptoKey(baseKey, `${what}: baseKey`);
      toUsages(keyUsages, what);
      // No algorithm here derives keys (ECDH, HKDF and PBKDF2 are not
      // implemented): this throws NotSupportedError.
      normalizeAlgorithm(algorithm, "deriveBits", what);
      throw domError("NotSupportedError", `${what}: no algorithm derives keys in this runtime`);
    }
    async deriveBits(algorithm, baseKey) {
      const what = "SubtleCrypto.deriveBits";
      checkThis(this, what);
      args(arguments.length, 2, what);
      cryptoKey(baseKey, `${what}: baseKey`);
      normalizeAlgorithm(algorithm, "deriveBits", what);
      throw domError("NotSupportedError", `${what}: no algorithm derives bits in this runtime`);
    }
    async importKey(format, keyData, algorithm, extractable, keyUsages) {
      const what = "SubtleCrypto.importKey";
      checkThis(this, what);
      args(arguments.length, 5, what);
      format = enumValue(format, FORMATS, `${what}: format`);
      const data = importData(format, keyData, what);
      const usages = toUsages(keyUsages, what);
      const normalized = normalizeAlgorithm(algorithm, "importKey", what);
      return importKeyData(format, data, normalized, !!extractable, usages, what);
    }
    async exportKey(format, key) {
      const what = "SubtleCrypto.exportKey";
      checkThis(this, what);
      args(arguments.length, 2, what);
      format = enumValue(format, FORMATS, `${what}: format`);
      return exportKeyData(format, cryptoKey(key, `${what}: key`), what);
    }
    async wrapKey(format, key, wrappingKey, wrapAlgorithm) {
      const what = "SubtleCrypto.wrapKey";
      checkThis(this, what);
      args(arguments.length, 4, what);
      format = enumValue(format, FORMATS, `${what}: format`);
      const slots = cryptoKey(key, `${what}: key`);
      const wrapping = cryptoKey(wrappingKey, `${what}: wrappingKey`);
      // No algorithm here has a wrapKey operation of its own (AES-KW is not
      // implemented), so the standard falls back to encrypt.
      const normalized = normalizeAlgorithm(wrapAlgorithm, "encrypt", what);
      checkKeyFor("wrapKey", normalized, wrapping, what);
      const exported = exportKeyData(format, slots, what);
      const bytes = format === "jwk"
        ? new Encoder().encode(stringify(exported))
        : new Uint8Array(exported);
      return entryOf(normalized.name).encrypt(normalized, wrapping, bytes, what);
    }
    async unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, keyUsages) {
      const what = "SubtleCrypto.unwrapKey";
      checkThis(this, what);
      args(arguments.length, 7, what);
      format = enumValue(format, FORMATS, `${what}: format`);
      const wrapped = bufferSource(wrappedKey, `${what}: wrappedKey`);
      const unwrapping = cryptoKey(unwrappingKey, `${what}: unwrappingKey`);
      const usages = toUsages(keyUsages, what);
      const normalized = normalizeAlgorithm(unwrapAlgorithm, "decrypt", what);
      const keyAlgorithm = normalizeAlgorithm(unwrappedKeyAlgorithm, "importKey", what);
      checkKeyFor("unwrapKey", normalized, unwrapping, what);
      const bytes = new Uint8Array(entryOf(normalized.name).decrypt(normalized, unwrapping, wrapped, what));
      const data = format === "jwk" ? parseJwk(bytes, what) : bytes;
      return importKeyData(format, data, keyAlgorithm, !!extractable, usages, what);
    }
  }

  // `keyData` of importKey: a JWK dictionary for "jwk", else a BufferSource.
  function importData(format, keyData, what) {
    const buffer = isArrayBuffer(keyData) || isView(keyData);
    if (format === "jwk") {
      if (buffer) throw new TypeError(`${what}: a "jwk" key must be a JWK object, not bytes`);
      return jsonWebKey(keyData, what);
    }
    if (!buffer) {
      throw new TypeError(`${what}: a "${format}" key must be an ArrayBuffer, a typed array or a DataView`);
    }
    return bufferSource(keyData, `${what}: keyData`);
  }

  const subtleInstances = new WeakSet();
  function checkThis(value, what) {
    if (!subtleInstances.has(value)) throw new TypeError(`${what}: illegal invocation`);
  }

  // ---- Crypto ----

  // getRandomValues takes integer typed arrays only.
  const INTEGER_ARRAYS = [
    "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
    "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array",
  ];
  const MAX_RANDOM_BYTES = 65536;

  const subtle = new SubtleCrypto(token);
  subtleInstances.add(subtle);

  class Crypto {
    #brand = true;
    constructor(key) {
      if (key !== token) throw new TypeError("Illegal constructor");
    }
    get subtle() {
      if (!(typeof this === "object" && this !== null && #brand in this)) {
        throw new TypeError("Crypto.subtle: illegal invocation");
      }
      return subtle;
    }
    getRandomValues(array) {
      const what = "Crypto.getRandomValues";
      if (!(typeof this === "object" && this !== null && #brand in this)) {
        throw new TypeError(`${what}: illegal invocation`);
      }
      args(arguments.length, 1, what);
      if (!isView(array)) throw new TypeError(`${what}: the argument must be an integer typed array`);
      const kind = typedArrayTag.call(array);
      if (!INTEGER_ARRAYS.includes(kind)) {
        throw domError("TypeMismatchError", `${what}: a ${kind ?? "DataView"} is not an integer typed array`);
      }
      if (array.byteLength > MAX_RANDOM_BYTES) {
        throw domError(
          "QuotaExceededError",
          `${what}: ${array.byteLength} bytes were asked for, more than the limit of ${MAX_RANDOM_BYTES}`,
        );
      }
      host.cryptoRandom(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    }
    // A version 4 UUID (RFC 9562): 122 random bits.
    randomUUID() {
      if (!(typeof this === "object" && this !== null && #brand in this)) {
        throw new TypeError("Crypto.randomUUID: illegal invocation");
      }
      const b = new Uint8Array(16);
      host.cryptoRandom(b);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      let out = "";
      for (let i = 0; i < 16; i++) {
        if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
        out += (b[i] + 0x100).toString(16).slice(1);
      }
      return out;
    }
  }

  // Web IDL: operations and attributes are enumerable; the interfaces say
  // their names.
  function idlInterface(Class, name) {
    for (const key of Object.getOwnPropertyNames(Class.prototype)) {
      if (key === "constructor") continue;
      const desc = Object.getOwnPropertyDescriptor(Class.prototype, key);
      desc.enumerable = true;
      defineProperty(Class.prototype, key, desc);
    }
    defineProperty(Class.prototype, Symbol.toStringTag, { value: name, configurable: true });
    internals.defineGlobal(name, Class);
  }
  idlInterface(Crypto, "Crypto");
  idlInterface(SubtleCrypto, "SubtleCrypto");
  idlInterface(CryptoKey, "CryptoKey");

  Object.assign(internals.crypto, {
    domError,
    bufferSource,
    required,
    enforceRange,
    params,
    intersect,
    checkUsages,
  });

  // `crypto` is a readonly attribute of the global scope
  // (WindowOrWorkerGlobalScope): a getter with no setter, so assigning to
  // it in a module (strict code) is a TypeError.
  const instance = new Crypto(token);
  defineProperty(globalThis, "crypto", {
    get: Object.getOwnPropertyDescriptor({ get crypto() { return instance; } }, "crypto").get,
    set: undefined,
    enumerable: true,
    configurable: true,
  });
});
