//! `Intl`: the native half of `js/70_intl.js`, on ICU4X with the runtime's
//! own data (`guest-runtime/intl-data/`: the locales `Intl` supports, made
//! by `scripts/intl-data.sh` from ICU4X's compiled data).
//!
//! The JavaScript side resolves locales and options as ECMA-402 says. Its
//! constructors call `intl<Kind>(locale, options...)`, which builds an
//! ICU4X formatter (loading its data then: nothing is loaded at
//! pre-initialisation) and answers a handle, the formatter's index in this
//! instance; `format`, `compare` and `select` pass the handle and the value
//! only. A formatter made twice with the same options is built once, so a
//! loop of `toLocaleString` calls does not pile them up. Formatters live as
//! long as the task's instance.

use std::cell::RefCell;
use std::thread::LocalKey;

use fixed_decimal::{Decimal, SignDisplay, SignedRoundingMode, UnsignedRoundingMode};
use icu_calendar::{Date, Gregorian};
use icu_collator::options::{AlternateHandling, CaseLevel, CollatorOptions, Strength};
use icu_collator::preferences::{CollationCaseFirst, CollationNumericOrdering};
use icu_collator::{Collator, CollatorPreferences};
use icu_datetime::fieldbag::DateTimeFieldBag;
use icu_datetime::fieldsets::builder::{DateFields, FieldSetBuilder, ZoneStyle};
use icu_datetime::fieldsets::enums::CompositeFieldSet;
use icu_datetime::options::{Length, TimePrecision};
use icu_datetime::FixedCalendarDateTimeFormatter;
use icu_decimal::options::{DecimalFormatterOptions, GroupingStrategy};
use icu_decimal::DecimalFormatter;
use icu_experimental::dimension::currency::formatter::CurrencyFormatter;
use icu_experimental::dimension::currency::CurrencyType;
use icu_experimental::dimension::percent::formatter::PercentFormatter;
use icu_experimental::relativetime::options::Numeric;
use icu_experimental::relativetime::{RelativeTimeFormatter, RelativeTimeFormatterOptions};
use icu_locale::LocaleCanonicalizer;
use icu_locale_core::Locale;
use icu_plurals::{PluralCategory, PluralRules};
use icu_time::zone::UtcOffset;
use icu_time::{Time, TimeZone, ZonedDateTime};
use javy_plugin_api::javy::quickjs::{Ctx, Error as JsError, Exception};

/// The runtime's ICU4X data: the locales `Intl` supports, and the
/// locale-independent data the formatters need.
pub struct IntlData;

#[allow(clippy::all, unused)]
mod baked {
    use super::IntlData;
    include!("../../intl-data/mod.rs");
    impl_data_provider!(IntlData);
}

/// The data the date formatter's type asks for but the runtime leaves out
/// (time zone names, metazones: megabytes): a load says the marker is
/// missing. Only UTC offsets are formatted, which need none of it.
macro_rules! no_data {
    ($($marker:ty),* $(,)?) => {
        $(
            impl icu_provider::DataProvider<$marker> for IntlData {
                fn load(
                    &self,
                    req: icu_provider::DataRequest<'_>,
                ) -> Result<icu_provider::DataResponse<$marker>, icu_provider::DataError> {
                    Err(icu_provider::DataErrorKind::MarkerNotFound
                        .with_req(<$marker as icu_provider::DataMarker>::INFO, req))
                }
            }
        )*
    };
}

/// The canonical decomposition tables the collator reads: icu_normalizer's
/// compiled data, the copy `url` (IDNA) already links.
macro_rules! normalizer_data {
    ($($marker:ty),* $(,)?) => {
        $(
            impl icu_provider::DataProvider<$marker> for IntlData {
                fn load(
                    &self,
                    req: icu_provider::DataRequest<'_>,
                ) -> Result<icu_provider::DataResponse<$marker>, icu_provider::DataError> {
                    icu_provider::DataProvider::<$marker>::load(&icu_normalizer::provider::Baked, req)
                }
            }
        )*
    };
}

