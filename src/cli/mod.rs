//! What the `neo-support` binary does: the staff's command-line client.
//! Human-readable output by default, one JSON document on stdout with
//! `--json`. A refused call exits 1 and prints the status code, the
//! ErrorInfo reason and the message; a usage error exits 2.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

mod bench;
mod contracts;
mod inquiries;
mod licenses;
mod outbox;

pub use contracts::{ContractCommand, OrderCommand, TokenCommand};
pub use inquiries::InquiryCommand;
pub use licenses::{KeyCommand, KeysCommand, ReissueCommand};
pub use outbox::{EventsCommand, OutboxCommand};

use crate::client::{self, ClientOptions, ConnectError, SupportClient};
use crate::domain::dates::{DateError, format_date, parse_supported_date};
use crate::domain::holidays;
use crate::grpc::convert::{datetime, day_kind_name};
use crate::grpc::pb;

/// neo-support: the staff's client for the neo-support service.
#[derive(Debug, Parser)]
#[command(name = "neo-support", version, about)]
pub struct Cli {
    /// The server, `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(
        long,
        env = "NEO_SUPPORT_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub server: String,
    /// Access token (staff or customer).
    #[arg(long, env = "NEO_SUPPORT_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for an https:// server.
    #[arg(long, env = "NEO_SUPPORT_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    /// Print one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The business calendar.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Support contracts (staff; a customer token may show its own).
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Orders that buy support periods or seats (staff).
    #[command(subcommand)]
    Order(OrderCommand),
    /// Technical inquiries.
    #[command(subcommand)]
    Inquiry(InquiryCommand),
    /// Customer access tokens (staff).
    #[command(subcommand)]
    Token(TokenCommand),
    /// License keys: verify, issue, revoke, list.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The server's public signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// License-key reissues to a new server.
    #[command(subcommand)]
    Reissue(ReissueCommand),
    /// Print this machine's server fingerprint.
    Fingerprint,
    /// The e-mail outbox (staff).
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// The audit trail (staff).
    #[command(subcommand)]
    Events(EventsCommand),
    /// Load a running server and print calls/s and latency beside the
    /// health Check (the baseline).
    Bench(bench::BenchArgs),
}

/// `calendar` commands.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// National holidays in a range, computed locally from the law (no
    /// server needed; staff overrides are not applied).
    Holidays {
        /// First date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last date, YYYY-MM-DD, inclusive.
        #[arg(long)]
        to: String,
    },
    /// What a date is: business day, weekend, national holiday or closure.
    Day {
        /// The date, YYYY-MM-DD.
        date: String,
    },
    /// National holidays and company closures in a range, from the server.
    DaysOff {
        /// First date, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last date, YYYY-MM-DD, inclusive.
        #[arg(long)]
        to: String,
    },
    /// The first business day after a date.
    NextBusinessDay {
        /// The date, YYYY-MM-DD.
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
    #[arg(long)]
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

pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is not an RFC 3339 instant such as 2026-11-25T09:00:00+09:00")
        })
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The server (or a local check) refused.
    Refused {
        /// The gRPC code, UPPER_SNAKE.
        code: String,
        /// The ErrorInfo reason, if any.
        reason: Option<String>,
        /// The message.
        message: String,
    },
    /// The answer is "no" (a license key that does not verify): printed
    /// like a result, exit code 1.
    Negative(Output),
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        let reason = status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone());
        Self::Refused {
            code: code_name(status.code()).into(),
            reason,
            message: status.message().to_owned(),
        }
    }
}

impl From<ConnectError> for Failure {
    fn from(error: ConnectError) -> Self {
        let code = match error {
            ConnectError::Unreachable { .. } => "UNAVAILABLE",
            _ => "INVALID_ARGUMENT",
        };
        Self::Refused {
            code: code.into(),
            reason: None,
            message: error.to_string(),
        }
    }
}

