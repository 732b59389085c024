// FormData (XHR standard): an ordered list of entries whose values are
// strings or Files. Fetch sends one as multipart/form-data (HTML's
// encoding, with a random boundary), and `res.formData()` parses
// multipart/form-data (RFC 7578) and application/x-www-form-urlencoded
// (the URL standard's parser) bodies.
(function (internals) {
  "use strict";
  const { toUSVString, encodeUtf8, decodeUtf8 } = internals;
  const random = Math.random;
  const now = Date.now;

  // "Create an entry": a Blob becomes a File (named "blob", or
  // `filename`); anything else a string.
  function createEntry(name, value, filename, hasFilename) {
    name = toUSVString(name);
    if (internals.isBlob(value)) {
      const isFile = internals.isFile(value);
      if (!isFile || hasFilename) {
        value = internals.fileFrom(
          internals.blobBytes(value),
          hasFilename ? toUSVString(filename) : isFile ? value.name : "blob",
          value.type,
          isFile ? value.lastModified : now(),
        );
      }
      return [name, value];
    }
    if (hasFilename) throw new TypeError("FormData: a filename is only allowed with a Blob value");
    return [name, toUSVString(value)];
  }

  class FormData {
    #entries = []; // [name, string | File], in order
    constructor(form = undefined, submitter = undefined) {
      if (form !== undefined || submitter !== undefined) {
        throw new TypeError("FormData: there are no HTML forms here; call new FormData() without arguments");
      }
    }
    append(name, value, filename = undefined) {
      if (arguments.length < 2) throw new TypeError("FormData.append: 2 arguments required");
      this.#entries.push(createEntry(name, value, filename, arguments.length > 2));
    }
    delete(name) {
      const key = toUSVString(name);
      this.#entries = this.#entries.filter(([n]) => n !== key);
    }
    get(name) {
      const key = toUSVString(name);
      const entry = this.#entries.find(([n]) => n === key);
      return entry === undefined ? null : entry[1];
    }
    getAll(name) {
      const key = toUSVString(name);
      return this.#entries.filter(([n]) => n === key).map(([, v]) => v);
    }
    has(name) {
      const key = toUSVString(name);
      return this.#entries.some(([n]) => n === key);
    }
    set(name, value, filename = undefined) {
      if (arguments.length < 2) throw new TypeError("FormData.set: 2 arguments required");
      const entry = createEntry(name, value, filename, arguments.length > 2);
      const i = this.#entries.findIndex(([n]) => n === entry[0]);
      if (i < 0) {
        this.#entries.push(entry);
        return;
      }
      this.#entries = this.#entries.filter(([n], j) => j <= i || n !== entry[0]);
      this.#entries[i] = entry;
    }
    // Iteration is live, by position, as Web IDL's iterators are.
    *entries() {
      for (let i = 0; i < this.#entries.length; i++) yield [...this.#entries[i]];
    }
    *keys() {
      for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][0];
    }
    *values() {
      for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i][1];
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== "function") throw new TypeError("FormData.forEach: the callback must be a function");
      for (let i = 0; i < this.#entries.length; i++) {
        const [name, value] = this.#entries[i];
        callback.call(thisArg, value, name, this);
      }
    }
    static {
      internals.isFormData = (value) => typeof value === "object" && value !== null && #entries in value;
      internals.formDataEntries = (form) => form.#entries;
    }
  }
  Object.defineProperty(FormData.prototype, Symbol.iterator, {
    value: FormData.prototype.entries,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: "FormData", configurable: true });

  // --- multipart/form-data ---

  const BOUNDARY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  function newBoundary() {
    let out = "----CharmHostFormBoundary";
    for (let i = 0; i < 24; i++) out += BOUNDARY_ALPHABET[Math.floor(random() * BOUNDARY_ALPHABET.length)];
    return out;
  }

  // HTML: names and string values get CRLF line breaks; names and
  // filenames escape LF, CR and '"'.
  const toCrlf = (text) => text.replace(/\r\n|\r|\n/g, "\r\n");
  const escapeField = (text) => text.replace(/[\n\r"]/g, (c) => (c === "\n" ? "%0A" : c === "\r" ? "%0D" : "%22"));

  // HTML's multipart/form-data encoding of an entry list.
  function encodeMultipart(entries, boundary) {
    const chunks = [];
    let text = "";
    for (const [name, value] of entries) {
      text += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeField(toCrlf(name))}"`;
      if (typeof value === "string") {
        text += `\r\n\r\n${toCrlf(value)}\r\n`;
        continue;
      }
      const type = value.type === "" ? "application/octet-stream" : value.type;
      text += `; filename="${escapeField(value.name)}"\r\nContent-Type: ${type}\r\n\r\n`;
      chunks.push(encodeUtf8(text), internals.blobBytes(value));
      text = "\r\n";
    }
    text += `--${boundary}--\r\n`;
    chunks.push(encodeUtf8(text));
    let total = 0;
    for (const chunk of chunks) total += chunk.length;
    return internals.concatBytes(chunks, total);
  }

  // Where `needle` starts in `bytes` at or after `from`, or -1.
  function find(bytes, needle, from) {
    const first = needle[0];
    const last = bytes.length - needle.length;
    for (let i = bytes.indexOf(first, from); i >= 0 && i <= last; i = bytes.indexOf(first, i + 1)) {
      let j = 1;
      while (j < needle.length && bytes[i + j] === needle[j]) j++;
      if (j === needle.length) return i;
    }
    return -1;
  }

  const unescapeField = (text) =>
    text.replace(/%0A|%0D|%22/gi, (e) => (e[2] === "A" || e[2] === "a" ? "\n" : e[2] === "D" || e[2] === "d" ? "\r" : '"'));

  // A part's Content-Disposition: its type and parameters (lower-case
  // names, values unquoted and unescaped).
  function parseDisposition(value) {
    const parameters = new Map();
    let position = value.indexOf(";");
    if (position < 0) position = value.length;
    const type = value.slice(0, position).trim().toLowerCase();
    while (position < value.length) {
      position++; // past ";"
      while (value[position] === " " || value[position] === "\t") position++;
      let from = position;
      while (position < value.length && value[position] !== "=" && value[position] !== ";") position++;
      const name = value.slice(from, position).trim().toLowerCase();
      if (value[position] !== "=") continue;
      position++;
      while (value[position] === " " || value[position] === "\t") position++;
      let parameter;
      if (value[position] === '"') {
        [parameter, position] = internals.collectQuoted(value, position, true);
        while (position < value.length && value[position] !== ";") position++;
      } else {
        from = position;
        while (position < value.length && value[position] !== ";") position++;
        parameter = value.slice(from, position).trim();
      }
      if (!parameters.has(name)) parameters.set(name, unescapeField(parameter));
    }
    return { type, parameters };
  }

  // RFC 7578: the parts between the boundaries; a part with a filename is
  // a File (its type the part's Content-Type, else text/plain), any other
  // the UTF-8 text of its content.
  function parseMultipart(bytes, boundary) {
    const fail = (why) => new TypeError(`formData: the body is not valid multipart/form-data: ${why}`);
    const delimiter = encodeUtf8(`\r\n--${boundary}`);
    const crlf = delimiter.subarray(0, 2);
    const dashBoundary = delimiter.subarray(2);
    let position;
    if (find(bytes, dashBoundary, 0) === 0) {
      position = dashBoundary.length;
    } else {
      position = find(bytes, delimiter, 0);
      if (position < 0) throw fail(`the boundary ${JSON.stringify(boundary)} does not occur`);
      position += delimiter.length;
    }
    const form = new FormData();
    for (;;) {
      if (bytes[position] === 0x2d && bytes[position + 1] === 0x2d) return form;
      while (bytes[position] === 0x20 || bytes[position] === 0x09) position++;
      if (bytes[position] !== 0x0d || bytes[position + 1] !== 0x0a) throw fail("a boundary is not followed by CRLF");
      position += 2;
      let disposition = null;
      let contentType = null;
      for (;;) {
        const end = find(bytes, crlf, position);
        if (end < 0) throw fail("a part's headers do not end");
        const line = decodeUtf8(bytes.subarray(position, end), false);
        position = end + 2;
        if (line === "") break;
        const colon = line.indexOf(":");
        if (colon <= 0) throw fail(`a part has a malformed header line ${JSON.stringify(line)}`);
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === "content-disposition") disposition = parseDisposition(value);
        else if (name === "content-type") contentType = value;
      }
      if (disposition === null || disposition.type !== "form-data" || !disposition.parameters.has("name")) {
        throw fail("a part has no Content-Disposition: form-data with a name");
      }
      const end = find(bytes, delimiter, position);
      if (end < 0) throw fail("the last part is not closed by a boundary");
      const content = bytes.subarray(position, end);
      const name = disposition.parameters.get("name");
      const filename = disposition.parameters.get("filename");
      if (filename === undefined) {
        form.append(name, decodeUtf8(content, false));
      } else {
        form.append(name, internals.fileFrom(content.slice(), filename, contentType ?? "text/plain"));
      }
      position = end + delimiter.length;
    }
  }

  // --- application/x-www-form-urlencoded (URL standard) ---

  const hexValue = (byte) =>
    byte >= 0x30 && byte <= 0x39 ? byte - 0x30
      : byte >= 0x41 && byte <= 0x46 ? byte - 0x37
        : byte >= 0x61 && byte <= 0x66 ? byte - 0x57 : -1;

  // "+" as a space, then percent-decoding, then UTF-8 without BOM.
  function decodeComponent(bytes) {
    if (bytes.indexOf(0x25) < 0 && bytes.indexOf(0x2b) < 0) return decodeUtf8(bytes, false);
    const out = new Uint8Array(bytes.length);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i];
      if (byte === 0x2b) {
        out[n++] = 0x20;
      } else if (byte === 0x25 && i + 2 < bytes.length && hexValue(bytes[i + 1]) >= 0 && hexValue(bytes[i + 2]) >= 0) {
        out[n++] = hexValue(bytes[i + 1]) * 16 + hexValue(bytes[i + 2]);
        i += 2;
      } else {
        out[n++] = byte;
      }
    }
    return decodeUtf8(out.subarray(0, n), false);
  }

  // The application/x-www-form-urlencoded parser: bytes to [name, value]
  // pairs. Shared: the URL family may use it for URLSearchParams.
  internals.parseUrlencoded = function (bytes) {
    const pairs = [];
    let start = 0;
    while (start <= bytes.length) {
      let end = bytes.indexOf(0x26, start);
      if (end < 0) end = bytes.length;
      if (end > start) {
        const sequence = bytes.subarray(start, end);
        const equals = sequence.indexOf(0x3d);
        const name = equals < 0 ? sequence : sequence.subarray(0, equals);
        const value = equals < 0 ? sequence.subarray(sequence.length) : sequence.subarray(equals + 1);
        pairs.push([decodeComponent(name), decodeComponent(value)]);
      }
      start = end + 1;
    }
    return pairs;
  };

  // fetch's formData(): by the body's MIME type.
  internals.parseFormData = function (bytes, contentType) {
    const mime = internals.extractMimeType(contentType);
    const essence = mime === null ? "" : `${mime.type}/${mime.subtype}`;
    if (essence === "multipart/form-data") {
      const boundary = mime.parameters.get("boundary");
      if (boundary === undefined || boundary === "") {
        throw new TypeError("formData: the multipart/form-data Content-Type has no boundary");
      }
      return parseMultipart(bytes, boundary);
    }
    if (essence === "application/x-www-form-urlencoded") {
      const form = new FormData();
      for (const [name, value] of internals.parseUrlencoded(bytes)) form.append(name, value);
      return form;
    }
    throw new TypeError(
      `formData: the body's Content-Type is ${JSON.stringify(contentType)}, ` +
        "not multipart/form-data or application/x-www-form-urlencoded",
    );
  };

  // fetch: a FormData body is multipart/form-data with a new boundary.
  internals.bodyExtractors ??= [];
  internals.bodyExtractors.push(function (init) {
    if (!internals.isFormData(init)) return undefined;
    const boundary = newBoundary();
    return {
      bytes: encodeMultipart(internals.formDataEntries(init), boundary),
      type: `multipart/form-data; boundary=${boundary}`,
    };
  });

  internals.defineGlobal("FormData", FormData);
});
