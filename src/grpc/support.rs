//! `neo.support.v1.SupportService`: the service struct and the dispatch of
//! each RPC to its handler, `*_call`, in the file of its topic
//! (`calendar`, `contracts`, `inquiries`, `outbox`, `events`).

use tonic::{Request, Response, Status};

use crate::error::Result;
use crate::grpc::{AppState, answer};
use crate::pb::support_service_server::SupportService;
use crate::pb::*;

/// The SupportService implementation.
#[derive(Clone)]
pub struct SupportApi {
    pub(crate) state: AppState,
}

impl SupportApi {
    /// A service over the shared state.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl SupportService for SupportApi {
    async fn get_calendar_day(
        &self,
        request: Request<GetCalendarDayRequest>,
    ) -> Result<Response<GetCalendarDayResponse>, Status> {
        answer(self.get_calendar_day_call(request).await)
    }

    async fn list_days_off(
        &self,
        request: Request<ListDaysOffRequest>,
    ) -> Result<Response<ListDaysOffResponse>, Status> {
        answer(self.list_days_off_call(request).await)
    }

    async fn get_next_business_day(
        &self,
        request: Request<GetNextBusinessDayRequest>,
    ) -> Result<Response<GetNextBusinessDayResponse>, Status> {
        answer(self.get_next_business_day_call(request).await)
    }

    async fn get_reception_status(
        &self,
        request: Request<GetReceptionStatusRequest>,
    ) -> Result<Response<GetReceptionStatusResponse>, Status> {
        answer(self.get_reception_status_call(request).await)
    }

    async fn get_delivery_date(
        &self,
        request: Request<GetDeliveryDateRequest>,
    ) -> Result<Response<GetDeliveryDateResponse>, Status> {
        answer(self.get_delivery_date_call(request).await)
    }

    async fn create_closure(
        &self,
        request: Request<CreateClosureRequest>,
    ) -> Result<Response<CreateClosureResponse>, Status> {
        answer(self.create_closure_call(request).await)
    }

    async fn list_closures(
        &self,
        request: Request<ListClosuresRequest>,
    ) -> Result<Response<ListClosuresResponse>, Status> {
        answer(self.list_closures_call(request).await)
    }

    async fn delete_closure(
        &self,
        request: Request<DeleteClosureRequest>,
    ) -> Result<Response<DeleteClosureResponse>, Status> {
        answer(self.delete_closure_call(request).await)
    }

    async fn create_holiday_override(
        &self,
        request: Request<CreateHolidayOverrideRequest>,
    ) -> Result<Response<CreateHolidayOverrideResponse>, Status> {
        answer(self.create_holiday_override_call(request).await)
    }

    async fn list_holiday_overrides(
        &self,
        request: Request<ListHolidayOverridesRequest>,
    ) -> Result<Response<ListHolidayOverridesResponse>, Status> {
        answer(self.list_holiday_overrides_call(request).await)
    }

    async fn delete_holiday_override(
        &self,
        request: Request<DeleteHolidayOverrideRequest>,
    ) -> Result<Response<DeleteHolidayOverrideResponse>, Status> {
        answer(self.delete_holiday_override_call(request).await)
    }

    async fn create_contract(
        &self,
        request: Request<CreateContractRequest>,
    ) -> Result<Response<CreateContractResponse>, Status> {
        answer(self.create_contract_call(request).await)
    }

    async fn get_contract(
        &self,
        request: Request<GetContractRequest>,
    ) -> Result<Response<GetContractResponse>, Status> {
        answer(self.get_contract_call(request).await)
    }

    async fn update_contract(
        &self,
        request: Request<UpdateContractRequest>,
    ) -> Result<Response<UpdateContractResponse>, Status> {
        answer(self.update_contract_call(request).await)
    }

    async fn list_contracts(
        &self,
        request: Request<ListContractsRequest>,
    ) -> Result<Response<ListContractsResponse>, Status> {
        answer(self.list_contracts_call(request).await)
    }

    async fn record_order(
        &self,
        request: Request<RecordOrderRequest>,
    ) -> Result<Response<RecordOrderResponse>, Status> {
        answer(self.record_order_call(request).await)
    }

    async fn quote_renewal(
        &self,
        request: Request<QuoteRenewalRequest>,
    ) -> Result<Response<QuoteRenewalResponse>, Status> {
        answer(self.quote_renewal_call(request).await)
    }

    async fn create_access_token(
        &self,
        request: Request<CreateAccessTokenRequest>,
    ) -> Result<Response<CreateAccessTokenResponse>, Status> {
        answer(self.create_access_token_call(request).await)
    }

    async fn list_access_tokens(
        &self,
        request: Request<ListAccessTokensRequest>,
    ) -> Result<Response<ListAccessTokensResponse>, Status> {
        answer(self.list_access_tokens_call(request).await)
    }

    async fn revoke_access_token(
        &self,
        request: Request<RevokeAccessTokenRequest>,
    ) -> Result<Response<RevokeAccessTokenResponse>, Status> {
        answer(self.revoke_access_token_call(request).await)
    }

    async fn submit_inquiry(
        &self,
        request: Request<SubmitInquiryRequest>,
    ) -> Result<Response<SubmitInquiryResponse>, Status> {
        answer(self.submit_inquiry_call(request).await)
    }

    async fn get_inquiry(
        &self,
        request: Request<GetInquiryRequest>,
    ) -> Result<Response<GetInquiryResponse>, Status> {
        answer(self.get_inquiry_call(request).await)
    }

    async fn list_inquiries(
        &self,
        request: Request<ListInquiriesRequest>,
    ) -> Result<Response<ListInquiriesResponse>, Status> {
        answer(self.list_inquiries_call(request).await)
    }

    async fn answer_inquiry(
        &self,
        request: Request<AnswerInquiryRequest>,
    ) -> Result<Response<AnswerInquiryResponse>, Status> {
        answer(self.answer_inquiry_call(request).await)
    }

    async fn close_inquiry(
        &self,
        request: Request<CloseInquiryRequest>,
    ) -> Result<Response<CloseInquiryResponse>, Status> {
        answer(self.close_inquiry_call(request).await)
    }

    async fn list_outbox_messages(
        &self,
        request: Request<ListOutboxMessagesRequest>,
    ) -> Result<Response<ListOutboxMessagesResponse>, Status> {
        answer(self.list_outbox_messages_call(request).await)
    }

    async fn get_outbox_message(
        &self,
        request: Request<GetOutboxMessageRequest>,
    ) -> Result<Response<GetOutboxMessageResponse>, Status> {
        answer(self.get_outbox_message_call(request).await)
    }

    async fn retry_outbox_message(
        &self,
        request: Request<RetryOutboxMessageRequest>,
    ) -> Result<Response<RetryOutboxMessageResponse>, Status> {
        answer(self.retry_outbox_message_call(request).await)
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        answer(self.list_events_call(request).await)
    }

    type WatchEventsStream = crate::grpc::events::WatchStream;

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        answer(self.watch_events_call(request).await)
    }

    async fn export_calendar(
        &self,
        request: Request<ExportCalendarRequest>,
    ) -> Result<Response<ExportCalendarResponse>, Status> {
        answer(self.export_calendar_call(request).await)
    }

    async fn list_renewal_reminders(
        &self,
        request: Request<ListRenewalRemindersRequest>,
    ) -> Result<Response<ListRenewalRemindersResponse>, Status> {
        answer(self.list_renewal_reminders_call(request).await)
    }
}
