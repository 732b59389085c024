//! The exporter of the guest runtime's Intl data (run by scripts/intl-data.sh).
//!
//! Usage: charm-intl-data OUT_DIR LOCALE...
//!
//! Reads the data markers that `guest-runtime/src/ops/intl.rs` loads from
//! ICU4X's compiled data (the `icu_*_data` crates of ICU4X 2.4) and writes
//! them as baked Rust source for the given languages and their ancestors
//! (`und`, the root, which every marker falls back to). Regional variants
//! (de-AT, en-GB, fr-CA...) are left out: the runtime resolves them to their
//! language, as ECMA-402's BestAvailableLocale does.
//!
//! Time zone names are left out too (the runtime formats UTC offsets only),
//! as are the date-range patterns and the Japanese era data (no formatter
//! the runtime uses loads them), the extended likely subtags (the runtime
//! canonicalises with the common ones) and the NFD tables the collator
//! reads (the runtime takes them from icu_normalizer's compiled data, which
//! `url` already links).

extern crate alloc;

use std::collections::BTreeSet;
use std::path::PathBuf;

use icu_locale_fallback::LocaleFallbacker;
use icu_provider::prelude::*;
use icu_provider_export::baked_exporter::{BakedExporter, Options};
use icu_provider_export::prelude::*;

/// ICU4X's compiled data for the markers below, iterable so the export
/// driver can list the locales each one has.
struct Source;

icu_decimal_data::make_provider!(Source);

/// The data crates' own `ITER` arms cannot be used from another crate (they
/// call their sibling macro without `$crate`, and the singleton arm names a
/// `std::collections::BtreeSet`), so the listing is written here: a
/// singleton has one identifier, the others list their baked trie, without
/// the script-specific root locales (und-Hans, und-Hant, und-Hani: Chinese
/// collation, about 1 MB of source that none of the exported languages
/// reaches).
macro_rules! iterable {
    ($marker:ty) => {
        impl IterableDataProvider<$marker> for Source {
            fn iter_ids(&self) -> Result<BTreeSet<DataIdentifierCow<'_>>, DataError> {
                Ok([Default::default()].into_iter().collect())
            }
        }
    };
    ($marker:ty, $data:ident) => {
        impl IterableDataProvider<$marker> for Source {
            fn iter_ids(&self) -> Result<BTreeSet<DataIdentifierCow<'_>>, DataError> {
                Ok(icu_provider::baked::DataStore::iter(&Self::$data)
                    .filter(|id| !(id.locale.language.is_unknown() && id.locale.script.is_some()))
                    .collect())
            }
        }
    };
}

