// Value formatting for `console` (`internals.inspect`): what a person needs
// to see of a value, in the manner of Node's and Deno's `util.inspect`.
// Errors keep their name, message and the charm's stack, even nested;
// cycles are marked (`<ref *1>` ... `[Circular *1]`); Map and Set show their
// entries; typed arrays, Date, RegExp, boxed primitives, promises, proxies
// and class names show as such; getters are never called, and neither is
// any `toJSON`, `toString` or proxy trap of the value: what is not a plain
// data property is read through internal slots (`host.inspectKind`,
// `host.promiseState`, `host.proxyTarget`).
//
// The work is bounded whatever the value: nesting past `depth` (4 unless
// the caller says) shows as `[Object]`, arrays and collections show their
// first 100 entries and strings their first 10,000 characters, each with a
// count of the rest, and one call formats at most 100,000 objects and about
// 1 MiB of text, so a deep, huge or densely shared value costs time in
// proportion to what is printed.
(function (internals) {
  "use strict";
  const host = internals.host;
  const inspectKind = host.inspectKind;
  const promiseState = host.promiseState;
  const proxyTarget = host.proxyTarget;

  const getPrototypeOf = Object.getPrototypeOf;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ownKeys = Reflect.ownKeys;
  const objectIs = Object.is;
  const apply = Reflect.apply;
  const getter = (prototype, name) => getOwnPropertyDescriptor(prototype, name).get;
  const TypedArray = getPrototypeOf(Uint8Array.prototype);
  const typedArrayLength = getter(TypedArray, "length");
  const typedArrayName = getter(TypedArray, Symbol.toStringTag);
  const bufferLength = getter(ArrayBuffer.prototype, "byteLength");
  const dataViewBuffer = getter(DataView.prototype, "buffer");
  const dataViewOffset = getter(DataView.prototype, "byteOffset");
  const dataViewLength = getter(DataView.prototype, "byteLength");
  const mapSize = getter(Map.prototype, "size");
  const setSize = getter(Set.prototype, "size");
  const mapEntries = Map.prototype.entries;
  const setValues = Set.prototype.values;
  const mapIteratorNext = getPrototypeOf(new Map().entries()).next;
  const setIteratorNext = getPrototypeOf(new Set().values()).next;
  const weakRefDeref = typeof WeakRef === "function" ? WeakRef.prototype.deref : undefined;
  const dateToISOString = Date.prototype.toISOString;
  const regExpSource = getter(RegExp.prototype, "source");
  const REGEXP_FLAGS = [
    ["hasIndices", "d"], ["global", "g"], ["ignoreCase", "i"], ["multiline", "m"],
    ["dotAll", "s"], ["unicode", "u"], ["unicodeSets", "v"], ["sticky", "y"],
  ]
    .map(([name, flag]) => [getOwnPropertyDescriptor(RegExp.prototype, name)?.get, flag])
    .filter(([get]) => typeof get === "function");
  const symbolToString = Symbol.prototype.toString;
  const VALUE_OF = {
    Number: Number.prototype.valueOf,
    String: String.prototype.valueOf,
    Boolean: Boolean.prototype.valueOf,
    Symbol: Symbol.prototype.valueOf,
    BigInt: BigInt.prototype.valueOf,
  };
  const ObjectPrototype = Object.prototype;
  const ArrayPrototype = Array.prototype;
  const FunctionPrototype = Function.prototype;
  const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const INDEX = /^(0|[1-9][0-9]*)$/;

  // The kinds of `host.inspectKind` (src/ops/console.rs).
  const K = {
    PRIMITIVE: 0, ORDINARY: 1, ARRAY: 2, FUNCTION: 3, ERROR: 4, DATE: 5, REGEXP: 6, MAP: 7,
    SET: 8, WEAKMAP: 9, WEAKSET: 10, WEAKREF: 11, PROMISE: 12, ARRAYBUFFER: 13, DATAVIEW: 14,
    TYPEDARRAY: 15, PROXY: 16, NUMBER: 17, STRING: 18, BOOLEAN: 19, SYMBOL: 20, BIGINT: 21,
    ARGUMENTS: 22,
  };

  const DEFAULT_DEPTH = 4;
  // Past this, even `depth: Infinity` stops: the formatter recurses once
  // per level, and must leave the charm's stack room.
  const MAX_DEPTH = 100;
  const MAX_ENTRIES = 100;
  const MAX_STRING = 10000;
  const MAX_OBJECTS = 100000;
  const MAX_KEYED_LENGTH = 10000;
  const MAX_OUTPUT = 1 << 20;
  const BREAK_LENGTH = 80;

  // A string in quotes, escaped: single quotes unless the text has them
  // and no double quotes, then double, then backticks.
  function quote(text) {
    let more = "";
    if (text.length > MAX_STRING) {
      more = `... ${text.length - MAX_STRING} more character${text.length - MAX_STRING === 1 ? "" : "s"}`;
      text = text.slice(0, MAX_STRING);
    }
    let q = "'";
    if (text.includes("'")) {
      if (!text.includes('"')) q = '"';
      else if (!text.includes("`") && !text.includes("${")) q = "`";
    }
    let out = q;
    let run = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let escape;
      if (c === 0x27 && q === "'") escape = "\\'";
      else if (c === 0x22 && q === '"') escape = '\\"';
      else if (c === 0x60 && q === "`") escape = "\\`";
      else if (c === 0x5c) escape = "\\\\";
      else if (c === 0x0a) escape = "\\n";
      else if (c === 0x09) escape = "\\t";
      else if (c === 0x0d) escape = "\\r";
      else if (c === 0x08) escape = "\\b";
      else if (c === 0x0c) escape = "\\f";
      else if (c === 0x0b) escape = "\\v";
      else if (c < 0x20 || c === 0x7f) escape = `\\x${c.toString(16).padStart(2, "0")}`;
      else if (c >= 0xd800 && c <= 0xdfff) {
        const pair = c <= 0xdbff && i + 1 < text.length &&
          text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
        if (pair) {
          i++;
          continue;
        }
        escape = `\\u${c.toString(16)}`;
      } else continue;
      out += text.slice(run, i) + escape;
      run = i + 1;
    }
    return out + text.slice(run) + q + more;
  }

  function formatKey(key) {
    if (typeof key === "symbol") return `[${apply(symbolToString, key, [])}]`;
    return IDENTIFIER.test(key) ? key : quote(key);
  }

  function formatPrimitive(value) {
    switch (typeof value) {
      case "string": return quote(value);
      case "number": return objectIs(value, -0) ? "-0" : `${value}`;
      case "bigint": return `${value}n`;
      case "symbol": return apply(symbolToString, value, []);
      default: return `${value}`;
    }
  }

  // A data property's value along the prototype chain, never a getter's.
  function dataProperty(object, key) {
    let o = object;
    for (let hops = 0; o !== null && hops < 64; hops++) {
      if (inspectKind(o) === K.PROXY) return undefined;
      const d = getOwnPropertyDescriptor(o, key);
      if (d) return "value" in d ? d.value : undefined;
      o = getPrototypeOf(o);
    }
    return undefined;
  }

  // The name of the class that made `object`: its prototype chain's first
  // `constructor` with a name.
  function constructorName(object) {
    let o = getPrototypeOf(object);
    for (let hops = 0; o !== null && hops < 64; hops++) {
      if (inspectKind(o) === K.PROXY) return null;
      const d = getOwnPropertyDescriptor(o, "constructor");
      if (d && typeof d.value === "function") {
        const name = getOwnPropertyDescriptor(d.value, "name");
        if (name && typeof name.value === "string" && name.value !== "") return name.value;
      }
      o = getPrototypeOf(o);
    }
    return null;
  }

  function functionName(fn) {
    const d = getOwnPropertyDescriptor(fn, "name");
    return d && typeof d.value === "string" ? d.value : "";
  }

  // "[Function: f]", "[class A extends B]", "[AsyncFunction: g]", ...
  function functionBase(fn) {
    const name = functionName(fn);
    const prototype = getOwnPropertyDescriptor(fn, "prototype");
    if (prototype && prototype.writable === false) {
      // Classes (and built-in constructors) have a read-only prototype.
      let base = `[class ${name || "(anonymous)"}`;
      const parent = getPrototypeOf(fn);
      if (parent !== FunctionPrototype && parent !== null && inspectKind(parent) === K.FUNCTION) {
        const parentName = functionName(parent);
        if (parentName) base += ` extends ${parentName}`;
      }
      return `${base}]`;
    }
    const type = constructorName(fn) ?? "Function";
    return name ? `[${type}: ${name}]` : `[${type} (anonymous)]`;
  }

  // An error as the stack an author reads: "Name: message" and the charm's
  // frames (the runtime's own are left out).
  function errorText(error) {
    let name = dataProperty(error, "name");
    let message = dataProperty(error, "message");
    if (name === undefined || message === undefined) {
      // Platform errors (DOMException) keep both behind getters of ours.
      try {
        if (error instanceof internals.DOMException) {
          name = error.name;
          message = error.message;
        }
      } catch (_) {
        // not one of ours
      }
    }
    name = name === undefined ? "Error" : `${name}`;
    message = message === undefined ? "" : `${message}`;
    const header = message === "" ? name : `${name}: ${message}`;
    const stack = getOwnPropertyDescriptor(error, "stack");
    const charmStack = internals.charmStack;
    let frames = stack && typeof stack.value === "string" && charmStack ? charmStack(stack.value) : "";
    frames = frames.replace(/\s+$/, "");
    return { header, frames };
  }

  function indentLines(text, indentation) {
    return indentation === 0 ? text : text.split("\n").join(`\n${" ".repeat(indentation)}`);
  }

  function typedArrayEntries(ctx, value, level, length) {
    const output = [];
    const shown = Math.min(length, MAX_ENTRIES);
    for (let i = 0; i < shown; i++) output.push(formatValue(ctx, value[i], level + 1));
    if (length > shown) output.push(moreItems(length - shown));
    return output;
  }

  // A Map's or Set's entries, through the intrinsic iterator's `next`,
  // each shown by `show`; the first MAX_ENTRIES and a count of the rest.
  function collection(ctx, iterator, next, size, show) {
    const output = [];
    ctx.indentation += 2;
    for (let step = apply(next, iterator, []); !step.done; step = apply(next, iterator, [])) {
      if (output.length === MAX_ENTRIES) {
        output.push(moreItems(size - MAX_ENTRIES));
        break;
      }
      output.push(show(step.value));
    }
    ctx.indentation -= 2;
    return output;
  }

  function moreItems(n) {
    return `... ${n} more item${n === 1 ? "" : "s"}`;
  }

  // An array's elements (holes counted) as entries; the index keys it
  // handled are left out of `keys`.
  function arrayEntries(ctx, array, level, length) {
    const output = [];
    let i = 0;
    while (i < length && output.length < MAX_ENTRIES) {
      const d = getOwnPropertyDescriptor(array, i);
      if (d === undefined) {
        let holes = 1;
        while (i + holes < length && getOwnPropertyDescriptor(array, i + holes) === undefined) holes++;
        output.push(`<${holes} empty item${holes === 1 ? "" : "s"}>`);
        i += holes;
        continue;
      }
      output.push(propertyValue(ctx, d, level));
      i++;
    }
    if (i < length) output.push(moreItems(length - i));
    return output;
  }

  function propertyValue(ctx, descriptor, level) {
    if ("value" in descriptor) return formatValue(ctx, descriptor.value, level + 1);
    if (descriptor.get && descriptor.set) return "[Getter/Setter]";
    return descriptor.get ? "[Getter]" : "[Setter]";
  }

  // Where an array's or typed array's index keys end: [[OwnPropertyKeys]]
  // lists integer indices first, in ascending order, so a binary search
  // finds the first other key without a step per element.
  function firstNonIndex(keys) {
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const key = keys[middle];
      if (typeof key === "string" && INDEX.test(key)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  // The own enumerable properties that show as `key: value`.
  function propertyEntries(ctx, value, level, skipIndices, skip) {
    const output = [];
    // Listing a long array's keys costs a string per element (1.3 G fuel
    // and 45 MiB for a million): past MAX_KEYED_LENGTH only the first
    // entries show, without the rare extra properties.
    if (skipIndices && value.length > MAX_KEYED_LENGTH) return output;
    const keys = ownKeys(value);
    for (let i = skipIndices ? firstNonIndex(keys) : 0; i < keys.length; i++) {
      const key = keys[i];
      if (skipIndices && typeof key === "string" && INDEX.test(key)) continue;
      if (skip !== undefined && skip.includes(key)) continue;
      const d = getOwnPropertyDescriptor(value, key);
      if (!d || !d.enumerable) continue;
      ctx.indentation += 2;
      const shown = propertyValue(ctx, d, level);
      ctx.indentation -= 2;
      const entry = `${formatKey(key)}: ${shown}`;
      ctx.size += entry.length - shown.length + 2;
      output.push(entry);
      if (ctx.size > MAX_OUTPUT) break;
    }
    return output;
  }

  // Lays out many short entries in aligned columns, as few lines as fit.
  function columns(ctx, output, numeric) {
    let entries = output.length;
    if (entries > 0 && output[entries - 1].startsWith("... ")) entries--;
    if (entries <= 6) return output;
    let widest = 0;
    let total = 0;
    for (let i = 0; i < entries; i++) {
      if (output[i].includes("\n")) return output;
      widest = Math.max(widest, output[i].length);
      total += output[i].length + 2;
    }
    const cell = widest + 2;
    if (cell * 3 + ctx.indentation >= BREAK_LENGTH) return output;
    if (widest > 6 && total / cell <= 5) return output;
    const count = Math.min(
      Math.floor((BREAK_LENGTH - ctx.indentation) / cell),
      Math.max(1, Math.round(Math.sqrt(2.5 * cell * entries) / cell)),
      15,
    );
    if (count <= 1) return output;
    const widths = [];
    for (let c = 0; c < count; c++) {
      let w = 0;
      for (let i = c; i < entries; i += count) w = Math.max(w, output[i].length);
      widths.push(w);
    }
    const rows = [];
    for (let i = 0; i < entries; i += count) {
      const cells = [];
      const end = Math.min(i + count, entries);
      for (let j = i; j < end; j++) {
        const text = j < end - 1 ? `${output[j]},` : output[j];
        const width = widths[j - i] + (j < end - 1 ? 1 : 0);
        cells.push(numeric ? text.padStart(width) : j < end - 1 ? text.padEnd(width) : text);
      }
      rows.push(cells.join(" "));
    }
    for (let i = entries; i < output.length; i++) rows.push(output[i]);
    return rows;
  }

  // Whether entries are all numbers (they align to the right).
  function numeric(output) {
    for (let i = 0; i < output.length; i++) {
      if (!/^-?[0-9]/.test(output[i]) && !(i === output.length - 1 && output[i].startsWith("... "))) return false;
    }
    return true;
  }

  // Puts entries between braces, on one line if they fit.
  function reduce(ctx, output, base, open, close) {
    const prefix = base === "" ? "" : `${base} `;
    if (output.length === 0) return `${prefix}${open}${close}`;
    let length = output.length + ctx.indentation + open.length + base.length + 10;
    let multiline = false;
    for (let i = 0; i < output.length && !multiline; i++) {
      length += output[i].length;
      if (output[i].includes("\n")) multiline = true;
    }
    if (!multiline && length <= BREAK_LENGTH) return `${prefix}${open} ${output.join(", ")} ${close}`;
    const pad = `\n${" ".repeat(ctx.indentation)}`;
    return `${prefix}${open}${pad}  ${output.join(`,${pad}  `)}${pad}${close}`;
  }

  function formatValue(ctx, value, level) {
    if ((typeof value !== "object" || value === null) && typeof value !== "function") {
      const text = formatPrimitive(value);
      ctx.size += text.length + 2;
      return text;
    }
    return formatObject(ctx, value, level);
  }

  function formatObject(ctx, value, level) {
    let kind = inspectKind(value);
    if (kind === K.PROXY) {
      // Shown as its target, as Node does, without running a trap.
      let target = value;
      while (inspectKind(target) === K.PROXY) {
        target = proxyTarget(target);
        if (target === null) return "<Revoked Proxy>";
      }
      value = target;
      kind = inspectKind(value);
    }
    if (ctx.seen.has(value)) {
      let index = ctx.circular.get(value);
      if (index === undefined) {
        index = ctx.circular.size + 1;
        ctx.circular.set(value, index);
      }
      return `[Circular *${index}]`;
    }
    const className = constructorName(value);
    if (level > ctx.depth || ctx.objects >= MAX_OBJECTS || ctx.size > MAX_OUTPUT) {
      if (kind === K.ARRAY) return "[Array]";
      if (kind === K.FUNCTION) return functionBase(value);
      return `[${className ?? "Object"}]`;
    }
    ctx.objects++;
    ctx.seen.add(value);
    let text;
    try {
      text = formatKind(ctx, value, kind, className, level);
    } finally {
      ctx.seen.delete(value);
    }
    const index = ctx.circular.get(value);
    if (index !== undefined) text = `<ref *${index}> ${text}`;
    return text;
  }

  function prefixFor(className, fallback, size) {
    const name = className ?? `[${fallback}: null prototype]`;
    return size === undefined ? name : `${name}(${size})`;
  }

  function formatKind(ctx, value, kind, className, level) {
    let base = "";
    let open = "{";
    let close = "}";
    let output = [];
    let skip;
    let skipIndices = false;
    switch (kind) {
      case K.ARRAY:
      case K.ARGUMENTS: {
        open = "[";
        close = "]";
        skipIndices = true;
        skip = ["length"];
        const d = getOwnPropertyDescriptor(value, "length");
        const length = d && typeof d.value === "number" ? d.value : 0;
        if (kind === K.ARGUMENTS) base = "[Arguments]";
        else if (getPrototypeOf(value) !== ArrayPrototype) base = prefixFor(className, "Array", length);
        ctx.indentation += 2;
        output = arrayEntries(ctx, value, level, length);
        ctx.indentation -= 2;
        output = columns(ctx, output, numeric(output));
        break;
      }
      case K.TYPEDARRAY: {
        const length = apply(typedArrayLength, value, []);
        base = `${apply(typedArrayName, value, [])}(${length})`;
        open = "[";
        close = "]";
        skipIndices = true;
        output = columns(ctx, typedArrayEntries(ctx, value, level, length), true);
        break;
      }
      case K.MAP: {
        const size = apply(mapSize, value, []);
        base = prefixFor(className, "Map", size);
        output = collection(ctx, apply(mapEntries, value, []), mapIteratorNext, size,
          (entry) => `${formatValue(ctx, entry[0], level + 1)} => ${formatValue(ctx, entry[1], level + 1)}`);
        break;
      }
      case K.SET: {
        const size = apply(setSize, value, []);
        base = prefixFor(className, "Set", size);
        output = collection(ctx, apply(setValues, value, []), setIteratorNext, size,
          (v) => formatValue(ctx, v, level + 1));
        output = columns(ctx, output, false);
        break;
      }
      case K.WEAKMAP:
      case K.WEAKSET:
        base = prefixFor(className, kind === K.WEAKMAP ? "WeakMap" : "WeakSet");
        output.push("<items unknown>");
        break;
      case K.WEAKREF: {
        base = prefixFor(className, "WeakRef");
        const target = weakRefDeref ? apply(weakRefDeref, value, []) : undefined;
        output.push(target === undefined ? "<collected>" : formatValue(ctx, target, level + 1));
        break;
      }
      case K.PROMISE: {
        base = prefixFor(className, "Promise");
        const [state, result] = promiseState(value);
        if (state === 0) output.push("<pending>");
        else if (state === 1) output.push(formatValue(ctx, result, level + 1));
        else output.push(`<rejected> ${formatValue(ctx, result, level + 1)}`);
        break;
      }
      case K.ARRAYBUFFER: {
        base = prefixFor(className, "ArrayBuffer");
        const length = apply(bufferLength, value, []);
        const bytes = new Uint8Array(value, 0, Math.min(length, 50));
        let hex = "";
        for (let i = 0; i < bytes.length; i++) hex += `${i ? " " : ""}${bytes[i].toString(16).padStart(2, "0")}`;
        if (length > bytes.length) hex += ` ... ${length - bytes.length} more byte${length - bytes.length === 1 ? "" : "s"}`;
        output.push(`[Uint8Contents]: <${hex}>`, `byteLength: ${length}`);
        break;
      }
      case K.DATAVIEW: {
        base = prefixFor(className, "DataView");
        ctx.indentation += 2;
        output.push(
          `byteLength: ${apply(dataViewLength, value, [])}`,
          `byteOffset: ${apply(dataViewOffset, value, [])}`,
          `buffer: ${formatValue(ctx, apply(dataViewBuffer, value, []), level + 1)}`,
        );
        ctx.indentation -= 2;
        break;
      }
      case K.FUNCTION:
        base = functionBase(value);
        skip = ["prototype"];
        break;
      case K.ERROR: {
        const { header, frames } = errorText(value);
        base = frames === "" ? (level === 0 ? header : `[${header}]`) : `${header}\n${frames}`;
        base = indentLines(base, ctx.indentation);
        skip = ["stack", "message"];
        for (const hidden of ["cause", "errors"]) {
          const d = getOwnPropertyDescriptor(value, hidden);
          if (d && !d.enumerable) {
            ctx.indentation += 2;
            output.push(`[${hidden}]: ${propertyValue(ctx, d, level)}`);
            ctx.indentation -= 2;
          }
        }
        break;
      }
      case K.DATE: {
        let iso;
        try {
          iso = apply(dateToISOString, value, []);
        } catch (_) {
          iso = "Invalid Date";
        }
        base = className === "Date" ? iso : `${prefixFor(className, "Date")} ${iso}`;
        break;
      }
      case K.REGEXP: {
        let flags = "";
        for (const [get, flag] of REGEXP_FLAGS) if (apply(get, value, [])) flags += flag;
        const text = `/${apply(regExpSource, value, [])}/${flags}`;
        base = className === "RegExp" ? text : `${prefixFor(className, "RegExp")} ${text}`;
        break;
      }
      case K.NUMBER:
      case K.STRING:
      case K.BOOLEAN:
      case K.SYMBOL:
      case K.BIGINT: {
        const type = ["Number", "String", "Boolean", "Symbol", "BigInt"][kind - K.NUMBER];
        const primitive = apply(VALUE_OF[type], value, []);
        base = `[${type}: ${formatPrimitive(primitive)}]`;
        if (kind === K.STRING) {
          skipIndices = true;
          skip = ["length"];
        }
        break;
      }
      default: {
        const tag = dataProperty(value, Symbol.toStringTag);
        if (className === null) base = "[Object: null prototype]";
        else if (className !== "Object") base = className;
        if (typeof tag === "string" && tag !== "" && tag !== className) {
          base = `${base === "" ? "Object" : base} [${tag}]`;
        }
        const view = viewOf(value);
        if (view !== undefined) {
          let shown;
          try {
            shown = view(value);
          } catch (_) {
            shown = undefined;
          }
          if (shown !== undefined) {
            ctx.indentation += 2;
            for (const key of ownKeys(shown)) {
              output.push(`${formatKey(key)}: ${formatValue(ctx, shown[key], level + 1)}`);
            }
            ctx.indentation -= 2;
          }
        }
      }
    }
    const properties = propertyEntries(ctx, value, level, skipIndices, skip);
    for (let i = 0; i < properties.length; i++) output.push(properties[i]);
    if (output.length === 0 && base !== "" && kind !== K.ARRAY && kind !== K.TYPEDARRAY &&
      kind !== K.ARGUMENTS && kind !== K.MAP && kind !== K.SET && kind !== K.ORDINARY) {
      // A function, error, date, regexp or boxed primitive alone.
      return base;
    }
    return reduce(ctx, output, base, open, close);
  }

  // What the runtime's own classes show: their state is in private fields,
  // so a view (a plain object of their attributes, read through their own
  // getters) stands in for their properties. By the name under which a
  // file hands the class to `internals`; other files may add theirs.
  const eventView = (e) => ({ type: e.type, defaultPrevented: e.defaultPrevented });
  internals.inspectViews = {
    Event: eventView,
    CustomEvent: (e) => ({ ...eventView(e), detail: e.detail }),
    ErrorEvent: (e) => ({ ...eventView(e), message: e.message, error: e.error }),
    PromiseRejectionEvent: (e) => ({ ...eventView(e), promise: e.promise, reason: e.reason }),
    MessageEvent: (e) => ({ ...eventView(e), data: e.data, ports: e.ports }),
    AbortSignal: (s) => ({ aborted: s.aborted, reason: s.reason }),
    Headers: (h) => {
      const view = {};
      for (const [name, value] of h) view[name] = name in view ? `${view[name]}, ${value}` : value;
      return view;
    },
    Request: (r) => ({ method: r.method, url: r.url, headers: r.headers, bodyUsed: r.bodyUsed }),
    Response: (r) => ({
      status: r.status, statusText: r.statusText, url: r.url, type: r.type, redirected: r.redirected,
      headers: r.headers, bodyUsed: r.bodyUsed,
    }),
  };
  let views;
  // The view for `object`, if one of the runtime's classes made it.
  function viewOf(object) {
    if (views === undefined) {
      views = new Map();
      for (const name of Object.keys(internals.inspectViews)) {
        const Class = internals[name];
        if (typeof Class === "function") views.set(Class.prototype, internals.inspectViews[name]);
      }
    }
    for (let o = getPrototypeOf(object), hops = 0; o !== null && hops < 64; o = getPrototypeOf(o), hops++) {
      if (inspectKind(o) === K.PROXY) return undefined;
      const view = views.get(o);
      if (view !== undefined) return view;
    }
    return undefined;
  }

  // inspect(value, { depth }): the text of any value; strings are quoted.
  internals.inspect = function (value, options = undefined) {
    let depth = DEFAULT_DEPTH;
    if (options !== undefined && options !== null) {
      const d = options.depth;
      if (d === null || d === Infinity) depth = MAX_DEPTH;
      else if (typeof d === "number" && d >= 0) depth = Math.min(Math.floor(d), MAX_DEPTH);
    }
    const ctx = { depth, seen: new Set(), circular: new Map(), indentation: 0, objects: 0, size: 0 };
    return formatValue(ctx, value, 0);
  };
  internals.inspectDefaults = { depth: DEFAULT_DEPTH, maxDepth: MAX_DEPTH };
});
