//! SupportService: the business calendar, company closures and holiday
//! overrides.

use chrono::{DateTime, Utc};
use tonic::Request;

use crate::domain::calendar::MAX_RANGE_DAYS;
use crate::domain::dates::format_date;
use crate::domain::feed::{FeedYears, feed_entries};
use crate::error::{Error, Reason, Result};
use crate::grpc::AppState;
use crate::grpc::convert::{
    date_field, instant_field, new_closure, new_holiday_override, out_of_range,
};
use crate::grpc::support::SupportApi;
use crate::pb::timestamp;
use crate::pb::*;

impl SupportApi {
    pub(crate) async fn export_calendar_call(
        &self,
        request: Request<ExportCalendarRequest>,
    ) -> Result<ExportCalendarResponse> {
        self.state.caller(&request).await?;
        let r = request.into_inner();
        let this_year =
            chrono::Datelike::year(&crate::domain::dates::jst_date(self.state.clock.now()));
        let nonzero = |year: i32| if year == 0 { None } else { Some(year) };
        let years = years_of(nonzero(r.from_year), nonzero(r.to_year), this_year)?;
        let (ics, _) = feed_document(&self.state, years).await?;
        Ok(ExportCalendarResponse { ics })
    }

    pub(crate) async fn get_calendar_day_call(
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

    pub(crate) async fn list_days_off_call(
        &self,
        request: Request<ListDaysOffRequest>,
    ) -> Result<ListDaysOffResponse> {
        self.state.caller(&request).await?;
        let message = request.get_ref();
        let start = date_field("start_on", &message.start_on)?;
        let end = date_field("end_on", &message.end_on)?;
        if end < start {
            return Err(crate::grpc::convert::range_reversed(
                "end_on",
                "must not be before start_on",
            ));
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

    pub(crate) async fn get_next_business_day_call(
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

    pub(crate) async fn get_reception_status_call(
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

    pub(crate) async fn get_delivery_date_call(
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

    pub(crate) async fn create_closure_call(
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

    pub(crate) async fn list_closures_call(
        &self,
        request: Request<ListClosuresRequest>,
    ) -> Result<ListClosuresResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let closures = self.state.store.list_closures().await?;
        Ok(ListClosuresResponse {
            closures: closures.into_iter().map(Into::into).collect(),
        })
    }

    pub(crate) async fn delete_closure_call(
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

    pub(crate) async fn create_holiday_override_call(
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

    pub(crate) async fn list_holiday_overrides_call(
        &self,
        request: Request<ListHolidayOverridesRequest>,
    ) -> Result<ListHolidayOverridesResponse> {
        self.state.caller(&request).await?.require_staff()?;
        let overrides = self.state.store.list_holiday_overrides().await?;
        Ok(ListHolidayOverridesResponse {
            holiday_overrides: overrides.into_iter().map(Into::into).collect(),
        })
    }

    pub(crate) async fn delete_holiday_override_call(
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

/// The feed document for `years`, with the instant it last changed.
pub async fn feed_document(state: &AppState, years: FeedYears) -> Result<(String, DateTime<Utc>)> {
    let calendar = state.calendar().await?;
    let entries =
        feed_entries(&calendar, years).map_err(|error| Error::invalid("to", error.to_string()))?;
    let stamp = calendar
        .last_entered()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    Ok((crate::ical::calendar_document(&entries, stamp), stamp))
}

/// The span of years a query asks for: `from` and `to` are whole years,
/// by default this year (JST) and the next.
pub fn years_of(from: Option<i32>, to: Option<i32>, this_year: i32) -> Result<FeedYears> {
    let from_year = from.unwrap_or(this_year);
    let to_year = to.unwrap_or(from_year.saturating_add(1));
    FeedYears::new(from_year, to_year).map_err(|message| Error::invalid("to", message))
}