normalizer_data!(
    icu_normalizer::provider::NormalizerNfdDataV1,
    icu_normalizer::provider::NormalizerNfdSupplementV1,
    icu_normalizer::provider::NormalizerNfdTablesV1,
);

no_data!(
    icu_datetime::provider::time_zones::TimezoneNamesCitiesOverrideV1,
    icu_datetime::provider::time_zones::TimezoneNamesCitiesRootV1,
    icu_datetime::provider::time_zones::TimezoneNamesGenericLongV1,
    icu_datetime::provider::time_zones::TimezoneNamesGenericShortV1,
    icu_datetime::provider::time_zones::TimezoneNamesLocationsOverrideV1,
    icu_datetime::provider::time_zones::TimezoneNamesLocationsRootV1,
    icu_datetime::provider::time_zones::TimezoneNamesSpecificLongV1,
    icu_datetime::provider::time_zones::TimezoneNamesSpecificShortV1,
    icu_datetime::provider::time_zones::TimezoneNamesStandardLongV1,
    icu_time::provider::TimezonePeriodsV1,
);

fn range_error(ctx: &Ctx<'_>, message: &str) -> JsError {
    Exception::throw_range(ctx, message)
}

fn locale(ctx: &Ctx<'_>, tag: &str) -> Result<Locale, JsError> {
    Locale::try_from_str(tag).map_err(|_| range_error(ctx, &format!("invalid language tag: {tag}")))
}

thread_local! {
    static CANONICALIZER: RefCell<Option<LocaleCanonicalizer>> = const { RefCell::new(None) };
}

/// `host.intlCanonicalize(tag) -> tag`: ECMA-402's CanonicalizeUnicodeLocaleId
/// (UTS #35 canonical form, aliases replaced); a RangeError for a tag that
/// is not well-formed.
pub fn canonicalize<'js>(ctx: Ctx<'js>, tag: String) -> Result<String, JsError> {
    let mut parsed = locale(&ctx, &tag)?;
    CANONICALIZER.with(|c| -> Result<(), JsError> {
        let mut c = c.borrow_mut();
        if c.is_none() {
            let made = LocaleCanonicalizer::try_new_common_unstable(&IntlData)
                .map_err(|e| range_error(&ctx, &format!("Intl: {e}")))?;
            *c = Some(made);
        }
        if let Some(canonicalizer) = c.as_ref() {
            canonicalizer.canonicalize(&mut parsed);
        }
        Ok(())
    })?;
    Ok(parsed.to_string())
}

/// A number in the form the JavaScript side sends it: a Number's or
/// BigInt's decimal string (`String(x)`, with `e+` written `e`).
fn decimal(ctx: &Ctx<'_>, text: &str) -> Result<Decimal, JsError> {
    Decimal::try_from_str(text)
        .map_err(|_| range_error(ctx, &format!("Intl: not a finite number: {text}")))
}

/// ECMA-402's digit options, applied to `d` (round half away from zero
/// unless `rounding` says otherwise).
#[derive(Clone, PartialEq, Debug)]
struct Digits {
    min_int: i16,
    min_frac: i16,
    max_frac: i16,
    /// Significant digits, if given: (min, max).
    significant: Option<(i16, i16)>,
    rounding: String,
}

impl Digits {
    fn from_js(v: &[f64], rounding: &str) -> Digits {
        let at = |i: usize| v.get(i).copied().unwrap_or(-1.0) as i16;
        let (min_sig, max_sig) = (at(3), at(4));
        Digits {
            min_int: at(0).max(1),
            min_frac: at(1).max(0),
            max_frac: at(2).max(0),
            significant: (min_sig > 0 && max_sig > 0).then_some((min_sig, max_sig)),
            rounding: rounding.to_owned(),
        }
    }

