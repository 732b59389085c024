// `Headers`: a case-insensitive header list with the read/write API of the
// fetch standard's Headers.
(function (internals) {
  "use strict";
  const isArray = Array.isArray;

  function headerName(name) {
    const lower = String(name).toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) {
      throw new TypeError(`invalid header name: ${name}`);
    }
    return lower;
  }

  class Headers {
    #entries = [];
    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        for (const [k, v] of init.entries()) this.append(k, v);
      } else if (isArray(init)) {
        for (const pair of init) {
          if (!isArray(pair) || pair.length !== 2) {
            throw new TypeError("Headers init pairs must be [name, value]");
          }
          this.append(pair[0], pair[1]);
        }
      } else if (typeof init === "object") {
        for (const key of Object.keys(init)) this.append(key, init[key]);
      } else {
        throw new TypeError("Headers init must be an object, an array of pairs or Headers");
      }
    }
    append(name, value) {
      this.#entries.push([headerName(name), String(value)]);
    }
    set(name, value) {
      this.delete(name);
      this.append(name, value);
    }
    delete(name) {
      const key = headerName(name);
      this.#entries = this.#entries.filter(([k]) => k !== key);
    }
    get(name) {
      const key = headerName(name);
      const values = this.#entries.filter(([k]) => k === key).map(([, v]) => v);
      return values.length === 0 ? null : values.join(", ");
    }
    has(name) {
      const key = headerName(name);
      return this.#entries.some(([k]) => k === key);
    }
    *entries() {
      const seen = new Set();
      for (const [k] of this.#entries) {
        if (seen.has(k)) continue;
        seen.add(k);
        yield [k, this.get(k)];
      }
    }
    *keys() {
      for (const [k] of this.entries()) yield k;
    }
    *values() {
      for (const [, v] of this.entries()) yield v;
    }
    forEach(callback, thisArg) {
      for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toJSON() {
      return Object.fromEntries(this.entries());
    }
  }

  internals.Headers = Headers;
  internals.defineGlobal("Headers", Headers);
});
