//! `neo-support outbox` commands.

use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::{Failure, Output, field, json_line, list, rfc3339, terminal_safe, text_or_null};
use crate::client::SupportClient;
use crate::pb;

/// `outbox` commands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List outbox messages, oldest first.
    List {
        /// Only this status.
        #[arg(long, value_enum)]
        status: Option<StatusArg>,
        /// Only messages still unsent after their due date.
        #[arg(long)]
        overdue: bool,
        /// Messages per page (1-100).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// The next_page_token of the previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// One message, with its body.
    Show {
        /// The message id.
        id: i64,
    },
    /// Put a failed message back in line for sending now.
    Retry {
        /// The message id.
        id: i64,
    },
}

/// Outbox statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// Waiting to be sent (or retried).
    Pending,
    /// Sent.
    Sent,
    /// Given up on: for staff.
    Failed,
}

fn message_json(m: &pb::OutboxMessage) -> Value {
    json!({
        "id": m.id,
        "kind": m.kind,
        "recipient": m.recipient,
        "subject": m.subject,
        "body": m.body,
        "due_on": m.due_on,
        "status": m.status,
        "overdue": m.overdue,
        "attempts": m.attempts,
        "next_attempt_at": rfc3339(m.next_attempt_at.as_ref()),
        "last_error": text_or_null(&m.last_error),
        "message_id": text_or_null(&m.message_id),
        "created_at": rfc3339(m.created_at.as_ref()),
        "sent_at": rfc3339(m.sent_at.as_ref()),
        "license_key_id": text_or_null(&m.license_key_id),
        "inquiry_id": if m.inquiry_id == 0 { Value::Null } else { m.inquiry_id.into() },
    })
}

fn message_text(m: &pb::OutboxMessage) -> String {
    let overdue = if m.overdue { "\tOVERDUE" } else { "" };
    format!(
        "{}\t{}\t{}\tdue {}\t{}\t{}{overdue}\n",
        m.id,
        m.status,
        m.kind,
        m.due_on,
        field(&m.recipient),
        field(&m.subject)
    )
}

/// Runs an `outbox` command.
pub(crate) async fn outbox(
    client: &mut SupportClient,
    command: &OutboxCommand,
) -> Result<Output, Failure> {
    Ok(match command {
        OutboxCommand::List {
            status,
            overdue,
            page_size,
            page_token,
        } => {
            let status = match status {
                None => "",
                Some(StatusArg::Pending) => "pending",
                Some(StatusArg::Sent) => "sent",
                Some(StatusArg::Failed) => "failed",
            };
            let r = client
                .list_outbox_messages(pb::ListOutboxMessagesRequest {
                    status: status.into(),
                    overdue: *overdue,
                    page_size: *page_size,
                    page_token: page_token.clone(),
                })
                .await?
                .into_inner();
            let page = list(&r.messages, message_json, message_text);
            let mut text = page.text;
            if !r.next_page_token.is_empty() {
                text.push_str(&format!("(more: --page-token {})\n", r.next_page_token));
            }
            Output {
                json: json!({"messages": page.json, "next_page_token": text_or_null(&r.next_page_token)}),
                text,
            }
        }
        OutboxCommand::Show { id } => {
            let m = client
                .get_outbox_message(pb::GetOutboxMessageRequest { id: *id })
                .await?
                .into_inner()
                .message
                .unwrap_or_default();
            let text = format!("{}\n{}", message_text(&m), terminal_safe(&m.body, true));
            Output {
                json: message_json(&m),
                text,
            }
        }
        OutboxCommand::Retry { id } => {
            let m = client
                .retry_outbox_message(pb::RetryOutboxMessageRequest { id: *id })
                .await?
                .into_inner()
                .message
                .unwrap_or_default();
            Output {
                json: message_json(&m),
                text: message_text(&m),
            }
        }
    })
}

/// `events` commands.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// The audit trail, oldest first.
    List {
        /// Only this contract's events.
        #[arg(long)]
        contract: Option<String>,
        /// Only this license's events.
        #[arg(long)]
        license: Option<String>,
        /// Only this kind, e.g. key.reissued (`events kinds` lists them).
        #[arg(long, value_parser = event_kind)]
        kind: Option<String>,
        /// Only events at or after this instant (RFC 3339).
        #[arg(long, value_parser = super::parse_instant)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Events per page (1-100).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// The next_page_token of the previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Follow the audit trail: the events after --after, then each new one
    /// as it is committed, one JSON object per line (the fields of
    /// `events list --json`), until interrupted. A dropped stream is
    /// resumed from the last event printed, without a gap or a duplicate.
    Watch {
        /// Start after this event id (0: from the first).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Only this contract's events.
        #[arg(long)]
        contract: Option<String>,
        /// Only these kinds (repeat --kind for several; `events kinds`
        /// lists them).
        #[arg(long, value_parser = event_kind)]
        kind: Vec<String>,
    },
    /// The kinds of event, one a line with what each records (no server
    /// needed).
    Kinds,
}