    fn mode(&self) -> SignedRoundingMode {
        use SignedRoundingMode::*;
        use UnsignedRoundingMode as U;
        match self.rounding.as_str() {
            "ceil" => Ceil,
            "floor" => Floor,
            "expand" => Unsigned(U::Expand),
            "trunc" => Unsigned(U::Trunc),
            "halfCeil" => HalfCeil,
            "halfFloor" => HalfFloor,
            "halfTrunc" => Unsigned(U::HalfTrunc),
            "halfEven" => Unsigned(U::HalfEven),
            _ => Unsigned(U::HalfExpand),
        }
    }

    fn apply(&self, d: &mut Decimal) {
        let mode = self.mode();
        match self.significant {
            Some((min, max)) => {
                if !d.absolute.is_zero() {
                    let top = d.absolute.nonzero_magnitude_start();
                    d.round_with_mode(top - max + 1, mode);
                }
                d.absolute.trim_end();
                let top = if d.absolute.is_zero() {
                    0
                } else {
                    d.absolute.nonzero_magnitude_start()
                };
                d.absolute.pad_end(top - min + 1);
            }
            None => {
                d.round_with_mode(-self.max_frac, mode);
                d.absolute.trim_end();
                d.absolute.pad_end(-self.min_frac);
            }
        }
        d.absolute.pad_start(self.min_int);
    }
}

fn sign_display(text: &str) -> SignDisplay {
    match text {
        "never" => SignDisplay::Never,
        "always" => SignDisplay::Always,
        "exceptZero" => SignDisplay::ExceptZero,
        "negative" => SignDisplay::Negative,
        _ => SignDisplay::Auto,
    }
}

fn grouping(text: &str) -> GroupingStrategy {
    match text {
        "false" => GroupingStrategy::Never,
        "min2" => GroupingStrategy::Min2,
        "always" => GroupingStrategy::Always,
        _ => GroupingStrategy::Auto,
    }
}

/// The formatters of one kind this instance has made, with the options
/// each was made for.
type Made<K, V> = RefCell<Vec<(K, V)>>;

/// The handle of the formatter for `key`: an existing one, or one `build`
/// makes now.
fn intern<K: PartialEq, V>(
    made: &'static LocalKey<Made<K, V>>,
    key: K,
    build: impl FnOnce(&K) -> Result<V, JsError>,
) -> Result<u32, JsError> {
    made.with(|made| {
        let mut made = made.borrow_mut();
        if let Some(at) = made.iter().position(|(k, _)| *k == key) {
            return Ok(at as u32);
        }
        let value = build(&key)?;
        made.push((key, value));
        Ok((made.len() - 1) as u32)
    })
}

/// Runs `f` on the formatter behind a handle.
fn with_made<K, V, R>(
    made: &'static LocalKey<Made<K, V>>,
    ctx: &Ctx<'_>,
    handle: u32,
    f: impl FnOnce(&V) -> Result<R, JsError>,
) -> Result<R, JsError> {
    made.with(|made| {
        let made = made.borrow();
        match made.get(handle as usize) {
            Some((_, value)) => f(value),
            None => Err(range_error(ctx, "Intl: no such formatter")),
        }
    })
}

/// A formatter of numbers, built for one locale and set of options.
enum NumberFormatter {
    Decimal(DecimalFormatter),
    Percent(PercentFormatter<DecimalFormatter>),
    Currency(CurrencyFormatter<DecimalFormatter>),
}

/// A NumberFormat: its formatter and the digit and sign options applied to
/// each value before formatting.
struct NumberEntry {
    formatter: NumberFormatter,
    digits: Digits,
    sign: SignDisplay,
    percent: bool,
}

/// The options a number formatter is built for: locale, style, currency,
/// currency display, grouping.
type NumberKey = [String; 5];

thread_local! {
    static NUMBERS: Made<(NumberKey, String, Vec<i64>), NumberEntry> = const { RefCell::new(Vec::new()) };
    static PLURALS: Made<(String, String, Vec<i64>), (PluralRules, Digits)> = const { RefCell::new(Vec::new()) };
    static COLLATORS: Made<CollatorKey, Collator> = const { RefCell::new(Vec::new()) };
    static DATES: Made<DateKey, FixedCalendarDateTimeFormatter<Gregorian, CompositeFieldSet>> =
        const { RefCell::new(Vec::new()) };
    static RELATIVES: Made<[String; 4], RelativeTimeFormatter> = const { RefCell::new(Vec::new()) };
}

