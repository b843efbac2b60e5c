//! Dates and instants as the service speaks them: ISO `YYYY-MM-DD` dates in
//! Japan Standard Time, `MM-DD` month-days for closures that repeat every
//! year, and the fixed JST offset.

use std::fmt;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::holidays::{FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR};

/// Japan Standard Time, UTC+09:00. Japan has had no daylight saving since
/// 1951, so a fixed offset is exact for every date the service supports.
pub fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset")
}

/// The JST calendar date of an instant.
pub fn jst_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&jst()).date_naive()
}

/// The instant of a JST wall-clock time.
pub fn jst_instant(local: NaiveDateTime) -> DateTime<Utc> {
    jst()
        .from_local_datetime(&local)
        .single()
        .expect("a fixed offset maps every local time to one instant")
        .with_timezone(&Utc)
}

/// Whether an instant falls on a JST date in the supported years
/// 1949..=2099. Compares instants only, so it is safe for any instant a
/// client can send: no time-zone conversion runs on `at`.
pub fn is_supported_instant(at: DateTime<Utc>) -> bool {
    let midnight = |year| {
        NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(jst_instant)
    };
    match (
        midnight(FIRST_SUPPORTED_YEAR),
        midnight(LAST_SUPPORTED_YEAR + 1),
    ) {
        (Some(first), Some(after_last)) => first <= at && at < after_last,
        _ => false,
    }
}

/// Why a date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not `YYYY-MM-DD`, or not a real date (2026-02-30).
    #[error("{0:?} is not a date in the form YYYY-MM-DD")]
    Malformed(String),
    /// A real date the service does not cover.
    #[error(
        "{0} is outside the supported range {FIRST_SUPPORTED_YEAR}-01-01..{LAST_SUPPORTED_YEAR}-12-31"
    )]
    OutOfRange(NaiveDate),
}

fn all_digits(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_digit)
}

fn number(bytes: &[u8]) -> u32 {
    bytes
        .iter()
        .fold(0, |acc, b| acc * 10 + u32::from(b - b'0'))
}

/// Parses a strict ISO `YYYY-MM-DD` date (exactly ten characters) without
/// checking the supported range.
pub fn parse_iso_date(text: &str) -> Result<NaiveDate, DateError> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && all_digits(&bytes[0..4])
        && all_digits(&bytes[5..7])
        && all_digits(&bytes[8..10]);
    if !shaped {
        return Err(DateError::Malformed(text.to_owned()));
    }
    let year =
        i32::try_from(number(&bytes[0..4])).map_err(|_| DateError::Malformed(text.into()))?;
    NaiveDate::from_ymd_opt(year, number(&bytes[5..7]), number(&bytes[8..10]))
        .ok_or_else(|| DateError::Malformed(text.to_owned()))
}

/// Parses a `YYYY-MM-DD` date inside the supported range 1949..=2099.
pub fn parse_supported_date(text: &str) -> Result<NaiveDate, DateError> {
    let date = parse_iso_date(text)?;
    check_supported(date)
}

/// Refuses a date outside 1949..=2099.
pub fn check_supported(date: NaiveDate) -> Result<NaiveDate, DateError> {
    if (FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR).contains(&date.year()) {
        Ok(date)
    } else {
        Err(DateError::OutOfRange(date))
    }
}

/// Formats a date as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A day of the year without a year, `MM-DD`, for closures that repeat
/// every year. `02-29` is allowed and simply never occurs in common years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonthDay {
    month: u32,
    day: u32,
}

impl MonthDay {
    /// Parses `MM-DD` (exactly five characters, a day that exists in some
    /// year).
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 5
            && bytes[2] == b'-'
            && all_digits(&bytes[0..2])
            && all_digits(&bytes[3..5]);
        let malformed = || format!("{text:?} is not a month-day in the form MM-DD");
        if !shaped {
            return Err(malformed());
        }
        let (month, day) = (number(&bytes[0..2]), number(&bytes[3..5]));
        // 2000 is a leap year, so 02-29 is accepted.
        NaiveDate::from_ymd_opt(2000, month, day).ok_or_else(malformed)?;
        Ok(Self { month, day })
    }

    /// The month-day of a date.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            month: date.month(),
            day: date.day(),
        }
    }

    /// The month, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The day of the month, 1..=31.
    pub fn day(self) -> u32 {
        self.day
    }
}

impl fmt::Display for MonthDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}-{:02}", self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_well_formed_date_parses() {
        assert_eq!(parse_supported_date("2026-11-23"), Ok(date(2026, 11, 23)));
    }

    #[test]
    fn dates_must_have_two_digit_months_and_days() {
        for text in [
            "2026-1-05",
            "2026-01-5",
            "26-01-05",
            "2026/01/05",
            "",
            "2026-01-05 ",
            "２０２６-01-05",
        ] {
            assert!(
                matches!(parse_iso_date(text), Err(DateError::Malformed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn impossible_dates_are_malformed() {
        assert!(matches!(
            parse_iso_date("2026-02-29"),
            Err(DateError::Malformed(_))
        ));
        assert!(matches!(
            parse_iso_date("2026-13-01"),
            Err(DateError::Malformed(_))
        ));
        assert_eq!(parse_iso_date("2028-02-29"), Ok(date(2028, 2, 29)));
    }

    #[test]
    fn years_outside_1949_to_2099_are_out_of_range() {
        assert_eq!(
            parse_supported_date("1948-12-31"),
            Err(DateError::OutOfRange(date(1948, 12, 31)))
        );
        assert_eq!(
            parse_supported_date("2100-01-01"),
            Err(DateError::OutOfRange(date(2100, 1, 1)))
        );
        assert!(parse_supported_date("1949-01-01").is_ok());
        assert!(parse_supported_date("2099-12-31").is_ok());
    }

    #[test]
    fn month_days_parse_and_print() {
        assert_eq!(MonthDay::parse("12-29").unwrap().to_string(), "12-29");
        assert!(MonthDay::parse("02-29").is_ok());
        assert!(MonthDay::parse("02-30").is_err());
        assert!(MonthDay::parse("2-3").is_err());
        assert!(MonthDay::parse("13-01").is_err());
    }

    #[test]
    fn jst_date_turns_at_fifteen_utc() {
        let before = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        assert_eq!(jst_date(before), date(2026, 11, 24));
        assert_eq!(jst_date(after), date(2026, 11, 25));
    }
}
