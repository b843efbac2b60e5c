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
    category_field, code_field, decode_page_token, email_field, inquiry_status_filter,
    not_a_page_token, one_page, out_of_range, page_size_field, product_field,
};
use crate::grpc::support::SupportApi;
use crate::pb::*;
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
    let bad = not_a_page_token;
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
        let next_page_token = one_page(&mut inquiries, limit, |last| {
            format!(
                "{}.{}|{}",
                last.handling_starts_at.timestamp(),
                last.handling_starts_at.timestamp_subsec_nanos(),
                last.id
            )
        });
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
        if normalized.trim().is_empty() {
            return Err(Error::InvalidField {
                field: "answer".into(),
                reason: "ANSWER_REQUIRED",
                message: "an answer needs a body, which is mailed to the inquiry's reply-to \
                          address; to close an inquiry without a reply, use CloseInquiry"
                    .into(),
            });
        }
        check_text(&normalized, MAX_BODY_CHARS)
            .and_then(|()| check_multiline(&normalized))
            .map_err(|m| Error::invalid("answer", m))?;
        let answered = self
            .state
            .store
            .answer_inquiry(id, &normalized, self.state.clock.now(), &caller.audit())
            .await?
            .ok_or_else(|| inquiry_not_found(id))?;
        tracing::info!(inquiry_id = id, by = %caller.token_name, "inquiry answered");
        Ok(AnswerInquiryResponse {
            inquiry: Some(answered.into()),
        })
    }

    pub(crate) async fn close_inquiry_call(
        &self,
        request: Request<CloseInquiryRequest>,
    ) -> Result<CloseInquiryResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let reason = r.reason.trim();
        check_text(reason, MAX_SUBJECT_CHARS)
            .and_then(|()| check_line(reason))
            .map_err(|m| Error::invalid("reason", m))?;
        let closed = self
            .state
            .store
            .close_inquiry(r.id, reason, self.state.clock.now(), &caller.audit())
            .await?
            .ok_or_else(|| inquiry_not_found(r.id))?;
        tracing::info!(inquiry_id = r.id, by = %caller.token_name, "inquiry closed without a reply");
        Ok(CloseInquiryResponse {
            inquiry: Some(closed.into()),
        })
    }
}