/// Digit options as a key (whole numbers, -1 for "not given").
fn digits_key(digits: &[f64]) -> Vec<i64> {
    digits.iter().map(|d| *d as i64).collect()
}

fn build_number(ctx: &Ctx<'_>, key: &NumberKey) -> Result<NumberFormatter, JsError> {
    let [tag, style, currency, currency_display, group] = key;
    let loc = locale(ctx, tag)?;
    let fail = |e: icu_provider::DataError| range_error(ctx, &format!("Intl.NumberFormat: {e}"));
    let options = DecimalFormatterOptions::from(grouping(group));
    Ok(match style.as_str() {
        "percent" => NumberFormatter::Percent(
            PercentFormatter::try_new_unstable(&IntlData, (&loc).into(), Default::default())
                .map_err(fail)?,
        ),
        "currency" => {
            let code = CurrencyType::try_from_str(&currency.to_ascii_lowercase())
                .map_err(|_| range_error(ctx, &format!("invalid currency code: {currency}")))?;
            let prefs = (&loc).into();
            let formatter = match currency_display.as_str() {
                "narrowSymbol" => CurrencyFormatter::try_new_symbol_narrow_unstable(
                    &IntlData,
                    prefs,
                    code,
                    Default::default(),
                ),
                "code" => CurrencyFormatter::try_new_code_unstable(
                    &IntlData,
                    prefs,
                    code,
                    Default::default(),
                ),
                _ => CurrencyFormatter::try_new_symbol_unstable(
                    &IntlData,
                    prefs,
                    code,
                    Default::default(),
                ),
            };
            NumberFormatter::Currency(formatter.map_err(fail)?)
        }
        _ => NumberFormatter::Decimal(
            DecimalFormatter::try_new_unstable(&IntlData, (&loc).into(), options).map_err(fail)?,
        ),
    })
}

/// `host.intlNumberFormat(locale, [style, currency, currencyDisplay,
/// useGrouping, signDisplay, roundingMode], [minInt, minFrac, maxFrac,
/// minSig, maxSig]) -> handle`.
pub fn number_format<'js>(
    ctx: Ctx<'js>,
    tag: String,
    text: Vec<String>,
    digits: Vec<f64>,
) -> Result<u32, JsError> {
    let [style, currency, currency_display, group, sign, rounding]: [String; 6] =
        text.try_into()
            .map_err(|_| range_error(&ctx, "Intl.NumberFormat: malformed options"))?;
    let tail = format!("{sign}/{rounding}");
    let key = (
        [tag, style, currency, currency_display, group],
        tail,
        digits_key(&digits),
    );
    intern(&NUMBERS, key, |(key, _, _)| {
        Ok(NumberEntry {
            formatter: build_number(&ctx, key)?,
            digits: Digits::from_js(&digits, &rounding),
            sign: sign_display(&sign),
            percent: key[1] == "percent",
        })
    })
}

/// `host.intlFormatNumber(handle, value) -> text`: `value` is a Number's or
/// BigInt's decimal string.
pub fn format_number<'js>(ctx: Ctx<'js>, handle: u32, value: String) -> Result<String, JsError> {
    let mut d = decimal(&ctx, &value)?;
    with_made(&NUMBERS, &ctx, handle, |entry| {
        if entry.percent {
            d.multiply_pow10(2);
        }
        entry.digits.apply(&mut d);
        d.apply_sign_display(entry.sign);
        Ok(match &entry.formatter {
            NumberFormatter::Decimal(f) => f.format(&d).to_string(),
            NumberFormatter::Percent(f) => f.format(&d).to_string(),
            NumberFormatter::Currency(f) => f.format_fixed_decimal(&d).to_string(),
        })
    })
}