icu_decimal_data::impl_decimal_symbols_v1!(Source);
iterable!(
    icu::decimal::provider::DecimalSymbolsV1,
    DATA_DECIMAL_SYMBOLS_V1
);
icu_decimal_data::impl_decimal_digits_v1!(Source);
iterable!(
    icu::decimal::provider::DecimalDigitsV1,
    DATA_DECIMAL_DIGITS_V1
);
icu_plurals_data::impl_plurals_cardinal_v1!(Source);
iterable!(
    icu::plurals::provider::PluralsCardinalV1,
    DATA_PLURALS_CARDINAL_V1
);
icu_plurals_data::impl_plurals_ordinal_v1!(Source);
iterable!(
    icu::plurals::provider::PluralsOrdinalV1,
    DATA_PLURALS_ORDINAL_V1
);
icu_collator_data::impl_collation_diacritics_v1!(Source);
iterable!(
    icu::collator::provider::CollationDiacriticsV1,
    DATA_COLLATION_DIACRITICS_V1
);
icu_collator_data::impl_collation_jamo_v1!(Source);
iterable!(icu::collator::provider::CollationJamoV1);
icu_collator_data::impl_collation_metadata_v1!(Source);
iterable!(
    icu::collator::provider::CollationMetadataV1,
    DATA_COLLATION_METADATA_V1
);
icu_collator_data::impl_collation_reordering_v1!(Source);
iterable!(
    icu::collator::provider::CollationReorderingV1,
    DATA_COLLATION_REORDERING_V1
);
icu_collator_data::impl_collation_root_v1!(Source);
iterable!(icu::collator::provider::CollationRootV1);
icu_collator_data::impl_collation_special_primaries_v1!(Source);
iterable!(icu::collator::provider::CollationSpecialPrimariesV1);
icu_collator_data::impl_collation_tailoring_v1!(Source);
iterable!(
    icu::collator::provider::CollationTailoringV1,
    DATA_COLLATION_TAILORING_V1
);
icu_datetime_data::impl_datetime_names_month_gregorian_v1!(Source);
iterable!(
    icu::datetime::provider::names::DatetimeNamesMonthGregorianV1,
    DATA_DATETIME_NAMES_MONTH_GREGORIAN_V1
);
icu_datetime_data::impl_datetime_names_year_gregorian_v1!(Source);
iterable!(
    icu::datetime::provider::names::DatetimeNamesYearGregorianV1,
    DATA_DATETIME_NAMES_YEAR_GREGORIAN_V1
);
icu_datetime_data::impl_datetime_patterns_date_gregorian_v1!(Source);
iterable!(
    icu::datetime::provider::semantic_skeletons::DatetimePatternsDateGregorianV1,
    DATA_DATETIME_PATTERNS_DATE_GREGORIAN_V1
);
icu_datetime_data::impl_datetime_patterns_time_v1!(Source);
iterable!(
    icu::datetime::provider::semantic_skeletons::DatetimePatternsTimeV1,
    DATA_DATETIME_PATTERNS_TIME_V1
);
icu_datetime_data::impl_datetime_patterns_glue_v1!(Source);
iterable!(
    icu::datetime::provider::semantic_skeletons::DatetimePatternsGlueV1,
    DATA_DATETIME_PATTERNS_GLUE_V1
);
icu_datetime_data::impl_datetime_names_weekday_v1!(Source);
iterable!(
    icu::datetime::provider::names::DatetimeNamesWeekdayV1,
    DATA_DATETIME_NAMES_WEEKDAY_V1
);
icu_datetime_data::impl_datetime_names_dayperiod_v1!(Source);
iterable!(
    icu::datetime::provider::names::DatetimeNamesDayperiodV1,
    DATA_DATETIME_NAMES_DAYPERIOD_V1
);
icu_datetime_data::impl_timezone_names_essentials_v1!(Source);
iterable!(
    icu::datetime::provider::time_zones::TimezoneNamesEssentialsV1,
    DATA_TIMEZONE_NAMES_ESSENTIALS_V1
);
icu_locale_data::impl_locale_aliases_v1!(Source);
iterable!(icu::locale::provider::LocaleAliasesV1);
icu_locale_data::impl_locale_likely_subtags_script_region_v1!(Source);
iterable!(icu::locale::provider::LocaleLikelySubtagsScriptRegionV1);
icu_experimental_data::impl_currency_essentials_v1!(Source);
iterable!(
    icu::experimental::dimension::provider::currency::essentials::CurrencyEssentialsV1,
    DATA_CURRENCY_ESSENTIALS_V1
);
icu_experimental_data::impl_decimal_percent_v1!(Source);
iterable!(
    icu::experimental::dimension::provider::percent::DecimalPercentV1,
    DATA_DECIMAL_PERCENT_V1
);
icu_experimental_data::impl_datetime_relative_day_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeDayLongV1,
    DATA_DATETIME_RELATIVE_DAY_LONG_V1
);
icu_experimental_data::impl_datetime_relative_day_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeDayNarrowV1,
    DATA_DATETIME_RELATIVE_DAY_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_day_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeDayShortV1,
    DATA_DATETIME_RELATIVE_DAY_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_hour_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeHourLongV1,
    DATA_DATETIME_RELATIVE_HOUR_LONG_V1
);
icu_experimental_data::impl_datetime_relative_hour_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeHourNarrowV1,
    DATA_DATETIME_RELATIVE_HOUR_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_hour_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeHourShortV1,
    DATA_DATETIME_RELATIVE_HOUR_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_minute_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMinuteLongV1,
    DATA_DATETIME_RELATIVE_MINUTE_LONG_V1
);
icu_experimental_data::impl_datetime_relative_minute_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMinuteNarrowV1,
    DATA_DATETIME_RELATIVE_MINUTE_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_minute_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMinuteShortV1,
    DATA_DATETIME_RELATIVE_MINUTE_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_month_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMonthLongV1,
    DATA_DATETIME_RELATIVE_MONTH_LONG_V1
);
icu_experimental_data::impl_datetime_relative_month_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMonthNarrowV1,
    DATA_DATETIME_RELATIVE_MONTH_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_month_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeMonthShortV1,
    DATA_DATETIME_RELATIVE_MONTH_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_quarter_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeQuarterLongV1,
    DATA_DATETIME_RELATIVE_QUARTER_LONG_V1
);
icu_experimental_data::impl_datetime_relative_quarter_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeQuarterNarrowV1,
    DATA_DATETIME_RELATIVE_QUARTER_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_quarter_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeQuarterShortV1,
    DATA_DATETIME_RELATIVE_QUARTER_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_second_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeSecondLongV1,
    DATA_DATETIME_RELATIVE_SECOND_LONG_V1
);
icu_experimental_data::impl_datetime_relative_second_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeSecondNarrowV1,
    DATA_DATETIME_RELATIVE_SECOND_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_second_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeSecondShortV1,
    DATA_DATETIME_RELATIVE_SECOND_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_week_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeWeekLongV1,
    DATA_DATETIME_RELATIVE_WEEK_LONG_V1
);
icu_experimental_data::impl_datetime_relative_week_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeWeekNarrowV1,
    DATA_DATETIME_RELATIVE_WEEK_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_week_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeWeekShortV1,
    DATA_DATETIME_RELATIVE_WEEK_SHORT_V1
);
icu_experimental_data::impl_datetime_relative_year_long_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeYearLongV1,
    DATA_DATETIME_RELATIVE_YEAR_LONG_V1
);
icu_experimental_data::impl_datetime_relative_year_narrow_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeYearNarrowV1,
    DATA_DATETIME_RELATIVE_YEAR_NARROW_V1
);
icu_experimental_data::impl_datetime_relative_year_short_v1!(Source);
iterable!(
    icu::experimental::relativetime::provider::DatetimeRelativeYearShortV1,
    DATA_DATETIME_RELATIVE_YEAR_SHORT_V1
);
icu_calendar_data::impl_calendar_preferred_v1!(Source);
iterable!(
    icu::calendar::provider::CalendarPreferredV1,
    DATA_CALENDAR_PREFERRED_V1
);
icu_calendar_data::impl_calendar_week_v1!(Source);
iterable!(
    icu::calendar::provider::CalendarWeekV1,
    DATA_CALENDAR_WEEK_V1
);

