//! SupportService: technical inquiries.

use chrono::DateTime;
use tonic::Request;

use crate::domain::contract::status_on;
use crate::domain::dates::jst_date;
use crate::domain::inquiry::{
    MAX_BODY_CHARS, MAX_SUBJECT_CHARS, NewInquiry, REPLY_NOTICE, admit, check_line,
    check_multiline, check_text, normalize_newlines,
};
use crate::domain::reply_to::reply_to_allowed;
use crate::error::{Error, Reason, Result};
use crate::grpc::contract_not_found;
use crate::grpc::convert::{
    category_field, code_field, decode_page_token, email_field, encode_page_token,
    inquiry_status_filter, out_of_range, page_size_field, product_field,
};
use crate::grpc::pb::*;
use crate::grpc::support::SupportApi;
use crate::store::inquiries::InquiryQuery;

fn inquiry_not_found(id: i64) -> Error {
    Error::NotFound {
        reason: Reason::InquiryNotFound.as_str(),
        message: format!("there is no inquiry {id}"),
    }
}

/// A page position: `handling_starts_at` (seconds.nanos) and id.
fn decode_position(token: &str) -> Result<Option<(DateTime<chrono::Utc>, i64)>> {
    let Some(text) = decode_page_token(token)? else {
        return Ok(None);
    };
    let bad = || Error::invalid("page_token", "not a page token this server gave");
    let (at, id) = text.split_once('|').ok_or_else(bad)?;
    let (seconds, nanos) = at.split_once('.').ok_or_else(bad)?;
    let at = DateTime::from_timestamp(
        seconds.parse().map_err(|_| bad())?,
        nanos.parse().map_err(|_| bad())?,
    )
    .filter(|at| crate::domain::dates::is_supported_instant(*at))
    .ok_or_else(bad)?;
    Ok(Some((at, id.parse().map_err(|_| bad())?)))
}

impl SupportApi {
    pub(crate) async fn submit_inquiry_call(
        &self,
        request: Request<SubmitInquiryRequest>,
    ) -> Result<SubmitInquiryResponse> {
        let caller = self.state.caller(&request).await?;
        let r = request.into_inner();
        let contract_id = code_field("contract_id", &r.contract_id)?;
        caller.require_contract(contract_id.as_str())?;
        check_text(&r.subject, MAX_SUBJECT_CHARS)
            .and_then(|()| check_line(&r.subject))
            .map_err(|m| Error::invalid("subject", m))?;
        let body = normalize_newlines(&r.body);
        check_text(&body, MAX_BODY_CHARS)
            .and_then(|()| check_multiline(&body))
            .map_err(|m| Error::invalid("body", m))?;
        let inquiry = NewInquiry {
            contract_id: contract_id.as_str().to_owned(),
            product: product_field(r.product)?,
            category: category_field(r.category)?,
            subject: r.subject.trim().to_owned(),
            body,
            reply_to: email_field("reply_to", &r.reply_to)?,
        };
        let received_at = self.state.clock.now();
        let received_on = jst_date(received_at);
        let (contract, orders) = self
            .state
            .store
            .contract_with_orders(contract_id.as_str())
            .await?
            .ok_or_else(|| contract_not_found(contract_id.as_str()))?;
        let mail_domains = self
            .state
            .store
            .contract_mail_domains(contract_id.as_str())
            .await?;
        if !reply_to_allowed(&inquiry.reply_to, &contract.contact_email, &mail_domains) {
            return Err(Error::InvalidField {
                field: "reply_to".into(),
                reason: Reason::ReplyToNotAllowed.as_str(),
                message: "must be the contract's contact address or an address in one of the contract's mail domains (staff add domains with `neo-support contract update ID --add-mail-domain DOMAIN`)".into(),
            });
        }
        admit(
            &inquiry,
            status_on(&orders, received_on),
            received_on,
            contract.customized,
        )
        .map_err(|refusal| Error::FailedPrecondition {
            reason: refusal.reason(),
            message: refusal.to_string(),
        })?;
        let calendar = self.state.calendar().await?;
        let handling_starts_at = calendar
            .reception(received_at)
            .map_err(out_of_range("received_at"))?
            .opens_at;
        let stored = self
            .state
            .store
            .create_inquiry(
                &inquiry,
                received_at,
                handling_starts_at,
                &caller.token_name,
                self.state.settings.inquiries_per_day,
                &caller.audit(),
            )
            .await?;
        tracing::info!(inquiry_id = stored.id, contract_id = %stored.contract_id, "inquiry received");
        Ok(SubmitInquiryResponse {
            inquiry: Some(stored.into()),
            notice: REPLY_NOTICE.into(),
        })
    }

