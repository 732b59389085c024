// The WinterTC Minimum Common Web API (Ecma TC55, 2025 snapshot) probe:
// every interface and global member of the list, each checked to exist and
// to give its standard's result on a small example (the `crypto` member is
// split into its behaviours: 82 rows). The state is { rows, results },
// results[name] being "ok" or what went wrong.
//
// Rows run one after another; each may await. A check throws (or
// rejects) to fail.

function assert(condition, what) {
  if (!condition) throw new Error(`expected ${what}`);
}

function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

async function throwsName(f, name, what) {
  try {
    await f();
  } catch (e) {
    if (e?.name !== name) throw new Error(`${what}: threw ${e?.name}: ${e?.message}, expected ${name}`);
    return e;
  }
  throw new Error(`${what}: did not throw ${name}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (view) => Array.from(new Uint8Array(view.buffer ?? view, view.byteOffset ?? 0, view.byteLength));
const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const encoder = () => new TextEncoder();

async function readAll(stream) {
  const reader = stream.getReader();
  const chunks = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return chunks;
    chunks.push(value);
  }
}

async function concatBytes(stream) {
  const chunks = await readAll(stream);
  const out = [];
  for (const chunk of chunks) out.push(...new Uint8Array(chunk));
  return out;
}

// gzip of "hello, winter" (mtime 0), from Python's gzip module.
const HELLO_GZIP = [31, 139, 8, 0, 0, 0, 0, 0, 2, 255, 203, 72, 205, 201, 201, 215, 81, 40, 207, 204, 43, 73,
  45, 2, 0, 83, 83, 91, 52, 13, 0, 0, 0];

function isInterface(Class, name) {
  assert(typeof Class === "function", `${name} to be a function`);
  assert(Class.name === name, `${name}.name to be "${name}"`);
  assert(typeof Class.prototype === "object", `${name}.prototype`);
}

function wasm(name) {
  return () => {
    assert(typeof WebAssembly === "object" && WebAssembly !== null, "a WebAssembly namespace");
    assert(WebAssembly[name] !== undefined, `WebAssembly.${name}`);
  };
}

const interfaces = {
  async AbortController() {
    isInterface(AbortController, "AbortController");
    const controller = new AbortController();
    let fired = 0;
    controller.signal.addEventListener("abort", () => fired++);
    controller.abort("why");
    controller.abort("again");
    equal([controller.signal.aborted, controller.signal.reason, fired], [true, "why", 1], "abort once with reason");
  },
  async AbortSignal() {
    isInterface(AbortSignal, "AbortSignal");
    const reason = AbortSignal.abort().reason;
    assert(reason instanceof DOMException && reason.name === "AbortError", "an AbortError reason");
    const timeout = AbortSignal.timeout(5);
    await sleep(30);
    equal([timeout.aborted, timeout.reason.name], [true, "TimeoutError"], "AbortSignal.timeout");
    const c = new AbortController();
    const any = AbortSignal.any([c.signal]);
    c.abort(1);
    equal([any.aborted, any.reason], [true, 1], "AbortSignal.any");
    await throwsName(() => new AbortSignal(), "TypeError", "new AbortSignal()");
  },
  async Blob() {
    isInterface(Blob, "Blob");
    const blob = new Blob(["ab", new Uint8Array([99]), new Blob(["d"])], { type: "Text/Plain" });
    equal([blob.size, blob.type, await blob.text()], [4, "text/plain", "abcd"], "a Blob's size, type and text");
    equal(await blob.slice(1, 3).text(), "bc", "Blob.slice");
    equal(bytes(new Uint8Array(await blob.arrayBuffer())), [97, 98, 99, 100], "Blob.arrayBuffer");
  },
  async ByteLengthQueuingStrategy() {
    isInterface(ByteLengthQueuingStrategy, "ByteLengthQueuingStrategy");
    const s = new ByteLengthQueuingStrategy({ highWaterMark: 16 });
    equal([s.highWaterMark, s.size(new Uint8Array(5))], [16, 5], "highWaterMark and size");
  },
  async CompressionStream() {
    isInterface(CompressionStream, "CompressionStream");
    const input = encoder().encode("hello hello hello hello");
    const gz = await concatBytes(new Blob([input]).stream().pipeThrough(new CompressionStream("gzip")));
    equal(gz.slice(0, 2), [0x1f, 0x8b], "the gzip magic");
    const back = await concatBytes(new Blob([new Uint8Array(gz)]).stream().pipeThrough(new DecompressionStream("gzip")));
    equal(new TextDecoder().decode(new Uint8Array(back)), "hello hello hello hello", "a gzip round trip");
    await throwsName(() => new CompressionStream("zip"), "TypeError", "an unknown format");
  },
  async CountQueuingStrategy() {
    isInterface(CountQueuingStrategy, "CountQueuingStrategy");
    const s = new CountQueuingStrategy({ highWaterMark: 3 });
    equal([s.highWaterMark, s.size("anything")], [3, 1], "highWaterMark and size");
  },
  async Crypto() {
    isInterface(Crypto, "Crypto");
    assert(crypto instanceof Crypto, "crypto to be a Crypto");
    await throwsName(() => new Crypto(), "TypeError", "new Crypto()");
  },
  async CryptoKey() {
    isInterface(CryptoKey, "CryptoKey");
    const key = await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]);
    assert(key instanceof CryptoKey, "generateKey to give a CryptoKey");
    equal([key.type, key.extractable, key.algorithm.name, key.algorithm.hash.name, [...key.usages].sort()],
      ["secret", true, "HMAC", "SHA-256", ["sign", "verify"]], "the key's attributes");
    await throwsName(() => new CryptoKey(), "TypeError", "new CryptoKey()");
  },
  async CustomEvent() {
    isInterface(CustomEvent, "CustomEvent");
    const target = new EventTarget();
    let seen;
    target.addEventListener("ping", (e) => (seen = e.detail));
    const event = new CustomEvent("ping", { detail: { n: 5 } });
    assert(event instanceof Event, "a CustomEvent to be an Event");
    target.dispatchEvent(event);
    equal([seen, new CustomEvent("x").detail], [{ n: 5 }, null], "detail");
  },
  async DecompressionStream() {
    isInterface(DecompressionStream, "DecompressionStream");
    const out = await concatBytes(new Blob([new Uint8Array(HELLO_GZIP)]).stream().pipeThrough(new DecompressionStream("gzip")));
    equal(new TextDecoder().decode(new Uint8Array(out)), "hello, winter", "gunzip of a known file");
  },
  async DOMException() {
    isInterface(DOMException, "DOMException");
    const e = new DOMException("gone", "NotFoundError");
    equal([e.name, e.message, e.code, DOMException.NOT_FOUND_ERR], ["NotFoundError", "gone", 8, 8], "name, message, code");
    assert(e instanceof Error, "a DOMException to be an Error");
  },
  async ErrorEvent() {
    isInterface(ErrorEvent, "ErrorEvent");
    const error = new Error("x");
    const e = new ErrorEvent("error", { message: "m", filename: "f.js", lineno: 3, colno: 4, error });
    equal([e.type, e.message, e.filename, e.lineno, e.colno], ["error", "m", "f.js", 3, 4], "the init's fields");
    assert(e.error === error && e instanceof Event, "error and inheritance");
    equal([new ErrorEvent("e").message, new ErrorEvent("e").lineno], ["", 0], "defaults");
  },
  async Event() {
    isInterface(Event, "Event");
    const target = new EventTarget();
    target.addEventListener("x", (e) => e.preventDefault());
    const e = new Event("x", { cancelable: true });
    equal([target.dispatchEvent(e), e.defaultPrevented, e.eventPhase], [false, true, Event.NONE], "a cancelled dispatch");
    const plain = new Event("y");
    plain.preventDefault();
    equal(plain.defaultPrevented, false, "preventDefault on a non-cancelable event");
  },
  async EventTarget() {
    isInterface(EventTarget, "EventTarget");
    const target = new EventTarget();
    const calls = [];
    const listener = () => calls.push("a");
    target.addEventListener("x", listener);
    target.addEventListener("x", listener);
    target.addEventListener("x", () => calls.push("once"), { once: true });
    target.dispatchEvent(new Event("x"));
    target.removeEventListener("x", listener);
    target.dispatchEvent(new Event("x"));
    equal(calls, ["a", "once"], "listeners once each, removal");
  },
  async File() {
    isInterface(File, "File");
    const file = new File(["abc"], "a.txt", { type: "text/plain", lastModified: 42 });
    equal([file.name, file.size, file.type, file.lastModified, await file.text()], ["a.txt", 3, "text/plain", 42, "abc"],
      "a File's attributes");
    assert(file instanceof Blob, "a File to be a Blob");
  },
  async FormData() {
    isInterface(FormData, "FormData");
    const form = new FormData();
    form.append("a", "1");
    form.append("b", new Blob(["x"]), "x.bin");
    form.append("a", "2");
    equal([form.getAll("a"), form.has("b"), form.get("b").name], [["1", "2"], true, "x.bin"], "entries");
    form.set("a", "3");
    equal([...form.keys()], ["a", "b"], "set replaces in place");
  },
  async Headers() {
    isInterface(Headers, "Headers");
    const h = new Headers({ "X-B": "2", "x-a": " 1 " });
    h.append("X-A", "3");
    equal([...h], [["x-a", "1, 3"], ["x-b", "2"]], "sorted, combined, trimmed");
    await throwsName(() => h.set("bad name", "v"), "TypeError", "an invalid name");
  },
  async MessageChannel() {
    isInterface(MessageChannel, "MessageChannel");
    const { port1, port2 } = new MessageChannel();
    const got = new Promise((resolve) => {
      port2.onmessage = (e) => resolve(e.data);
    });
    const sent = { when: new Date(0), list: [1, 2] };
    port1.postMessage(sent);
    const data = await got;
    assert(data !== sent && data.when instanceof Date, "a structured clone");
    equal(data, sent, "the message");
  },
  async MessageEvent() {
    isInterface(MessageEvent, "MessageEvent");
    const e = new MessageEvent("message", { data: { a: 1 }, origin: "o", lastEventId: "7" });
    equal([e.data, e.origin, e.lastEventId, e.source, e.ports.length], [{ a: 1 }, "o", "7", null, 0], "the init's fields");
    assert(Object.isFrozen(e.ports), "ports to be frozen");
    equal(new MessageEvent("m").data, null, "data defaults to null");
  },
  async MessagePort() {
    isInterface(MessagePort, "MessagePort");
    await throwsName(() => new MessagePort(), "TypeError", "new MessagePort()");
    const { port1, port2 } = new MessageChannel();
    assert(port1 instanceof MessagePort && port1 instanceof EventTarget, "ports to be MessagePorts");
    const got = [];
    port2.addEventListener("message", (e) => got.push(e.data));
    port1.postMessage("early");
    await sleep(5);
    equal(got, [], "nothing delivered before start()");
    port2.start();
    await sleep(5);
    port1.close();
    port1.postMessage("after close");
    await sleep(5);
    equal(got, ["early"], "delivered once started, nothing after close");
  },
  async Performance() {
    isInterface(Performance, "Performance");
    assert(performance instanceof Performance && performance instanceof EventTarget, "performance to be a Performance");
    await throwsName(() => new Performance(), "TypeError", "new Performance()");
  },
  async PromiseRejectionEvent() {
    isInterface(PromiseRejectionEvent, "PromiseRejectionEvent");
    const promise = Promise.resolve();
    const e = new PromiseRejectionEvent("unhandledrejection", { promise, reason: "r", cancelable: true });
    equal([e.reason, e.cancelable, e.promise === promise], ["r", true, true], "promise and reason");
    await throwsName(() => new PromiseRejectionEvent("x", {}), "TypeError", "a missing promise");
  },
  async ReadableByteStreamController() {
    isInterface(ReadableByteStreamController, "ReadableByteStreamController");
    let controller;
    const stream = new ReadableStream({ type: "bytes", start(c) { controller = c; } });
    assert(controller instanceof ReadableByteStreamController, "a byte stream's controller");
    controller.enqueue(new Uint8Array([1, 2, 3]));
    controller.close();
    equal(await concatBytes(stream), [1, 2, 3], "the enqueued bytes");
  },
  async ReadableStream() {
    isInterface(ReadableStream, "ReadableStream");
    const stream = new ReadableStream({
      start(c) {
        c.enqueue("a");
        c.enqueue("b");
        c.close();
      },
    });
    equal(await readAll(stream), ["a", "b"], "the chunks in order");
    assert(stream.locked, "a stream with a reader to be locked");
  },
  async ReadableStreamBYOBReader() {
    isInterface(ReadableStreamBYOBReader, "ReadableStreamBYOBReader");
    const stream = new ReadableStream({
      type: "bytes",
      pull(c) {
        c.enqueue(new Uint8Array([7, 8, 9]));
        c.close();
      },
    });
    const reader = stream.getReader({ mode: "byob" });
    assert(reader instanceof ReadableStreamBYOBReader, "getReader({ mode: 'byob' })");
    const { value } = await reader.read(new Uint8Array(2));
    equal(bytes(value), [7, 8], "a read into the given view");
  },
  async ReadableStreamBYOBRequest() {
    isInterface(ReadableStreamBYOBRequest, "ReadableStreamBYOBRequest");
    let request;
    const stream = new ReadableStream({
      type: "bytes",
      pull(c) {
        request = c.byobRequest;
        request.view[0] = 42;
        request.respond(1);
      },
    });
    const { value } = await stream.getReader({ mode: "byob" }).read(new Uint8Array(4));
    assert(request instanceof ReadableStreamBYOBRequest, "the controller's byobRequest");
    equal(bytes(value), [42], "the responded byte");
  },
  async ReadableStreamDefaultController() {
    isInterface(ReadableStreamDefaultController, "ReadableStreamDefaultController");
    let controller;
    new ReadableStream({ start(c) { controller = c; } }, { highWaterMark: 2 });
    assert(controller instanceof ReadableStreamDefaultController, "the controller");
    equal(controller.desiredSize, 2, "desiredSize from the strategy");
  },
  async ReadableStreamDefaultReader() {
    isInterface(ReadableStreamDefaultReader, "ReadableStreamDefaultReader");
    const stream = new ReadableStream({ start(c) { c.close(); } });
    const reader = stream.getReader();
    assert(reader instanceof ReadableStreamDefaultReader, "getReader()");
    equal(await reader.read(), { done: true }, "a closed stream's read");
    await throwsName(() => stream.getReader(), "TypeError", "a second reader");
  },
  async Request() {
    isInterface(Request, "Request");
    const r = new Request("https://example.com/a/../b?x=1", { method: "post", body: "hi", headers: { "X-A": "1" } });
    equal([r.method, r.url, r.headers.get("x-a"), await r.text()], ["POST", "https://example.com/b?x=1", "1", "hi"],
      "method, url, headers, body");
    await throwsName(() => new Request("https://example.com", { method: "GET", body: "x" }), "TypeError", "a GET with a body");
  },
  async Response() {
    isInterface(Response, "Response");
    const r = new Response("hi", { status: 201, headers: { "content-type": "text/x" } });
    equal([r.status, r.ok, r.headers.get("content-type"), await r.text()], [201, true, "text/x", "hi"], "a Response");
    equal(await Response.json({ a: 1 }).json(), { a: 1 }, "Response.json");
  },
  async SubtleCrypto() {
    isInterface(SubtleCrypto, "SubtleCrypto");
    assert(crypto.subtle instanceof SubtleCrypto, "crypto.subtle to be a SubtleCrypto");
    await throwsName(() => new SubtleCrypto(), "TypeError", "new SubtleCrypto()");
  },
  async TextDecoder() {
    isInterface(TextDecoder, "TextDecoder");
    equal(new TextDecoder().decode(new Uint8Array([0xef, 0xbb, 0xbf, 0xc3, 0xa9])), "é", "UTF-8 without its BOM");
    equal(new TextDecoder("windows-1252").decode(new Uint8Array([0x80, 0xe9])), "€é", "windows-1252");
    await throwsName(() => new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])), "TypeError", "fatal");
  },
  async TextDecoderStream() {
    isInterface(TextDecoderStream, "TextDecoderStream");
    const chunks = await readAll(new Blob([new Uint8Array([0xc3, 0xa9, 0x21])]).stream().pipeThrough(new TextDecoderStream()));
    equal(chunks.join(""), "é!", "decoded text");
  },
  async TextEncoder() {
    isInterface(TextEncoder, "TextEncoder");
    equal(bytes(new TextEncoder().encode("é€")), [0xc3, 0xa9, 0xe2, 0x82, 0xac], "UTF-8 bytes");
    const into = new Uint8Array(3);
    equal(new TextEncoder().encodeInto("aé€", into), { read: 2, written: 3 }, "encodeInto");
  },
  async TextEncoderStream() {
    isInterface(TextEncoderStream, "TextEncoderStream");
    const stream = new ReadableStream({ start(c) { c.enqueue("é"); c.close(); } }).pipeThrough(new TextEncoderStream());
    equal(await concatBytes(stream), [0xc3, 0xa9], "encoded bytes");
  },
  async TransformStream() {
    isInterface(TransformStream, "TransformStream");
    const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
    const source = new ReadableStream({ start(c) { c.enqueue("a"); c.enqueue("b"); c.close(); } });
    equal(await readAll(source.pipeThrough(upper)), ["A", "B"], "transformed chunks");
  },
  async TransformStreamDefaultController() {
    isInterface(TransformStreamDefaultController, "TransformStreamDefaultController");
    let controller;
    new TransformStream({ start(c) { controller = c; } });
    assert(controller instanceof TransformStreamDefaultController, "the controller");
  },
  async URL() {
    isInterface(URL, "URL");
    const url = new URL("../c?x=1&y=%20#f", "https://user@A.example:443/b/d");
    equal([url.href, url.host, url.searchParams.get("y"), url.hash],
      ["https://user@a.example/c?x=1&y=%20#f", "a.example", " ", "#f"], "parsing against a base");
    await throwsName(() => new URL("no scheme"), "TypeError", "an invalid URL");
    equal(URL.canParse("https://x"), true, "URL.canParse");
  },
  async URLPattern() {
    isInterface(URLPattern, "URLPattern");
    const pattern = new URLPattern({ pathname: "/books/:id" });
    equal(pattern.exec("https://example.com/books/42").pathname.groups, { id: "42" }, "the named group");
    equal(pattern.test("https://example.com/films/1"), false, "a non-match");
  },
  async URLSearchParams() {
    isInterface(URLSearchParams, "URLSearchParams");
    const params = new URLSearchParams("?a=1&b=x+y&a=3");
    equal([params.getAll("a"), params.get("b")], [["1", "3"], "x y"], "parsing");
    params.append("c", "é&");
    params.sort();
    equal(params.toString(), "a=1&a=3&b=x+y&c=%C3%A9%26", "sorted and serialised");
  },
  "WebAssembly.Global": wasm("Global"),
  "WebAssembly.Instance": wasm("Instance"),
  "WebAssembly.Memory": wasm("Memory"),
  "WebAssembly.Module": wasm("Module"),
  "WebAssembly.Table": wasm("Table"),
  "WebAssembly.Tag": wasm("Tag"),
  "WebAssembly.Exception": wasm("Exception"),
  "WebAssembly.CompileError": wasm("CompileError"),
  "WebAssembly.LinkError": wasm("LinkError"),
  "WebAssembly.RuntimeError": wasm("RuntimeError"),
  async WritableStream() {
    isInterface(WritableStream, "WritableStream");
    const written = [];
    const stream = new WritableStream({ write(chunk) { written.push(chunk); } });
    const writer = stream.getWriter();
    await writer.write("a");
    await writer.write("b");
    await writer.close();
    equal(written, ["a", "b"], "the sink's chunks");
  },
  async WritableStreamDefaultController() {
    isInterface(WritableStreamDefaultController, "WritableStreamDefaultController");
    let controller;
    new WritableStream({ start(c) { controller = c; } });
    assert(controller instanceof WritableStreamDefaultController, "the controller");
    assert(controller.signal instanceof AbortSignal, "the controller's signal");
  },
  async WritableStreamDefaultWriter() {
    isInterface(WritableStreamDefaultWriter, "WritableStreamDefaultWriter");
    const writer = new WritableStream().getWriter();
    assert(writer instanceof WritableStreamDefaultWriter, "getWriter()");
    equal(writer.desiredSize, 1, "desiredSize");
    await writer.close();
  },
};

const members = {
  async globalThis() {
    assert(typeof globalThis === "object" && globalThis.globalThis === globalThis, "globalThis");
    assert(globalThis instanceof EventTarget, "the global object to be an EventTarget");
  },
  async atob() {
    equal([atob("aGVsbG8="), atob(" aGVs bG8 "), atob("/w==").charCodeAt(0)], ["hello", "hello", 255], "decoding");
    await throwsName(() => atob("a"), "InvalidCharacterError", "a bad length");
  },
  async btoa() {
    equal([btoa("hello"), btoa("\xff")], ["aGVsbG8=", "/w=="], "encoding");
    await throwsName(() => btoa("€"), "InvalidCharacterError", "a character above U+00FF");
  },
  async clearTimeout() {
    const fired = [];
    const id = setTimeout(() => fired.push("cleared"), 1);
    clearTimeout(id);
    await sleep(10);
    equal(fired, [], "a cleared timeout never fires");
  },
  async clearInterval() {
    let n = 0;
    const id = setInterval(() => {
      if (++n === 2) clearInterval(id);
    }, 1);
    await sleep(30);
    equal(n, 2, "an interval cleared from its callback");
  },
  async console() {
    const methods = ["assert", "clear", "count", "countReset", "debug", "dir", "dirxml", "error", "group",
      "groupCollapsed", "groupEnd", "info", "log", "table", "time", "timeEnd", "timeLog", "trace", "warn"];
    for (const m of methods) assert(typeof console[m] === "function", `console.${m}`);
    console.assert(true, "never shown");
    console.count("probe");
    console.countReset("probe");
    console.group("probe group");
    console.debug("probe: %s is %d%%", "x", 42.9);
    console.groupEnd();
    console.table([{ a: 1 }]);
    console.time("probe");
    console.timeLog("probe");
    console.timeEnd("probe");
    console.dir({ a: { b: 1 } }, { depth: 0 });
    console.dirxml("probe");
    console.info("probe", { nested: new Map([[1, new Set([2])]]) });
    console.clear();
  },
  "crypto.getRandomValues": async () => {
    const a = new Uint8Array(32);
    assert(crypto.getRandomValues(a) === a, "the same array back");
    assert(a.some((b) => b !== 0), "random bytes");
    await throwsName(() => crypto.getRandomValues(new Uint8Array(65537)), "QuotaExceededError", "over 65,536 bytes");
    await throwsName(() => crypto.getRandomValues(new Float32Array(1)), "TypeMismatchError", "a float array");
  },
  "crypto.randomUUID": async () => {
    const uuid = crypto.randomUUID();
    assert(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(uuid), `a v4 UUID (${uuid})`);
    assert(uuid !== crypto.randomUUID(), "a new UUID each time");
  },
  "crypto.subtle.digest": async () => {
    equal(hex(await crypto.subtle.digest("SHA-256", encoder().encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256 of abc (FIPS 180-2)");
  },
  "crypto.subtle.sign": async () => {
    const key = await crypto.subtle.importKey("raw", encoder().encode("key"), { name: "HMAC", hash: "SHA-256" }, false,
      ["sign", "verify"]);
    const message = encoder().encode("The quick brown fox jumps over the lazy dog");
    const mac = await crypto.subtle.sign("HMAC", key, message);
    equal(hex(mac), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "HMAC-SHA256");
    equal(await crypto.subtle.verify("HMAC", key, mac, message), true, "verify");
  },
  "crypto.subtle.encrypt": async () => {
    const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, encoder().encode("secret"));
    equal(sealed.byteLength, 6 + 16, "ciphertext and tag");
    equal(new TextDecoder().decode(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed)), "secret",
      "a round trip");
  },
  async fetch() {
    assert(typeof fetch === "function", "fetch");
    const pending = fetch("/relative");
    assert(pending instanceof Promise, "a promise");
    await throwsName(() => pending, "TypeError", "a relative URL");
    const aborted = fetch("https://example.com/", { signal: AbortSignal.abort() });
    await throwsName(() => aborted, "AbortError", "an aborted signal");
  },
  "navigator.userAgent": async () => {
    assert(/^charm-host\/\d+\.\d+\.\d+$/.test(navigator.userAgent), `charm-host/<version> (${navigator.userAgent})`);
    assert(navigator instanceof Navigator, "navigator to be a Navigator");
  },
  async onerror() {
    const error = new RangeError("reported");
    let args;
    onerror = (...a) => {
      args = a;
      return true; // handled: the run goes on
    };
    try {
      reportError(error);
    } finally {
      onerror = null;
    }
    assert(args !== undefined, "onerror to be called");
    equal([args[0], typeof args[1], typeof args[2], typeof args[3]], ["Uncaught RangeError: reported", "string", "number", "number"],
      "message, filename, lineno, colno");
    assert(args[4] === error, "the error itself last");
  },
  async onunhandledrejection() {
    const reason = new Error("nobody catches this");
    let seen;
    onunhandledrejection = (event) => {
      seen = event;
      event.preventDefault(); // handled: the run goes on
    };
    const promise = Promise.reject(reason);
    await sleep(1);
    onunhandledrejection = null;
    assert(seen instanceof PromiseRejectionEvent, "a PromiseRejectionEvent");
    assert(seen.promise === promise && seen.reason === reason, "the promise and its reason");
    globalThis.probeRejected = promise;
  },
  async onrejectionhandled() {
    const promise = globalThis.probeRejected;
    assert(promise !== undefined, "the rejection of the row before");
    let seen;
    onrejectionhandled = (event) => (seen = event);
    promise.catch(() => {});
    await sleep(1);
    onrejectionhandled = null;
    assert(seen instanceof PromiseRejectionEvent && seen.promise === promise, "rejectionhandled for that promise");
  },
  async performance() {
    const a = performance.now();
    await sleep(2);
    const b = performance.now();
    assert(a >= 0 && b > a, `a monotonic clock (${a}, ${b})`);
    assert(Math.abs(performance.timeOrigin + b - Date.now()) < 1000, "timeOrigin + now() to be the time");
    performance.mark("start");
    const measure = performance.measure("span", "start");
    equal([measure.entryType, measure.name, performance.getEntriesByName("start")[0].entryType],
      ["measure", "span", "mark"], "marks and measures");
    equal(Object.keys(performance.toJSON()), ["timeOrigin"], "toJSON");
  },
  async queueMicrotask() {
    const order = [];
    setTimeout(() => order.push("task"), 0);
    queueMicrotask(() => order.push("microtask"));
    order.push("sync");
    await sleep(5);
    equal(order, ["sync", "microtask", "task"], "a microtask before the next task");
    await throwsName(() => queueMicrotask("code"), "TypeError", "a non-function");
  },
  async reportError() {
    const value = { thrown: true };
    let event;
    const listener = (e) => {
      event = e;
      e.preventDefault();
    };
    addEventListener("error", listener);
    try {
      reportError(value);
    } finally {
      removeEventListener("error", listener);
    }
    assert(event instanceof ErrorEvent && event.error === value && event.cancelable, "an ErrorEvent at the global");
    await throwsName(() => reportError(), "TypeError", "no argument");
  },
  async self() {
    assert(self === globalThis, "self to be the global object");
  },
  async setTimeout() {
    const order = [];
    setTimeout((x) => order.push(x), 10, "b");
    setTimeout((x) => order.push(x), 1, "a");
    setTimeout((x) => order.push(x), 10, "c");
    await sleep(30);
    equal(order, ["a", "b", "c"], "by deadline, then by creation, with arguments");
  },
  async setInterval() {
    let n = 0;
    await new Promise((resolve) => {
      const id = setInterval(() => {
        if (++n === 3) {
          clearInterval(id);
          resolve();
        }
      }, 1);
    });
    equal(n, 3, "three ticks");
  },
  async structuredClone() {
    const value = { date: new Date(5), map: new Map([["k", new Set([1])]]), bytes: new Uint8Array([1, 2]) };
    value.self = value;
    const copy = structuredClone(value);
    assert(copy !== value && copy.self === copy, "a cycle kept");
    assert(copy.date instanceof Date && copy.date.getTime() === 5, "a Date");
    assert(copy.map.get("k").has(1) && copy.bytes[1] === 2, "a Map, a Set and a typed array");
    await throwsName(() => structuredClone(() => {}), "DataCloneError", "a function");
  },
  "WebAssembly.compile": wasm("compile"),
  "WebAssembly.compileStreaming": wasm("compileStreaming"),
  "WebAssembly.instantiate": wasm("instantiate"),
  "WebAssembly.instantiateStreaming": wasm("instantiateStreaming"),
  "WebAssembly.JSTag": wasm("JSTag"),
  "WebAssembly.validate": wasm("validate"),
};

export async function bgUpdater() {
  const rows = { ...interfaces, ...members };
  const results = {};
  for (const [name, check] of Object.entries(rows)) {
    try {
      await check();
      results[name] = "ok";
    } catch (e) {
      results[name] = `${e?.name ?? "Error"}: ${e?.message ?? e}`;
    }
  }
  return { rows: Object.keys(rows).length, results };
}
