//! Proto messages to domain types and back. Every client field is checked
//! here and refused as INVALID_ARGUMENT (or OUT_OF_RANGE) naming the field.

use chrono::{DateTime, NaiveDate, Utc};
use prost_types::Timestamp;

use crate::domain::calendar::{
    CalendarDay, Closure, ClosureRange, DayKind, HolidayOverride, OverrideAction,
};
use crate::domain::dates::{
    DateError, MonthDay, format_date, is_supported_instant, parse_supported_date,
};
use crate::domain::holidays::{FIRST_SUPPORTED_YEAR, LAST_SUPPORTED_YEAR, YearOutOfRange};
use crate::error::{Error, Reason, Result};
use crate::pb::{self, datetime, timestamp};

/// Longest closure, holiday or note text accepted, in characters.
const MAX_NAME_CHARS: usize = 100;
const MAX_NOTE_CHARS: usize = 1000;

/// Parses a `YYYY-MM-DD` field inside the supported range.
pub fn date_field(field: &str, value: &str) -> Result<NaiveDate> {
    parse_supported_date(value).map_err(|error| match error {
        DateError::Malformed(_) => Error::InvalidField {
            field: field.to_owned(),
            reason: Reason::InvalidDate.as_str(),
            message: error.to_string(),
        },
        DateError::OutOfRange(_) => Error::out_of_range(field, error.to_string()),
    })
}

/// An end before its start: INVALID_ARGUMENT `RANGE_REVERSED` on `field`.
pub fn range_reversed(field: &str, message: impl Into<String>) -> Error {
    Error::InvalidField {
        field: field.to_owned(),
        reason: Reason::RangeReversed.as_str(),
        message: message.into(),
    }
}

/// A calendar computation that ran past the supported years.
pub fn out_of_range(field: &str) -> impl FnOnce(YearOutOfRange) -> Error + '_ {
    move |error| Error::out_of_range(field, format!("the answer would fall in {error}"))
}

/// An instant field, or `now` when the client left it unset. An instant
/// outside the supported years is refused here, before anything converts
/// it to JST (chrono panics on a local time past its range).
pub fn instant_field(
    field: &str,
    value: Option<Timestamp>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    let Some(value) = value else {
        return Ok(now);
    };
    let at = datetime(&value).ok_or_else(|| {
        Error::invalid(
            field,
            "not a valid timestamp (nanos must be 0 to 999999999)",
        )
    })?;
    if !is_supported_instant(at) {
        return Err(Error::invalid(
            field,
            format!(
                "must fall in the supported years {FIRST_SUPPORTED_YEAR} to {LAST_SUPPORTED_YEAR} (JST)"
            ),
        ));
    }
    Ok(at)
}

/// Longest id a client may name (contract, license, license-key and
/// reissue-request ids are all shorter).
const MAX_ID_CHARS: usize = 64;

