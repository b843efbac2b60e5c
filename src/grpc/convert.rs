//! Proto messages to domain types and back. Every client field is checked
//! here and refused as INVALID_ARGUMENT (or OUT_OF_RANGE) naming the field.

use chrono::{DateTime, NaiveDate, Utc};
use prost_types::Timestamp;

use crate::domain::calendar::{
    CalendarDay, Closure, ClosureRange, DayKind, HolidayOverride, OverrideAction,
};
use crate::domain::dates::{DateError, MonthDay, format_date, parse_supported_date};
use crate::domain::holidays::YearOutOfRange;
use crate::error::{Error, Result};
use crate::grpc::pb;

/// Longest closure, holiday or note text accepted, in characters.
const MAX_NAME_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

/// Parses a `YYYY-MM-DD` field inside the supported range.
pub fn date_field(field: &str, value: &str) -> Result<NaiveDate> {
    parse_supported_date(value).map_err(|error| match error {
        DateError::Malformed(_) => Error::invalid(field, error.to_string()),
        DateError::OutOfRange(_) => Error::out_of_range(field, error.to_string()),
    })
}

/// A calendar computation that ran past the supported years.
pub fn out_of_range(field: &str) -> impl FnOnce(YearOutOfRange) -> Error + '_ {
    move |error| Error::out_of_range(field, format!("the answer would fall in {error}"))
}

/// An instant field, or `now` when the client left it unset.
pub fn instant_field(
    field: &str,
    value: Option<Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let Some(value) = value else {
        return Ok(now);
    };
    let nanos = u32::try_from(value.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000);
    nanos
        .and_then(|nanos| DateTime::from_timestamp(value.seconds, nanos))
        .ok_or_else(|| Error::invalid(field, "not a valid timestamp"))
}

/// An instant as a protobuf timestamp.
pub fn timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A name staff typed: trimmed, 1 to 100 characters, no control characters.
pub fn name_field(field: &str, value: &str) -> Result<String> {
    let name = value.trim();
    if name.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
}

/// A free-text note: at most 1000 characters, possibly empty.
pub fn note_field(field: &str, value: &str) -> Result<String> {
    if value.chars().count() > MAX_NOTE_CHARS {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(value.trim().to_owned())
}

impl From<DayKind> for pb::DayKind {
    fn from(kind: DayKind) -> Self {
        match kind {
            DayKind::BusinessDay => Self::BusinessDay,
            DayKind::Weekend => Self::Weekend,
            DayKind::NationalHoliday => Self::NationalHoliday,
            DayKind::CompanyClosure => Self::CompanyClosure,
        }
    }
}

impl From<CalendarDay> for pb::CalendarDay {
    fn from(day: CalendarDay) -> Self {
        Self {
            date: format_date(day.date),
            business_day: day.is_business_day(),
            kind: pb::DayKind::from(day.kind).into(),
            name: day.name,
        }
    }
}

impl From<Closure> for pb::Closure {
    fn from(closure: Closure) -> Self {
        let range = match closure.range {
            ClosureRange::Dates { start, end } => pb::closure::Range::Dates(pb::DateRange {
                start_on: format_date(start),
                end_on: format_date(end),
            }),
            ClosureRange::EveryYear { start, end } => {
                pb::closure::Range::EveryYear(pb::MonthDayRange {
                    start_month_day: start.to_string(),
                    end_month_day: end.to_string(),
                })
            }
        };
        Self {
            id: closure.id,
            name: closure.name,
            range: Some(range),
            created_at: Some(timestamp(closure.created_at)),
        }
    }
}

/// A closure to create: its name and range.
pub fn new_closure(closure: Option<pb::Closure>) -> Result<(String, ClosureRange)> {
    let closure = closure.ok_or_else(|| Error::invalid("closure", "is required"))?;
    let name = name_field("closure.name", &closure.name)?;
    let range = match closure.range {
        Some(pb::closure::Range::Dates(dates)) => {
            let start = date_field("closure.dates.start_on", &dates.start_on)?;
            let end = date_field("closure.dates.end_on", &dates.end_on)?;
            ClosureRange::new_dates(start, end)
                .map_err(|message| Error::invalid("closure.dates.end_on", message))?
        }
        Some(pb::closure::Range::EveryYear(days)) => {
            let month_day = |field: &str, value: &str| {
                MonthDay::parse(value).map_err(|message| Error::invalid(field, message))
            };
            ClosureRange::EveryYear {
                start: month_day("closure.every_year.start_month_day", &days.start_month_day)?,
                end: month_day("closure.every_year.end_month_day", &days.end_month_day)?,
            }
        }
        None => {
            return Err(Error::invalid(
                "closure.range",
                "give either dates (a one-off range) or every_year (a yearly range)",
            ));
        }
    };
    Ok((name, range))
}

impl From<HolidayOverride> for pb::HolidayOverride {
    fn from(holiday_override: HolidayOverride) -> Self {
        let (kind, name) = match holiday_override.action {
            OverrideAction::AddHoliday { name } => (pb::OverrideKind::AddHoliday, name),
            OverrideAction::RemoveHoliday => (pb::OverrideKind::RemoveHoliday, String::new()),
        };
        Self {
            id: holiday_override.id,
            date: format_date(holiday_override.date),
            kind: kind.into(),
            name,
            note: holiday_override.note,
            created_at: Some(timestamp(holiday_override.created_at)),
        }
    }
}

/// An override to create: its date, action and note.
pub fn new_holiday_override(
    holiday_override: Option<pb::HolidayOverride>,
) -> Result<(NaiveDate, OverrideAction, String)> {
    let holiday_override =
        holiday_override.ok_or_else(|| Error::invalid("holiday_override", "is required"))?;
    let date = date_field("holiday_override.date", &holiday_override.date)?;
    let action = match pb::OverrideKind::try_from(holiday_override.kind) {
        Ok(pb::OverrideKind::AddHoliday) => OverrideAction::AddHoliday {
            name: name_field("holiday_override.name", &holiday_override.name)?,
        },
        Ok(pb::OverrideKind::RemoveHoliday) => {
            if !holiday_override.name.is_empty() {
                return Err(Error::invalid(
                    "holiday_override.name",
                    "must be empty when removing a holiday",
                ));
            }
            OverrideAction::RemoveHoliday
        }
        _ => {
            return Err(Error::invalid(
                "holiday_override.kind",
                "must be ADD_HOLIDAY or REMOVE_HOLIDAY",
            ));
        }
    };
    let note = note_field("holiday_override.note", &holiday_override.note)?;
    Ok((date, action, note))
}

/// A protobuf timestamp as an instant, if it is a valid one.
pub fn datetime(at: &Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(at.nanos).ok()?;
    DateTime::from_timestamp(at.seconds, nanos)
}

/// The snake_case name of a `DayKind` value, as the CLI prints it.
pub fn day_kind_name(kind: i32) -> &'static str {
    match pb::DayKind::try_from(kind) {
        Ok(pb::DayKind::BusinessDay) => "business_day",
        Ok(pb::DayKind::Weekend) => "weekend",
        Ok(pb::DayKind::NationalHoliday) => "national_holiday",
        Ok(pb::DayKind::CompanyClosure) => "company_closure",
        _ => "unspecified",
    }
}