fn category_name(category: PluralCategory) -> &'static str {
    match category {
        PluralCategory::Zero => "zero",
        PluralCategory::One => "one",
        PluralCategory::Two => "two",
        PluralCategory::Few => "few",
        PluralCategory::Many => "many",
        PluralCategory::Other => "other",
    }
}

/// `host.intlPluralRules(locale, type, [minInt, minFrac, maxFrac, minSig,
/// maxSig]) -> handle`.
pub fn plural_rules<'js>(
    ctx: Ctx<'js>,
    tag: String,
    kind: String,
    digits: Vec<f64>,
) -> Result<u32, JsError> {
    let key = (tag, kind, digits_key(&digits));
    intern(&PLURALS, key, |(tag, kind, _)| {
        let loc = locale(&ctx, tag)?;
        let made = if kind == "ordinal" {
            PluralRules::try_new_ordinal_unstable(&IntlData, (&loc).into())
        } else {
            PluralRules::try_new_cardinal_unstable(&IntlData, (&loc).into())
        };
        let rules = made.map_err(|e| range_error(&ctx, &format!("Intl.PluralRules: {e}")))?;
        Ok((rules, Digits::from_js(&digits, "")))
    })
}

/// `host.intlPluralSelect(handle, value) -> category`: `value` is the
/// absolute value's decimal string.
pub fn plural_select<'js>(
    ctx: Ctx<'js>,
    handle: u32,
    value: String,
) -> Result<&'static str, JsError> {
    let mut d = decimal(&ctx, &value)?;
    with_made(&PLURALS, &ctx, handle, |(rules, digits)| {
        digits.apply(&mut d);
        Ok(category_name(rules.category_for(&d)))
    })
}

/// `host.intlPluralCategories(handle) -> [category...]`.
pub fn plural_categories<'js>(ctx: Ctx<'js>, handle: u32) -> Result<Vec<&'static str>, JsError> {
    with_made(&PLURALS, &ctx, handle, |(rules, _)| {
        Ok(rules.categories().map(category_name).collect())
    })
}

/// The options a collator is built for: locale, sensitivity,
/// ignorePunctuation, numeric, caseFirst.
type CollatorKey = [String; 5];

fn build_collator(ctx: &Ctx<'_>, key: &CollatorKey) -> Result<Collator, JsError> {
    let [tag, sensitivity, ignore_punctuation, numeric, case_first] = key;
    let loc = locale(ctx, tag)?;
    let mut prefs = CollatorPreferences::from(&loc);
    prefs.numeric_ordering = Some(if numeric == "true" {
        CollationNumericOrdering::True
    } else {
        CollationNumericOrdering::False
    });
    prefs.case_first = match case_first.as_str() {
        "upper" => Some(CollationCaseFirst::Upper),
        "lower" => Some(CollationCaseFirst::Lower),
        "false" => Some(CollationCaseFirst::False),
        _ => prefs.case_first,
    };
    let mut options = CollatorOptions::default();
    // ECMA-402's sensitivities as UCA strengths.
    match sensitivity.as_str() {
        "base" => options.strength = Some(Strength::Primary),
        "accent" => options.strength = Some(Strength::Secondary),
        "case" => {
            options.strength = Some(Strength::Primary);
            options.case_level = Some(CaseLevel::On);
        }
        _ => options.strength = Some(Strength::Tertiary),
    }
    if ignore_punctuation == "true" {
        options.alternate_handling = Some(AlternateHandling::Shifted);
    }
    Collator::try_new_unstable(&IntlData, prefs, options)
        .map_err(|e| range_error(ctx, &format!("Intl.Collator: {e}")))
}

/// `host.intlCollator(locale, [sensitivity, ignorePunctuation, numeric,
/// caseFirst]) -> handle`.
pub fn collator<'js>(ctx: Ctx<'js>, tag: String, options: Vec<String>) -> Result<u32, JsError> {
    let [sensitivity, ignore_punctuation, numeric, case_first]: [String; 4] = options
        .try_into()
        .map_err(|_| range_error(&ctx, "Intl.Collator: malformed options"))?;
    let key: CollatorKey = [tag, sensitivity, ignore_punctuation, numeric, case_first];
    intern(&COLLATORS, key, |key| build_collator(&ctx, key))
}