/// An id the client names to look something up (a license-key or
/// reissue-request id): 1 to 64 characters from `A-Z a-z 0-9 - _ .`.
/// Checked before the id is looked up or named in an error, and the
/// refusal never repeats the bad value.
pub fn id_field(field: &str, value: &str) -> Result<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if value.is_empty() || value.len() > MAX_ID_CHARS || !value.chars().all(allowed) {
        return Err(Error::invalid(
            field,
            format!("an id has 1 to {MAX_ID_CHARS} characters from A-Z a-z 0-9 - _ ."),
        ));
    }
    Ok(value.to_owned())
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
    if name
        .chars()
        .any(|c| c.is_control() || crate::domain::inquiry::is_bidi_control(c))
    {
        return Err(Error::invalid(
            field,
            "must not contain control characters or bidirectional overrides",
        ));
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
                .map_err(|message| range_reversed("closure.dates.end_on", message))?
        }
        Some(pb::closure::Range::EveryYear(days)) => {
            let month_day = |field: &str, value: &str| {
                MonthDay::parse(value).map_err(|message| Error::InvalidField {
                    field: field.to_owned(),
                    reason: Reason::InvalidDate.as_str(),
                    message,
                })
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

/// A contract or license id field.
pub fn code_field(field: &str, value: &str) -> Result<crate::domain::contract::ContractId> {
    crate::domain::contract::ContractId::parse(value)
        .map_err(|message| Error::invalid(field, message))
}

/// An e-mail address field.
pub fn email_field(field: &str, value: &str) -> Result<crate::domain::contract::EmailAddress> {
    crate::domain::contract::EmailAddress::parse(value.trim())
        .map_err(|message| Error::invalid(field, message))
}

/// An optional date field: `None` when empty.
pub fn optional_date_field(field: &str, value: &str) -> Result<Option<NaiveDate>> {
    if value.is_empty() {
        Ok(None)
    } else {
        date_field(field, value).map(Some)
    }
}

/// Formats an optional date, empty when `None`.
pub fn format_optional_date(date: Option<NaiveDate>) -> String {
    date.map(format_date).unwrap_or_default()
}

/// A page size: 1-100, 50 when 0.
pub fn page_size_field(field: &str, value: i32) -> Result<i64> {
    match value {
        0 => Ok(50),
        1..=100 => Ok(i64::from(value)),
        _ => Err(Error::invalid(field, "must be between 1 and 100")),
    }
}

/// Encodes a page token (opaque to clients).
pub fn encode_page_token(position: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// A page token that carries an id (events, outbox messages, tokens);
/// `None` for the first page.
pub fn decode_id_page_token(value: &str) -> Result<Option<i64>> {
    decode_page_token(value)?
        .map(|text| text.parse().map_err(|_| not_a_page_token()))
        .transpose()
}

/// The error for a page token this server did not give.
pub fn not_a_page_token() -> Error {
    Error::invalid("page_token", "not a page token this server gave")
}

/// Cuts `rows`, read with a limit of `limit + 1`, to one page, and returns
/// the token of the next page (empty on the last page), made from the last
/// row kept by `position`.
pub fn one_page<T>(rows: &mut Vec<T>, limit: i64, position: impl Fn(&T) -> String) -> String {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    match (more, rows.last()) {
        (true, Some(last)) => encode_page_token(&position(last)),
        _ => String::new(),
    }
}

/// Decodes a page token; `None` for the first page.
pub fn decode_page_token(value: &str) -> Result<Option<String>> {
    use base64::Engine;
    if value.is_empty() {
        return Ok(None);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(not_a_page_token)
}

impl From<crate::domain::contract::Contract> for pb::Contract {
    fn from(c: crate::domain::contract::Contract) -> Self {
        Self {
            id: c.id,
            customer_name: c.customer_name,
            contact_email: c.contact_email,
            license_id: c.license_id,
            seats: c.seats,
            customized: c.customized,
            created_at: Some(timestamp(c.created_at)),
        }
    }
}

impl From<crate::domain::contract::OrderKind> for pb::OrderKind {
    fn from(kind: crate::domain::contract::OrderKind) -> Self {
        use crate::domain::contract::OrderKind;
        match kind {
            OrderKind::FirstYear => Self::FirstYear,
            OrderKind::Renewal => Self::Renewal,
            OrderKind::ReContinuation => Self::ReContinuation,
            OrderKind::AddSeats => Self::AddSeats,
            OrderKind::Certificate => Self::Certificate,
        }
    }
}

impl From<crate::domain::contract::ContractStatus> for pb::ContractStatus {
    fn from(status: crate::domain::contract::ContractStatus) -> Self {
        use crate::domain::contract::ContractStatus;
        match status {
            ContractStatus::Active => Self::Active,
            ContractStatus::NotStarted => Self::NotStarted,
            ContractStatus::Lapsed => Self::Lapsed,
            ContractStatus::RecontinuationRequired => Self::RecontinuationRequired,
        }
    }
}

/// A status filter: `None` for unspecified.
pub fn status_filter(value: i32) -> Result<Option<crate::domain::contract::ContractStatus>> {
    use crate::domain::contract::ContractStatus;
    match pb::ContractStatus::try_from(value) {
        Ok(pb::ContractStatus::Unspecified) => Ok(None),
        Ok(pb::ContractStatus::Active) => Ok(Some(ContractStatus::Active)),
        Ok(pb::ContractStatus::NotStarted) => Ok(Some(ContractStatus::NotStarted)),
        Ok(pb::ContractStatus::Lapsed) => Ok(Some(ContractStatus::Lapsed)),
        Ok(pb::ContractStatus::RecontinuationRequired) => {
            Ok(Some(ContractStatus::RecontinuationRequired))
        }
        Err(_) => Err(Error::invalid("status", "unknown contract status")),
    }
}

impl From<crate::domain::contract::Order> for pb::Order {
    fn from(o: crate::domain::contract::Order) -> Self {
        Self {
            id: o.id,
            kind: pb::OrderKind::from(o.kind).into(),
            received_on: format_date(o.received_on),
            purchased_on: format_optional_date(o.purchased_on),
            seats: o.seats,
            start_on: format_optional_date(o.period.map(|p| p.start)),
            end_on: format_optional_date(o.period.map(|p| p.end)),
            coverage_start_on: format_optional_date(o.period.map(|p| p.covered_from)),
            certificate_no: o.certificate_no.unwrap_or_default(),
            superseded_by_order_id: o.superseded_by.unwrap_or(0),
            created_at: None,
        }
    }
}

impl From<crate::domain::inquiry::Inquiry> for pb::Inquiry {
    fn from(i: crate::domain::inquiry::Inquiry) -> Self {
        use crate::domain::inquiry::{Category, InquiryStatus, Product};
        let product = match i.product {
            Product::BackupServer => pb::Product::BackupServer,
            Product::DesknetsNeo => pb::Product::DesknetsNeo,
        };
        let category = match i.category {
            Category::Operation => pb::InquiryCategory::Operation,
            Category::Environment => pb::InquiryCategory::Environment,
            Category::Defect => pb::InquiryCategory::Defect,
            Category::PatchUpgrade => pb::InquiryCategory::PatchUpgrade,
            Category::Migration => pb::InquiryCategory::Migration,
            Category::Customization => pb::InquiryCategory::Customization,
        };
        let status = match i.status {
            InquiryStatus::Open => pb::InquiryStatus::Open,
            InquiryStatus::Answered => pb::InquiryStatus::Answered,
            InquiryStatus::Closed => pb::InquiryStatus::Closed,
        };
        Self {
            id: i.id,
            contract_id: i.contract_id,
            product: product.into(),
            category: category.into(),
            subject: i.subject,
            body: i.body,
            reply_to: i.reply_to,
            status: status.into(),
            received_at: Some(timestamp(i.received_at)),
            handling_starts_at: Some(timestamp(i.handling_starts_at)),
            answered_at: i.answered_at.map(timestamp),
            reply_channel: "email".into(),
            closed_at: i.closed_at.map(timestamp),
            close_reason: i.close_reason.unwrap_or_default(),
        }
    }
}

/// The product field of an inquiry.
pub fn product_field(value: i32) -> Result<crate::domain::inquiry::Product> {
    use crate::domain::inquiry::Product;
    match pb::Product::try_from(value) {
        Ok(pb::Product::BackupServer) => Ok(Product::BackupServer),
        Ok(pb::Product::DesknetsNeo) => Ok(Product::DesknetsNeo),
        _ => Err(Error::invalid(
            "product",
            "must be BACKUP_SERVER or DESKNETS_NEO",
        )),
    }
}

/// The category field of an inquiry.
pub fn category_field(value: i32) -> Result<crate::domain::inquiry::Category> {
    use crate::domain::inquiry::Category;
    match pb::InquiryCategory::try_from(value) {
        Ok(pb::InquiryCategory::Operation) => Ok(Category::Operation),
        Ok(pb::InquiryCategory::Environment) => Ok(Category::Environment),
        Ok(pb::InquiryCategory::Defect) => Ok(Category::Defect),
        Ok(pb::InquiryCategory::PatchUpgrade) => Ok(Category::PatchUpgrade),
        Ok(pb::InquiryCategory::Migration) => Ok(Category::Migration),
        Ok(pb::InquiryCategory::Customization) => Ok(Category::Customization),
        _ => Err(Error::invalid(
            "category",
            "unknown or unset inquiry category",
        )),
    }
}

/// An inquiry status filter: `None` for unspecified.
pub fn inquiry_status_filter(value: i32) -> Result<Option<crate::domain::inquiry::InquiryStatus>> {
    use crate::domain::inquiry::InquiryStatus;
    match pb::InquiryStatus::try_from(value) {
        Ok(pb::InquiryStatus::Unspecified) => Ok(None),
        Ok(pb::InquiryStatus::Open) => Ok(Some(InquiryStatus::Open)),
        Ok(pb::InquiryStatus::Answered) => Ok(Some(InquiryStatus::Answered)),
        Ok(pb::InquiryStatus::Closed) => Ok(Some(InquiryStatus::Closed)),
        Err(_) => Err(Error::invalid("status", "unknown inquiry status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_cut_to_its_limit_and_points_at_the_next_one() {
        let mut rows = vec![1, 2, 3];
        let token = one_page(&mut rows, 2, |last| last.to_string());
        assert_eq!(rows, [1, 2]);
        assert_eq!(decode_id_page_token(&token).unwrap(), Some(2));
        let mut last_page = vec![1, 2];
        assert_eq!(one_page(&mut last_page, 2, |last| last.to_string()), "");
        assert_eq!(last_page, [1, 2]);
        assert_eq!(decode_id_page_token("").unwrap(), None);
        let forged = encode_page_token("x");
        assert!(decode_id_page_token(&forged).is_err());
        assert!(decode_id_page_token("!!").is_err());
    }
}
