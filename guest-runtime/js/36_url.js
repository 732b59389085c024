// URL and URLSearchParams (URL standard). Parsing and the setters are the
// `url` crate's, the parser the host's fetch allow-list uses, so a charm
// reads a URL exactly as fetch checks it; the query's pairs are parsed and
// serialised by `form_urlencoded` (src/ops/url.rs).
//
// A URL keeps its components as the native side returned them; a setter
// sends the serialisation and one value, and takes the new components. A
// URL's searchParams and its query are kept in step both ways.
(function (internals) {
  "use strict";
  const host = internals.host;
  const { urlParse, urlCanParse, urlSet, formParse, formSerialize } = host;
  const toWellFormed = String.prototype.toWellFormed;
  const sortArray = Array.prototype.sort;
  const encoder = new TextEncoder();
  // Passed as the constructor's first argument by `URL.parse`, with the
  // components as the second: charms cannot reach it.
  const FROM_COMPONENTS = Symbol("URL components");

  // Web IDL's USVString: a string with lone surrogates replaced by U+FFFD.
  function usv(value) {
    if (typeof value === "symbol") throw new TypeError("cannot convert a Symbol to a string");
    return toWellFormed.call(String(value));
  }

  function requireArgs(count, given, what) {
    if (given < count) {
      throw new TypeError(`${what}: ${count} argument${count === 1 ? "" : "s"} required, but only ${given} present`);
    }
  }

  // Indexes into a components list (src/ops/url.rs: `components`).
  const HREF = 0, ORIGIN = 1, PROTOCOL = 2, USERNAME = 3, PASSWORD = 4, HOST = 5,
    HOSTNAME = 6, PORT = 7, PATHNAME = 8, SEARCH = 9, HASH = 10;

  // The "application/x-www-form-urlencoded" serializer over [name, value]
  // pairs.
  function serialize(list) {
    const flat = [];
    for (const [name, value] of list) flat.push(name, value);
    return formSerialize(flat);
  }

  // ...and its parser, to [name, value] pairs.
  function parsePairs(text) {
    const flat = formParse(text);
    const list = [];
    for (let i = 0; i < flat.length; i += 2) list.push([flat[i], flat[i + 1]]);
    return list;
  }

  // Set from URL, to tell URLSearchParams that it belongs to a URL.
  let linkQuery;
  // The URL's "update steps" for its URLSearchParams.
  let updateQuery;

  class URLSearchParams {
    #list = [];
    #url = null; // the URL whose query this is, if any

    constructor(init = "") {
      if (typeof init === "object" && init !== null || typeof init === "function") {
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            if (typeof pair !== "object" && typeof pair !== "function" || pair === null ||
              typeof pair[Symbol.iterator] !== "function") {
              throw new TypeError("URLSearchParams: each item of a sequence must be a [name, value] pair");
            }
            const entry = [...pair];
            if (entry.length !== 2) {
              throw new TypeError(
                `URLSearchParams: each pair must have exactly two items, a name and a value (this one has ${entry.length})`,
              );
            }
            this.#list.push([usv(entry[0]), usv(entry[1])]);
          }
        } else {
          // A record<USVString, USVString>: own enumerable keys, in order.
          for (const key of Reflect.ownKeys(init)) {
            const desc = Reflect.getOwnPropertyDescriptor(init, key);
            if (desc === undefined || !desc.enumerable) continue;
            this.#list.push([usv(key), usv(init[key])]);
          }
        }
      } else {
        let text = usv(init);
        if (text.startsWith("?")) text = text.slice(1);
        this.#list = parsePairs(text);
      }
    }

    static {
      internals.isURLSearchParams = (value) =>
        (typeof value === "object" && value !== null) && #list in value;
      linkQuery = (params, url, query) => {
        params.#url = url;
        params.#list = query === "" ? [] : parsePairs(query);
      };
    }

    // The standard's "update steps".
    #update() {
      if (this.#url !== null) updateQuery(this.#url, serialize(this.#list));
    }

    get size() {
      return this.#list.length;
    }

    append(name, value) {
      requireArgs(2, arguments.length, "URLSearchParams.append");
      this.#list.push([usv(name), usv(value)]);
      this.#update();
    }

    delete(name, value = undefined) {
      requireArgs(1, arguments.length, "URLSearchParams.delete");
      const n = usv(name);
      if (value === undefined) {
        this.#list = this.#list.filter(([k]) => k !== n);
      } else {
        const v = usv(value);
        this.#list = this.#list.filter(([k, w]) => k !== n || w !== v);
      }
      this.#update();
    }

    get(name) {
      requireArgs(1, arguments.length, "URLSearchParams.get");
      const n = usv(name);
      const pair = this.#list.find(([k]) => k === n);
      return pair === undefined ? null : pair[1];
    }

    getAll(name) {
      requireArgs(1, arguments.length, "URLSearchParams.getAll");
      const n = usv(name);
      return this.#list.filter(([k]) => k === n).map(([, v]) => v);
    }

    has(name, value = undefined) {
      requireArgs(1, arguments.length, "URLSearchParams.has");
      const n = usv(name);
      if (value === undefined) return this.#list.some(([k]) => k === n);
      const v = usv(value);
      return this.#list.some(([k, w]) => k === n && w === v);
    }

    set(name, value) {
      requireArgs(2, arguments.length, "URLSearchParams.set");
      const n = usv(name);
      const v = usv(value);
      const i = this.#list.findIndex(([k]) => k === n);
      if (i < 0) {
        this.#list.push([n, v]);
      } else {
        this.#list[i] = [n, v];
        this.#list = this.#list.filter(([k], j) => j <= i || k !== n);
      }
      this.#update();
    }

    // A stable sort by name, comparing code units (as `<` does).
    sort() {
      sortArray.call(this.#list, ([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.#update();
    }

    toString() {
      return serialize(this.#list);
    }

    // The iterators see changes made while iterating, as the standard's do.
    *entries() {
      for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
    }

    *keys() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
    }

    *values() {
      for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
    }

    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") {
        throw new TypeError("URLSearchParams.forEach: the callback must be a function");
      }
      for (let i = 0; i < this.#list.length; i++) {
        const [name, value] = this.#list[i];
        callback.call(thisArg, value, name, this);
      }
    }
  }

  class URL {
    #c; // the components, indexed by HREF..HASH
    #query = null; // the URLSearchParams, made on first use

    constructor(url, base = undefined) {
      if (url === FROM_COMPONENTS) {
        this.#c = base;
        return;
      }
      requireArgs(1, arguments.length, "URL constructor");
      const input = usv(url);
      const baseText = base === undefined ? undefined : usv(base);
      const c = urlParse(input, baseText);
      if (c === undefined) {
        const what = baseText === undefined ? "" : ` against the base ${JSON.stringify(baseText)}`;
        throw new TypeError(`invalid URL: ${JSON.stringify(input)}${what}`);
      }
      this.#c = c;
    }

    static canParse(url, base = undefined) {
      requireArgs(1, arguments.length, "URL.canParse");
      return urlCanParse(usv(url), base === undefined ? undefined : usv(base));
    }

    static parse(url, base = undefined) {
      requireArgs(1, arguments.length, "URL.parse");
      const c = urlParse(usv(url), base === undefined ? undefined : usv(base));
      return c === undefined ? null : new URL(FROM_COMPONENTS, c);
    }

    static {
      updateQuery = (url, serialized) => {
        url.#c = urlSet(url.#c[HREF], "query", serialized);
      };
    }

    #set(setter, value) {
      this.#c = urlSet(this.#c[HREF], setter, usv(value));
    }

    // After a change of the whole URL or its query, the URLSearchParams
    // object (if made) holds the new query's pairs.
    #syncQuery() {
      if (this.#query !== null) linkQuery(this.#query, this, this.#c[SEARCH].slice(1));
    }

    get href() {
      return this.#c[HREF];
    }

    set href(value) {
      const text = usv(value);
      const c = urlParse(text, undefined);
      if (c === undefined) throw new TypeError(`invalid URL: ${JSON.stringify(text)}`);
      this.#c = c;
      this.#syncQuery();
    }

    get origin() {
      return this.#c[ORIGIN];
    }

    get protocol() {
      return this.#c[PROTOCOL];
    }

    set protocol(value) {
      this.#set("protocol", value);
    }

    get username() {
      return this.#c[USERNAME];
    }

    set username(value) {
      this.#set("username", value);
    }

    get password() {
      return this.#c[PASSWORD];
    }

    set password(value) {
      this.#set("password", value);
    }

    get host() {
      return this.#c[HOST];
    }

    set host(value) {
      this.#set("host", value);
    }

    get hostname() {
      return this.#c[HOSTNAME];
    }

    set hostname(value) {
      this.#set("hostname", value);
    }

    get port() {
      return this.#c[PORT];
    }

    set port(value) {
      this.#set("port", value);
    }

    get pathname() {
      return this.#c[PATHNAME];
    }

    set pathname(value) {
      this.#set("pathname", value);
    }

    get search() {
      return this.#c[SEARCH];
    }

    set search(value) {
      this.#set("search", value);
      this.#syncQuery();
    }

    get searchParams() {
      if (this.#query === null) {
        this.#query = new URLSearchParams();
        linkQuery(this.#query, this, this.#c[SEARCH].slice(1));
      }
      return this.#query;
    }

    get hash() {
      return this.#c[HASH];
    }

    set hash(value) {
      this.#set("hash", value);
    }

    toString() {
      return this.#c[HREF];
    }

    toJSON() {
      return this.#c[HREF];
    }
  }

  // Web IDL: attributes and operations are enumerable; a pair iterable's
  // @@iterator is its `entries`.
  function webIdl(Class, name) {
    const proto = Class.prototype;
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === "constructor") continue;
      Object.defineProperty(proto, key, { enumerable: true });
    }
    Object.defineProperty(proto, Symbol.toStringTag, { value: name, configurable: true });
  }
  webIdl(URL, "URL");
  webIdl(URLSearchParams, "URLSearchParams");
  Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, {
    value: URLSearchParams.prototype.entries,
    writable: true,
    configurable: true,
  });

  internals.URL = URL;
  internals.URLSearchParams = URLSearchParams;
  internals.usv = usv;
  // A URLSearchParams body is sent form-encoded (fetch standard's
  // "extract a body").
  (internals.bodyExtractors ??= []).push((init) =>
    internals.isURLSearchParams(init)
      ? {
        bytes: encoder.encode(init.toString()),
        type: "application/x-www-form-urlencoded;charset=UTF-8",
      }
      : undefined
  );
  internals.defineGlobal("URL", URL);
  internals.defineGlobal("URLSearchParams", URLSearchParams);
});
