//! SupportService: the mail outbox, for staff: list, read and retry.

use tonic::Request;

use crate::domain::dates::jst_date;
use crate::error::{Error, Reason, Result};
use crate::grpc::convert::{decode_id_page_token, format_optional_date, one_page, page_size_field};
use crate::grpc::support::SupportApi;
use crate::pb::*;

fn outbox_message(
    m: crate::store::outbox::OutboxMessage,
    today: chrono::NaiveDate,
) -> OutboxMessage {
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
        let after_id = decode_id_page_token(&r.page_token)?;
        let today = jst_date(self.state.clock.now());
        let query = crate::store::outbox::OutboxQuery {
            status,
            overdue_on: r.overdue.then_some(today),
            after_id,
            limit: limit + 1,
        };
        let mut messages = self.state.store.list_outbox(&query).await?;
        let next_page_token = one_page(&mut messages, limit, |last| last.id.to_string());
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
