// Blob and File (W3C File API): immutable bytes with a type; a File adds a
// name and a modification time. A slice shares its Blob's bytes. Fetch
// sends a Blob as its bytes with its type, and `res.blob()` makes one.
(function (internals) {
  "use strict";
  const { dictionary, toUSVString, encodeUtf8, decodeUtf8 } = internals;
  const now = Date.now;
  const EMPTY = new Uint8Array(0);
  // Blob.stream() hands out the bytes in chunks of this size.
  const STREAM_CHUNK_BYTES = 64 * 1024;
  // Lets the runtime make Blobs and Files from bytes it owns, without the
  // constructors' copying and conversions.
  const token = Symbol("Blob");

  // The File API's type normalisation: printable ASCII, lower-cased, or "".
  function normalizeType(type) {
    return /[^\x20-\x7e]/.test(type) ? "" : type.toLowerCase();
  }

  // Web IDL's [Clamp] long long.
  function clampLongLong(value) {
    const x = +value;
    if (Number.isNaN(x)) return 0;
    const clamped = Math.min(Math.max(x, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
    let rounded = Math.round(clamped);
    // Halves go to the even neighbour.
    if (Math.abs(clamped % 1) === 0.5 && rounded % 2 !== 0) rounded -= 1;
    return rounded === 0 ? 0 : rounded;
  }

  // Web IDL's long long (not clamped).
  function toLongLong(value) {
    const x = +value;
    return Number.isFinite(x) ? Math.trunc(x) || 0 : 0;
  }

  // The bytes of a sequence of BlobParts: strings as UTF-8 (with
  // `endings: "native"`, line breaks as LF), buffer sources copied, Blobs'
  // bytes. One part that is a Blob or a string is not copied again.
  function partsBytes(parts, endings) {
    if (parts === undefined) return EMPTY;
    if ((typeof parts !== "object" && typeof parts !== "function") || parts === null ||
      typeof parts[Symbol.iterator] !== "function") {
      throw new TypeError("Blob: the parts must be a sequence (an array, for example)");
    }
    const chunks = [];
    let total = 0;
    let owned = false;
    for (const part of parts) {
      let bytes;
      if (internals.isBlob(part)) {
        bytes = internals.blobBytes(part);
        owned = true;
      } else if (internals.isBufferSource(part)) {
        bytes = internals.bufferSourceBytes(part, "Blob");
        owned = false;
      } else {
        let text = toUSVString(part);
        if (endings === "native") text = text.replace(/\r\n?/g, "\n");
        bytes = encodeUtf8(text);
        owned = true;
      }
      chunks.push(bytes);
      total += bytes.length;
    }
    if (chunks.length === 1 && owned) return chunks[0];
    return concatBytes(chunks, total);
  }

  // One new Uint8Array of `chunks` (Uint8Arrays of `total` bytes in all).
  function concatBytes(chunks, total) {
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
  internals.concatBytes = concatBytes;

  function blobOptions(options) {
    const init = dictionary(options, "Blob");
    const endings = init.endings === undefined ? "transparent" : `${init.endings}`;
    if (endings !== "transparent" && endings !== "native") {
      throw new TypeError(`Blob: endings must be "transparent" or "native", not ${JSON.stringify(endings)}`);
    }
    const type = init.type === undefined ? "" : normalizeType(`${init.type}`);
    return { init, endings, type };
  }

  class Blob {
    #bytes;
    #type;
    constructor(blobParts = undefined, options = undefined) {
      if (blobParts === token) {
        this.#bytes = options.bytes;
        this.#type = options.type;
        return;
      }
      const { endings, type } = blobOptions(options);
      this.#bytes = partsBytes(blobParts, endings);
      this.#type = type;
    }
    get size() {
      return this.#bytes.length;
    }
    get type() {
      return this.#type;
    }
    slice(start = undefined, end = undefined, contentType = undefined) {
      const size = this.#bytes.length;
      const relative = (value, fallback) => {
        if (value === undefined) return fallback;
        const n = clampLongLong(value);
        return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
      };
      const from = relative(start, 0);
      const to = relative(end, size);
      const type = contentType === undefined ? "" : normalizeType(`${contentType}`);
      const bytes = this.#bytes.subarray(from, Math.max(to, from));
      return new Blob(token, { bytes, type });
    }
    async text() {
      return decodeUtf8(this.#bytes);
    }
    async arrayBuffer() {
      return this.#bytes.slice().buffer;
    }
    async bytes() {
      return this.#bytes.slice();
    }
    stream() {
      const bytes = this.#bytes;
      // 42_readable_streams.js loads before this file.
      const { ReadableStream } = internals.streams;
      let offset = 0;
      return new ReadableStream({
        type: "bytes",
        pull(controller) {
          if (offset < bytes.length) {
            const chunk = bytes.slice(offset, offset + STREAM_CHUNK_BYTES);
            offset += chunk.length;
            controller.enqueue(chunk);
          }
          if (offset >= bytes.length) controller.close();
        },
      });
    }
    static {
      internals.isBlob = (value) => typeof value === "object" && value !== null && #bytes in value;
      internals.blobBytes = (blob) => blob.#bytes;
    }
  }
  Object.defineProperty(Blob.prototype, Symbol.toStringTag, { value: "Blob", configurable: true });

  class File extends Blob {
    #name;
    #lastModified;
    constructor(fileBits, fileName, options = undefined) {
      if (fileBits === token) {
        super(token, fileName);
        this.#name = fileName.name;
        this.#lastModified = fileName.lastModified;
        return;
      }
      if (arguments.length < 2) throw new TypeError("File constructor: 2 arguments required");
      const name = toUSVString(fileName);
      super(fileBits, options);
      const init = dictionary(options, "File");
      this.#name = name;
      this.#lastModified = init.lastModified === undefined ? now() : toLongLong(init.lastModified);
    }
    get name() {
      return this.#name;
    }
    get lastModified() {
      return this.#lastModified;
    }
    static {
      internals.isFile = (value) => typeof value === "object" && value !== null && #name in value;
    }
  }
  Object.defineProperty(File.prototype, Symbol.toStringTag, { value: "File", configurable: true });

  // A Blob over `bytes` (kept, not copied: the caller gives them up) whose
  // type is `type` as given.
  internals.blobFrom = (bytes, type) => new Blob(token, { bytes, type });
  // A File over `bytes` (kept, not copied); its type is normalised.
  internals.fileFrom = (bytes, name, type, lastModified = now()) =>
    new File(token, { bytes, type: normalizeType(type), name, lastModified });

  // structuredClone: a Blob or File shares its (immutable) bytes.
  internals.cloneBlob = function (value) {
    if (!internals.isBlob(value)) return undefined;
    const bytes = internals.blobBytes(value);
    if (!internals.isFile(value)) return new Blob(token, { bytes, type: value.type });
    return new File(token, { bytes, type: value.type, name: value.name, lastModified: value.lastModified });
  };

  // fetch: a Blob body is its bytes with its type; `res.blob()` is a Blob
  // whose type is the body's MIME type, serialised.
  internals.bodyExtractors ??= [];
  internals.bodyExtractors.push(function (init) {
    if (!internals.isBlob(init)) return undefined;
    const type = init.type;
    return { bytes: internals.blobBytes(init).slice(), type: type === "" ? null : type };
  });
  internals.makeBlob = function (bytes, contentType) {
    const mime = internals.extractMimeType(contentType);
    return internals.blobFrom(bytes, mime === null ? "" : internals.serializeMimeType(mime));
  };

  internals.defineGlobal("Blob", Blob);
  internals.defineGlobal("File", File);
});
