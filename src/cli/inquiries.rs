//! `neo-support inquiry` commands.

use clap::Subcommand;
use serde_json::{Value, json};

use super::{Failure, Output, field, list, rfc3339, terminal_safe, text_or_null};
use crate::client::SupportClient;
use crate::pb;

/// `inquiry` commands.
#[derive(Debug, Subcommand)]
pub enum InquiryCommand {
    /// Submit a technical inquiry; replies come by e-mail only.
    Submit {
        /// The contract it is under.
        #[arg(long)]
        contract: String,
        /// The product it is about.
        #[arg(long, value_enum)]
        product: pb::Product,
        /// What it is about.
        #[arg(long, value_enum)]
        category: pb::InquiryCategory,
        /// Subject (1-200 characters).
        #[arg(long)]
        subject: String,
        /// Body (1-20000 characters); @FILE reads a file.
        #[arg(long)]
        body: String,
        /// The e-mail address the reply goes to.
        #[arg(long)]
        reply_to: String,
    },
    /// One inquiry.
    Show {
        /// The inquiry id.
        id: i64,
    },
    /// The inquiry queue, in order of handling_starts_at.
    List {
        /// Only this contract's.
        #[arg(long)]
        contract: Option<String>,
        /// Only this status.
        #[arg(long, value_enum)]
        status: Option<pb::InquiryStatus>,
        /// Inquiries per page (1-100).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// The next_page_token of the previous page.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Answer an inquiry (staff): the answer goes by e-mail to its reply-to
    /// address, and it is marked answered. An answered inquiry may be
    /// answered again; each answer is mailed.
    Answer {
        /// The inquiry id.
        id: i64,
        /// The answer (required); @FILE reads a file.
        #[arg(long)]
        body: String,
    },
    /// Close an inquiry without a reply (staff), recording why; no mail is
    /// sent.
    Close {
        /// The inquiry id.
        id: i64,
        /// Why it is closed without a reply (1-200 characters).
        #[arg(long)]
        reason: String,
    },
}

fn product_name(value: i32) -> &'static str {
    match pb::Product::try_from(value) {
        Ok(pb::Product::BackupServer) => "backup-server",
        Ok(pb::Product::DesknetsNeo) => "desknets-neo",
        _ => "unspecified",
    }
}

fn category_name(value: i32) -> &'static str {
    match pb::InquiryCategory::try_from(value) {
        Ok(pb::InquiryCategory::Operation) => "operation",
        Ok(pb::InquiryCategory::Environment) => "environment",
        Ok(pb::InquiryCategory::Defect) => "defect",
        Ok(pb::InquiryCategory::PatchUpgrade) => "patch-upgrade",
        Ok(pb::InquiryCategory::Migration) => "migration",
        Ok(pb::InquiryCategory::Customization) => "customization",
        _ => "unspecified",
    }
}

fn status_name(value: i32) -> &'static str {
    match pb::InquiryStatus::try_from(value) {
        Ok(pb::InquiryStatus::Open) => "open",
        Ok(pb::InquiryStatus::Answered) => "answered",
        Ok(pb::InquiryStatus::Closed) => "closed",
        _ => "unspecified",
    }
}

fn inquiry_json(i: &pb::Inquiry) -> Value {
    json!({
        "id": i.id,
        "contract_id": i.contract_id,
        "product": product_name(i.product),
        "category": category_name(i.category),
        "subject": i.subject,
        "body": i.body,
        "reply_to": i.reply_to,
        "status": status_name(i.status),
        "received_at": rfc3339(i.received_at.as_ref()),
        "handling_starts_at": rfc3339(i.handling_starts_at.as_ref()),
        "answered_at": rfc3339(i.answered_at.as_ref()),
        "reply_channel": text_or_null(&i.reply_channel),
        "closed_at": rfc3339(i.closed_at.as_ref()),
        "close_reason": text_or_null(&i.close_reason),
    })
}

