// Intl and the locale-sensitive built-ins, per locale, with the examples
// of ECMA-402 and its usual documentation.
const LOCALES = ["en-US", "de-DE", "fr-FR", "es-ES", "ja-JP"];
const date = new Date(Date.UTC(2020, 11, 20, 3, 23, 16, 738));

function perLocale(f) {
  const out = {};
  for (const locale of LOCALES) out[locale] = f(locale);
  return out;
}

function attempt(f) {
  try {
    return f();
  } catch (e) {
    return `${e.name}`;
  }
}

export function bgUpdater() {
  return {
    numbers: perLocale((l) => [
      new Intl.NumberFormat(l).format(1234567.891),
      new Intl.NumberFormat(l, { style: "currency", currency: l === "ja-JP" ? "JPY" : l === "en-US" ? "USD" : "EUR" }).format(123456.789),
      new Intl.NumberFormat(l, { style: "percent" }).format(0.256),
      new Intl.NumberFormat(l, { maximumSignificantDigits: 3 }).format(123456.789),
      new Intl.NumberFormat(l, { minimumFractionDigits: 2 }).format(-5),
      (1234.5).toLocaleString(l),
      12345678901234567890n.toLocaleString(l),
    ]),
    numberDetails: [
      new Intl.NumberFormat("en", { signDisplay: "always" }).format(3),
      new Intl.NumberFormat("en", { signDisplay: "exceptZero" }).format(0),
      new Intl.NumberFormat("en").format(-0),
      new Intl.NumberFormat("en").format(NaN),
      new Intl.NumberFormat("en").format(-Infinity),
      new Intl.NumberFormat("en", { useGrouping: false }).format(12345.6),
      new Intl.NumberFormat("en", { maximumFractionDigits: 0 }).format(2.5),
      new Intl.NumberFormat("en", { maximumFractionDigits: 0, roundingMode: "halfEven" }).format(2.5),
      new Intl.NumberFormat("en", { minimumIntegerDigits: 3 }).format(7),
      new Intl.NumberFormat("en", { style: "currency", currency: "EUR", currencyDisplay: "code" }).format(1.5),
      Intl.NumberFormat("de").format(1e21),
      new Intl.NumberFormat("es").format(1234),
    ],
    numberOptions: new Intl.NumberFormat("de-DE", { style: "currency", currency: "eur" }).resolvedOptions(),
    plurals: {
      en: [0, 1, 2, 1.5].map((n) => new Intl.PluralRules("en").select(n)),
      enOrdinal: [1, 2, 3, 4, 11, 12, 21, 22, 23, 101].map((n) => new Intl.PluralRules("en", { type: "ordinal" }).select(n)),
      fr: [0, 1, 1.5, 2, 1000000].map((n) => new Intl.PluralRules("fr").select(n)),
      de: [1, 1.0, 2].map((n) => new Intl.PluralRules("de").select(n)),
      deFraction: new Intl.PluralRules("de", { minimumFractionDigits: 1 }).select(1),
      ja: [0, 1, 2].map((n) => new Intl.PluralRules("ja").select(n)),
      categories: perLocale((l) => new Intl.PluralRules(l).resolvedOptions().pluralCategories),
    },
    relative: perLocale((l) => [
      new Intl.RelativeTimeFormat(l).format(-1, "day"),
      new Intl.RelativeTimeFormat(l, { numeric: "auto" }).format(-1, "day"),
      new Intl.RelativeTimeFormat(l).format(3, "hours"),
      new Intl.RelativeTimeFormat(l, { style: "short" }).format(2, "month"),
    ]),
    collation: {
      de: ["z", "a", "Z", "ä", "b"].sort(new Intl.Collator("de").compare),
      codeUnits: ["z", "a", "Z", "ä", "b"].sort(),
      numeric: ["10", "9", "2", "1"].sort(new Intl.Collator("en", { numeric: true }).compare),
      numericExtension: new Intl.Collator("en-u-kn").resolvedOptions(),
      base: [new Intl.Collator("fr", { sensitivity: "base" }).compare("a", "á"), new Intl.Collator("fr", { sensitivity: "accent" }).compare("a", "á")],
      caseFirst: ["a", "A", "b"].sort(new Intl.Collator("en", { caseFirst: "upper" }).compare),
      localeCompare: ["ä".localeCompare("z", "de"), "a".localeCompare("B"), "a".localeCompare("a")],
      ja: ["ん", "か", "あ", "カ"].sort(new Intl.Collator("ja").compare),
    },
    dates: perLocale((l) => [
      new Intl.DateTimeFormat(l).format(date),
      new Intl.DateTimeFormat(l, { dateStyle: "full" }).format(date),
      new Intl.DateTimeFormat(l, { dateStyle: "medium", timeStyle: "short" }).format(date),
      new Intl.DateTimeFormat(l, { year: "numeric", month: "long", day: "numeric" }).format(date),
      new Intl.DateTimeFormat(l, { weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: "+05:30" }).format(date),
      date.toLocaleString(l),
      date.toLocaleTimeString(l),
    ]),
    dateDetails: [
      new Intl.DateTimeFormat("en-US", { hour: "numeric", hour12: false }).format(date),
      new Intl.DateTimeFormat("en-US", { timeStyle: "long" }).format(date),
      new Intl.DateTimeFormat("en-US", { timeZone: "Etc/GMT+5", hour: "numeric", minute: "numeric" }).format(date),
      new Date(NaN).toLocaleString("en"),
      attempt(() => new Intl.DateTimeFormat("en").format(NaN)),
      attempt(() => new Intl.DateTimeFormat("en", { timeZone: "Mars/Olympus" })),
      attempt(() => new Intl.DateTimeFormat("en", { dateStyle: "short", year: "numeric" })),
    ],
    dateOptions: new Intl.DateTimeFormat("de-DE", { hour: "numeric", minute: "numeric" }).resolvedOptions(),
    issue: [
      new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" }).format(1234.5),
      new Intl.PluralRules("fr").select(1.5),
      ["b", "ä", "a", "z"].sort(new Intl.Collator("de").compare),
      new Intl.RelativeTimeFormat("es", { numeric: "auto" }).format(-1, "day"),
      date.toLocaleDateString("ja-JP", { year: "numeric", month: "long", day: "numeric", weekday: "long" }),
      date.toLocaleDateString("de-DE"),
      (1234567.891).toLocaleString("fr-FR"),
      ["résumé", "resume", "Resume"].sort((a, b) => a.localeCompare(b, "fr")),
    ],
    unavailable: {
      locale: new Intl.NumberFormat("sw").resolvedOptions().locale,
      dateLocale: new Intl.DateTimeFormat("sw-KE").resolvedOptions().locale,
      supported: Intl.DateTimeFormat.supportedLocalesOf(["sw", "de-CH", "ja"]),
      formatted: new Intl.NumberFormat("sw").format(1234.5),
    },
    zones: [
      new Intl.DateTimeFormat("en-US", { timeZone: "UTC", timeStyle: "long" }).format(date),
      new Intl.DateTimeFormat("de", { timeZone: "Etc/GMT-5", hour: "numeric", timeZoneName: "shortOffset" }).format(date),
      new Intl.DateTimeFormat("fr", { timeZone: "UTC", hour: "numeric", timeZoneName: "short" }).format(date),
      new Intl.DateTimeFormat("ja", { timeZone: "Etc/GMT+5", timeStyle: "short" }).format(date),
      attempt(() => new Intl.DateTimeFormat("en", { timeZone: "Europe/Berlin" })),
      date.toLocaleString("en-US", { timeZone: "UTC" }),
    ],
    locales: {
      canonical: Intl.getCanonicalLocales(["EN-us", "de-de", "en-US", "iw", "zh-hant-tw"]),
      invalid: attempt(() => Intl.getCanonicalLocales("en_US")),
      supported: Intl.NumberFormat.supportedLocalesOf(["de-AT", "pt-BR", "ja", "fr-CA"]),
      fallback: [
        new Intl.NumberFormat("de-AT").resolvedOptions().locale,
        new Intl.NumberFormat(["pt-BR", "fr-CA"]).resolvedOptions().locale,
        new Intl.NumberFormat("pt-BR").resolvedOptions().locale,
        new Intl.DateTimeFormat().resolvedOptions().locale,
        new Intl.DateTimeFormat().resolvedOptions().timeZone,
      ],
      values: ["calendar", "numberingSystem", "timeZone"].map((k) => Intl.supportedValuesOf(k)),
      badKey: attempt(() => Intl.supportedValuesOf("colour")),
    },
    arrays: [[1234.5, "x", 7n].toLocaleString("de"), [1234.5, null].toLocaleString()],
    errors: [
      attempt(() => new Intl.NumberFormat("en", { style: "currency" })),
      attempt(() => new Intl.NumberFormat("en", { style: "bogus" })),
      attempt(() => new Intl.NumberFormat("en", { maximumFractionDigits: 101 })),
      attempt(() => Intl.PluralRules("en")),
      attempt(() => new Intl.RelativeTimeFormat("en").format(1, "fortnight")),
    ],
    tags: [Object.prototype.toString.call(Intl), Object.prototype.toString.call(new Intl.Collator())],
  };
}