/// `host.intlCompare(handle, a, b) -> -1 | 0 | 1`.
pub fn compare<'js>(ctx: Ctx<'js>, handle: u32, a: String, b: String) -> Result<i32, JsError> {
    with_made(&COLLATORS, &ctx, handle, |collator| {
        Ok(collator.as_borrowed().compare(&a, &b) as i32)
    })
}

/// The options a date formatter is built for: locale, dateStyle,
/// timeStyle, skeleton.
type DateKey = [String; 4];

fn length(style: &str) -> Length {
    match style {
        "full" | "long" => Length::Long,
        "short" => Length::Short,
        _ => Length::Medium,
    }
}

fn build_date(
    ctx: &Ctx<'_>,
    key: &DateKey,
) -> Result<FixedCalendarDateTimeFormatter<Gregorian, CompositeFieldSet>, JsError> {
    let [tag, date_style, time_style, skeleton] = key;
    let loc = locale(ctx, tag)?;
    let field_set = if date_style.is_empty() && time_style.is_empty() {
        DateTimeFieldBag::from_skeleton(skeleton).to_composite_field_set()
    } else {
        let mut builder = FieldSetBuilder::new();
        // ECMA-402's styles as ICU4X semantic skeletons: "full" adds the
        // weekday; a time style of "full" or "long" adds the zone.
        let style = if date_style.is_empty() {
            time_style
        } else {
            date_style
        };
        builder.length = Some(length(style));
        if !date_style.is_empty() {
            builder.date_fields = Some(if date_style == "full" {
                DateFields::YMDE
            } else {
                DateFields::YMD
            });
        }
        if !time_style.is_empty() {
            builder.time_precision = Some(if time_style == "short" {
                TimePrecision::Minute
            } else {
                TimePrecision::Second
            });
            // No time zone names: the zone as a localized offset
            // ("GMT+1"; "GMT+01:00" for "full").
            match time_style.as_str() {
                "full" => builder.zone_style = Some(ZoneStyle::LocalizedOffsetLong),
                "long" => builder.zone_style = Some(ZoneStyle::LocalizedOffsetShort),
                _ => {}
            }
        }
        builder
            .build_composite()
            .map_err(|e| range_error(ctx, &format!("Intl.DateTimeFormat: {e:?}")))?
    };
    FixedCalendarDateTimeFormatter::try_new_unstable(&IntlData, (&loc).into(), field_set)
        .map_err(|e| range_error(ctx, &format!("Intl.DateTimeFormat: {e}")))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `host.intlDateTimeFormat(locale, [dateStyle, timeStyle, skeleton]) ->
/// handle`.
pub fn date_time_format<'js>(
    ctx: Ctx<'js>,
    tag: String,
    spec: Vec<String>,
) -> Result<u32, JsError> {
    let [date_style, time_style, skeleton]: [String; 3] = spec
        .try_into()
        .map_err(|_| range_error(&ctx, "Intl.DateTimeFormat: malformed options"))?;
    let key: DateKey = [tag, date_style, time_style, skeleton];
    intern(&DATES, key, |key| build_date(&ctx, key))
}

