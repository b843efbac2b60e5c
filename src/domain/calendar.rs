//! The vendor's business calendar (SPEC.md section 1): business days,
//! company closures, national-holiday overrides, the technical-support
//! reception hours and the 17:00 reissue cutoff.
//!
//! A [`Calendar`] is a snapshot of the closures and overrides staff have
//! entered; the national holidays themselves come from
//! [`super::holidays`]. Every rule takes the date or instant it works on.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};

use super::dates::{MonthDay, jst, jst_date, jst_instant};
use super::holidays::{self, LAST_SUPPORTED_YEAR, YearOutOfRange};

/// When a company closure applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosureRange {
    /// Every date from `start` through `end`, once.
    Dates {
        /// First closed date.
        start: NaiveDate,
        /// Last closed date, inclusive.
        end: NaiveDate,
    },
    /// Every year from `start` through `end` by month-day; when `end` comes
    /// before `start` the range crosses the new year (12-29 .. 01-03).
    EveryYear {
        /// First closed day.
        start: MonthDay,
        /// Last closed day, inclusive.
        end: MonthDay,
    },
}

impl ClosureRange {
    /// Checks the range: a one-off range must not end before it starts.
    pub fn new_dates(start: NaiveDate, end: NaiveDate) -> Result<Self, String> {
        if end < start {
            return Err(format!("the range ends ({end}) before it starts ({start})"));
        }
        Ok(Self::Dates { start, end })
    }

    /// Whether `date` is closed by this range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        match *self {
            Self::Dates { start, end } => start <= date && date <= end,
            Self::EveryYear { start, end } => {
                let day = MonthDay::of(date);
                if start <= end {
                    start <= day && day <= end
                } else {
                    day >= start || day <= end
                }
            }
        }
    }
}

/// A company closure (当社休業日) as staff entered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// Store-assigned id.
    pub id: i64,
    /// What it is called, e.g. 年末年始休暇.
    pub name: String,
    /// When it applies.
    pub range: ClosureRange,
    /// When it was entered.
    pub created_at: DateTime<Utc>,
}

/// What a holiday override does to its date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverrideAction {
    /// The date becomes a national holiday with this name.
    AddHoliday {
        /// The holiday's name.
        name: String,
    },
    /// The date is not a national holiday, whatever the formula says.
    RemoveHoliday,
}

/// A staff correction to the computed national holidays on one date. It
/// acts on that date only; a substitute holiday that would follow from it
/// needs its own override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolidayOverride {
    /// Store-assigned id.
    pub id: i64,
    /// The date it corrects.
    pub date: NaiveDate,
    /// What it does.
    pub action: OverrideAction,
    /// Why, in staff's words.
    pub note: String,
    /// When it was entered.
    pub created_at: DateTime<Utc>,
}

/// What kind of day a date is. A national holiday wins over a company
/// closure, and both win over a weekend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A business day.
    BusinessDay,
    /// A Saturday or Sunday that is nothing else.
    Weekend,
    /// A national holiday.
    NationalHoliday,
    /// A company closure.
    CompanyClosure,
}

/// A date and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarDay {
    /// The date.
    pub date: NaiveDate,
    /// What it is.
    pub kind: DayKind,
    /// The holiday's or closure's name; empty otherwise.
    pub name: String,
}

impl CalendarDay {
    /// Whether the date is a business day.
    pub fn is_business_day(&self) -> bool {
        self.kind == DayKind::BusinessDay
    }
}

/// The reception desk at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reception {
    /// Whether the desk is open.
    pub open: bool,
    /// When handling starts for an inquiry received then: the instant itself
    /// when open, else the next opening.
    pub opens_at: DateTime<Utc>,
    /// When the current window closes; `None` when closed.
    pub closes_at: Option<DateTime<Utc>>,
}

/// The reception windows of a business day, JST, each half-open.
const WINDOWS: [(NaiveTime, NaiveTime); 2] = [(hms(9, 0), hms(12, 0)), (hms(13, 0), hms(17, 30))];

/// Reissues received before this JST time on a business day are delivered
/// the same day.
const REISSUE_CUTOFF: NaiveTime = hms(17, 0);

const fn hms(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(time) => time,
        None => panic!("constant time of day is valid"),
    }
}

/// The longest range [`Calendar::days_off`] lists, in days (ten years).
pub const MAX_RANGE_DAYS: i64 = 3653;

/// The business calendar: national holidays, staff overrides and company
/// closures.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    closures: Vec<Closure>,
    overrides: BTreeMap<NaiveDate, OverrideAction>,
    last_entered: Option<DateTime<Utc>>,
}