icu_locale_fallback_data::impl_locale_likely_subtags_language_v1!(Source);
iterable!(icu::locale::fallback::provider::LocaleLikelySubtagsLanguageV1);
icu_experimental_data::impl_currency_symbols_v1!(Source);
iterable!(
    icu::experimental::dimension::provider::currency::symbols::CurrencySymbolsV1,
    DATA_CURRENCY_SYMBOLS_V1
);
icu_experimental_data::impl_currency_patterns_no_currency_v1!(Source);
iterable!(
    icu::experimental::dimension::provider::currency::no_currency::CurrencyPatternsNoCurrencyV1,
    DATA_CURRENCY_PATTERNS_NO_CURRENCY_V1
);
icu_experimental_data::impl_currency_decimal_symbols_v1!(Source);
iterable!(
    icu::experimental::dimension::provider::currency::symbols::CurrencyDecimalSymbolsV1,
    DATA_CURRENCY_DECIMAL_SYMBOLS_V1
);
icu_experimental_data::impl_currency_fractions_v1!(Source);
iterable!(icu::experimental::dimension::provider::currency::fractions::CurrencyFractionsV1);

icu_provider::export::make_exportable_provider!(
    Source,
    [
        icu::decimal::provider::DecimalSymbolsV1,
        icu::decimal::provider::DecimalDigitsV1,
        icu::plurals::provider::PluralsCardinalV1,
        icu::plurals::provider::PluralsOrdinalV1,
        icu::collator::provider::CollationDiacriticsV1,
        icu::collator::provider::CollationJamoV1,
        icu::collator::provider::CollationMetadataV1,
        icu::collator::provider::CollationReorderingV1,
        icu::collator::provider::CollationRootV1,
        icu::collator::provider::CollationSpecialPrimariesV1,
        icu::collator::provider::CollationTailoringV1,
        icu::datetime::provider::names::DatetimeNamesMonthGregorianV1,
        icu::datetime::provider::names::DatetimeNamesYearGregorianV1,
        icu::datetime::provider::semantic_skeletons::DatetimePatternsDateGregorianV1,
        icu::datetime::provider::semantic_skeletons::DatetimePatternsTimeV1,
        icu::datetime::provider::semantic_skeletons::DatetimePatternsGlueV1,
        icu::datetime::provider::names::DatetimeNamesWeekdayV1,
        icu::datetime::provider::names::DatetimeNamesDayperiodV1,
        icu::datetime::provider::time_zones::TimezoneNamesEssentialsV1,
        icu::locale::provider::LocaleAliasesV1,
        icu::locale::fallback::provider::LocaleLikelySubtagsLanguageV1,
        icu::experimental::dimension::provider::currency::symbols::CurrencySymbolsV1,
        icu::experimental::dimension::provider::currency::no_currency::CurrencyPatternsNoCurrencyV1,
        icu::experimental::dimension::provider::currency::symbols::CurrencyDecimalSymbolsV1,
        icu::experimental::dimension::provider::currency::fractions::CurrencyFractionsV1,
        icu::locale::provider::LocaleLikelySubtagsScriptRegionV1,
        icu::experimental::dimension::provider::currency::essentials::CurrencyEssentialsV1,
        icu::experimental::dimension::provider::percent::DecimalPercentV1,
        icu::experimental::relativetime::provider::DatetimeRelativeDayLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeDayNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeDayShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeHourLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeHourNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeHourShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMinuteLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMinuteNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMinuteShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMonthLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMonthNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeMonthShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeQuarterLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeQuarterNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeQuarterShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeSecondLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeSecondNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeSecondShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeWeekLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeWeekNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeWeekShortV1,
        icu::experimental::relativetime::provider::DatetimeRelativeYearLongV1,
        icu::experimental::relativetime::provider::DatetimeRelativeYearNarrowV1,
        icu::experimental::relativetime::provider::DatetimeRelativeYearShortV1,
        icu::calendar::provider::CalendarPreferredV1,
        icu::calendar::provider::CalendarWeekV1,
    ]
);

fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .expect("usage: charm-intl-data OUT_DIR LOCALE..."),
    );
    let families: Vec<DataLocaleFamily> = args
        .map(|tag| {
            let locale: DataLocale = tag.parse().expect("a locale");
            DataLocaleFamily::without_descendants(locale)
        })
        .collect();
    assert!(
        !families.is_empty(),
        "usage: charm-intl-data OUT_DIR LOCALE..."
    );
    let mut options = Options::default();
    // Plain token streams: no rustfmt in the loop, so the output depends on
    // the crates' versions only.
    options.pretty = false;
    // Paths like icu_decimal::provider, the crates the guest depends on
    // (not the `icu` umbrella crate).
    options.use_separate_crates = true;
    options.overwrite = true;
    let exporter = BakedExporter::new(out, options).expect("the output folder");
    ExportDriver::new(
        families,
        DeduplicationStrategy::Maximal.into(),
        LocaleFallbacker::new().static_to_owned(),
    )
    // The alternative collations a charm can ask for with -u-co-: German's
    // phone book, traditional Spanish, emoji, European ordering; not
    // Japanese `unihan` (radical-stroke, 400 KB) nor Chinese ones.
    .with_marker_attributes_filter("collator", |attributes| {
        !matches!(
            attributes.as_str(),
            "unihan" | "pinyin" | "stroke" | "zhuyin"
        ) && !attributes.as_str().starts_with("search")
    })
    .export(&Source, exporter)
    .expect("the export");
}