/// `host.intlFormatDate(handle, epochMs, offsetMinutes) -> text`: the
/// instant in the zone `offsetMinutes` east of UTC.
pub fn format_date<'js>(
    ctx: Ctx<'js>,
    handle: u32,
    epoch_ms: f64,
    offset_minutes: i32,
) -> Result<String, JsError> {
    if !epoch_ms.is_finite() || epoch_ms.abs() > 8.64e15 {
        return Err(range_error(&ctx, "Invalid time value"));
    }
    let local_ms = epoch_ms.floor() as i64 + i64::from(offset_minutes) * 60_000;
    let days = local_ms.div_euclid(86_400_000);
    let ms_of_day = local_ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let invalid = |_| range_error(&ctx, "Invalid time value");
    let date = Date::try_new_gregorian(year as i32, month, day).map_err(invalid)?;
    let time = Time::try_new(
        (ms_of_day / 3_600_000) as u8,
        (ms_of_day / 60_000 % 60) as u8,
        (ms_of_day / 1000 % 60) as u8,
        (ms_of_day % 1000) as u32 * 1_000_000,
    )
    .map_err(invalid)?;
    let offset = UtcOffset::from_seconds_unchecked(offset_minutes * 60);
    let zone = TimeZone::UNKNOWN
        .with_offset(Some(offset))
        .at_date_time(icu_time::DateTime {
            date: date.to_calendar(icu_calendar::Iso),
            time,
        });
    let input = ZonedDateTime { date, time, zone };
    with_made(&DATES, &ctx, handle, |formatter| {
        Ok(formatter.format(&input).to_string())
    })
}

/// `host.intlRelativeTimeFormat(locale, style, numeric, unit) -> handle`.
pub fn relative_time_format<'js>(
    ctx: Ctx<'js>,
    tag: String,
    style: String,
    numeric: String,
    unit: String,
) -> Result<u32, JsError> {
    intern(&RELATIVES, [tag, style, numeric, unit], |key| {
        build_relative(&ctx, key)
    })
}

/// `host.intlFormatRelative(handle, value) -> text`.
pub fn format_relative<'js>(ctx: Ctx<'js>, handle: u32, value: String) -> Result<String, JsError> {
    let d = decimal(&ctx, &value)?;
    with_made(&RELATIVES, &ctx, handle, |formatter| {
        Ok(formatter.format(d).to_string())
    })
}

fn build_relative(ctx: &Ctx<'_>, key: &[String; 4]) -> Result<RelativeTimeFormatter, JsError> {
    let [tag, style, numeric, unit] = key;
    let loc = locale(ctx, tag)?;
    let mut options = RelativeTimeFormatterOptions::default();
    options.numeric = Some(if numeric == "auto" {
        Numeric::Auto
    } else {
        Numeric::Always
    });
    let prefs = (&loc).into();
    macro_rules! pick {
        ($($unit:literal => [$long:ident, $short:ident, $narrow:ident]),* $(,)?) => {
            match (unit.as_str(), style.as_str()) {
                $(
                    ($unit, "short") => RelativeTimeFormatter::$short(&IntlData, prefs, options),
                    ($unit, "narrow") => RelativeTimeFormatter::$narrow(&IntlData, prefs, options),
                    ($unit, _) => RelativeTimeFormatter::$long(&IntlData, prefs, options),
                )*
                _ => return Err(range_error(ctx, &format!("invalid unit: {unit}"))),
            }
        };
    }
    let formatter = pick! {
        "second" => [try_new_long_second_unstable, try_new_short_second_unstable, try_new_narrow_second_unstable],
        "minute" => [try_new_long_minute_unstable, try_new_short_minute_unstable, try_new_narrow_minute_unstable],
        "hour" => [try_new_long_hour_unstable, try_new_short_hour_unstable, try_new_narrow_hour_unstable],
        "day" => [try_new_long_day_unstable, try_new_short_day_unstable, try_new_narrow_day_unstable],
        "week" => [try_new_long_week_unstable, try_new_short_week_unstable, try_new_narrow_week_unstable],
        "month" => [try_new_long_month_unstable, try_new_short_month_unstable, try_new_narrow_month_unstable],
        "quarter" => [try_new_long_quarter_unstable, try_new_short_quarter_unstable, try_new_narrow_quarter_unstable],
        "year" => [try_new_long_year_unstable, try_new_short_year_unstable, try_new_narrow_year_unstable],
    }
    .map_err(|e| range_error(ctx, &format!("Intl.RelativeTimeFormat: {e}")))?;
    Ok(formatter)
}