impl Calendar {
    /// A calendar with these closures and overrides.
    pub fn new(closures: Vec<Closure>, overrides: Vec<HolidayOverride>) -> Self {
        let last_entered = closures
            .iter()
            .map(|c| c.created_at)
            .chain(overrides.iter().map(|o| o.created_at))
            .max();
        let overrides = overrides.into_iter().map(|o| (o.date, o.action)).collect();
        Self {
            closures,
            overrides,
            last_entered,
        }
    }

    /// When the latest of the closures and overrides in force was entered;
    /// `None` when staff have entered none.
    pub fn last_entered(&self) -> Option<DateTime<Utc>> {
        self.last_entered
    }

    /// The national holiday on `date` after staff overrides, by name.
    pub fn national_holiday(&self, date: NaiveDate) -> Result<Option<&str>, YearOutOfRange> {
        let computed = holidays::national_holiday(date)?;
        Ok(match self.overrides.get(&date) {
            Some(OverrideAction::AddHoliday { name }) => Some(name.as_str()),
            Some(OverrideAction::RemoveHoliday) => None,
            None => computed,
        })
    }

    /// The company closures, as entered.
    pub fn closures(&self) -> &[Closure] {
        &self.closures
    }

    fn closure_on(&self, date: NaiveDate) -> Option<&Closure> {
        self.closures.iter().find(|c| c.range.contains(date))
    }

