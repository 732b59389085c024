// Headers (fetch standard): names are case-insensitive byte strings,
// values are trimmed and must not hold CR, LF or NUL; iteration is sorted
// by lower-case name with values combined, except Set-Cookie, whose values
// stay apart (see getSetCookie).
(function (internals) {
  "use strict";
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

  function byteString(value, what) {
    const text = String(value);
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 0xff) {
        throw new TypeError(`${what} is not a byte string: ${JSON.stringify(text)}`);
      }
    }
    return text;
  }

  function normalizeName(name) {
    const text = byteString(name, "header name");
    if (!TOKEN.test(text)) throw new TypeError(`invalid header name: ${JSON.stringify(text)}`);
    return text.toLowerCase();
  }

  function normalizeValue(value) {
    const text = byteString(value, "header value").replace(HTTP_WHITESPACE, "");
    if (/[\0\r\n]/.test(text)) {
      throw new TypeError(`invalid header value (it holds NUL, CR or LF): ${JSON.stringify(text)}`);
    }
    return text;
  }

  const guards = new WeakMap(); // headers -> "immutable"

  class Headers {
    #list = []; // [lower-case name, value], in insertion order
    constructor(init = undefined) {
      if (init === undefined || init === null) return;
      if (typeof init !== "object" && typeof init !== "function") {
        throw new TypeError("Headers init must be an object, a sequence of pairs or Headers");
      }
      if (typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const entry = [...pair];
          if (entry.length !== 2) {
            throw new TypeError("each Headers init pair must have exactly two items, a name and a value");
          }
          this.append(entry[0], entry[1]);
        }
      } else {
        for (const key of Reflect.ownKeys(init)) {
          if (typeof key !== "string") continue;
          const desc = Reflect.getOwnPropertyDescriptor(init, key);
          if (desc && desc.enumerable) this.append(key, init[key]);
        }
      }
    }
    #writable() {
      if (guards.get(this) === "immutable") throw new TypeError("these headers are immutable");
    }
    append(name, value) {
      const n = normalizeName(name);
      const v = normalizeValue(value);
      this.#writable();
      this.#list.push([n, v]);
    }
    set(name, value) {
      const n = normalizeName(name);
      const v = normalizeValue(value);
      this.#writable();
      const i = this.#list.findIndex(([k]) => k === n);
      if (i < 0) {
        this.#list.push([n, v]);
        return;
      }
      this.#list[i] = [n, v];
      this.#list = this.#list.filter(([k], j) => j <= i || k !== n);
    }
    delete(name) {
      const n = normalizeName(name);
      this.#writable();
      this.#list = this.#list.filter(([k]) => k !== n);
    }
    get(name) {
      const n = normalizeName(name);
      const values = this.#list.filter(([k]) => k === n).map(([, v]) => v);
      return values.length === 0 ? null : values.join(", ");
    }
    getSetCookie() {
      return this.#list.filter(([k]) => k === "set-cookie").map(([, v]) => v);
    }
    has(name) {
      const n = normalizeName(name);
      return this.#list.some(([k]) => k === n);
    }
    // The standard's "sort and combine".
    #sorted() {
      const names = [...new Set(this.#list.map(([k]) => k))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const out = [];
      for (const name of names) {
        if (name === "set-cookie") {
          for (const value of this.getSetCookie()) out.push([name, value]);
        } else {
          out.push([name, this.get(name)]);
        }
      }
      return out;
    }
    *entries() {
      yield* this.#sorted();
    }
    *keys() {
      for (const [k] of this.#sorted()) yield k;
    }
    *values() {
      for (const [, v] of this.#sorted()) yield v;
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") throw new TypeError("forEach: the callback must be a function");
      for (const [k, v] of this.#sorted()) callback.call(thisArg, v, k, this);
    }
    static {
      // Every entry in insertion order, for the wire.
      internals.headerList = (headers) => headers.#list.map(([k, v]) => [k, v]);
    }
  }
  // Web IDL: a pair iterable's @@iterator is its `entries`.
  Object.defineProperty(Headers.prototype, Symbol.iterator, {
    value: Headers.prototype.entries,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(Headers.prototype, Symbol.toStringTag, { value: "Headers", configurable: true });

  internals.Headers = Headers;
  internals.freezeHeaders = (headers) => {
    guards.set(headers, "immutable");
    return headers;
  };
  internals.defineGlobal("Headers", Headers);
});