fn inquiry_text(i: &pb::Inquiry) -> String {
    format!(
        "{}\t{}\t{}\thandling from {}\t{}\n",
        i.id,
        i.contract_id,
        status_name(i.status),
        super::jst_text(i.handling_starts_at.as_ref()),
        field(&i.subject)
    )
}

fn read_body(body: &str) -> Result<String, Failure> {
    match body.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|error| Failure::Refused {
            code: "INVALID_ARGUMENT".into(),
            reason: None,
            message: format!("cannot read {path}: {error}"),
        }),
        None => Ok(body.to_owned()),
    }
}

/// Runs an `inquiry` command.
pub(crate) async fn inquiry(
    client: &mut SupportClient,
    command: &InquiryCommand,
) -> Result<Output, Failure> {
    Ok(match command {
        InquiryCommand::Submit {
            contract,
            product,
            category,
            subject,
            body,
            reply_to,
        } => {
            let r = client
                .submit_inquiry(pb::SubmitInquiryRequest {
                    contract_id: contract.clone(),
                    product: (*product).into(),
                    category: (*category).into(),
                    subject: subject.clone(),
                    body: read_body(body)?,
                    reply_to: reply_to.clone(),
                })
                .await?
                .into_inner();
            let inquiry = r.inquiry.unwrap_or_default();
            let mut json = inquiry_json(&inquiry);
            json["notice"] = r.notice.clone().into();
            let text = format!("{}{}", inquiry_text(&inquiry), r.notice);
            Output { json, text }
        }
        InquiryCommand::Show { id } => {
            let inquiry = client
                .get_inquiry(pb::GetInquiryRequest { id: *id })
                .await?
                .into_inner()
                .inquiry
                .unwrap_or_default();
            let text = format!(
                "{}\n{}",
                inquiry_text(&inquiry),
                terminal_safe(&inquiry.body, true)
            );
            Output {
                json: inquiry_json(&inquiry),
                text,
            }
        }
        InquiryCommand::List {
            contract,
            status,
            page_size,
            page_token,
        } => {
            let status = status.unwrap_or(pb::InquiryStatus::Unspecified);
            let r = client
                .list_inquiries(pb::ListInquiriesRequest {
                    contract_id: contract.clone().unwrap_or_default(),
                    status: status.into(),
                    page_size: *page_size,
                    page_token: page_token.clone(),
                })
                .await?
                .into_inner();
            let page = list(&r.inquiries, inquiry_json, inquiry_text);
            let mut text = page.text;
            if !r.next_page_token.is_empty() {
                text.push_str(&format!("(more: --page-token {})\n", r.next_page_token));
            }
            Output {
                json: json!({"inquiries": page.json, "next_page_token": text_or_null(&r.next_page_token)}),
                text,
            }
        }
        InquiryCommand::Answer { id, body } => {
            let answer = read_body(body)?;
            if answer.trim().is_empty() {
                return Err(Failure::usage(
                    "--body",
                    "the answer is empty; to close an inquiry without a reply, use \
                     `inquiry close ID --reason TEXT`",
                ));
            }
            let inquiry = client
                .answer_inquiry(pb::AnswerInquiryRequest { id: *id, answer })
                .await?
                .into_inner()
                .inquiry
                .unwrap_or_default();
            Output {
                json: inquiry_json(&inquiry),
                text: inquiry_text(&inquiry),
            }
        }
        InquiryCommand::Close { id, reason } => {
            if reason.trim().is_empty() {
                return Err(Failure::usage("--reason", "must not be empty"));
            }
            let inquiry = client
                .close_inquiry(pb::CloseInquiryRequest {
                    id: *id,
                    reason: reason.clone(),
                })
                .await?
                .into_inner()
                .inquiry
                .unwrap_or_default();
            Output {
                json: inquiry_json(&inquiry),
                text: inquiry_text(&inquiry),
            }
        }
    })
}
