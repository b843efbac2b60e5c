//! `neo.support.v1.SupportService`: the business calendar, company
//! closures and holiday overrides.

use tonic::{Request, Response, Status};

use crate::domain::calendar::MAX_RANGE_DAYS;
use crate::domain::dates::format_date;
use crate::error::{Error, Reason, Result};
use crate::grpc::convert::{
    date_field, instant_field, new_closure, new_holiday_override, out_of_range, timestamp,
};
use crate::grpc::pb::support_service_server::SupportService;
use crate::grpc::pb::*;
use crate::grpc::{AppState, to_status};

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

    async fn get_calendar_day(
        &self,
        request: Request<GetCalendarDayRequest>,
    ) -> Result<GetCalendarDayResponse> {
        self.state.caller(&request).await?;
        let date = date_field("date", &request.get_ref().date)?;
        let calendar = self.state.calendar().await?;
        let day = calendar.day(date).map_err(out_of_range("date"))?;
        Ok(GetCalendarDayResponse {
            day: Some(day.into()),
        })
    }

    async fn list_days_off(
        &self,
        request: Request<ListDaysOffRequest>,
    ) -> Result<ListDaysOffResponse> {
        self.state.caller(&request).await?;
        let message = request.get_ref();
        let start = date_field("start_on", &message.start_on)?;
        let end = date_field("end_on", &message.end_on)?;
        if end < start {
            return Err(Error::invalid("end_on", "must not be before start_on"));
        }
        if (end - start).num_days() >= MAX_RANGE_DAYS {
            return Err(Error::invalid("end_on", "the range is at most ten years"));
        }
        let calendar = self.state.calendar().await?;
        let days = calendar
            .days_off(start, end)
            .map_err(out_of_range("end_on"))?;
        Ok(ListDaysOffResponse {
            days: days.into_iter().map(Into::into).collect(),
        })
    }

    async fn get_next_business_day(
        &self,
        request: Request<GetNextBusinessDayRequest>,
    ) -> Result<GetNextBusinessDayResponse> {
        self.state.caller(&request).await?;
        let date = date_field("date", &request.get_ref().date)?;
        let calendar = self.state.calendar().await?;
        let next = calendar
            .next_business_day(date)
            .map_err(out_of_range("date"))?;
        Ok(GetNextBusinessDayResponse {
            date: format_date(next),
        })
    }

    async fn get_reception_status(
        &self,
        request: Request<GetReceptionStatusRequest>,
    ) -> Result<GetReceptionStatusResponse> {
        self.state.caller(&request).await?;
        let at = instant_field("at", request.into_inner().at, self.state.clock.now())?;
        let calendar = self.state.calendar().await?;
        let reception = calendar.reception(at).map_err(out_of_range("at"))?;
        Ok(GetReceptionStatusResponse {
            at: Some(timestamp(at)),
            open: reception.open,
            opens_at: Some(timestamp(reception.opens_at)),
            closes_at: reception.closes_at.map(timestamp),
        })
    }

    async fn get_delivery_date(
        &self,
        request: Request<GetDeliveryDateRequest>,
    ) -> Result<GetDeliveryDateResponse> {
        self.state.caller(&request).await?;
        let received_at = instant_field(
            "received_at",
            request.into_inner().received_at,
            self.state.clock.now(),
        )?;
        let calendar = self.state.calendar().await?;
        let delivery_on = calendar
            .delivery_on(received_at)
            .map_err(out_of_range("received_at"))?;
        Ok(GetDeliveryDateResponse {
            received_at: Some(timestamp(received_at)),
            delivery_on: format_date(delivery_on),
        })
    }

    async fn create_closure(
        &self,
        request: Request<CreateClosureRequest>,
    ) -> Result<CreateClosureResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let (name, range) = new_closure(request.into_inner().closure)?;
        let closure = self
            .state
            .store
            .create_closure(&name, &range, self.state.clock.now(), &caller.audit())
            .await?;
        self.state.cache.forget_calendar();
        tracing::info!(closure_id = closure.id, "company closure added");
        Ok(CreateClosureResponse {
            closure: Some(closure.into()),
        })
    }

    async fn list_closures(
        &self,
        request: Request<ListClosuresRequest>,
    ) -> Result<ListClosuresResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let closures = self.state.store.list_closures().await?;
        Ok(ListClosuresResponse {
            closures: closures.into_iter().map(Into::into).collect(),
        })
    }

    async fn delete_closure(
        &self,
        request: Request<DeleteClosureRequest>,
    ) -> Result<DeleteClosureResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let id = request.get_ref().id;
        let deleted = self
            .state
            .store
            .delete_closure(id, self.state.clock.now(), &caller.audit())
            .await?;
        self.state.cache.forget_calendar();
        if !deleted {
            return Err(Error::NotFound {
                reason: Reason::ClosureNotFound.as_str(),
                message: format!("there is no closure with id {id}"),
            });
        }
        tracing::info!(closure_id = id, "company closure removed");
        Ok(DeleteClosureResponse {})
    }

    async fn create_holiday_override(
        &self,
        request: Request<CreateHolidayOverrideRequest>,
    ) -> Result<CreateHolidayOverrideResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let (date, action, note) = new_holiday_override(request.into_inner().holiday_override)?;
        let created = self
            .state
            .store
            .create_holiday_override(
                date,
                &action,
                &note,
                self.state.clock.now(),
                &caller.audit(),
            )
            .await?;
        self.state.cache.forget_calendar();
        tracing::info!(override_id = created.id, "holiday override added");
        Ok(CreateHolidayOverrideResponse {
            holiday_override: Some(created.into()),
        })
    }

    async fn list_holiday_overrides(
        &self,
        request: Request<ListHolidayOverridesRequest>,
    ) -> Result<ListHolidayOverridesResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let overrides = self.state.store.list_holiday_overrides().await?;
        Ok(ListHolidayOverridesResponse {
            holiday_overrides: overrides.into_iter().map(Into::into).collect(),
        })
    }

    async fn delete_holiday_override(
        &self,
        request: Request<DeleteHolidayOverrideRequest>,
    ) -> Result<DeleteHolidayOverrideResponse> {
        let caller = self.state.caller(&request).await?;
        caller.require_staff()?;
        let id = request.get_ref().id;
        let deleted = self
            .state
            .store
            .delete_holiday_override(id, self.state.clock.now(), &caller.audit())
            .await?;
        self.state.cache.forget_calendar();
        if !deleted {
            return Err(Error::NotFound {
                reason: Reason::OverrideNotFound.as_str(),
                message: format!("there is no holiday override with id {id}"),
            });
        }
        tracing::info!(override_id = id, "holiday override removed");
        Ok(DeleteHolidayOverrideResponse {})
    }
}