    pub(crate) async fn get_inquiry_call(
        &self,
        request: Request<GetInquiryRequest>,
    ) -> Result<GetInquiryResponse> {
        let caller = self.state.caller(&request).await?;
        let id = request.get_ref().id;
        let inquiry = self
            .state
            .store
            .get_inquiry(id)
            .await?
            .ok_or_else(|| inquiry_not_found(id))?;
        if caller.require_contract(&inquiry.contract_id).is_err() {
            return Err(inquiry_not_found(id));
        }
        Ok(GetInquiryResponse {
            inquiry: Some(inquiry.into()),
        })
    }

    pub(crate) async fn list_inquiries_call(
        &self,
        request: Request<ListInquiriesRequest>,
    ) -> Result<ListInquiriesResponse> {
        let caller = self.state.caller(&request).await?;
        let r = request.into_inner();
        let contract_id = match (caller.contract_scope(), r.contract_id.is_empty()) {
            (Some(own), true) => Some(own.to_owned()),
            (_, false) => {
                let contract_id = code_field("contract_id", &r.contract_id)?;
                caller.require_contract(contract_id.as_str())?;
                Some(contract_id.as_str().to_owned())
            }
            (None, true) => None,
        };
        let limit = page_size_field("page_size", r.page_size)?;
        let query = InquiryQuery {
            contract_id,
            status: inquiry_status_filter(r.status)?,
            after: decode_position(&r.page_token)?,
            limit: limit + 1,
        };
        let mut inquiries = self.state.store.list_inquiries(&query).await?;
        let more = i64::try_from(inquiries.len()).unwrap_or(i64::MAX) > limit;
        inquiries.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match (more, inquiries.last()) {
            (true, Some(last)) => encode_page_token(&format!(
                "{}.{}|{}",
                last.handling_starts_at.timestamp(),
                last.handling_starts_at.timestamp_subsec_nanos(),
                last.id
            )),
            _ => String::new(),
        };
        Ok(ListInquiriesResponse {
            inquiries: inquiries.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    pub(crate) async fn answer_inquiry_call(
        &self,
        request: Request<AnswerInquiryRequest>,
    ) -> Result<AnswerInquiryResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let id = r.id;
        let normalized = normalize_newlines(&r.answer);
        let answer = if normalized.trim().is_empty() {
            None
        } else {
            check_text(&normalized, MAX_BODY_CHARS)
                .and_then(|()| check_multiline(&normalized))
                .map_err(|m| Error::invalid("answer", m))?;
            Some(normalized.as_str())
        };
        let answered = self
            .state
            .store
            .answer_inquiry(id, answer, self.state.clock.now(), &caller.audit())
            .await?
            .ok_or_else(|| inquiry_not_found(id))?;
        tracing::info!(inquiry_id = id, by = %caller.token_name, "inquiry answered");
        Ok(AnswerInquiryResponse {
            inquiry: Some(answered.into()),
        })
    }
}

fn outbox_message(
    m: crate::store::outbox::OutboxMessage,
    today: chrono::NaiveDate,
) -> OutboxMessage {
    use crate::grpc::convert::{format_optional_date, timestamp};
    OutboxMessage {
        overdue: m.status != "sent" && m.due_on < today,
        id: m.id,
        kind: m.kind,
        recipient: m.recipient,
        subject: m.subject,
        body: m.body,
        due_on: format_optional_date(Some(m.due_on)),
        next_attempt_at: if m.status == "pending" {
            m.next_attempt_at.map(timestamp)
        } else {
            None
        },
        status: m.status,
        attempts: m.attempts,
        last_error: m.last_error.unwrap_or_default(),
        message_id: m.message_id.unwrap_or_default(),
        created_at: Some(timestamp(m.created_at)),
        sent_at: m.sent_at.map(timestamp),
        license_key_id: m.license_key_id.unwrap_or_default(),
        inquiry_id: m.inquiry_id.unwrap_or(0),
    }
}

impl SupportApi {
    pub(crate) async fn list_outbox_messages_call(
        &self,
        request: Request<ListOutboxMessagesRequest>,
    ) -> Result<ListOutboxMessagesResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let status = match r.status.as_str() {
            "" => None,
            "pending" | "sent" | "failed" => Some(r.status.clone()),
            _ => return Err(Error::invalid("status", "must be pending, sent or failed")),
        };
        let limit = page_size_field("page_size", r.page_size)?;
        let after_id =
            match decode_page_token(&r.page_token)? {
                Some(text) => Some(text.parse().map_err(|_| {
                    Error::invalid("page_token", "not a page token this server gave")
                })?),
                None => None,
            };
        let today = jst_date(self.state.clock.now());
        let query = crate::store::outbox::OutboxQuery {
            status,
            overdue_on: r.overdue.then_some(today),
            after_id,
            limit: limit + 1,
        };
        let mut messages = self.state.store.list_outbox(&query).await?;
        let more = i64::try_from(messages.len()).unwrap_or(i64::MAX) > limit;
        messages.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match (more, messages.last()) {
            (true, Some(last)) => encode_page_token(&last.id.to_string()),
            _ => String::new(),
        };
        Ok(ListOutboxMessagesResponse {
            messages: messages
                .into_iter()
                .map(|m| outbox_message(m, today))
                .collect(),
            next_page_token,
        })
    }

    pub(crate) async fn get_outbox_message_call(
        &self,
        request: Request<GetOutboxMessageRequest>,
    ) -> Result<GetOutboxMessageResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let id = request.get_ref().id;
        let message = self
            .state
            .store
            .get_outbox(id)
            .await?
            .ok_or_else(|| Error::NotFound {
                reason: Reason::OutboxMessageNotFound.as_str(),
                message: format!("there is no outbox message {id}"),
            })?;
        Ok(GetOutboxMessageResponse {
            message: Some(outbox_message(message, jst_date(self.state.clock.now()))),
        })
    }

