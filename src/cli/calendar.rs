//! `neo-support calendar`: national holidays computed locally, and the
//! server's business calendar, company closures and holiday overrides.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Cli, Failure, Output, connect, field, list, parse_instant, rfc3339};
use crate::domain::dates::{DateError, format_date, parse_supported_date};
use crate::domain::holidays;
use crate::pb;
use crate::pb::day_kind_name;

/// `calendar` commands.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// National holidays in a range, computed locally from the law (no
    /// server needed; staff overrides are not applied); with --server
    /// given on the command line, from the server with its overrides.
    Holidays {
        /// First date, YYYY-MM-DD.
        #[arg(long, value_parser = super::parse_date)]
        from: String,
        /// Last date, YYYY-MM-DD, inclusive.
        #[arg(long, value_parser = super::parse_date)]
        to: String,
    },
    /// What a date is: business day, weekend, national holiday or closure.
    Day {
        /// The date, YYYY-MM-DD.
        #[arg(value_parser = super::parse_date)]
        date: String,
    },
    /// National holidays and company closures in a range, from the server.
    DaysOff {
        /// First date, YYYY-MM-DD.
        #[arg(long, value_parser = super::parse_date)]
        from: String,
        /// Last date, YYYY-MM-DD, inclusive.
        #[arg(long, value_parser = super::parse_date)]
        to: String,
    },
    /// The first business day after a date.
    NextBusinessDay {
        /// The date, YYYY-MM-DD.
        #[arg(value_parser = super::parse_date)]
        date: String,
    },
    /// Whether the support desk is open at an instant.
    Reception {
        /// The instant, RFC 3339 (e.g. 2026-11-25T09:00:00+09:00); now when
        /// omitted.
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
    },
    /// The delivery date of a reissue received at an instant.
    Delivery {
        /// The instant, RFC 3339; now when omitted.
        #[arg(long, value_parser = parse_instant)]
        at: Option<DateTime<Utc>>,
    },
    /// The business calendar of whole years as an iCalendar document
    /// (RFC 5545), from the server, on stdout: the same the HTTP feed
    /// /calendar.ics serves.
    Export {
        /// First year; this year by default.
        #[arg(long)]
        from: Option<i32>,
        /// Last year, inclusive; the year after --from by default (at
        /// most 10 years in all).
        #[arg(long)]
        to: Option<i32>,
    },
    /// Company closures (staff).
    #[command(subcommand)]
    Closures(ClosureCommand),
    /// National-holiday overrides (staff).
    #[command(subcommand)]
    Overrides(OverrideCommand),
}

/// `calendar closures` commands.
#[derive(Debug, Subcommand)]
pub enum ClosureCommand {
    /// Add a closure.
    Add {
        /// Its name, e.g. 年末年始休暇.
        #[arg(long)]
        name: String,
        /// First day: YYYY-MM-DD, or MM-DD with --every-year.
        #[arg(long)]
        from: String,
        /// Last day, inclusive: YYYY-MM-DD, or MM-DD with --every-year (TO
        /// before FROM crosses the new year).
        #[arg(long)]
        to: String,
        /// Repeat every year by month-day.
        #[arg(long)]
        every_year: bool,
    },
    /// List closures.
    List,
    /// Remove a closure.
    Remove {
        /// The closure's id.
        id: i64,
    },
}

/// `calendar overrides` commands.
#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Add an override.
    Add(OverrideAddArgs),
    /// List overrides.
    List,
    /// Remove an override.
    Remove {
        /// The override's id.
        id: i64,
    },
}

/// `calendar overrides add` arguments.
#[derive(Debug, Args)]
pub struct OverrideAddArgs {
    /// The date, YYYY-MM-DD.
    #[arg(long, value_parser = super::parse_date)]
    date: String,
    /// Make the date a national holiday with this name.
    #[arg(
        long,
        required_unless_present = "not_holiday",
        conflicts_with = "not_holiday"
    )]
    holiday: Option<String>,
    /// Make the date not a national holiday.
    #[arg(long)]
    not_holiday: bool,
    /// Why (e.g. the announcement it follows).
    #[arg(long, default_value = "")]
    note: String,
}