/// Answers a call: the library result becomes a response or a status.
fn answer<T>(result: Result<T>) -> Result<Response<T>, Status> {
    result.map(Response::new).map_err(to_status)
}

#[tonic::async_trait]
impl SupportService for SupportApi {
    async fn get_calendar_day(
        &self,
        request: Request<GetCalendarDayRequest>,
    ) -> Result<Response<GetCalendarDayResponse>, Status> {
        answer(SupportApi::get_calendar_day(self, request).await)
    }

    async fn list_days_off(
        &self,
        request: Request<ListDaysOffRequest>,
    ) -> Result<Response<ListDaysOffResponse>, Status> {
        answer(SupportApi::list_days_off(self, request).await)
    }

    async fn get_next_business_day(
        &self,
        request: Request<GetNextBusinessDayRequest>,
    ) -> Result<Response<GetNextBusinessDayResponse>, Status> {
        answer(SupportApi::get_next_business_day(self, request).await)
    }

    async fn get_reception_status(
        &self,
        request: Request<GetReceptionStatusRequest>,
    ) -> Result<Response<GetReceptionStatusResponse>, Status> {
        answer(SupportApi::get_reception_status(self, request).await)
    }

    async fn get_delivery_date(
        &self,
        request: Request<GetDeliveryDateRequest>,
    ) -> Result<Response<GetDeliveryDateResponse>, Status> {
        answer(SupportApi::get_delivery_date(self, request).await)
    }

    async fn create_closure(
        &self,
        request: Request<CreateClosureRequest>,
    ) -> Result<Response<CreateClosureResponse>, Status> {
        answer(SupportApi::create_closure(self, request).await)
    }

    async fn list_closures(
        &self,
        request: Request<ListClosuresRequest>,
    ) -> Result<Response<ListClosuresResponse>, Status> {
        answer(SupportApi::list_closures(self, request).await)
    }

    async fn delete_closure(
        &self,
        request: Request<DeleteClosureRequest>,
    ) -> Result<Response<DeleteClosureResponse>, Status> {
        answer(SupportApi::delete_closure(self, request).await)
    }

    async fn create_holiday_override(
        &self,
        request: Request<CreateHolidayOverrideRequest>,
    ) -> Result<Response<CreateHolidayOverrideResponse>, Status> {
        answer(SupportApi::create_holiday_override(self, request).await)
    }

    async fn list_holiday_overrides(
        &self,
        request: Request<ListHolidayOverridesRequest>,
    ) -> Result<Response<ListHolidayOverridesResponse>, Status> {
        answer(SupportApi::list_holiday_overrides(self, request).await)
    }

    async fn delete_holiday_override(
        &self,
        request: Request<DeleteHolidayOverrideRequest>,
    ) -> Result<Response<DeleteHolidayOverrideResponse>, Status> {
        answer(SupportApi::delete_holiday_override(self, request).await)
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
}
