// Request, Response and fetch (fetch standard). Bodies are bytes, kept
// exactly; a fetch is a host operation, so fetches overlap, and its signal
// cancels it (the host drops the connection).
//
// Extension points for later files: `internals.bodyExtractors` turns other
// BodyInit types into bytes, `internals.decodeText` decodes a body by its
// charset, and `internals.makeBodyStream` / `internals.makeBlob` give a
// body as a ReadableStream or a Blob.
(function (internals) {
  "use strict";
  const { Headers, DOMException } = internals;
  const host = internals.host;
  const encoder = new TextEncoder();
  const utf8 = new TextDecoder("utf-8");
  const parseJson = (text) => JSON.parse(text);

  // BodyInit -> { bytes: Uint8Array, type: string | null }, or, for a
  // ReadableStream, { stream, type: null }. Other files (loaded earlier)
  // add extractors for URLSearchParams, Blob, FormData and streams.
  internals.bodyExtractors ??= [];
  function extractBody(init) {
    if (typeof init === "string") {
      return { bytes: encoder.encode(init), type: "text/plain;charset=UTF-8" };
    }
    if (init instanceof ArrayBuffer) {
      return { bytes: new Uint8Array(init.slice(0)), type: null };
    }
    if (ArrayBuffer.isView(init)) {
      const view = new Uint8Array(init.buffer, init.byteOffset, init.byteLength);
      return { bytes: view.slice(), type: null };
    }
    for (const extract of internals.bodyExtractors) {
      const body = extract(init);
      if (body) return body;
    }
    // Anything else is converted to a string, as Web IDL's union does.
    return { bytes: encoder.encode(String(init)), type: "text/plain;charset=UTF-8" };
  }
  internals.extractBody = extractBody;

  // A body by its BOM, then the charset of its Content-Type, then UTF-8
  // (the fetch standard's text() decodes UTF-8 only; charm-host also
  // honours the declared charset, which older feeds need). Replaced by the
  // encoding file with one that knows every WHATWG encoding.
  internals.decodeText ??= function (bytes, _contentType) {
    return utf8.decode(bytes);
  };

  // The body of a Request or Response: bytes, read once; or a stream
  // (`bytes` undefined), read when the body is consumed. Once `body` has
  // been asked for, reading goes through its stream, and a read from the
  // stream marks the body used.
  class BodyState {
    constructor(bytes, stream = undefined) {
      this.bytes = bytes; // Uint8Array, null (no body), or undefined (a stream)
      this.consumed = false;
      this.stream = stream;
    }
    get used() {
      return this.consumed || (this.stream !== undefined && internals.streamDisturbed(this.stream));
    }
    set used(value) {
      this.consumed = value;
    }
    // The bytes, or a promise of them when the body is a stream.
    consume(what, limit = undefined) {
      if (this.used) throw new TypeError(`${what}: the body has already been read`);
      if (this.stream !== undefined) {
        if (internals.streamLocked(this.stream)) throw new TypeError(`${what}: the body's stream is locked to a reader`);
        return internals.readAllBytes(this.stream, what, limit);
      }
      this.used = true;
      return this.bytes ?? new Uint8Array(0);
    }
    clone() {
      if (this.used) throw new TypeError("clone: the body has already been read");
      if (this.bytes === undefined) {
        if (internals.streamLocked(this.stream)) throw new TypeError("clone: the body's stream is locked to a reader");
        const [mine, theirs] = internals.teeBody(this.stream);
        this.stream = mine;
        return new BodyState(undefined, theirs);
      }
      return new BodyState(this.bytes === null ? null : this.bytes.slice());
    }
  }

  // The Body mixin's methods, for Request and Response.
  function mixBody(Class, stateOf) {
    const methods = {
      get body() {
        const state = stateOf(this);
        if (state.bytes === null) return null;
        if (!internals.makeBodyStream) {
          throw new TypeError("body streams are not available in this runtime");
        }
        if (state.stream === undefined) state.stream = internals.makeBodyStream(state);
        return state.stream;
      },
      get bodyUsed() {
        return stateOf(this).used;
      },
      async arrayBuffer() {
        const bytes = await stateOf(this).consume("arrayBuffer");
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      },
      async bytes() {
        return (await stateOf(this).consume("bytes")).slice();
      },
      async text() {
        return internals.decodeText(await stateOf(this).consume("text"), this.headers.get("content-type"));
      },
      async json() {
        const text = internals.decodeText(await stateOf(this).consume("json"), this.headers.get("content-type"));
        try {
          return parseJson(text);
        } catch (e) {
          if (!(e instanceof SyntaxError)) throw e;
          const what = this.url ? `response from ${this.url}` : "the body";
          throw new SyntaxError(`${what} is not valid JSON: ${e.message}`);
        }
      },
      async blob() {
        if (!internals.makeBlob) throw new TypeError("Blob is not available in this runtime");
        const bytes = await stateOf(this).consume("blob");
        return internals.makeBlob(bytes, this.headers.get("content-type") ?? "");
      },
      async formData() {
        if (!internals.parseFormData) throw new TypeError("FormData is not available in this runtime");
        const bytes = await stateOf(this).consume("formData");
        return internals.parseFormData(bytes, this.headers.get("content-type") ?? "");
      },
    };
    for (const name of Object.getOwnPropertyNames(methods)) {
      Object.defineProperty(Class.prototype, name, {
        ...Object.getOwnPropertyDescriptor(methods, name),
        enumerable: true,
      });
    }
  }

  const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
  const FORBIDDEN_METHODS = ["CONNECT", "TRACE", "TRACK"];
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const REDIRECTS = ["follow", "manual", "error"];

  function normalizeMethod(method) {
    const text = String(method);
    if (!TOKEN.test(text)) throw new TypeError(`invalid method: ${JSON.stringify(text)}`);
    const upper = text.toUpperCase();
    if (FORBIDDEN_METHODS.includes(upper)) throw new TypeError(`the method ${upper} is forbidden`);
    // The standard upper-cases only its own methods (PATCH is not one;
    // Deno and browsers send "patch" as given).
    return METHODS.includes(upper) && upper !== "PATCH" ? upper : text;
  }

  function parseUrl(input) {
    const text = String(input);
    if (internals.URL) {
      try {
        return new internals.URL(text).href;
      } catch (_) {
        throw new TypeError(`invalid URL: ${JSON.stringify(text)}`);
      }
    }
    if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) {
      throw new TypeError(`invalid URL (it must be absolute): ${JSON.stringify(text)}`);
    }
    return text;
  }

  const requestState = new WeakMap();

  class Request {
    #url;
    #method;
    #headers;
    #redirect;
    #signal;
    #body;
    constructor(input, init = {}) {
      if (arguments.length === 0) throw new TypeError("Request constructor: 1 argument required");
      init = init ?? {};
      const from = input instanceof Request ? input : null;
      this.#url = from ? from.url : parseUrl(input);
      this.#method = from ? from.method : "GET";
      this.#redirect = from ? from.redirect : "follow";
      if (init.method !== undefined) this.#method = normalizeMethod(init.method);
      if (init.redirect !== undefined) {
        const mode = String(init.redirect);
        if (!REDIRECTS.includes(mode)) {
          throw new TypeError(`invalid redirect mode ${JSON.stringify(mode)}: use "follow", "manual" or "error"`);
        }
        this.#redirect = mode;
      }
      const signal = init.signal !== undefined ? init.signal : from ? from.signal : null;
      if (signal !== null && signal !== undefined && !internals.isAbortSignal(signal)) {
        throw new TypeError("the signal option must be an AbortSignal");
      }
      // The request's own signal follows the given one.
      this.#signal = signal ? internals.AbortSignal.any([signal]) : internals.newAbortSignal();
      this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
      let body = null;
      if (init.body !== undefined && init.body !== null) {
        if (this.#method === "GET" || this.#method === "HEAD") {
          throw new TypeError(`a ${this.#method} request cannot have a body`);
        }
        const extracted = extractBody(init.body);
        // A stream body needs duplex "half" (the request is sent whole).
        if (extracted.stream !== undefined && init.duplex !== "half") {
          throw new TypeError('a request whose body is a ReadableStream needs duplex: "half"');
        }
        body = new internals.BodyState(extracted.bytes, extracted.stream);
        if (extracted.type !== null && !this.#headers.has("content-type")) {
          this.#headers.append("content-type", extracted.type);
        }
      } else if (from && init.body === undefined) {
        const state = requestState.get(from);
        if (state.used) throw new TypeError("Request: the input's body has already been read");
        // The standard moves the input's body into the new request.
        body = state.bytes === null ? null : new internals.BodyState(state.bytes, state.stream);
        if (state.bytes !== null) state.used = true;
      }
      this.#body = body ?? new internals.BodyState(null);
      requestState.set(this, this.#body);
    }
    get url() { return this.#url; }
    get method() { return this.#method; }
    get headers() { return this.#headers; }
    get redirect() { return this.#redirect; }
    get signal() { return this.#signal; }
    get destination() { return ""; }
    get referrer() { return "about:client"; }
    get referrerPolicy() { return ""; }
    get mode() { return "cors"; }
    get credentials() { return "same-origin"; }
    get cache() { return "default"; }
    get integrity() { return ""; }
    get keepalive() { return false; }
    get isReloadNavigation() { return false; }
    get isHistoryNavigation() { return false; }
    get duplex() { return "half"; }
    clone() {
      const copy = new Request(this, { body: null, signal: this.#signal });
      const state = this.#body.clone();
      requestState.set(copy, state);
      copy.#body = state;
      return copy;
    }
  }
  internals.BodyState = BodyState;
  mixBody(Request, (request) => requestState.get(request));
  Object.defineProperty(Request.prototype, Symbol.toStringTag, { value: "Request", configurable: true });

  const NULL_BODY_STATUS = [101, 103, 204, 205, 304];
  const REDIRECT_STATUS = [301, 302, 303, 307, 308];
  const REASON = /^[\t\x20-\x7e\x80-\xff]*$/;
  const responseState = new WeakMap();
  const token = Symbol("Response");

  class Response {
    #status = 200;
    #statusText = "";
    #headers;
    #type = "default";
    #url = "";
    #redirected = false;
    #body;
    constructor(body = null, init = {}) {
      init = init ?? {};
      if (init === token) {
        this.#headers = new Headers();
        this.#body = new BodyState(null);
        responseState.set(this, this.#body);
        return;
      }
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        throw new RangeError(`invalid status ${init.status}: it must be 200 to 599`);
      }
      const statusText = init.statusText === undefined ? "" : String(init.statusText);
      if (!REASON.test(statusText)) throw new TypeError(`invalid statusText: ${JSON.stringify(statusText)}`);
      this.#status = status;
      this.#statusText = statusText;
      this.#headers = new Headers(init.headers);
      let bytes = null;
      let stream;
      if (body !== null && body !== undefined) {
        if (NULL_BODY_STATUS.includes(status)) {
          throw new TypeError(`a response with status ${status} cannot have a body`);
        }
        const extracted = extractBody(body);
        bytes = extracted.bytes;
        stream = extracted.stream;
        if (extracted.type !== null && !this.#headers.has("content-type")) {
          this.#headers.append("content-type", extracted.type);
        }
      }
      this.#body = new BodyState(bytes, stream);
      responseState.set(this, this.#body);
    }
    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get status() { return this.#status; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    clone() {
      const copy = new Response(null, token);
      copy.#status = this.#status;
      copy.#statusText = this.#statusText;
      copy.#type = this.#type;
      copy.#url = this.#url;
      copy.#redirected = this.#redirected;
      copy.#headers = new Headers(this.#headers);
      if (this.#type === "error" || this.#type === "basic") internals.freezeHeaders(copy.#headers);
      copy.#body = this.#body.clone();
      responseState.set(copy, copy.#body);
      return copy;
    }
    static error() {
      const response = new Response(null, token);
      response.#type = "error";
      response.#status = 0;
      internals.freezeHeaders(response.#headers);
      return response;
    }
    static redirect(url, status = 302) {
      const location = parseUrl(url);
      status = Number(status);
      if (!REDIRECT_STATUS.includes(status)) {
        throw new RangeError(`invalid redirect status ${status}: use 301, 302, 303, 307 or 308`);
      }
      const response = new Response(null, token);
      response.#status = status;
      response.#headers.set("location", location);
      internals.freezeHeaders(response.#headers);
      return response;
    }
    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the data is not JSON-serialisable");
      const response = new Response(text, init);
      response.#headers.set("content-type", "application/json");
      return response;
    }
    static {
      // A response the network gave: type "basic", immutable headers.
      internals.networkResponse = function (meta, bytes) {
        const response = new Response(null, token);
        response.#status = meta.status;
        response.#statusText = meta.statusText || "";
        response.#type = "basic";
        response.#url = meta.url;
        response.#redirected = !!meta.redirected;
        response.#headers = internals.freezeHeaders(new Headers(meta.headers));
        response.#body = new BodyState(NULL_BODY_STATUS.includes(meta.status) ? null : bytes);
        responseState.set(response, response.#body);
        return response;
      };
    }
  }
  mixBody(Response, (response) => responseState.get(response));
  Object.defineProperty(Response.prototype, Symbol.toStringTag, { value: "Response", configurable: true });

  function fetchError(meta) {
    return internals.tagError(new TypeError(meta.error), meta.kind, meta.limit);
  }

  // The request envelope (`charm_host_abi::envelope`): metadata, body bytes.
  function requestMeta(request, hasBody) {
    return JSON.stringify({
      url: request.url,
      method: request.method,
      headers: internals.headerList(request.headers),
      redirect: request.redirect,
      hasBody,
    });
  }

  function fetch(input, init = undefined) {
    return new Promise((resolve, reject) => {
      const request = new Request(input, init);
      const signal = request.signal;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const state = requestState.get(request);
      if (state.used) throw new TypeError("fetch: the request's body has already been read");
      const hasBody = state.bytes !== null;
      const start = (bytes) => {
        const handle = host.fetchStart(requestMeta(request, hasBody), bytes);
        const forget = internals.onAbort(signal, () => {
          internals.cancelOp(handle);
          reject(signal.reason);
        });
        internals.startOp(handle).then(
          ({ meta, body }) => {
            forget();
            const parsed = JSON.parse(meta);
            if (parsed.error !== undefined) reject(fetchError(parsed));
            else resolve(internals.networkResponse(parsed, new Uint8Array(body)));
          },
          (error) => {
            forget();
            reject(error);
          },
        );
      };
      const bytes = hasBody ? state.consume("fetch", internals.maxRequestBodyBytes) : undefined;
      if (bytes === undefined || bytes instanceof Uint8Array) {
        start(bytes);
        return;
      }
      // A stream body is read to its end before the request starts; an
      // abort meanwhile rejects at once, and no request leaves.
      const forgetAbort = internals.onAbort(signal, () => reject(signal.reason));
      bytes.then((read) => {
        forgetAbort();
        if (!signal.aborted) start(read);
      }).catch((error) => {
        forgetAbort();
        reject(error);
      });
    });
  }

  internals.Request = Request;
  internals.Response = Response;
  internals.defineGlobal("fetch", fetch);
  internals.defineGlobal("Request", Request);
  internals.defineGlobal("Response", Response);
});
