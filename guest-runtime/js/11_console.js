// `console` (the Console standard): every method, the standard's format
// specifiers, group indentation, counters and timers. Each call is one
// line (possibly of several text lines) to the host, `host.log(level,
// text)`, which applies the run's log volume limit; values are formatted by
// `internals.inspect` (10_inspect.js), never through their own toJSON,
// toString or getters (`%s` excepted: the standard converts with String).
(function (internals) {
  "use strict";
  const host = internals.host;
  const inspect = internals.inspect;
  const toWellFormed = String.prototype.toWellFormed;
  const parseInt = globalThis.parseInt;
  const parseFloat = globalThis.parseFloat;
  const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
  const ownKeys = Reflect.ownKeys;
  const apply = Reflect.apply;
  const mapForEach = Map.prototype.forEach;
  const setForEach = Set.prototype.forEach;
  const KIND_MAP = 7, KIND_SET = 8; // host.inspectKind's

  // The host's levels (charm_host_abi::LogLevel).
  const DEBUG = 0, INFO = 1, WARN = 2, ERROR = 3;

  let groupIndent = "";
  const counts = new Map();
  const timers = new Map();

  // The standard's Printer: the text goes out as one log line, indented
  // by the current group.
  function print(level, text) {
    if (groupIndent !== "") text = groupIndent + text.split("\n").join(`\n${groupIndent}`);
    // Lone surrogates cannot cross as UTF-8.
    host.log(level, toWellFormed ? toWellFormed.call(text) : text);
  }

  // One argument as the Printer shows it: strings as they are, anything
  // else formatted.
  function show(value) {
    return typeof value === "string" ? value : inspect(value);
  }

  // The standard's Formatter, then the Printer's joining: the first
  // argument's %s %d %i %f %o %O %c (and %%) take the next arguments in
  // turn; the rest follow, separated by spaces.
  function format(args) {
    const first = args[0];
    let next = 1;
    let text;
    if (typeof first === "string" && args.length > 1) {
      text = "";
      let run = 0;
      for (let i = 0; i < first.length - 1; i++) {
        if (first.charCodeAt(i) !== 0x25) continue; // "%"
        const spec = first[i + 1];
        let piece;
        if (spec === "%") {
          piece = "%";
        } else if (next < args.length) {
          const arg = args[next];
          switch (spec) {
            case "s":
              piece = typeof arg === "string" ? arg : String(arg);
              break;
            case "d":
            case "i":
              piece = typeof arg === "symbol" ? "NaN" : `${parseInt(arg, 10)}`;
              break;
            case "f":
              piece = typeof arg === "symbol" ? "NaN" : `${parseFloat(arg)}`;
              break;
            case "o":
            case "O":
              piece = inspect(arg);
              break;
            case "c":
              // CSS: nothing to style here.
              piece = "";
              break;
            default:
              continue;
          }
          next++;
        } else {
          continue;
        }
        text += first.slice(run, i) + piece;
        i++;
        run = i + 1;
      }
      text += first.slice(run);
    } else {
      text = show(first);
    }
    for (; next < args.length; next++) text += ` ${show(args[next])}`;
    return text;
  }

  // The standard's Logger.
  function logger(level, args) {
    if (args.length === 0) return;
    print(level, format(args));
  }

  function label(value) {
    return value === undefined ? "default" : String(value);
  }

  function duration(start) {
    const ms = host.now() - start;
    return ms >= 1000 ? `${(ms / 1000).toFixed(3)}s` : `${ms.toFixed(3)}ms`;
  }

  // console.table's cells: a value on one line, shallow.
  function cell(value) {
    if (typeof value === "string") return value;
    return inspect(value, { depth: 0 }).replace(/\n\s*/g, " ");
  }

  // Own enumerable properties as [key, value] pairs, without calling
  // getters (a getter shows as "[Getter]").
  function entriesOf(object) {
    const out = [];
    for (const key of ownKeys(object)) {
      if (typeof key !== "string") continue;
      const d = getOwnPropertyDescriptor(object, key);
      if (!d || !d.enumerable) continue;
      out.push([key, "value" in d ? d.value : "[Getter]"]);
    }
    return out;
  }

  function drawTable(header, rows) {
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
    const line = (l, m, r) => l + widths.map((w) => "─".repeat(w + 2)).join(m) + r;
    const row = (cells) => `│${widths.map((w, c) => ` ${(cells[c] ?? "").padEnd(w)} `).join("│")}│`;
    return [line("┌", "┬", "┐"), row(header), line("├", "┼", "┤"), ...rows.map(row), line("└", "┴", "┘")].join("\n");
  }

  // console.table: rows by index or key; columns for each row's own
  // properties (or `properties`), and "Values" for primitive rows.
  function table(data, properties) {
    if (typeof data !== "object" || data === null) return logger(INFO, [data]);
    const kind = host.inspectKind(data);
    const isMap = kind === KIND_MAP;
    let indexHeader = "(index)";
    let rows = [];
    if (isMap) {
      indexHeader = "(iteration index)";
      apply(mapForEach, data, [(v, k) => rows.push([String(rows.length), v, k])]);
    } else if (kind === KIND_SET) {
      indexHeader = "(iteration index)";
      apply(setForEach, data, [(v) => rows.push([String(rows.length), v])]);
    } else {
      rows = entriesOf(data);
    }
    const columns = [];
    const columnSet = new Set();
    let hasValues = false;
    const wanted = Array.isArray(properties) ? properties.map(String) : undefined;
    for (const [, value] of rows) {
      if (typeof value === "object" && value !== null) {
        for (const [key] of entriesOf(value)) {
          if (wanted && !wanted.includes(key)) continue;
          if (!columnSet.has(key)) {
            columnSet.add(key);
            columns.push(key);
          }
        }
      } else {
        hasValues = true;
      }
    }
    if (wanted) {
      columns.length = 0;
      columns.push(...wanted);
    }
    const header = [indexHeader, ...(isMap ? ["Key"] : []), ...columns, ...(hasValues ? ["Values"] : [])];
    const body = rows.map(([index, value, key]) => {
      const cells = [index];
      if (isMap) cells.push(cell(key));
      const own = typeof value === "object" && value !== null ? new Map(entriesOf(value)) : null;
      for (const column of columns) cells.push(own && own.has(column) ? cell(own.get(column)) : "");
      if (hasValues) cells.push(own ? "" : cell(value));
      return cells;
    });
    print(INFO, drawTable(header, body));
  }

  const console = {
    assert(condition = false, ...data) {
      if (condition) return;
      const message = "Assertion failed";
      if (data.length === 0) data.push(message);
      else if (typeof data[0] === "string") data[0] = `${message}: ${data[0]}`;
      else data.unshift(message);
      logger(ERROR, data);
    },
    clear() {
      // There is no screen to clear; the standard empties the group stack.
      groupIndent = "";
    },
    debug(...data) {
      logger(DEBUG, data);
    },
    error(...data) {
      logger(ERROR, data);
    },
    info(...data) {
      logger(INFO, data);
    },
    log(...data) {
      logger(INFO, data);
    },
    table(tabularData = undefined, properties = undefined) {
      table(tabularData, properties);
    },
    trace(...data) {
      const title = data.length === 0 ? "Trace" : `Trace: ${format(data)}`;
      const stack = (internals.charmStack ?? String)(new Error().stack ?? "").replace(/\s+$/, "");
      print(INFO, stack === "" ? title : `${title}\n${stack}`);
    },
    warn(...data) {
      logger(WARN, data);
    },
    dir(item = undefined, options = undefined) {
      print(INFO, inspect(item, options));
    },
    dirxml(...data) {
      logger(INFO, data);
    },
    count(name = undefined) {
      const key = label(name);
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      print(INFO, `${key}: ${count}`);
    },
    countReset(name = undefined) {
      const key = label(name);
      if (counts.has(key)) counts.set(key, 0);
      else print(WARN, `Count for '${key}' does not exist`);
    },
    group(...data) {
      logger(INFO, data);
      groupIndent += "  ";
    },
    groupCollapsed(...data) {
      logger(INFO, data);
      groupIndent += "  ";
    },
    groupEnd() {
      groupIndent = groupIndent.slice(0, -2);
    },
    time(name = undefined) {
      const key = label(name);
      if (timers.has(key)) print(WARN, `Timer '${key}' already exists`);
      else timers.set(key, host.now());
    },
    timeLog(name = undefined, ...data) {
      const key = label(name);
      if (!timers.has(key)) return print(WARN, `Timer '${key}' does not exist`);
      const text = `${key}: ${duration(timers.get(key))}`;
      print(INFO, data.length === 0 ? text : `${text} ${format(data)}`);
    },
    timeEnd(name = undefined) {
      const key = label(name);
      if (!timers.has(key)) return print(WARN, `Timer '${key}' does not exist`);
      const start = timers.get(key);
      timers.delete(key);
      print(INFO, `${key}: ${duration(start)}`);
    },
  };
  // A Web IDL namespace: its prototype is a plain object of its own.
  const namespace = Object.create(Object.create(Object.prototype));
  for (const name of Object.keys(console)) {
    Object.defineProperty(namespace, name, {
      value: console[name],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  Object.defineProperty(namespace, Symbol.toStringTag, { value: "console", configurable: true });
  internals.format = format;
  internals.defineGlobal("console", namespace);
});
