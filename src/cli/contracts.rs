//! `neo-support contract`, `order` and `token` commands.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Failure, Output, field, list, rfc3339, text_or_null};
use crate::client::SupportClient;
use crate::pb;

/// `contract` commands.
#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Create a contract; prints it with its id.
    Create {
        /// The contract id (the vendor's contract number); generated when
        /// omitted.
        #[arg(long)]
        id: Option<String>,
        /// The customer's name.
        #[arg(long)]
        customer: String,
        /// The contact e-mail address for notices.
        #[arg(long)]
        contact: String,
        /// The Backup Server license id.
        #[arg(long)]
        license_id: String,
        /// The license's seat count.
        #[arg(long)]
        seats: i64,
        /// The installation is customized.
        #[arg(long)]
        customized: bool,
    },
    /// A contract: periods, coverage, status on a date, seats.
    Show {
        /// The contract id.
        id: String,
        /// The date the status is for (YYYY-MM-DD); today in JST by default.
        #[arg(long, value_parser = super::parse_date)]
        date: Option<String>,
    },
    /// Change a contract's mail domains: the domains, besides the contact
    /// address's own, that inquiry replies may go to (staff only).
    Update {
        /// The contract id.
        id: String,
        /// Allow replies to addresses in this domain (repeatable).
        #[arg(long = "add-mail-domain", value_name = "DOMAIN")]
        add_mail_domains: Vec<String>,
        /// No longer allow this added domain (repeatable).
        #[arg(long = "remove-mail-domain", value_name = "DOMAIN")]
        remove_mail_domains: Vec<String>,
    },
    /// List contracts, one page.
    List {
        /// Only contracts with this status (on --status-on).
        #[arg(long, value_enum)]
        status: Option<pb::ContractStatus>,
        /// The date for the status (YYYY-MM-DD); today in JST by default.
        #[arg(long, value_parser = super::parse_date)]
        status_on: Option<String>,
        /// Only contracts whose support ends before this date (renewal
        /// reminders).
        #[arg(long, value_parser = super::parse_date)]
        ending_before: Option<String>,
        /// Contracts per page (1-100).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// The next_page_token of the previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Which order a renewal received on a date must be, and its period.
    QuoteRenewal {
        /// The contract id.
        #[arg(long)]
        contract: String,
        /// When the order would be received (YYYY-MM-DD).
        #[arg(long, value_parser = super::parse_date)]
        received_on: String,
    },
    /// The renewal reminders queued for a contract, with their mails'
    /// status (staff).
    Reminders {
        /// The contract id.
        id: String,
    },
}

/// `order` commands.
#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Record an order; prints the stored period.
    Record {
        /// The contract id.
        #[arg(long)]
        contract: String,
        /// What was ordered.
        #[arg(long, value_enum)]
        kind: pb::OrderKind,
        /// The order acceptance date (YYYY-MM-DD).
        #[arg(long, value_parser = super::parse_date)]
        received_on: String,
        /// first-year: the license purchase date; add-seats: the seats'.
        #[arg(long, value_parser = super::parse_date)]
        purchased_on: Option<String>,
        /// add-seats: how many seats.
        #[arg(long)]
        seats: Option<i64>,
        /// certificate: first day printed on it.
        #[arg(long, value_parser = super::parse_date)]
        start_on: Option<String>,
        /// certificate: last day printed on it.
        #[arg(long, value_parser = super::parse_date)]
        end_on: Option<String>,
        /// certificate: its number.
        #[arg(long)]
        certificate_no: Option<String>,
    },
}

/// `token` commands (through the server).
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a customer token for a contract; prints it once.
    Create {
        /// The contract the token is scoped to.
        #[arg(long)]
        contract: String,
        /// A name for the token.
        #[arg(long)]
        name: Option<String>,
        /// Days until the token expires (1-3650); never when not given.
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u16>,
    },
    /// List access tokens (never their secrets): role, contract, the token
    /// that created each, expiry and revocation.
    List {
        /// Only the customer tokens of this contract.
        #[arg(long)]
        contract: Option<String>,
    },
    /// Revoke a token, or with --created-by every token in use that one
    /// token created. Every server refuses it within a second.
    Revoke {
        /// The token's id, from `token list`.
        #[arg(required_unless_present = "created_by", conflicts_with = "created_by")]
        id: Option<i64>,
        /// Revoke every token in use that this token created instead.
        #[arg(long, value_name = "ID")]
        created_by: Option<i64>,
        /// Why (kept with the token and in the audit trail).
        #[arg(long)]
        reason: String,
    },
}

