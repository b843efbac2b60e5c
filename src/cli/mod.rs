//! What the `neo-support` binary does: the staff's command-line client.
//! Human-readable output by default, one JSON document on stdout with
//! `--json`. A refused call exits 1 and prints the status code, the
//! ErrorInfo reason and the message; a usage error exits 2.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tonic_types::StatusExt;

mod bench;
mod calendar;
mod contracts;
mod inquiries;
mod licenses;
mod outbox;

pub use calendar::{CalendarCommand, ClosureCommand, OverrideAddArgs, OverrideCommand};
pub use contracts::{ContractCommand, OrderCommand, TokenCommand};
pub use inquiries::InquiryCommand;
pub use licenses::{KeyCommand, KeysCommand, ReissueCommand};
pub use outbox::{EventsCommand, OutboxCommand};

use crate::client::{self, ClientOptions, ConnectError, SupportClient};
use crate::pb::datetime;

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
    /// Whether `--server` was given on the command line (not from the
    /// environment or the default): `calendar holidays` then asks the
    /// server, with staff overrides applied.
    #[arg(skip)]
    pub server_given: bool,
    /// The subcommands given (`["order", "record"]`), to name a flag for a
    /// request field the server refuses.
    #[arg(skip)]
    pub subcommand_path: Vec<String>,
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
    /// Print this machine's server fingerprint (version 2, from its
    /// components), compute one from given values, or compare two.
    Fingerprint(licenses::FingerprintArgs),
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

impl Cli {
    /// Parses the process's arguments (exits 2 on a usage error, as clap
    /// does), noting whether `--server` was given on the command line.
    pub fn from_env_args() -> Self {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Self::command().get_matches();
        let mut cli = Self::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
        cli.server_given = matches!(
            matches.value_source("server"),
            Some(clap::parser::ValueSource::CommandLine)
        );
        let mut current = &matches;
        while let Some((name, sub)) = current.subcommand() {
            cli.subcommand_path.push(name.to_owned());
            current = sub;
        }
        cli
    }
}

pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!("{text:?} is not an RFC 3339 instant such as 2026-11-25T09:00:00+09:00")
        })
}

/// A `YYYY-MM-DD` flag, checked before any call (clap reports a malformed
/// one as a usage error naming the flag, exit 2); the supported years are
/// the server's to judge.
pub(crate) fn parse_date(text: &str) -> Result<String, String> {
    crate::domain::dates::parse_iso_date(text)
        .map(|_| text.to_owned())
        .map_err(|error| error.to_string())
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
    /// Input the CLI judges itself before any call (a malformed date,
    /// instant, URL or id; a missing or empty value): exit code 2, like
    /// clap's own usage errors. The message names the flag.
    Usage(String),
    /// The request was taken but waits (a reissue waiting for review):
    /// the text goes to stderr and the exit code is 3, so that
    /// `KEY=$(...)` never captures something that is not a key. With
    /// `--json` the document is printed as usual and the exit code is 0.
    Waiting(Output),
}

impl Failure {
    /// A usage error naming its flag: `--to: must not be before --from`.
    pub(crate) fn usage(flag: &str, message: impl std::fmt::Display) -> Self {
        Self::Usage(format!("{flag}: {message}"))
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        let reason = status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone());
        let mut message = status.message().to_owned();
        if reason.as_deref() == Some("TOKEN_MISSING") {
            message.push_str(" (pass --token TOKEN or set NEO_SUPPORT_TOKEN)");
        } else if reason.is_none()
            && matches!(
                status.code(),
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
            )
            && (message.contains("h2 protocol error") || message.contains("transport error"))
        {
            message.push_str(
                " (if the server serves TLS, use https:// in --server; if it serves \
                 plaintext, use http://)",
            );
        }
        Self::Refused {
            code: crate::pb::code_name(status.code()).into(),
            reason,
            message,
        }
    }
}

impl From<ConnectError> for Failure {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::BadUrl(_) => Self::usage("--server", error),
            ConnectError::BadToken => Self::usage("--token", error),
            ConnectError::Unreachable { server, reason } => Self::Refused {
                code: "UNAVAILABLE".into(),
                reason: None,
                message: unreachable_hint(&server, &reason),
            },
            ConnectError::Tls(_) => Self::usage("--ca-cert", error),
            ConnectError::CaAsServerCertificate(_) => Self::Refused {
                code: "INVALID_ARGUMENT".into(),
                reason: None,
                message: error.to_string(),
            },
        }
    }
}

