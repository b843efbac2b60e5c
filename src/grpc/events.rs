//! SupportService: the audit trail of events, for staff.

use tonic::Request;

use crate::error::Result;
use crate::grpc::convert::{
    code_field, decode_id_page_token, instant_field, one_page, page_size_field,
};
use crate::grpc::support::SupportApi;
use crate::pb::*;

impl SupportApi {
    pub(crate) async fn list_events_call(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<ListEventsResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let after_id = decode_id_page_token(&r.page_token)?;
        let since = match r.since_at {
            Some(at) => Some(instant_field("since_at", Some(at), self.state.clock.now())?),
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
        let next_page_token = one_page(&mut events, limit, |last| last.id.to_string());
        Ok(ListEventsResponse {
            events: events
                .into_iter()
                .map(|e| Event {
                    id: e.id,
                    occurred_at: Some(timestamp(e.occurred_at)),
                    actor: e.actor,
                    actor_token_id: e.actor_token_id.unwrap_or_default(),
                    call_id: e.request_id.clone().unwrap_or_default(),
                    request_id: e.request_id.unwrap_or_default(),
                    reissue_request_id: e.reissue_request_id.unwrap_or_default(),
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