/// The CLI name of an order kind.
pub(crate) fn kind_name(kind: i32) -> &'static str {
    match pb::OrderKind::try_from(kind) {
        Ok(pb::OrderKind::FirstYear) => "first-year",
        Ok(pb::OrderKind::Renewal) => "renewal",
        Ok(pb::OrderKind::ReContinuation) => "re-continuation",
        Ok(pb::OrderKind::AddSeats) => "add-seats",
        Ok(pb::OrderKind::Certificate) => "certificate",
        _ => "unspecified",
    }
}

/// The CLI name of a contract status.
pub(crate) fn status_name(status: i32) -> &'static str {
    match pb::ContractStatus::try_from(status) {
        Ok(pb::ContractStatus::Active) => "active",
        Ok(pb::ContractStatus::NotStarted) => "not_started",
        Ok(pb::ContractStatus::Lapsed) => "lapsed",
        Ok(pb::ContractStatus::RecontinuationRequired) => "recontinuation_required",
        _ => "unspecified",
    }
}

fn contract_json(c: &pb::Contract) -> Value {
    json!({
        "id": c.id,
        "customer_name": c.customer_name,
        "contact_email": c.contact_email,
        "license_id": c.license_id,
        "seats": c.seats,
        "customized": c.customized,
        "created_at": rfc3339(c.created_at.as_ref()),
    })
}

fn order_json(o: &pb::Order) -> Value {
    json!({
        "id": o.id,
        "kind": kind_name(o.kind),
        "received_on": o.received_on,
        "purchased_on": text_or_null(&o.purchased_on),
        "seats": o.seats,
        "start_on": text_or_null(&o.start_on),
        "end_on": text_or_null(&o.end_on),
        "coverage_start_on": text_or_null(&o.coverage_start_on),
        "certificate_no": text_or_null(&o.certificate_no),
        "superseded_by": if o.superseded_by_order_id == 0 { Value::Null } else { o.superseded_by_order_id.into() },
    })
}

fn order_text(o: &pb::Order) -> String {
    let span = if o.start_on.is_empty() {
        "not covered until renewal".to_owned()
    } else {
        format!("{} .. {}", o.start_on, o.end_on)
    };
    format!(
        "{}\t{}\t{span}\t{} seats\n",
        o.id,
        kind_name(o.kind),
        o.seats
    )
}

fn summary_json(s: &pb::ContractSummary) -> Value {
    let mut value = contract_json(&s.contract.clone().unwrap_or_default());
    value["status"] = status_name(s.status).into();
    value["support_end_on"] = text_or_null(&s.support_end_on);
    value
}

fn summary_text(s: &pb::ContractSummary) -> String {
    let c = s.contract.clone().unwrap_or_default();
    let end = if s.support_end_on.is_empty() {
        "-"
    } else {
        &s.support_end_on
    };
    format!(
        "{}\t{}\t{end}\t{}\n",
        c.id,
        status_name(s.status),
        field(&c.customer_name)
    )
}