/// Why a server could not be reached, in words that say what to do.
fn unreachable_hint(server: &str, reason: &str) -> String {
    let address = server
        .split_once("://")
        .map_or(server, |(_, rest)| rest)
        .trim_end_matches('/');
    let lower = reason.to_ascii_lowercase();
    if lower.contains("connection refused") {
        format!(
            "cannot connect to {server}: nothing listens on {address} (connection refused); \
             is neo-supportd running there? (--server, NEO_SUPPORT_SERVER)"
        )
    } else if server.starts_with("https://")
        && (lower.contains("invalidcontenttype")
            || lower.contains("corrupt message")
            || lower.contains("wrong version number"))
    {
        format!(
            "cannot connect to {server}: the server at {address} speaks plaintext gRPC, not TLS; \
             use http://{address}"
        )
    } else {
        format!("cannot connect to {server}: {reason}")
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
    run_command(cli)
        .await
        .map_err(|failure| name_the_flag(&cli.subcommand_path, failure))
}

/// A refusal that names a request field (`received_on: ...`) names the
/// command's flag instead (`--received-on: ...`) when the command has one
/// for it.
fn name_the_flag(path: &[String], failure: Failure) -> Failure {
    use clap::CommandFactory;
    let Failure::Refused {
        code,
        reason,
        message,
    } = failure
    else {
        return failure;
    };
    let flag = message.split_once(": ").and_then(|(field, _)| {
        let mut command = Cli::command();
        for name in path {
            command = command.find_subcommand(name)?.clone();
        }
        let last = field.rsplit('.').next().unwrap_or(field);
        let alias = match last {
            "contract_id" => "contract",
            "license_id" if command.get_name() != "create" => "license",
            "contact_email" => "contact",
            "customer_name" => "customer",
            "answer" => "body",
            "start_on" | "start_month_day"
                if command
                    .get_arguments()
                    .any(|a| a.get_long() == Some("from")) =>
            {
                "from"
            }
            "end_on" | "end_month_day"
                if command.get_arguments().any(|a| a.get_long() == Some("to")) =>
            {
                "to"
            }
            "add_mail_domains" => "add-mail-domain",
            "remove_mail_domains" => "remove-mail-domain",
            "support_ends_before_on" => "ending-before",
            other => other,
        }
        .replace('_', "-");
        command
            .get_arguments()
            .any(|a| a.get_long() == Some(alias.as_str()))
            .then(|| (field.len(), format!("--{alias}")))
    });
    let message = match flag {
        Some((len, flag)) => format!("{flag}{}", &message[len..]),
        None => message,
    };
    Failure::Refused {
        code,
        reason,
        message,
    }
}

async fn run_command(cli: &Cli) -> Result<Output, Failure> {
    match &cli.command {
        Command::Calendar(command) => calendar::calendar(cli, command).await,
        Command::Contract(command) => contracts::contract(&mut connect(cli).await?, command).await,
        Command::Order(command) => contracts::order(&mut connect(cli).await?, command).await,
        Command::Token(command) => contracts::token(&mut connect(cli).await?, command).await,
        Command::Inquiry(command) => inquiries::inquiry(&mut connect(cli).await?, command).await,
        Command::Key(command) => licenses::key(cli, command).await,
        Command::Keys(command) => licenses::keys(cli, command).await,
        Command::Reissue(command) => {
            licenses::reissue(&mut licenses::connect(cli).await?, command).await
        }
        Command::Fingerprint(args) => licenses::fingerprint(args),
        Command::Outbox(command) => outbox::outbox(&mut connect(cli).await?, command).await,
        Command::Bench(args) => bench::bench(cli, args).await,
        Command::Events(EventsCommand::Kinds) => Ok(outbox::event_kinds()),
        Command::Events(command) => outbox::events(&mut connect(cli).await?, command).await,
    }
}

/// One JSON document on one line that is safe on a terminal: every
/// control character, DEL and C1 included, written as a \u escape (JSON
/// allows it inside strings, and there are none outside). serde_json
/// escapes only C0.
pub(crate) fn json_line(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints the outcome and returns the exit code: 0; 1 when the server
/// refused (or a key does not verify); 2 for a usage error the CLI found
/// itself, before any call; 3 when a reissue waits for review.
pub fn report(cli: &Cli, outcome: Result<Output, Failure>) -> i32 {
    match outcome {
        Ok(output) => {
            if cli.json {
                println!("{}", json_line(&output.json));
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
                    json_line(
                        &json!({"error": {"code": code, "reason": reason, "message": message}})
                    )
                );
            } else {
                let reason = reason.map(|r| format!(" {r}")).unwrap_or_default();
                eprintln!("error: {code}{reason}: {}", field(&message));
            }
            1
        }
        Err(Failure::Negative(output)) => {
            if cli.json {
                println!("{}", json_line(&output.json));
            } else {
                println!("{}", terminal_safe(output.text.trim_end(), true));
            }
            1
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {}", field(&message));
            eprintln!("\nFor more information, try '--help'.");
            2
        }
        Err(Failure::Waiting(output)) => {
            if cli.json {
                println!("{}", json_line(&output.json));
                0
            } else {
                eprintln!("{}", terminal_safe(output.text.trim_end(), true));
                3
            }
        }
    }
}

/// Client options from the command line.
pub(crate) fn client_options(cli: &Cli) -> Result<ClientOptions, Failure> {
    let ca_cert_pem = match &cli.ca_cert {
        Some(path) => Some(std::fs::read(path).map_err(|error| {
            Failure::usage(
                "--ca-cert",
                format!("cannot read CA certificate {}: {error}", path.display()),
            )
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

pub(crate) fn rfc3339(at: Option<&prost_types::Timestamp>) -> Value {
    at.and_then(datetime)
        .map(|at| Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)))
        .unwrap_or(Value::Null)
}

/// An instant for people in Tokyo: JST with its offset, to the second
/// (`2026-11-25 13:00:00 +09:00`); `-` when unset. JSON keeps RFC 3339 UTC.
pub(crate) fn jst_text(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(datetime)
        .map(|at| {
            at.with_timezone(&crate::domain::dates::jst())
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        })
        .unwrap_or_else(|| "-".to_owned())
}

/// A string, or null when empty.
pub(crate) fn text_or_null(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        Value::String(text.to_owned())
    }
}

pub(crate) fn list<T>(items: &[T], to_json: fn(&T) -> Value, to_text: fn(&T) -> String) -> Output {
    Output {
        json: Value::Array(items.iter().map(to_json).collect()),
        text: items.iter().map(to_text).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_output_escapes_every_control_character_and_stays_the_same_document() {
        let value = json!({"subject": "a\u{1b}[2J b\u{7f} c\u{9b}31m 勤労感謝の日\r\n"});
        let line = json_line(&value);
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(line.contains("勤労感謝の日"), "{line}");
        assert_eq!(serde_json::from_str::<Value>(&line).unwrap(), value);
    }
}
