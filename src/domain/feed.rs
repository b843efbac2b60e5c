//! The business calendar as a list of all-day entries for a feed: one per
//! national holiday (after staff overrides) and one per company closure
//! occurrence, for whole years. How they are written (iCalendar) is
//! `crate::ical`'s business; here is only which days and under what name.

use chrono::NaiveDate;

use super::calendar::{Calendar, ClosureRange};
use super::dates::MonthDay;
use super::holidays::{FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, YearOutOfRange};

/// The most years one feed covers.
pub const MAX_FEED_YEARS: i32 = 10;

/// One all-day entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Stable across fetches: the same holiday or closure occurrence keeps
    /// it (`holiday-20260101`, `closure-3-20261229`).
    pub uid: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
    /// The holiday's Japanese name, or the closure's name.
    pub summary: String,
}

/// A checked span of whole years, `from..=to`, at most
/// [`MAX_FEED_YEARS`] years, inside the years the calendar knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedYears {
    from: i32,
    to: i32,
}

impl FeedYears {
    /// Checks a span of years.
    pub fn new(from: i32, to: i32) -> Result<Self, String> {
        for year in [from, to] {
            if !(FIRST_SUPPORTED_YEAR..=LAST_SUPPORTED_YEAR).contains(&year) {
                return Err(format!(
                    "the year {year} is outside {FIRST_SUPPORTED_YEAR}-{LAST_SUPPORTED_YEAR}"
                ));
            }
        }
        if to < from {
            return Err(format!("to ({to}) is before from ({from})"));
        }
        if to - from >= MAX_FEED_YEARS {
            return Err(format!("at most {MAX_FEED_YEARS} years at once"));
        }
        Ok(Self { from, to })
    }

    /// The default span: `this_year` and the next.
    pub fn default_from(this_year: i32) -> Result<Self, String> {
        Self::new(this_year, this_year + 1)
    }

    /// First year.
    pub fn from(self) -> i32 {
        self.from
    }

    /// Last year, inclusive.
    pub fn to(self) -> i32 {
        self.to
    }

    fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.from, 1, 1).unwrap_or(NaiveDate::MIN)
    }

    fn last_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.to, 12, 31).unwrap_or(NaiveDate::MAX)
    }
}

/// The date of `day` in `year`; 02-29 falls on 02-28 in other years.
fn in_year(year: i32, day: MonthDay) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, day.month(), day.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, day.month(), day.day().saturating_sub(1)))
}

/// The feed's entries for `years`: holidays first by date, then closures
/// by start; a closure occurrence that only partly falls in the span is
/// listed whole.
pub fn feed_entries(
    calendar: &Calendar,
    years: FeedYears,
) -> Result<Vec<FeedEntry>, YearOutOfRange> {
    let (first, last) = (years.first_day(), years.last_day());
    let mut entries = Vec::new();
    for date in first.iter_days().take_while(|d| *d <= last) {
        if let Some(name) = calendar.national_holiday(date)? {
            entries.push(FeedEntry {
                uid: format!("holiday-{}", date.format("%Y%m%d")),
                start: date,
                end: date,
                summary: name.to_owned(),
            });
        }
    }
    let mut closures = Vec::new();
    for closure in calendar.closures() {
        match closure.range {
            ClosureRange::Dates { start, end } => {
                if start <= last && end >= first {
                    closures.push((closure.id, closure.name.clone(), start, end));
                }
            }
            ClosureRange::EveryYear { start, end } => {
                // The occurrence that begins the year before may reach
                // into the first year (12-29 .. 01-03).
                for year in (years.from() - 1)..=years.to() {
                    let Some(begin) = in_year(year, start) else {
                        continue;
                    };
                    let finish_year = if end < start { year + 1 } else { year };
                    let Some(finish) = in_year(finish_year, end) else {
                        continue;
                    };
                    if begin <= last && finish >= first {
                        closures.push((closure.id, closure.name.clone(), begin, finish));
                    }
                }
            }
        }
    }
    closures.sort_by_key(|(id, _, start, _)| (*start, *id));
    entries.extend(
        closures
            .into_iter()
            .map(|(id, name, start, end)| FeedEntry {
                uid: format!("closure-{id}-{}", start.format("%Y%m%d")),
                start,
                end,
                summary: name,
            }),
    );
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::calendar::{Closure, HolidayOverride, OverrideAction};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn calendar() -> Calendar {
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
        Calendar::new(
            vec![
                Closure {
                    id: 1,
                    name: "年末年始休暇".into(),
                    range: ClosureRange::EveryYear {
                        start: MonthDay::parse("12-29").unwrap(),
                        end: MonthDay::parse("01-03").unwrap(),
                    },
                    created_at: at,
                },
                Closure {
                    id: 2,
                    name: "夏季休暇".into(),
                    range: ClosureRange::Dates {
                        start: date(2026, 8, 12),
                        end: date(2026, 8, 14),
                    },
                    created_at: at,
                },
            ],
            vec![
                HolidayOverride {
                    id: 1,
                    date: date(2026, 11, 3),
                    action: OverrideAction::RemoveHoliday,
                    note: String::new(),
                    created_at: at,
                },
                HolidayOverride {
                    id: 2,
                    date: date(2026, 6, 1),
                    action: OverrideAction::AddHoliday {
                        name: "臨時の休日".into(),
                    },
                    note: String::new(),
                    created_at: at,
                },
            ],
        )
    }

    #[test]
    fn holidays_come_with_their_japanese_names_and_overrides_apply() {
        let years = FeedYears::new(2026, 2026).unwrap();
        let entries = feed_entries(&calendar(), years).unwrap();
        let new_year = entries
            .iter()
            .find(|e| e.uid == "holiday-20260101")
            .unwrap();
        assert_eq!(new_year.summary, "元日");
        assert!(entries.iter().all(|e| e.uid != "holiday-20261103"));
        let added = entries
            .iter()
            .find(|e| e.start == date(2026, 6, 1))
            .unwrap();
        assert_eq!(added.summary, "臨時の休日");
    }

    #[test]
    fn a_closure_across_the_new_year_is_one_entry_per_occurrence() {
        let years = FeedYears::new(2026, 2027).unwrap();
        let entries = feed_entries(&calendar(), years).unwrap();
        let year_end: Vec<_> = entries
            .iter()
            .filter(|e| e.uid.starts_with("closure-1-"))
            .map(|e| (e.start, e.end))
            .collect();
        assert_eq!(
            year_end,
            vec![
                (date(2025, 12, 29), date(2026, 1, 3)),
                (date(2026, 12, 29), date(2027, 1, 3)),
                (date(2027, 12, 29), date(2028, 1, 3)),
            ]
        );
        let summer = entries
            .iter()
            .find(|e| e.uid == "closure-2-20260812")
            .unwrap();
        assert_eq!(summer.end, date(2026, 8, 14));
    }

    #[test]
    fn spans_are_checked() {
        assert!(FeedYears::new(2026, 2035).is_ok());
        assert!(FeedYears::new(2026, 2036).is_err());
        assert!(FeedYears::new(2027, 2026).is_err());
        assert!(FeedYears::new(1800, 1801).is_err());
        assert!(FeedYears::new(2099, 2100).is_err());
    }
}
