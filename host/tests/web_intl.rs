//! Intl and RegExp inside the sandbox.
//!
//! Intl: ECMA-402's formatters for the runtime's languages (en, de, fr, es,
//! ja), checked against what ICU 78.2 / CLDR 48 give (Node 20's Intl, run on
//! the same fixture with `TZ=UTC`): where charm-host differs on purpose (the
//! available locales, CLDR's narrow no-break space before AM/PM, which V8
//! replaces by a plain space) the test says so. A locale without data
//! resolves to the DefaultLocale, en-US, as the standard's ResolveLocale
//! says, and `resolvedOptions().locale` shows it.
//!
//! RegExp: regular expressions that do not compile (at run time, and as
//! literals with their position), and the recent features QuickJS-ng has.

mod support;

use serde_json::{json, Value};
use support::run_fixture;

/// The state of `web-intl.js`, run once per test.
fn intl_state() -> Value {
    let ran = run_fixture("web-intl.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    ran.state()
}

#[test]
fn the_issues_examples_format_as_cldr_says() {
    let state = intl_state();
    assert_eq!(
        state["issue"],
        json!([
            // A no-break space before the euro sign.
            "1.234,50\u{a0}€",
            "one",
            ["a", "ä", "b", "z"],
            "ayer",
            "2020年12月20日日曜日",
            "20.12.2020",
            // French groups with a narrow no-break space.
            "1\u{202f}234\u{202f}567,891",
            ["resume", "Resume", "résumé"],
        ])
    );
}

#[test]
fn numbers_format_per_locale() {
    let state = intl_state();
    assert_eq!(
        state["numbers"],
        json!({
            "en-US": ["1,234,567.891", "$123,456.79", "26%", "123,000", "-5.00", "1,234.5",
                      "12,345,678,901,234,567,890"],
            "de-DE": ["1.234.567,891", "123.456,79\u{a0}€", "26\u{a0}%", "123.000", "-5,00", "1.234,5",
                      "12.345.678.901.234.567.890"],
            "fr-FR": ["1\u{202f}234\u{202f}567,891", "123\u{202f}456,79\u{a0}€", "26\u{a0}%",
                      "123\u{202f}000", "-5,00", "1\u{202f}234,5",
                      "12\u{202f}345\u{202f}678\u{202f}901\u{202f}234\u{202f}567\u{202f}890"],
            // Spanish does not group four-digit numbers (minimumGroupingDigits 2).
            "es-ES": ["1.234.567,891", "123.456,79\u{a0}€", "26\u{a0}%", "123.000", "-5,00", "1234,5",
                      "12.345.678.901.234.567.890"],
            "ja-JP": ["1,234,567.891", "￥123,457", "26%", "123,000", "-5.00", "1,234.5",
                      "12,345,678,901,234,567,890"],
        })
    );
    assert_eq!(
        state["numberDetails"],
        json!([
            "+3",
            "0",
            "-0",
            "NaN",
            "-∞",
            "12345.6",
            "3",
            "2",
            "007",
            "EUR\u{a0}1.50",
            "1.000.000.000.000.000.000.000",
            "1234"
        ])
    );
    assert_eq!(state["numberOptions"]["locale"], "de-DE");
    assert_eq!(state["numberOptions"]["currency"], "EUR");
    assert_eq!(state["numberOptions"]["minimumFractionDigits"], 2);
    assert_eq!(state["arrays"], json!(["1.234,5,x,7", "1,234.5,"]));
}

#[test]
fn plural_rules_select_cldrs_categories() {
    let state = intl_state();
    let plurals = &state["plurals"];
    assert_eq!(plurals["en"], json!(["other", "one", "other", "other"]));
    assert_eq!(
        plurals["enOrdinal"],
        json!(["one", "two", "few", "other", "other", "other", "one", "two", "few", "one"])
    );
    // French: 0 and 1.5 are "one"; a million is "many".
    assert_eq!(plurals["fr"], json!(["one", "one", "one", "other", "many"]));
    assert_eq!(plurals["de"], json!(["one", "one", "other"]));
    // "1.0" (one fraction digit shown) is "other" in German.
    assert_eq!(plurals["deFraction"], "other");
    assert_eq!(plurals["ja"], json!(["other", "other", "other"]));
    // In ECMA-402's order (zero, one, two, few, many, other).
    assert_eq!(
        plurals["categories"],
        json!({
            "en-US": ["one", "other"],
            "de-DE": ["one", "other"],
            "fr-FR": ["one", "many", "other"],
            "es-ES": ["one", "many", "other"],
            "ja-JP": ["other"],
        })
    );
}

#[test]
fn relative_times_per_locale() {
    let state = intl_state();
    assert_eq!(
        state["relative"],
        json!({
            "en-US": ["1 day ago", "yesterday", "in 3 hours", "in 2 mo."],
            "de-DE": ["vor 1 Tag", "gestern", "in 3 Stunden", "in 2 Monaten"],
            "fr-FR": ["il y a 1 jour", "hier", "dans 3 heures", "dans 2 m."],
            "es-ES": ["hace 1 día", "ayer", "dentro de 3 horas", "dentro de 2 m"],
            "ja-JP": ["1 日前", "昨日", "3 時間後", "2 か月後"],
        })
    );
}

#[test]
fn collators_order_as_the_uca_and_its_tailorings_say() {
    let state = intl_state();
    let c = &state["collation"];
    assert_eq!(c["de"], json!(["a", "ä", "b", "z", "Z"]));
    // Array.prototype.sort without a comparator: code units.
    assert_eq!(c["codeUnits"], json!(["Z", "a", "b", "z", "ä"]));
    assert_eq!(c["numeric"], json!(["1", "2", "9", "10"]));
    assert_eq!(c["numericExtension"]["locale"], "en-u-kn");
    assert_eq!(c["numericExtension"]["numeric"], true);
    assert_eq!(c["base"], json!([0, -1]));
    assert_eq!(c["caseFirst"], json!(["A", "a", "b"]));
    assert_eq!(c["localeCompare"], json!([-1, -1, 0]));
    assert_eq!(c["ja"], json!(["あ", "か", "カ", "ん"]));
}

#[test]
fn dates_format_per_locale() {
    let state = intl_state();
    assert_eq!(
        state["dates"],
        json!({
            // CLDR's narrow no-break space before AM/PM (V8 writes a plain space).
            "en-US": ["12/20/2020", "Sunday, December 20, 2020", "Dec 20, 2020, 3:23\u{202f}AM",
                      "December 20, 2020", "Sun 08:53\u{202f}AM", "12/20/2020, 3:23:16\u{202f}AM",
                      "3:23:16\u{202f}AM"],
            "de-DE": ["20.12.2020", "Sonntag, 20. Dezember 2020", "20.12.2020, 03:23", "20. Dezember 2020",
                      "So., 08:53", "20.12.2020, 03:23:16", "03:23:16"],
            "fr-FR": ["20/12/2020", "dimanche 20 décembre 2020", "20 déc. 2020, 03:23", "20 décembre 2020",
                      "dim. 08:53", "20/12/2020 03:23:16", "03:23:16"],
            // ICU4X writes Spanish hours with two digits where ICU has "3:23" (README).
            "es-ES": ["20/12/2020", "domingo, 20 de diciembre de 2020", "20 dic 2020, 03:23",
                      "20 de diciembre de 2020", "dom, 08:53", "20/12/2020, 03:23:16", "03:23:16"],
            "ja-JP": ["2020/12/20", "2020年12月20日日曜日", "2020/12/20 3:23", "2020年12月20日",
                      "08:53 (日)", "2020/12/20 3:23:16", "3:23:16"],
        })
    );
    assert_eq!(
        state["dateDetails"],
        json!([
            "03",
            "3:23:16\u{202f}AM UTC",
            "10:23\u{202f}PM",
            "Invalid Date",
            "RangeError",
            "RangeError",
            "TypeError"
        ])
    );
    assert_eq!(state["dateOptions"]["locale"], "de-DE");
    assert_eq!(state["dateOptions"]["timeZone"], "UTC");
    assert_eq!(state["dateOptions"]["hourCycle"], "h23");
}

#[test]
fn time_zones_are_utc_and_fixed_offsets_and_a_named_zone_is_a_range_error() {
    let state = intl_state();
    assert_eq!(
        state["zones"],
        json!([
            "3:23:16\u{202f}AM UTC",
            "08 Uhr GMT+5",
            // ICU has "03 h UTC": an hour alone with a zone name loses "h" (README).
            "03 UTC",
            "22:23",
            "RangeError",
            "12/20/2020, 3:23:16\u{202f}AM",
        ])
    );
    assert_eq!(state["locales"]["fallback"][4], "UTC");
}

#[test]
fn a_locale_without_data_resolves_to_the_default_locale_and_says_so() {
    let state = intl_state();
    assert_eq!(
        state["unavailable"],
        json!({
            "locale": "en-US",
            "dateLocale": "en-US",
            "supported": ["de-CH", "ja"],
            "formatted": "1,234.5",
        })
    );
    let locales = &state["locales"];
    // A region without data resolves to its language (BestAvailableLocale).
    assert_eq!(
        locales["fallback"],
        json!(["de", "fr", "en-US", "en-US", "UTC"])
    );
    assert_eq!(locales["supported"], json!(["de-AT", "ja", "fr-CA"]));
    assert_eq!(
        locales["canonical"],
        json!(["en-US", "de-DE", "he", "zh-Hant-TW"])
    );
    assert_eq!(locales["invalid"], "RangeError");
    assert_eq!(
        locales["values"],
        json!([["gregory", "iso8601"], ["latn"], ["UTC"]])
    );
    assert_eq!(locales["badKey"], "RangeError");
}

#[test]
fn intl_has_the_standards_shape_and_errors() {
    let state = intl_state();
    assert_eq!(
        state["errors"],
        json!([
            "TypeError",
            "RangeError",
            "RangeError",
            "TypeError",
            "RangeError"
        ])
    );
    assert_eq!(
        state["tags"],
        json!(["[object Intl]", "[object Intl.Collator]"])
    );
}

#[test]
fn a_bad_regexp_literal_at_module_level_is_a_compile_error_with_its_position() {
    let ran = run_fixture("regexp-syntax.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("regexp-syntax.js:3:16: SyntaxError: expecting ')'"),
        "{ran:?}"
    );
}

#[test]
fn a_bad_regexp_literal_in_a_function_is_a_compile_error_with_its_position() {
    let ran = run_fixture("regexp-syntax-in-function.js", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr
            .contains("regexp-syntax-in-function.js:4:22: SyntaxError: invalid class range"),
        "{ran:?}"
    );
}

#[test]
fn regexps_at_run_time() {
    let ran = run_fixture("regexp-features.js", &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        ran.state(),
        json!({
            "runtime": "SyntaxError: expecting ')'",
            "runtimeFlags": "SyntaxError: invalid regular expression flags",
            "vFlag": [true, "v", true],
            // quickjs-ng 0.15.1 has no set notation (README).
            "vSetOperations": "SyntaxError: invalid class range",
            "named": "30.11.2026",
            "lookbehind": "17",
            // Pattern modifiers (ES2025) are not in quickjs-ng 0.15.1.
            "modifiers": "SyntaxError: invalid group",
            "escape": "\\x61\\.b",
        })
    );
}