/// Mail domains for people, comma-separated.
fn mail_domains_text(domains: &[String]) -> String {
    domains
        .iter()
        .map(|d| field(d))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs a `contract` command.
pub(crate) async fn contract(
    client: &mut SupportClient,
    command: &ContractCommand,
) -> Result<Output, Failure> {
    Ok(match command {
        ContractCommand::Create {
            id,
            customer,
            contact,
            license_id,
            seats,
            customized,
        } => {
            let created = client
                .create_contract(pb::CreateContractRequest {
                    id: id.clone().unwrap_or_default(),
                    customer_name: customer.clone(),
                    contact_email: contact.clone(),
                    license_id: license_id.clone(),
                    seats: *seats,
                    customized: *customized,
                })
                .await?
                .into_inner()
                .contract
                .unwrap_or_default();
            let text = format!("created contract {}", created.id);
            Output {
                json: contract_json(&created),
                text,
            }
        }
        ContractCommand::Show { id, date } => {
            let r = client
                .get_contract(pb::GetContractRequest {
                    id: id.clone(),
                    date: date.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            let contract = r.contract.clone().unwrap_or_default();
            let mut json = contract_json(&contract);
            json["status"] = status_name(r.status).into();
            json["date"] = r.date.clone().into();
            json["periods"] = r
                .periods
                .iter()
                .map(|p| {
                    json!({
                        "kind": kind_name(p.kind),
                        "start_on": p.start_on,
                        "end_on": p.end_on,
                        "coverage_start_on": p.coverage_start_on,
                        "certificate_no": text_or_null(&p.certificate_no),
                        "seats": p.seats,
                    })
                })
                .collect();
            json["covered"] = r
                .coverage
                .iter()
                .map(|s| json!({"from": s.start_on, "to": s.end_on}))
                .collect();
            json["orders"] = r.orders.iter().map(order_json).collect();
            json["current_period_seats"] = r.current_period_seats.into();
            json["next_renewal_seats"] = r.next_renewal_seats.into();
            json["support_end_on"] = text_or_null(&r.support_end_on);
            json["mail_domains"] = r.mail_domains.clone().into();
            let mut text = format!(
                "{} {} ({}), license {}, {} seats{}\nstatus on {}: {}\nmail domains: {}\n",
                contract.id,
                field(&contract.customer_name),
                field(&contract.contact_email),
                contract.license_id,
                contract.seats,
                if contract.customized {
                    ", customized"
                } else {
                    ""
                },
                r.date,
                status_name(r.status),
                mail_domains_text(&r.mail_domains)
            );
            for o in &r.orders {
                text.push_str(&order_text(o));
            }
            Output { json, text }
        }
        ContractCommand::Update {
            id,
            add_mail_domains,
            remove_mail_domains,
        } => {
            let r = client
                .update_contract(pb::UpdateContractRequest {
                    id: id.clone(),
                    add_mail_domains: add_mail_domains.clone(),
                    remove_mail_domains: remove_mail_domains.clone(),
                })
                .await?
                .into_inner();
            let contract = r.contract.clone().unwrap_or_default();
            let mut json = contract_json(&contract);
            json["mail_domains"] = r.mail_domains.clone().into();
            let text = format!(
                "contract {} mail domains: {}",
                contract.id,
                mail_domains_text(&r.mail_domains)
            );
            Output { json, text }
        }
        ContractCommand::List {
            status,
            status_on,
            ending_before,
            page_size,
            page_token,
        } => {
            let status = status.unwrap_or(pb::ContractStatus::Unspecified);
            let r = client
                .list_contracts(pb::ListContractsRequest {
                    page_size: *page_size,
                    page_token: page_token.clone(),
                    status: status.into(),
                    status_on: status_on.clone().unwrap_or_default(),
                    support_ends_before_on: ending_before.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            let page = list(&r.contracts, summary_json, summary_text);
            let mut text = page.text;
            if !r.next_page_token.is_empty() {
                text.push_str(&format!("(more: --page-token {})\n", r.next_page_token));
            }
            Output {
                json: json!({"contracts": page.json, "next_page_token": text_or_null(&r.next_page_token)}),
                text,
            }
        }
        ContractCommand::QuoteRenewal {
            contract,
            received_on,
        } => {
            let r = client
                .quote_renewal(pb::QuoteRenewalRequest {
                    contract_id: contract.clone(),
                    received_on: received_on.clone(),
                })
                .await?
                .into_inner();
            Output {
                json: json!({"kind": kind_name(r.kind), "start_on": r.start_on, "end_on": r.end_on}),
                text: format!("{}\t{} .. {}", kind_name(r.kind), r.start_on, r.end_on),
            }
        }
        ContractCommand::Reminders { id } => {
            let r = client
                .list_renewal_reminders(pb::ListRenewalRemindersRequest {
                    contract_id: id.clone(),
                })
                .await?
                .into_inner();
            let page = list(&r.reminders, reminder_json, reminder_text);
            Output {
                json: json!({"reminders": page.json}),
                text: page.text,
            }
        }
    })
}

fn reminder_json(r: &pb::RenewalReminder) -> serde_json::Value {
    json!({
        "id": r.id,
        "contract_id": r.contract_id,
        "period_end": r.period_end,
        "threshold": r.threshold,
        "due_on": r.due_on,
        "outbox_id": r.outbox_id,
        "mail_status": r.mail_status,
        "created_at": crate::cli::rfc3339(r.created_at.as_ref()),
    })
}

fn reminder_text(r: &pb::RenewalReminder) -> String {
    format!(
        "{}\t{}\tperiod ends {}\tdue {}\tmail {} {}\n",
        r.id,
        field(&r.threshold),
        r.period_end,
        r.due_on,
        r.outbox_id,
        field(&r.mail_status)
    )
}

/// Runs an `order` command.
pub(crate) async fn order(
    client: &mut SupportClient,
    command: &OrderCommand,
) -> Result<Output, Failure> {
    let OrderCommand::Record {
        contract,
        kind,
        received_on,
        purchased_on,
        seats,
        start_on,
        end_on,
        certificate_no,
    } = command;
    let recorded = client
        .record_order(pb::RecordOrderRequest {
            contract_id: contract.clone(),
            kind: (*kind).into(),
            received_on: received_on.clone(),
            purchased_on: purchased_on.clone().unwrap_or_default(),
            seats: seats.unwrap_or(0),
            start_on: start_on.clone().unwrap_or_default(),
            end_on: end_on.clone().unwrap_or_default(),
            certificate_no: certificate_no.clone().unwrap_or_default(),
        })
        .await?
        .into_inner()
        .order
        .unwrap_or_default();
    Ok(Output {
        json: order_json(&recorded),
        text: order_text(&recorded),
    })
}

/// Runs a `token` command.
pub(crate) async fn token(
    client: &mut SupportClient,
    command: &TokenCommand,
) -> Result<Output, Failure> {
    match command {
        TokenCommand::Create {
            contract,
            name,
            expires_in,
        } => {
            let r = client
                .create_access_token(pb::CreateAccessTokenRequest {
                    contract_id: contract.clone(),
                    name: name.clone().unwrap_or_default(),
                    expires_in_days: expires_in.map(i32::from).unwrap_or(0),
                })
                .await?
                .into_inner();
            Ok(Output {
                json: json!({"id": r.id, "name": r.name, "contract_id": r.contract_id, "token": r.token, "expire_time": rfc3339(r.expire_time.as_ref())}),
                text: r.token,
            })
        }
        TokenCommand::List { contract } => {
            let mut tokens = Vec::new();
            let mut page_token = String::new();
            loop {
                let r = client
                    .list_access_tokens(pb::ListAccessTokensRequest {
                        contract_id: contract.clone().unwrap_or_default(),
                        page_size: 100,
                        page_token,
                    })
                    .await?
                    .into_inner();
                tokens.extend(r.access_tokens);
                if r.next_page_token.is_empty() {
                    break;
                }
                page_token = r.next_page_token;
            }
            let page = list(&tokens, token_json, token_text);
            Ok(Output {
                json: page.json,
                text: format!(
                    "ID\tROLE\tNAME\tCONTRACT\tCREATED BY\tCREATED\tEXPIRES\tREVOKED\tREASON\n{}",
                    page.text
                ),
            })
        }
        TokenCommand::Revoke {
            id,
            created_by,
            reason,
        } => {
            let r = client
                .revoke_access_token(pb::RevokeAccessTokenRequest {
                    id: id.unwrap_or(0),
                    created_by: created_by.unwrap_or(0),
                    reason: reason.clone(),
                })
                .await?
                .into_inner();
            let page = list(&r.access_tokens, token_json, token_text);
            let text = if r.access_tokens.is_empty() {
                "no token in use to revoke\n".to_owned()
            } else {
                page.text
            };
            Ok(Output {
                json: page.json,
                text,
            })
        }
    }
}

fn token_role_name(role: i32) -> &'static str {
    match pb::TokenRole::try_from(role) {
        Ok(pb::TokenRole::Staff) => "staff",
        Ok(pb::TokenRole::Customer) => "customer",
        _ => "unspecified",
    }
}

fn token_json(t: &pb::AccessToken) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": token_role_name(t.role),
        "contract_id": text_or_null(&t.contract_id),
        "created_by": if t.created_by == 0 { Value::Null } else { json!(t.created_by) },
        "created_at": rfc3339(t.created_at.as_ref()),
        "expire_time": rfc3339(t.expire_time.as_ref()),
        "revoke_time": rfc3339(t.revoke_time.as_ref()),
        "revoke_reason": text_or_null(&t.revoke_reason),
    })
}

fn token_text(t: &pb::AccessToken) -> String {
    let at = super::jst_text;
    let or_dash = |text: &str| {
        if text.is_empty() {
            "-".to_owned()
        } else {
            text.to_owned()
        }
    };
    let created_by = if t.created_by == 0 {
        "-".to_owned()
    } else {
        t.created_by.to_string()
    };
    format!(
        "{}\t{}\t{}\t{}\t{created_by}\t{}\t{}\t{}\t{}\n",
        t.id,
        token_role_name(t.role),
        t.name,
        or_dash(&t.contract_id),
        at(t.created_at.as_ref()),
        at(t.expire_time.as_ref()),
        at(t.revoke_time.as_ref()),
        or_dash(&t.revoke_reason),
    )
}