/// A known event kind, else a usage error listing them.
fn event_kind(text: &str) -> Result<String, String> {
    if crate::domain::EVENT_KINDS
        .iter()
        .any(|(kind, _)| *kind == text)
    {
        Ok(text.to_owned())
    } else {
        let kinds: Vec<&str> = crate::domain::EVENT_KINDS.iter().map(|(k, _)| *k).collect();
        Err(format!(
            "unknown event kind {text:?}; the kinds are: {}",
            kinds.join(", ")
        ))
    }
}

/// `events kinds`: every kind with what it records.
pub(crate) fn event_kinds() -> Output {
    let kinds = crate::domain::EVENT_KINDS;
    Output {
        json: Value::Array(
            kinds
                .iter()
                .map(|(kind, what)| json!({"kind": kind, "description": what}))
                .collect(),
        ),
        text: kinds
            .iter()
            .map(|(kind, what)| format!("{kind}\t{what}\n"))
            .collect(),
    }
}

fn event_json(e: &pb::Event) -> Value {
    json!({
        "id": e.id,
        "occurred_at": rfc3339(e.occurred_at.as_ref()),
        "actor": e.actor,
        "actor_token_id": if e.actor_token_id == 0 { Value::Null } else { json!(e.actor_token_id) },
        "call_id": text_or_null(if e.call_id.is_empty() { &e.request_id } else { &e.call_id }),
        "request_id": text_or_null(&e.reissue_request_id),
        "kind": e.kind,
        "contract_id": text_or_null(&e.contract_id),
        "license_id": text_or_null(&e.license_id),
        "subject": e.subject,
        "detail": e.detail,
    })
}

fn event_text(e: &pb::Event) -> String {
    let at = super::jst_text(e.occurred_at.as_ref());
    let actor = if e.actor_token_id == 0 {
        e.actor.clone()
    } else {
        format!("{} (token {})", e.actor, e.actor_token_id)
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\n",
        e.id,
        at,
        field(&actor),
        field(&e.kind),
        field(&e.subject),
        field(&e.detail)
    )
}

/// Runs an `events` command.
pub(crate) async fn events(
    client: &mut SupportClient,
    command: &EventsCommand,
) -> Result<Output, Failure> {
    let (contract, license, kind, since, page_size, page_token) = match command {
        EventsCommand::List {
            contract,
            license,
            kind,
            since,
            page_size,
            page_token,
        } => (contract, license, kind, since, page_size, page_token),
        EventsCommand::Watch {
            after,
            contract,
            kind,
        } => return watch_events(client, *after, contract.as_deref(), kind).await,
        EventsCommand::Kinds => return Ok(event_kinds()),
    };
    let r = client
        .list_events(pb::ListEventsRequest {
            contract_id: contract.clone().unwrap_or_default(),
            license_id: license.clone().unwrap_or_default(),
            kind: kind.clone().unwrap_or_default(),
            since_at: since.map(crate::pb::timestamp),
            page_size: *page_size,
            page_token: page_token.clone(),
        })
        .await?
        .into_inner();
    let page = list(&r.events, event_json, event_text);
    let mut text = page.text;
    if !r.next_page_token.is_empty() {
        text.push_str(&format!("(more: --page-token {})\n", r.next_page_token));
    }
    Ok(Output {
        json: json!({"events": page.json, "next_page_token": text_or_null(&r.next_page_token)}),
        text,
    })
}

/// How long `events watch` waits before it resumes a dropped stream.
const RESUME_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// `events watch`: prints each event as a JSON line; resumes from the last
/// event printed when the server drops the stream (a watcher that fell
/// behind, a server stopping). Refusals (no staff token, a bad filter)
/// end it.
async fn watch_events(
    client: &mut SupportClient,
    after: i64,
    contract: Option<&str>,
    kinds: &[String],
) -> Result<Output, Failure> {
    use std::io::Write;
    let mut last = after;
    loop {
        let request = pb::WatchEventsRequest {
            contract_id: contract.unwrap_or_default().to_owned(),
            kinds: kinds.to_vec(),
            after_id: last,
        };
        let ended = match client.watch_events(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(message)) => {
                            if let Some(pb::watch_events_response::Item::Event(event)) =
                                message.item
                            {
                                last = event.id;
                                let line = json_line(&event_json(&event));
                                let mut stdout = std::io::stdout().lock();
                                if writeln!(stdout, "{line}")
                                    .and_then(|()| stdout.flush())
                                    .is_err()
                                {
                                    // stdout closed (a pipe's reader left, as
                                    // with `| head`): done, quietly, with
                                    // nothing more to print.
                                    std::process::exit(0);
                                }
                            }
                        }
                        Ok(None) => break None,
                        Err(status) => break Some(status),
                    }
                }
            }
            Err(status) => Some(status),
        };
        match ended {
            Some(status)
                if !(status.code() == tonic::Code::Unavailable
                    || (status.code() == tonic::Code::ResourceExhausted
                        && status.message().contains("fell behind"))) =>
            {
                return Err(status.into());
            }
            Some(status) => {
                eprintln!(
                    "stream ended ({}): resuming after event {last}",
                    field(status.message())
                );
            }
            None => eprintln!("stream ended: resuming after event {last}"),
        }
        tokio::time::sleep(RESUME_AFTER).await;
    }
}