/// The canonical UPPER_SNAKE name of a gRPC code.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Server text made safe for a terminal: every control character (C0 with
/// ESC, CR and BEL, DEL, C1), line and paragraph separator and bidi control
/// is written escaped as `\u{1b}`, so stored text can never move the cursor,
/// retitle the window, clear the screen or forge a line. With `multiline`,
/// newline and tab pass (a body); without, they are escaped too (one field
/// of a row). Every human-readable output goes through it; JSON needs it
/// not (serde escapes controls).
pub(crate) fn terminal_safe(text: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let kept = multiline && matches!(c, '\n' | '\t');
        let unsafe_char = c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}')
            || crate::domain::inquiry::is_bidi_control(c);
        if unsafe_char && !kept {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// One field of a row of server text: see [`terminal_safe`].
pub(crate) fn field(text: &str) -> String {
    terminal_safe(text, false)
}

/// What a command prints on success: JSON, and the same for people.
#[derive(Debug)]
pub struct Output {
    /// The `--json` document.
    pub json: Value,
    /// The human-readable text.
    pub text: String,
}

/// Runs a parsed command line and returns what to print.
pub async fn run(cli: &Cli) -> Result<Output, Failure> {
    match &cli.command {
        Command::Calendar(CalendarCommand::Holidays { from, to }) => local_holidays(from, to),
        Command::Calendar(command) => calendar(cli, command).await,
        Command::Contract(command) => contracts::contract(&mut connect(cli).await?, command).await,
        Command::Order(command) => contracts::order(&mut connect(cli).await?, command).await,
        Command::Token(command) => contracts::token(&mut connect(cli).await?, command).await,
        Command::Inquiry(command) => inquiries::inquiry(&mut connect(cli).await?, command).await,
        Command::Key(command) => licenses::key(cli, command).await,
        Command::Keys(command) => licenses::keys(cli, command).await,
        Command::Reissue(command) => {
            licenses::reissue(&mut licenses::connect(cli).await?, command).await
        }
        Command::Fingerprint => licenses::fingerprint(),
        Command::Outbox(command) => outbox::outbox(&mut connect(cli).await?, command).await,
        Command::Bench(args) => bench::bench(cli, args).await,
        Command::Events(command) => outbox::events(&mut connect(cli).await?, command).await,
    }
}

/// Prints the outcome and returns the exit code: 0, or 1 when refused.
pub fn report(cli: &Cli, outcome: Result<Output, Failure>) -> i32 {
    match outcome {
        Ok(output) => {
            if cli.json {
                println!("{}", output.json);
            } else if !output.text.is_empty() {
                println!("{}", terminal_safe(output.text.trim_end(), true));
            }
            0
        }
        Err(Failure::Refused {
            code,
            reason,
            message,
        }) => {
            if cli.json {
                println!(
                    "{}",
                    json!({"error": {"code": code, "reason": reason, "message": message}})
                );
            } else {
                let reason = reason.map(|r| format!(" {r}")).unwrap_or_default();
                eprintln!("error: {code}{reason}: {}", field(&message));
            }
            1
        }
        Err(Failure::Negative(output)) => {
            if cli.json {
                println!("{}", output.json);
            } else {
                println!("{}", terminal_safe(output.text.trim_end(), true));
            }
            1
        }
    }
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

fn local_holidays(from: &str, to: &str) -> Result<Output, Failure> {
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

/// Client options from the command line.
pub(crate) fn client_options(cli: &Cli) -> Result<ClientOptions, Failure> {
    let ca_cert_pem = match &cli.ca_cert {
        Some(path) => Some(std::fs::read(path).map_err(|error| Failure::Refused {
            code: "INVALID_ARGUMENT".into(),
            reason: None,
            message: format!("cannot read CA certificate {}: {error}", path.display()),
        })?),
        None => None,
    };
    Ok(ClientOptions {
        server: cli.server.clone(),
        token: cli.token.clone(),
        ca_cert_pem,
    })
}

pub(crate) async fn connect(cli: &Cli) -> Result<SupportClient, Failure> {
    Ok(client::support(&client_options(cli)?).await?)
}

fn instant(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(crate::grpc::convert::timestamp)
}

pub(crate) fn rfc3339(at: Option<&prost_types::Timestamp>) -> Value {
    at.and_then(datetime)
        .map(|at| Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
        .unwrap_or(Value::Null)
}

/// A string, or null when empty.
pub(crate) fn text_or_null(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
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

pub(crate) fn list<T>(items: &[T], to_json: fn(&T) -> Value, to_text: fn(&T) -> String) -> Output {
    Output {
        json: Value::Array(items.iter().map(to_json).collect()),
        text: items.iter().map(to_text).collect(),
    }
}

async fn calendar(cli: &Cli, command: &CalendarCommand) -> Result<Output, Failure> {
    let mut client = connect(cli).await?;
    let output = match command {
        CalendarCommand::Holidays { from, to } => return local_holidays(from, to),
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
                format!(
                    "open until {}",
                    json["closes_at"].as_str().unwrap_or_default()
                )
            } else {
                format!(
                    "closed; opens at {}",
                    json["opens_at"].as_str().unwrap_or_default()
                )
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