    pub(crate) async fn retry_outbox_message_call(
        &self,
        request: Request<RetryOutboxMessageRequest>,
    ) -> Result<RetryOutboxMessageResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let id = request.get_ref().id;
        let now = self.state.clock.now();
        let message = self
            .state
            .store
            .retry_outbox(id, now, &caller.audit())
            .await?;
        tracing::info!(outbox_id = id, by = %caller.token_name, "outbox message put back in line");
        Ok(RetryOutboxMessageResponse {
            message: Some(outbox_message(message, jst_date(now))),
        })
    }
}

impl SupportApi {
    pub(crate) async fn list_events_call(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<ListEventsResponse> {
        use crate::grpc::convert::timestamp;
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let after_id =
            match decode_page_token(&r.page_token)? {
                Some(text) => Some(text.parse().map_err(|_| {
                    Error::invalid("page_token", "not a page token this server gave")
                })?),
                None => None,
            };
        let since = match r.since_at {
            Some(at) => Some(crate::grpc::convert::instant_field(
                "since_at",
                Some(at),
                self.state.clock.now(),
            )?),
            None => None,
        };
        let text = |v: String| if v.is_empty() { None } else { Some(v) };
        let code = |field: &str, v: &str| -> Result<Option<String>> {
            if v.is_empty() {
                Ok(None)
            } else {
                Ok(Some(code_field(field, v)?.as_str().to_owned()))
            }
        };
        let query = crate::store::events::EventQuery {
            contract_id: code("contract_id", &r.contract_id)?,
            license_id: code("license_id", &r.license_id)?,
            kind: text(r.kind),
            since,
            request_id: None,
            after_id,
            limit: limit + 1,
        };
        let mut events = self.state.store.list_events(&query).await?;
        let more = i64::try_from(events.len()).unwrap_or(i64::MAX) > limit;
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match (more, events.last()) {
            (true, Some(last)) => encode_page_token(&last.id.to_string()),
            _ => String::new(),
        };
        Ok(ListEventsResponse {
            events: events
                .into_iter()
                .map(|e| Event {
                    id: e.id,
                    occurred_at: Some(timestamp(e.occurred_at)),
                    actor: e.actor,
                    actor_token_id: e.actor_token_id.unwrap_or_default(),
                    request_id: e.request_id.unwrap_or_default(),
                    kind: e.kind,
                    contract_id: e.contract_id.unwrap_or_default(),
                    license_id: e.license_id.unwrap_or_default(),
                    subject: e.subject,
                    detail: e.detail,
                })
                .collect(),
            next_page_token,
        })
    }
}