    /// What `date` is.
    pub fn day(&self, date: NaiveDate) -> Result<CalendarDay, YearOutOfRange> {
        let (kind, name) = if let Some(name) = self.national_holiday(date)? {
            (DayKind::NationalHoliday, name.to_owned())
        } else if let Some(closure) = self.closure_on(date) {
            (DayKind::CompanyClosure, closure.name.clone())
        } else if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            (DayKind::Weekend, String::new())
        } else {
            (DayKind::BusinessDay, String::new())
        };
        Ok(CalendarDay { date, kind, name })
    }

    /// Whether `date` is a business day.
    pub fn is_business_day(&self, date: NaiveDate) -> Result<bool, YearOutOfRange> {
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            // Still reject years outside the range, as every answer does.
            holidays::national_holiday(date)?;
            return Ok(false);
        }
        Ok(self.national_holiday(date)?.is_none() && self.closure_on(date).is_none())
    }

    /// The first business day strictly after `date`.
    pub fn next_business_day(&self, date: NaiveDate) -> Result<NaiveDate, YearOutOfRange> {
        let mut day = date;
        loop {
            day = day.succ_opt().ok_or(YearOutOfRange {
                year: LAST_SUPPORTED_YEAR + 1,
            })?;
            if self.is_business_day(day)? {
                return Ok(day);
            }
        }
    }

    /// The national holidays and company-closure days in `from..=to`, in
    /// date order (plain weekends are not listed).
    pub fn days_off(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CalendarDay>, YearOutOfRange> {
        let mut days = Vec::new();
        for date in from.iter_days().take_while(|d| *d <= to) {
            let day = self.day(date)?;
            if matches!(day.kind, DayKind::NationalHoliday | DayKind::CompanyClosure) {
                days.push(day);
            }
        }
        Ok(days)
    }

    /// The reception desk at instant `at` (SPEC.md section 1: 09:00-12:00
    /// and 13:00-17:30 JST on business days, each half-open).
    pub fn reception(&self, at: DateTime<Utc>) -> Result<Reception, YearOutOfRange> {
        let local = at.with_timezone(&jst());
        let date = local.date_naive();
        let time = local.time();
        if self.is_business_day(date)? {
            for (open, close) in WINDOWS {
                if time < open {
                    return Ok(Reception {
                        open: false,
                        opens_at: jst_instant(date.and_time(open)),
                        closes_at: None,
                    });
                }
                if time < close {
                    return Ok(Reception {
                        open: true,
                        opens_at: at,
                        closes_at: Some(jst_instant(date.and_time(close))),
                    });
                }
            }
        }
        let next = self.next_business_day(date)?;
        Ok(Reception {
            open: false,
            opens_at: jst_instant(next.and_time(WINDOWS[0].0)),
            closes_at: None,
        })
    }

    /// The delivery date promised for a reissue received at `received_at`:
    /// the same JST date when it is a business day and the time is before
    /// 17:00:00, else the next business day.
    pub fn delivery_on(&self, received_at: DateTime<Utc>) -> Result<NaiveDate, YearOutOfRange> {
        let local = received_at.with_timezone(&jst());
        let date = local.date_naive();
        if local.time() < REISSUE_CUTOFF && self.is_business_day(date)? {
            Ok(date)
        } else {
            self.next_business_day(date)
        }
    }

    /// The JST date of `at`, checked against the supported range.
    pub fn date_of(&self, at: DateTime<Utc>) -> Result<NaiveDate, YearOutOfRange> {
        let date = jst_date(at);
        holidays::national_holiday(date)?;
        Ok(date)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn jst_at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        jst()
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn new_year_closure() -> Closure {
        Closure {
            id: 1,
            name: "年末年始休暇".into(),
            range: ClosureRange::EveryYear {
                start: MonthDay::parse("12-29").unwrap(),
                end: MonthDay::parse("01-03").unwrap(),
            },
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_closure_across_the_new_year_covers_both_ends() {
        let calendar = Calendar::new(vec![new_year_closure()], vec![]);
        assert!(!calendar.is_business_day(date(2026, 12, 29)).unwrap());
        assert!(!calendar.is_business_day(date(2026, 12, 31)).unwrap());
        assert_eq!(
            calendar.day(date(2027, 1, 1)).unwrap().kind,
            DayKind::NationalHoliday
        );
        assert_eq!(
            calendar.day(date(2027, 1, 3)).unwrap().kind,
            DayKind::CompanyClosure
        );
        assert!(calendar.is_business_day(date(2026, 12, 28)).unwrap());
        assert!(calendar.is_business_day(date(2027, 1, 4)).unwrap());
        assert_eq!(
            calendar.next_business_day(date(2026, 12, 28)).unwrap(),
            date(2027, 1, 4)
        );
    }

    #[test]
    fn an_override_adds_and_removes_holidays() {
        let overrides = vec![
            HolidayOverride {
                id: 1,
                date: date(2026, 11, 25),
                action: OverrideAction::AddHoliday {
                    name: "臨時の祝日".into(),
                },
                note: String::new(),
                created_at: Utc::now(),
            },
            HolidayOverride {
                id: 2,
                date: date(2026, 11, 23),
                action: OverrideAction::RemoveHoliday,
                note: String::new(),
                created_at: Utc::now(),
            },
        ];
        let calendar = Calendar::new(vec![], overrides);
        assert_eq!(
            calendar.national_holiday(date(2026, 11, 25)).unwrap(),
            Some("臨時の祝日")
        );
        assert!(calendar.is_business_day(date(2026, 11, 23)).unwrap());
    }

    #[test]
    fn reception_windows_are_half_open() {
        let calendar = Calendar::default();
        let cases = [
            ((8, 59, 59), false),
            ((9, 0, 0), true),
            ((11, 59, 59), true),
            ((12, 0, 0), false),
            ((12, 59, 59), false),
            ((13, 0, 0), true),
            ((17, 29, 59), true),
            ((17, 30, 0), false),
        ];
        for ((h, m, s), open) in cases {
            let at = jst_at(2026, 11, 25, h, m, s);
            assert_eq!(calendar.reception(at).unwrap().open, open, "{h}:{m}:{s}");
        }
        let lunch = calendar.reception(jst_at(2026, 11, 25, 12, 0, 0)).unwrap();
        assert_eq!(lunch.opens_at, jst_at(2026, 11, 25, 13, 0, 0));
        let evening = calendar.reception(jst_at(2026, 11, 25, 17, 30, 0)).unwrap();
        assert_eq!(evening.opens_at, jst_at(2026, 11, 26, 9, 0, 0));
        let morning = calendar.reception(jst_at(2026, 11, 25, 10, 0, 0)).unwrap();
        assert_eq!(morning.closes_at, Some(jst_at(2026, 11, 25, 12, 0, 0)));
    }

    #[test]
    fn delivery_cuts_off_at_seventeen_hundred() {
        let calendar = Calendar::default();
        assert_eq!(
            calendar
                .delivery_on(jst_at(2026, 11, 25, 16, 59, 59))
                .unwrap(),
            date(2026, 11, 25)
        );
        assert_eq!(
            calendar
                .delivery_on(jst_at(2026, 11, 25, 17, 0, 0))
                .unwrap(),
            date(2026, 11, 26)
        );
        assert_eq!(
            calendar.delivery_on(jst_at(2026, 11, 25, 3, 0, 0)).unwrap(),
            date(2026, 11, 25)
        );
        // Friday 2026-11-20 after the cutoff: the weekend, then 勤労感謝の日 on Monday 11-23.
        assert_eq!(
            calendar
                .delivery_on(jst_at(2026, 11, 20, 17, 0, 0))
                .unwrap(),
            date(2026, 11, 24)
        );
    }

    #[test]
    fn the_last_supported_evening_has_no_next_business_day() {
        let calendar = Calendar::default();
        assert!(
            calendar
                .delivery_on(jst_at(2099, 12, 31, 18, 0, 0))
                .is_err()
        );
    }
}
