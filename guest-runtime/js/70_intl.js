// Intl (ECMA-402): getCanonicalLocales, supportedValuesOf, Collator,
// DateTimeFormat, NumberFormat, PluralRules, RelativeTimeFormat, and the
// locale-sensitive methods of Number, BigInt, Date, String and Array.
// Formatting is ICU4X's, over the runtime's own data for the locales in
// AVAILABLE (src/ops/intl.rs). Locales and options are resolved here as the
// standard says; a requested locale without data falls back to the nearest
// one that has it (BestAvailableLocale), and resolvedOptions().locale says
// which was used.
(function (internals) {
  "use strict";
  const host = internals.host;
  // Each constructor makes its ICU4X formatter once (intl<Kind>, which
  // answers a handle) and formats through the handle (src/ops/intl.rs).
  const {
    intlCanonicalize, intlNumberFormat, intlFormatNumber, intlPluralRules, intlPluralSelect,
    intlPluralCategories, intlCollator, intlCompare, intlDateTimeFormat, intlFormatDate,
    intlRelativeTimeFormat, intlFormatRelative,
  } = host;

  // The locales with data (scripts/intl-data.sh). The language-only ones
  // are also their likely regions': ICU's "en" is en-US, "de" de-DE, ...
  const AVAILABLE = new Set(["de", "de-DE", "en", "en-US", "es", "es-ES", "fr", "fr-FR", "ja", "ja-JP"]);
  const DEFAULT_LOCALE = "en-US";
  const DEFAULT_TIME_ZONE = "UTC";

  function requireObjectOptions(options) {
    if (options === undefined) return Object.create(null);
    if (options === null) throw new TypeError("Intl: the options must be an object");
    return Object(options);
  }

  // ECMA-402 GetOption.
  function getOption(options, name, type, values, fallback) {
    let value = options[name];
    if (value === undefined) return fallback;
    if (type === "boolean") value = Boolean(value);
    else value = String(value);
    if (values !== undefined && !values.includes(value)) {
      throw new RangeError(`Intl: ${JSON.stringify(value)} is not a valid value for the option ${name} (use ${values.join(", ")})`);
    }
    return value;
  }

  // ECMA-402 GetNumberOption / DefaultNumberOption.
  function getNumberOption(options, name, min, max, fallback) {
    const value = options[name];
    if (value === undefined) return fallback;
    const n = Number(value);
    if (Number.isNaN(n) || n < min || n > max) {
      throw new RangeError(`Intl: the option ${name} must be a number from ${min} to ${max}`);
    }
    return Math.floor(n);
  }

  // Tags as CanonicalizeUnicodeLocaleId gave them (bounded; a task's
  // instance is thrown away after it, and so is this).
  const canonicalTags = new Map();
  function canonicalTag(value) {
    let tag = canonicalTags.get(value);
    if (tag === undefined) {
      tag = intlCanonicalize(value);
      if (canonicalTags.size >= 64) canonicalTags.clear();
      canonicalTags.set(value, tag);
    }
    return tag;
  }

  // ECMA-402 CanonicalizeLocaleList.
  function canonicalizeLocaleList(locales) {
    if (locales === undefined) return [];
    const seen = [];
    const list = typeof locales === "string" ? [locales] : Object(locales);
    const length = typeof locales === "string" ? 1 : Math.min(Math.max(Math.floor(Number(list.length)) || 0, 0), 2 ** 53 - 1);
    for (let k = 0; k < length; k++) {
      if (!(k in list)) continue;
      const value = list[k];
      if (typeof value !== "string" && (typeof value !== "object" || value === null)) {
        throw new TypeError("Intl: a locale must be a string or an object");
      }
      const tag = canonicalTag(String(value));
      if (!seen.includes(tag)) seen.push(tag);
    }
    return seen;
  }

  // A tag's Unicode extension (-u-...) keywords, and the tag without it.
  function splitExtension(tag) {
    const match = /-u((?:-[0-9a-z]{2,8})+)/.exec(tag);
    if (match === null) return { base: tag, keywords: {} };
    const keywords = {};
    let key = null;
    for (const part of match[1].slice(1).split("-")) {
      if (part.length === 2) {
        key = part;
        keywords[key] = "true";
      } else if (key !== null) {
        keywords[key] = keywords[key] === "true" ? part : `${keywords[key]}-${part}`;
      }
    }
    return { base: tag.slice(0, match.index) + tag.slice(match.index + match[0].length), keywords };
  }

  // ECMA-402 BestAvailableLocale.
  function bestAvailable(tag) {
    let candidate = tag;
    for (;;) {
      if (AVAILABLE.has(candidate)) return candidate;
      let pos = candidate.lastIndexOf("-");
      if (pos < 0) return undefined;
      if (pos >= 2 && candidate[pos - 2] === "-") pos -= 2;
      candidate = candidate.slice(0, pos);
    }
  }

  // ECMA-402 ResolveLocale (the lookup matcher, which "best fit" may be):
  // the available locale and the requested locale's extension keywords.
  function resolveLocale(locales) {
    for (const tag of canonicalizeLocaleList(locales)) {
      const { base, keywords } = splitExtension(tag);
      const found = bestAvailable(base.replace(/-x-.*$/, ""));
      if (found !== undefined) return { locale: found, keywords };
    }
    return { locale: DEFAULT_LOCALE, keywords: {} };
  }

  function withKeywords(locale, keywords) {
    const keys = Object.keys(keywords).sort();
    return keys.length === 0 ? locale : `${locale}-u-${keys.map((k) => (keywords[k] === "true" ? k : `${k}-${keywords[k]}`)).join("-")}`;
  }

  function supportedLocalesOf(locales, options) {
    const o = requireObjectOptions(options);
    getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
    return canonicalizeLocaleList(locales).filter((tag) => bestAvailable(splitExtension(tag).base) !== undefined);
  }

  // The numbering system: only Latin digits have data, so any other
  // (well-formed) one falls back to it, as an unsupported one does.
  function numberingSystem(o) {
    const nu = getOption(o, "numberingSystem", "string", undefined, undefined);
    if (nu !== undefined && !/^[0-9a-z]{3,8}(-[0-9a-z]{3,8})*$/i.test(nu)) {
      throw new RangeError(`Intl: invalid numberingSystem ${JSON.stringify(nu)}`);
    }
    return "latn";
  }

  // A value as ECMA-402's ToIntlMathematicalValue gives it, for the native
  // side: a decimal string, or a non-finite marker.
  function toDecimalString(x) {
    if (typeof x === "bigint") return String(x);
    const n = typeof x === "string" ? Number(x.trim() === "" ? 0 : x) : Number(x);
    if (Number.isNaN(n)) return "NaN";
    if (n === Infinity) return "Infinity";
    if (n === -Infinity) return "-Infinity";
    if (Object.is(n, -0)) return "-0";
    return String(n).replace("e+", "e");
  }

  // ISO 4217 minor units where they are not 2.
  const CURRENCY_DIGITS = {
    BHD: 3, BIF: 0, CLF: 4, CLP: 0, DJF: 0, GNF: 0, IQD: 3, ISK: 0, JOD: 3, JPY: 0, KMF: 0, KRW: 0,
    KWD: 3, LYD: 3, OMR: 3, PYG: 0, RWF: 0, TND: 3, UGX: 0, UYI: 0, UYW: 4, VND: 0, VUV: 0, XAF: 0,
    XOF: 0, XPF: 0,
  };

  // ECMA-402 SetNumberFormatDigitOptions (roundingPriority "auto").
  function digitOptions(o, mnfdDefault, mxfdDefault) {
    const minInt = getNumberOption(o, "minimumIntegerDigits", 1, 21, 1);
    const mnsd = o.minimumSignificantDigits;
    const mxsd = o.maximumSignificantDigits;
    const mnfd = o.minimumFractionDigits;
    const mxfd = o.maximumFractionDigits;
    const roundingMode = getOption(o, "roundingMode", "string",
      ["ceil", "floor", "expand", "trunc", "halfCeil", "halfFloor", "halfExpand", "halfTrunc", "halfEven"], "halfExpand");
    const priority = getOption(o, "roundingPriority", "string", ["auto", "morePrecision", "lessPrecision"], "auto");
    if (priority !== "auto") throw new RangeError("Intl: roundingPriority other than \"auto\" is not supported in charm-host");
    const increment = getNumberOption(o, "roundingIncrement", 1, 5000, 1);
    if (increment !== 1) throw new RangeError("Intl: roundingIncrement other than 1 is not supported in charm-host");
    getOption(o, "trailingZeroDisplay", "string", ["auto", "stripIfInteger"], "auto");
    const result = { minimumIntegerDigits: minInt, roundingMode };
    if (mnsd !== undefined || mxsd !== undefined) {
      const min = getNumberOption(o, "minimumSignificantDigits", 1, 21, 1);
      const max = getNumberOption(o, "maximumSignificantDigits", min, 21, 21);
      result.minimumSignificantDigits = min;
      result.maximumSignificantDigits = max;
      return result;
    }
    let min = getNumberOption(o, "minimumFractionDigits", 0, 100, undefined);
    let max = getNumberOption(o, "maximumFractionDigits", 0, 100, undefined);
    if (min === undefined && max === undefined) {
      min = mnfdDefault;
      max = mxfdDefault;
    } else if (min === undefined) {
      min = Math.min(mnfdDefault, max);
    } else if (max === undefined) {
      max = Math.max(mxfdDefault, min);
    } else if (min > max) {
      throw new RangeError("Intl: minimumFractionDigits is greater than maximumFractionDigits");
    }
    result.minimumFractionDigits = min;
    result.maximumFractionDigits = max;
    return result;
  }

  function digitArray(d) {
    return [
      d.minimumIntegerDigits,
      d.minimumFractionDigits ?? -1,
      d.maximumFractionDigits ?? -1,
      d.minimumSignificantDigits ?? -1,
      d.maximumSignificantDigits ?? -1,
    ];
  }

  function defineMethods(Class, name) {
    for (const key of Object.getOwnPropertyNames(Class.prototype)) {
      if (key !== "constructor") Object.defineProperty(Class.prototype, key, { enumerable: false });
    }
    Object.defineProperty(Class.prototype, Symbol.toStringTag, { value: name, configurable: true });
    Object.defineProperty(Class, "supportedLocalesOf", {
      value: function supportedLocalesOf_(locales, options = undefined) {
        return supportedLocalesOf(locales, options);
      },
      writable: true,
      configurable: true,
    });
  }

  class NumberFormat {
    #r; // the resolved options
    #handle;
    #format;
    constructor(locales = undefined, options = undefined) {
      const o = requireObjectOptions(options);
      getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
      const { locale } = resolveLocale(locales);
      const nu = numberingSystem(o);
      const style = getOption(o, "style", "string", ["decimal", "percent", "currency", "unit"], "decimal");
      let currency = getOption(o, "currency", "string", undefined, undefined);
      if (currency !== undefined && !/^[A-Za-z]{3}$/.test(currency)) {
        throw new RangeError(`Intl.NumberFormat: invalid currency code ${JSON.stringify(currency)}`);
      }
      const currencyDisplay = getOption(o, "currencyDisplay", "string", ["code", "symbol", "narrowSymbol", "name"], "symbol");
      const currencySign = getOption(o, "currencySign", "string", ["standard", "accounting"], "standard");
      const unit = getOption(o, "unit", "string", undefined, undefined);
      if (style === "currency" && currency === undefined) {
        throw new TypeError("Intl.NumberFormat: the currency style needs a currency code");
      }
      if (style === "unit") {
        if (unit === undefined) throw new TypeError("Intl.NumberFormat: the unit style needs a unit");
        throw new RangeError("Intl.NumberFormat: the unit style is not supported in charm-host");
      }
      if (style === "currency" && currencyDisplay === "name") {
        throw new RangeError("Intl.NumberFormat: currencyDisplay \"name\" is not supported in charm-host");
      }
      if (currencySign === "accounting") {
        throw new RangeError("Intl.NumberFormat: currencySign \"accounting\" is not supported in charm-host");
      }
      const notation = getOption(o, "notation", "string", ["standard", "scientific", "engineering", "compact"], "standard");
      if (notation !== "standard") {
        throw new RangeError(`Intl.NumberFormat: the ${notation} notation is not supported in charm-host`);
      }
      if (currency !== undefined) currency = currency.toUpperCase();
      const cDigits = style === "currency" ? (CURRENCY_DIGITS[currency] ?? 2) : 0;
      const digits = digitOptions(
        o,
        cDigits,
        style === "currency" ? cDigits : style === "percent" ? 0 : 3,
      );
      let useGrouping = o.useGrouping;
      if (useGrouping === undefined) useGrouping = "auto";
      else if (useGrouping === true) useGrouping = "always";
      else if (useGrouping === false || useGrouping === null || useGrouping === "" || useGrouping === 0) useGrouping = false;
      else {
        useGrouping = String(useGrouping);
        if (!["min2", "auto", "always", "true", "false"].includes(useGrouping)) {
          throw new RangeError(`Intl.NumberFormat: invalid useGrouping ${JSON.stringify(useGrouping)}`);
        }
        if (useGrouping === "true" || useGrouping === "false") useGrouping = "auto";
      }
      const signDisplay = getOption(o, "signDisplay", "string", ["auto", "never", "always", "exceptZero", "negative"], "auto");
      this.#r = { locale, numberingSystem: nu, style };
      if (style === "currency") {
        Object.assign(this.#r, { currency, currencyDisplay, currencySign });
      }
      Object.assign(this.#r, digits, { useGrouping, notation, signDisplay, roundingIncrement: 1, roundingPriority: "auto", trailingZeroDisplay: "auto" });
      const r = this.#r;
      this.#handle = intlNumberFormat(
        r.locale,
        [r.style, r.currency ?? "", r.currencyDisplay ?? "", String(r.useGrouping), r.signDisplay, r.roundingMode],
        digitArray(r),
      );
    }

    #formatValue(x) {
      const r = this.#r;
      const text = toDecimalString(x);
      if (text === "NaN") return "NaN";
      if (text === "Infinity" || text === "-Infinity") {
        const negative = text[0] === "-";
        const sign = negative ? (r.signDisplay === "never" ? "" : "-") : (r.signDisplay === "always" || r.signDisplay === "exceptZero" ? "+" : "");
        return `${sign}∞`;
      }
      return intlFormatNumber(this.#handle, text);
    }

    get format() {
      if (this.#format === undefined) {
        this.#format = (value) => this.#formatValue(value);
      }
      return this.#format;
    }

    formatRange(start, end) {
      if (start === undefined || end === undefined) throw new TypeError("Intl.NumberFormat.formatRange: start and end are required");
      return `${this.#formatValue(start)}–${this.#formatValue(end)}`;
    }

    resolvedOptions() {
      return { ...this.#r };
    }
  }
  defineMethods(NumberFormat, "Intl.NumberFormat");

  class PluralRules {
    #r;
    #handle;
    constructor(locales = undefined, options = undefined) {
      const o = requireObjectOptions(options);
      getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
      const type = getOption(o, "type", "string", ["cardinal", "ordinal"], "cardinal");
      const digits = digitOptions(o, 0, 3);
      const { locale } = resolveLocale(locales);
      this.#r = { locale, type, ...digits };
      this.#handle = intlPluralRules(locale, type, digitArray(this.#r));
    }

    select(n) {
      const text = toDecimalString(Number(n));
      if (text === "NaN" || text.endsWith("Infinity")) return "other";
      return intlPluralSelect(this.#handle, text.replace(/^-/, ""));
    }

    resolvedOptions() {
      const categories = intlPluralCategories(this.#handle);
      const order = ["zero", "one", "two", "few", "many", "other"];
      return {
        locale: this.#r.locale,
        type: this.#r.type,
        minimumIntegerDigits: this.#r.minimumIntegerDigits,
        ...(this.#r.minimumSignificantDigits === undefined
          ? { minimumFractionDigits: this.#r.minimumFractionDigits, maximumFractionDigits: this.#r.maximumFractionDigits }
          : { minimumSignificantDigits: this.#r.minimumSignificantDigits, maximumSignificantDigits: this.#r.maximumSignificantDigits }),
        pluralCategories: order.filter((c) => categories.includes(c)),
        roundingIncrement: 1,
        roundingMode: this.#r.roundingMode,
        roundingPriority: "auto",
        trailingZeroDisplay: "auto",
      };
    }
  }
  defineMethods(PluralRules, "Intl.PluralRules");

  class Collator {
    #r;
    #compare;
    #handle;
    constructor(locales = undefined, options = undefined) {
      const o = requireObjectOptions(options);
      const usage = getOption(o, "usage", "string", ["sort", "search"], "sort");
      getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
      getOption(o, "collation", "string", undefined, undefined);
      const { locale, keywords } = resolveLocale(locales);
      let numeric = getOption(o, "numeric", "boolean", undefined, undefined);
      let caseFirst = getOption(o, "caseFirst", "string", ["upper", "lower", "false"], undefined);
      const used = {};
      if (numeric === undefined && (keywords.kn === "true" || keywords.kn === "false")) {
        numeric = keywords.kn === "true";
        used.kn = keywords.kn;
      }
      if (caseFirst === undefined && ["upper", "lower", "false"].includes(keywords.kf)) {
        caseFirst = keywords.kf;
        used.kf = keywords.kf;
      }
      const sensitivity = getOption(o, "sensitivity", "string", ["base", "accent", "case", "variant"], "variant");
      const ignorePunctuation = getOption(o, "ignorePunctuation", "boolean", undefined, false);
      this.#r = {
        locale: withKeywords(locale, used),
        usage,
        sensitivity,
        ignorePunctuation,
        collation: "default",
        numeric: numeric ?? false,
        caseFirst: caseFirst ?? "false",
      };
      const r = this.#r;
      this.#handle = intlCollator(locale, [r.sensitivity, String(r.ignorePunctuation), String(r.numeric), r.caseFirst]);
    }

    get compare() {
      if (this.#compare === undefined) {
        const handle = this.#handle;
        this.#compare = (a, b) => intlCompare(handle, String(a), String(b));
      }
      return this.#compare;
    }

    resolvedOptions() {
      return { ...this.#r };
    }
  }
  defineMethods(Collator, "Intl.Collator");

  // A time zone as an offset from UTC in minutes, for the names charm-host
  // supports: UTC and its aliases, fixed offsets (+05:30), and Etc/GMT±N.
  function timeZoneOffset(name) {
    const upper = name.toUpperCase();
    if (["UTC", "ETC/UTC", "GMT", "ETC/GMT", "ETC/UCT", "UCT", "ETC/ZULU", "ZULU", "ETC/UNIVERSAL", "UNIVERSAL", "ETC/GREENWICH", "GREENWICH", "ETC/GMT0", "GMT0", "ETC/GMT+0", "ETC/GMT-0", "GMT+0", "GMT-0"].includes(upper)) {
      return { id: "UTC", offset: 0 };
    }
    let m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(name);
    if (m) {
      const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
      if (Number(m[2]) <= 23 && Number(m[3] ?? 0) <= 59) {
        const sign = m[1] === "-" && minutes !== 0 ? -1 : 1;
        const id = `${sign < 0 ? "-" : "+"}${m[2]}:${m[3] ?? "00"}`;
        return { id, offset: sign * minutes };
      }
    }
    m = /^Etc\/GMT([+-])(\d{1,2})$/i.exec(name);
    if (m && Number(m[2]) <= 14) {
      // POSIX-style: Etc/GMT+5 is five hours behind UTC.
      return { id: `Etc/GMT${m[1]}${Number(m[2])}`, offset: (m[1] === "+" ? -60 : 60) * Number(m[2]) };
    }
    return undefined;
  }

  const DATE_FIELDS = ["weekday", "era", "year", "month", "day", "dayPeriod", "hour", "minute", "second", "fractionalSecondDigits", "timeZoneName"];

  // The DateTimeFormat options as a UTS #35 skeleton (ICU4X reads it into
  // its ECMA-402 field bag).
  function skeletonOf(r) {
    let s = "";
    const pick = (value, table) => (value === undefined ? "" : table[value]);
    s += pick(r.era, { narrow: "GGGGG", short: "G", long: "GGGG" });
    s += pick(r.year, { numeric: "y", "2-digit": "yy" });
    s += pick(r.month, { numeric: "M", "2-digit": "MM", short: "MMM", long: "MMMM", narrow: "MMMMM" });
    s += pick(r.day, { numeric: "d", "2-digit": "dd" });
    s += pick(r.weekday, { narrow: "EEEEE", short: "E", long: "EEEE" });
    if (r.hour !== undefined) {
      const c = r.hourCycle === undefined ? "j" : (r.hourCycle === "h11" || r.hourCycle === "h12") ? "h" : "H";
      s += r.hour === "2-digit" ? c + c : c;
    }
    s += pick(r.minute, { numeric: "m", "2-digit": "mm" });
    s += pick(r.second, { numeric: "s", "2-digit": "ss" });
    if (r.fractionalSecondDigits !== undefined) s += "S".repeat(r.fractionalSecondDigits);
    s += pick(r.timeZoneName, { short: "O", long: "OOOO", shortOffset: "O", longOffset: "OOOO", shortGeneric: "O", longGeneric: "OOOO" });
    return s;
  }

  // What the next DateTimeFormat's ToDateTimeOptions defaults to: the
  // toLocale*String methods set it for the one they make.
  let pendingDefaults = null;

  class DateTimeFormat {
    #r;
    #format;
    #offset;
    #handle;
    constructor(locales = undefined, options = undefined) {
      const [defaults, required] = pendingDefaults ?? ["date", "any"];
      pendingDefaults = null;
      const o = requireObjectOptions(options);
      getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
      const calendar = getOption(o, "calendar", "string", undefined, undefined);
      if (calendar !== undefined && calendar !== "gregory" && calendar !== "iso8601") {
        throw new RangeError(`Intl.DateTimeFormat: the ${calendar} calendar is not supported in charm-host (gregory only)`);
      }
      numberingSystem(o);
      const hour12 = getOption(o, "hour12", "boolean", undefined, undefined);
      let hourCycle = getOption(o, "hourCycle", "string", ["h11", "h12", "h23", "h24"], undefined);
      if (hour12 !== undefined) hourCycle = hour12 ? "h12" : "h23";
      const { locale, keywords } = resolveLocale(locales);
      if (hourCycle === undefined && ["h11", "h12", "h23", "h24"].includes(keywords.hc)) hourCycle = keywords.hc;
      let timeZone = o.timeZone;
      if (timeZone === undefined) timeZone = DEFAULT_TIME_ZONE;
      const zone = timeZoneOffset(String(timeZone));
      if (zone === undefined) {
        throw new RangeError(
          `Intl.DateTimeFormat: the time zone ${JSON.stringify(String(timeZone))} is not supported in charm-host (UTC and fixed offsets such as "+02:00" only)`,
        );
      }
      const r = { locale, calendar: "gregory", numberingSystem: "latn", timeZone: zone.id };
      this.#offset = zone.offset;
      const bag = {};
      bag.weekday = getOption(o, "weekday", "string", ["narrow", "short", "long"], undefined);
      bag.era = getOption(o, "era", "string", ["narrow", "short", "long"], undefined);
      bag.year = getOption(o, "year", "string", ["2-digit", "numeric"], undefined);
      bag.month = getOption(o, "month", "string", ["2-digit", "numeric", "narrow", "short", "long"], undefined);
      bag.day = getOption(o, "day", "string", ["2-digit", "numeric"], undefined);
      bag.dayPeriod = getOption(o, "dayPeriod", "string", ["narrow", "short", "long"], undefined);
      bag.hour = getOption(o, "hour", "string", ["2-digit", "numeric"], undefined);
      bag.minute = getOption(o, "minute", "string", ["2-digit", "numeric"], undefined);
      bag.second = getOption(o, "second", "string", ["2-digit", "numeric"], undefined);
      bag.fractionalSecondDigits = getNumberOption(o, "fractionalSecondDigits", 1, 3, undefined);
      bag.timeZoneName = getOption(o, "timeZoneName", "string",
        ["short", "long", "shortOffset", "longOffset", "shortGeneric", "longGeneric"], undefined);
      getOption(o, "formatMatcher", "string", ["basic", "best fit"], "best fit");
      const dateStyle = getOption(o, "dateStyle", "string", ["full", "long", "medium", "short"], undefined);
      const timeStyle = getOption(o, "timeStyle", "string", ["full", "long", "medium", "short"], undefined);
      const anyField = DATE_FIELDS.some((k) => bag[k] !== undefined);
      if ((dateStyle !== undefined || timeStyle !== undefined) && anyField) {
        throw new TypeError("Intl.DateTimeFormat: dateStyle and timeStyle cannot be combined with individual fields");
      }
      if (dateStyle === undefined && timeStyle === undefined) {
        // ECMA-402 ToDateTimeOptions' defaults.
        const hasDate = ["weekday", "year", "month", "day"].some((k) => bag[k] !== undefined);
        const hasTime = ["dayPeriod", "hour", "minute", "second", "fractionalSecondDigits"].some((k) => bag[k] !== undefined);
        let needDefaults = true;
        if ((required === "date" || required === "any") && hasDate) needDefaults = false;
        if ((required === "time" || required === "any") && hasTime) needDefaults = false;
        if (required === "date" && hasTime && !hasDate) needDefaults = true;
        if (needDefaults && (defaults === "date" || defaults === "all")) bag.year = bag.month = bag.day = "numeric";
        if (needDefaults && (defaults === "time" || defaults === "all")) bag.hour = bag.minute = bag.second = "numeric";
      }
      if (bag.hour !== undefined || timeStyle !== undefined) {
        r.hourCycle = hourCycle ?? (locale.startsWith("en") ? "h12" : "h23");
        r.hour12 = r.hourCycle === "h11" || r.hourCycle === "h12";
      }
      for (const k of DATE_FIELDS) if (bag[k] !== undefined) r[k] = bag[k];
      if (dateStyle !== undefined) r.dateStyle = dateStyle;
      if (timeStyle !== undefined) r.timeStyle = timeStyle;
      this.#r = r;
      this.#handle = intlDateTimeFormat(
        hourCycle === undefined ? locale : `${locale}-u-hc-${hourCycle}`,
        [dateStyle ?? "", timeStyle ?? "", skeletonOf({ ...bag, hourCycle })],
      );
    }

    #formatValue(date) {
      const t = date === undefined ? Date.now() : Number(date instanceof Date ? date.getTime() : date);
      if (!Number.isFinite(t)) throw new RangeError("Invalid time value");
      const text = intlFormatDate(this.#handle, t, this.#offset);
      // UTC's short name is "UTC" in every supported language; without
      // time zone names the formatter wrote the zero offset ("GMT+0").
      const r = this.#r;
      if (r.timeZone === "UTC" && (r.timeStyle === "long" || r.timeZoneName === "short" || r.timeZoneName === "shortGeneric")) {
        return text.replace(/(?:GMT|UTC)(?:[+\u2212-]0(?::?00)?)?(?![\d:])/, "UTC");
      }
      return text;
    }

    get format() {
      if (this.#format === undefined) this.#format = (date) => this.#formatValue(date);
      return this.#format;
    }

    formatRange(start, end) {
      if (start === undefined || end === undefined) throw new TypeError("Intl.DateTimeFormat.formatRange: start and end are required");
      const a = this.#formatValue(start);
      const b = this.#formatValue(end);
      return a === b ? a : `${a} – ${b}`;
    }

    resolvedOptions() {
      return { ...this.#r };
    }
  }
  defineMethods(DateTimeFormat, "Intl.DateTimeFormat");

  const RELATIVE_UNITS = ["second", "minute", "hour", "day", "week", "month", "quarter", "year"];

  class RelativeTimeFormat {
    #r;
    #handles = Object.create(null); // by unit
    constructor(locales = undefined, options = undefined) {
      const o = requireObjectOptions(options);
      getOption(o, "localeMatcher", "string", ["lookup", "best fit"], "best fit");
      numberingSystem(o);
      const { locale } = resolveLocale(locales);
      const style = getOption(o, "style", "string", ["long", "short", "narrow"], "long");
      const numeric = getOption(o, "numeric", "string", ["always", "auto"], "always");
      this.#r = { locale, style, numeric, numberingSystem: "latn" };
    }

    format(value, unit) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new RangeError("Intl.RelativeTimeFormat: the value must be finite");
      let u = String(unit);
      if (u.endsWith("s") && RELATIVE_UNITS.includes(u.slice(0, -1))) u = u.slice(0, -1);
      if (!RELATIVE_UNITS.includes(u)) throw new RangeError(`Intl.RelativeTimeFormat: invalid unit ${JSON.stringify(String(unit))}`);
      const r = this.#r;
      const handle = (this.#handles[u] ??= intlRelativeTimeFormat(r.locale, r.style, r.numeric, u));
      return intlFormatRelative(handle, toDecimalString(n));
    }

    resolvedOptions() {
      return { ...this.#r };
    }
  }
  defineMethods(RelativeTimeFormat, "Intl.RelativeTimeFormat");

  const SUPPORTED_VALUES = {
    calendar: ["gregory", "iso8601"],
    collation: [],
    currency: [],
    numberingSystem: ["latn"],
    timeZone: ["UTC"],
    unit: [],
  };

  // Intl's constructors, as ECMA-402 has them: NumberFormat, DateTimeFormat
  // and Collator may also be called without `new`; PluralRules and
  // RelativeTimeFormat may not.
  function constructor(Class, name, needsNew) {
    const F = function (locales = undefined, options = undefined) {
      if (needsNew && new.target === undefined) throw new TypeError(`Intl.${name} must be called with new`);
      return new Class(locales, options);
    };
    Object.defineProperty(F, "name", { value: name });
    Object.defineProperty(F, "prototype", { value: Class.prototype, writable: false });
    Object.defineProperty(Class.prototype, "constructor", { value: F, writable: true, configurable: true });
    Object.defineProperty(F, "supportedLocalesOf", Object.getOwnPropertyDescriptor(Class, "supportedLocalesOf"));
    return F;
  }

  const Intl = {};
  const members = {
    getCanonicalLocales(locales) {
      return canonicalizeLocaleList(locales);
    },
    supportedValuesOf(key) {
      const k = String(key);
      if (!Object.hasOwn(SUPPORTED_VALUES, k)) throw new RangeError(`Intl.supportedValuesOf: invalid key ${JSON.stringify(k)}`);
      return [...SUPPORTED_VALUES[k]];
    },
    Collator: constructor(Collator, "Collator", false),
    DateTimeFormat: constructor(DateTimeFormat, "DateTimeFormat", false),
    NumberFormat: constructor(NumberFormat, "NumberFormat", false),
    PluralRules: constructor(PluralRules, "PluralRules", true),
    RelativeTimeFormat: constructor(RelativeTimeFormat, "RelativeTimeFormat", true),
  };
  for (const [name, value] of Object.entries(members)) {
    Object.defineProperty(Intl, name, { value, writable: true, configurable: true, enumerable: false });
  }
  Object.defineProperty(Intl, Symbol.toStringTag, { value: "Intl", configurable: true });
  internals.defineGlobal("Intl", Intl);

  // The locale-sensitive methods of the built-ins (ECMA-402 chapter 20).
  function replace(proto, name, fn) {
    Object.defineProperty(proto, name, { value: fn, writable: true, configurable: true, enumerable: false });
  }
  function makeDateFormat(locales, options, defaults, required) {
    pendingDefaults = [defaults, required];
    try {
      return new DateTimeFormat(locales, options);
    } finally {
      pendingDefaults = null;
    }
  }
  const numberValue = Number.prototype.valueOf;
  const bigintValue = BigInt.prototype.valueOf;
  const dateValue = Date.prototype.getTime;
  const { toLocaleString: arrayToLocaleString } = {
    toLocaleString(locales = undefined, options = undefined) {
      const array = Object(this);
      const length = Math.min(Math.max(Math.floor(Number(array.length)) || 0, 0), 2 ** 53 - 1);
      let out = "";
      for (let k = 0; k < length; k++) {
        if (k > 0) out += ",";
        const element = array[k];
        if (element !== undefined && element !== null) out += String(Object(element).toLocaleString(locales, options));
      }
      return out;
    },
  };
  // The formatters these methods made without options, by kind and
  // locale string: a loop of toLocaleString("de") resolves once. (With
  // options, whose getters a charm can observe, each call makes its own.)
  const builtinFormatters = new Map();
  function formatterFor(kind, locales, options, make) {
    if (options !== undefined || (locales !== undefined && typeof locales !== "string")) return make();
    const key = locales === undefined ? kind : `${kind}|${locales}`;
    let made = builtinFormatters.get(key);
    if (made === undefined) {
      made = make();
      if (builtinFormatters.size >= 64) builtinFormatters.clear();
      builtinFormatters.set(key, made);
    }
    return made;
  }
  const numberFormatFor = (locales, options) =>
    formatterFor("number", locales, options, () => new NumberFormat(locales, options));
  const dateFormatFor = (locales, options, defaults, required) =>
    formatterFor(defaults, locales, options, () => makeDateFormat(locales, options, defaults, required));
  const methods = {
    number: {
      toLocaleString(locales = undefined, options = undefined) {
        return numberFormatFor(locales, options).format(numberValue.call(this));
      },
    },
    bigint: {
      toLocaleString(locales = undefined, options = undefined) {
        return numberFormatFor(locales, options).format(bigintValue.call(this));
      },
    },
    date: {
      toLocaleString(locales = undefined, options = undefined) {
        const t = dateValue.call(this);
        return Number.isNaN(t) ? "Invalid Date" : dateFormatFor(locales, options, "all", "any").format(t);
      },
      toLocaleDateString(locales = undefined, options = undefined) {
        const t = dateValue.call(this);
        return Number.isNaN(t) ? "Invalid Date" : dateFormatFor(locales, options, "date", "date").format(t);
      },
      toLocaleTimeString(locales = undefined, options = undefined) {
        const t = dateValue.call(this);
        return Number.isNaN(t) ? "Invalid Date" : dateFormatFor(locales, options, "time", "time").format(t);
      },
    },
    string: {
      localeCompare(that, locales = undefined, options = undefined) {
        if (this === undefined || this === null) throw new TypeError("String.prototype.localeCompare called on null or undefined");
        const collator = formatterFor("collator", locales, options, () => new Collator(locales, options));
        return collator.compare(String(this), String(that));
      },
    },
  };
  replace(Number.prototype, "toLocaleString", methods.number.toLocaleString);
  replace(BigInt.prototype, "toLocaleString", methods.bigint.toLocaleString);
  replace(Date.prototype, "toLocaleString", methods.date.toLocaleString);
  replace(Date.prototype, "toLocaleDateString", methods.date.toLocaleDateString);
  replace(Date.prototype, "toLocaleTimeString", methods.date.toLocaleTimeString);
  replace(String.prototype, "localeCompare", methods.string.localeCompare);
  replace(Array.prototype, "toLocaleString", arrayToLocaleString);
});