/// Runs a `calendar` command: `holidays` locally, the others on the server.
pub(super) async fn calendar(cli: &Cli, command: &CalendarCommand) -> Result<Output, Failure> {
    check(command)?;
    let mut client = match command {
        CalendarCommand::Holidays { from, to } if !cli.server_given => {
            return local_holidays(from, to);
        }
        _ => connect(cli).await?,
    };
    let output = match command {
        CalendarCommand::Holidays { from, to } => {
            // `--server` given: the server's national holidays, with staff
            // overrides applied (closures left out).
            let response = client
                .list_days_off(pb::ListDaysOffRequest {
                    start_on: from.clone(),
                    end_on: to.clone(),
                })
                .await?
                .into_inner();
            let holidays: Vec<&pb::CalendarDay> = response
                .days
                .iter()
                .filter(|day| day.kind == pb::DayKind::NationalHoliday as i32)
                .collect();
            Output {
                json: Value::Array(
                    holidays
                        .iter()
                        .map(|day| json!({"date": day.date, "name": day.name}))
                        .collect(),
                ),
                text: holidays
                    .iter()
                    .map(|day| format!("{}\t{}\n", day.date, field(&day.name)))
                    .collect(),
            }
        }
        CalendarCommand::Export { from, to } => {
            let response = client
                .export_calendar(pb::ExportCalendarRequest {
                    from_year: from.unwrap_or(0),
                    to_year: to.unwrap_or(0),
                })
                .await?
                .into_inner();
            if !cli.json {
                // The document as it is, CRLF line ends included.
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(response.ics.as_bytes())
                    .and_then(|()| stdout.flush())
                    .map_err(|error| Failure::Refused {
                        code: "INTERNAL".into(),
                        reason: None,
                        message: format!("cannot write to stdout: {error}"),
                    })?;
            }
            Output {
                json: serde_json::json!({"ics": response.ics}),
                text: String::new(),
            }
        }
        CalendarCommand::Day { date } => {
            let response = client
                .get_calendar_day(pb::GetCalendarDayRequest { date: date.clone() })
                .await?
                .into_inner();
            let day = response.day.unwrap_or_default();
            Output {
                json: day_json(&day),
                text: day_text(&day),
            }
        }
        CalendarCommand::DaysOff { from, to } => {
            let response = client
                .list_days_off(pb::ListDaysOffRequest {
                    start_on: from.clone(),
                    end_on: to.clone(),
                })
                .await?
                .into_inner();
            list(&response.days, day_json, day_text)
        }
        CalendarCommand::NextBusinessDay { date } => {
            let response = client
                .get_next_business_day(pb::GetNextBusinessDayRequest { date: date.clone() })
                .await?
                .into_inner();
            Output {
                json: json!({"date": date, "next_business_day": response.date}),
                text: response.date,
            }
        }
        CalendarCommand::Reception { at } => {
            let r = client
                .get_reception_status(pb::GetReceptionStatusRequest { at: instant(*at) })
                .await?
                .into_inner();
            let json = json!({
                "at": rfc3339(r.at.as_ref()),
                "open": r.open,
                "opens_at": rfc3339(r.opens_at.as_ref()),
                "closes_at": rfc3339(r.closes_at.as_ref()),
            });
            let text = if r.open {
                format!("open until {}", super::jst_text(r.closes_at.as_ref()))
            } else {
                format!("closed; opens at {}", super::jst_text(r.opens_at.as_ref()))
            };
            Output { json, text }
        }
        CalendarCommand::Delivery { at } => {
            let r = client
                .get_delivery_date(pb::GetDeliveryDateRequest {
                    received_at: instant(*at),
                })
                .await?
                .into_inner();
            let json = json!({
                "received_at": rfc3339(r.received_at.as_ref()),
                "delivery_on": r.delivery_on,
            });
            let text = format!("delivery on {}", r.delivery_on);
            Output { json, text }
        }
        CalendarCommand::Closures(ClosureCommand::Add {
            name,
            from,
            to,
            every_year,
        }) => {
            let range = if *every_year {
                pb::closure::Range::EveryYear(pb::MonthDayRange {
                    start_month_day: from.clone(),
                    end_month_day: to.clone(),
                })
            } else {
                pb::closure::Range::Dates(pb::DateRange {
                    start_on: from.clone(),
                    end_on: to.clone(),
                })
            };
            let closure = client
                .create_closure(pb::CreateClosureRequest {
                    closure: Some(pb::Closure {
                        name: name.clone(),
                        range: Some(range),
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner()
                .closure
                .unwrap_or_default();
            Output {
                json: closure_json(&closure),
                text: closure_text(&closure),
            }
        }
        CalendarCommand::Closures(ClosureCommand::List) => {
            let response = client
                .list_closures(pb::ListClosuresRequest {})
                .await?
                .into_inner();
            list(&response.closures, closure_json, closure_text)
        }
        CalendarCommand::Closures(ClosureCommand::Remove { id }) => {
            client
                .delete_closure(pb::DeleteClosureRequest { id: *id })
                .await?;
            Output {
                json: json!({"removed": id}),
                text: format!("removed closure {id}"),
            }
        }
        CalendarCommand::Overrides(OverrideCommand::Add(args)) => {
            let (kind, name) = match &args.holiday {
                Some(name) => (pb::OverrideKind::AddHoliday, name.clone()),
                None => (pb::OverrideKind::RemoveHoliday, String::new()),
            };
            let created = client
                .create_holiday_override(pb::CreateHolidayOverrideRequest {
                    holiday_override: Some(pb::HolidayOverride {
                        date: args.date.clone(),
                        kind: kind.into(),
                        name,
                        note: args.note.clone(),
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner()
                .holiday_override
                .unwrap_or_default();
            Output {
                json: override_json(&created),
                text: override_text(&created),
            }
        }
        CalendarCommand::Overrides(OverrideCommand::List) => {
            let response = client
                .list_holiday_overrides(pb::ListHolidayOverridesRequest {})
                .await?
                .into_inner();
            list(&response.holiday_overrides, override_json, override_text)
        }
        CalendarCommand::Overrides(OverrideCommand::Remove { id }) => {
            client
                .delete_holiday_override(pb::DeleteHolidayOverrideRequest { id: *id })
                .await?;
            Output {
                json: json!({"removed": id}),
                text: format!("removed override {id}"),
            }
        }
    };
    Ok(output)
}

fn local_date(field: &str, text: &str) -> Result<chrono::NaiveDate, Failure> {
    parse_supported_date(text).map_err(|error| Failure::Refused {
        code: match error {
            DateError::Malformed(_) => "INVALID_ARGUMENT",
            DateError::OutOfRange(_) => "OUT_OF_RANGE",
        }
        .into(),
        reason: Some(
            match error {
                DateError::Malformed(_) => "INVALID_ARGUMENT",
                DateError::OutOfRange(_) => "DATE_OUT_OF_RANGE",
            }
            .into(),
        ),
        message: format!("{field}: {error}"),
    })
}

/// What the CLI can judge itself, before any call: a reversed range, and
/// closure dates in the form `--every-year` asks for.
fn check(command: &CalendarCommand) -> Result<(), Failure> {
    let reversed = |from: &str, to: &str| {
        // Both are YYYY-MM-DD (clap checked), so text order is date order.
        if to < from {
            Err(Failure::usage("--to", "must not be before --from"))
        } else {
            Ok(())
        }
    };
    match command {
        CalendarCommand::Holidays { from, to } | CalendarCommand::DaysOff { from, to } => {
            reversed(from, to)
        }
        CalendarCommand::Closures(ClosureCommand::Add {
            from,
            to,
            every_year,
            ..
        }) => {
            for (flag, value) in [("--from", from), ("--to", to)] {
                if *every_year {
                    crate::domain::dates::MonthDay::parse(value)
                        .map_err(|_| Failure::usage(flag, "use MM-DD with --every-year"))?;
                } else {
                    super::parse_date(value).map_err(|_| {
                        Failure::usage(flag, "use YYYY-MM-DD (or MM-DD with --every-year)")
                    })?;
                }
            }
            if *every_year {
                Ok(())
            } else {
                reversed(from, to)
            }
        }
        _ => Ok(()),
    }
}

fn local_holidays(from: &str, to: &str) -> Result<Output, Failure> {
    eprintln!(
        "national holidays computed locally from the law; company overrides are not applied \
         (give --server to ask the server)"
    );
    let from = local_date("from", from)?;
    let to = local_date("to", to)?;
    let list = holidays::national_holidays_between(from, to).map_err(|error| Failure::Refused {
        code: "OUT_OF_RANGE".into(),
        reason: Some("DATE_OUT_OF_RANGE".into()),
        message: error.to_string(),
    })?;
    let json = list
        .iter()
        .map(|h| json!({"date": format_date(h.date), "name": h.name}))
        .collect();
    let text = list
        .iter()
        .map(|h| format!("{}\t{}\n", format_date(h.date), h.name))
        .collect();
    Ok(Output {
        json: Value::Array(json),
        text,
    })
}

fn instant(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(crate::pb::timestamp)
}

fn day_json(day: &pb::CalendarDay) -> Value {
    json!({
        "date": day.date,
        "business_day": day.business_day,
        "kind": day_kind_name(day.kind),
        "name": if day.name.is_empty() { Value::Null } else { Value::String(day.name.clone()) },
    })
}

fn day_text(day: &pb::CalendarDay) -> String {
    let kind = day_kind_name(day.kind).replace('_', " ");
    if day.name.is_empty() {
        format!("{}\t{kind}\n", day.date)
    } else {
        format!("{}\t{kind}\t{}\n", day.date, day.name)
    }
}

fn closure_json(closure: &pb::Closure) -> Value {
    let (every_year, from, to) = match &closure.range {
        Some(pb::closure::Range::Dates(d)) => (false, d.start_on.clone(), d.end_on.clone()),
        Some(pb::closure::Range::EveryYear(d)) => {
            (true, d.start_month_day.clone(), d.end_month_day.clone())
        }
        None => (false, String::new(), String::new()),
    };
    json!({
        "id": closure.id,
        "name": closure.name,
        "every_year": every_year,
        "from": from,
        "to": to,
        "created_at": rfc3339(closure.created_at.as_ref()),
    })
}

fn closure_text(closure: &pb::Closure) -> String {
    let value = closure_json(closure);
    let repeat = if value["every_year"] == Value::Bool(true) {
        "every year"
    } else {
        "once"
    };
    format!(
        "{}\t{} .. {}\t{repeat}\t{}\n",
        closure.id,
        value["from"].as_str().unwrap_or_default(),
        value["to"].as_str().unwrap_or_default(),
        closure.name
    )
}

fn override_json(o: &pb::HolidayOverride) -> Value {
    let holiday = o.kind == pb::OverrideKind::AddHoliday as i32;
    json!({
        "id": o.id,
        "date": o.date,
        "holiday": holiday,
        "name": if o.name.is_empty() { Value::Null } else { Value::String(o.name.clone()) },
        "note": o.note,
        "created_at": rfc3339(o.created_at.as_ref()),
    })
}

fn override_text(o: &pb::HolidayOverride) -> String {
    let what = if o.kind == pb::OverrideKind::AddHoliday as i32 {
        format!("holiday {}", o.name)
    } else {
        "not a holiday".to_owned()
    };
    format!("{}\t{}\t{what}\t{}\n", o.id, o.date, field(&o.note))
}
