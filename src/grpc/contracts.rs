//! SupportService: contracts, orders, renewal quotes and customer tokens.

use tonic::Request;

use crate::domain::contract::{
    ContractId, NewContract, NewOrder, OrderKind, coverage, last_end, period_on, quote_renewal,
    status_on,
};
use crate::domain::dates::{format_date, jst_date};
use crate::domain::token::{Role, TokenSecret};
use crate::error::{Error, Result};
use crate::grpc::contract_not_found;
use crate::grpc::convert::{
    code_field, date_field, decode_page_token, email_field, encode_page_token,
    format_optional_date, name_field, optional_date_field, page_size_field, status_filter,
};
use crate::grpc::pb::*;
use crate::grpc::support::SupportApi;
use crate::store::contracts::ContractQuery;

/// Most seats a license can have; a typo guard, far above any real one.
const MAX_SEATS: i64 = 1_000_000;

fn seats_field(field: &str, value: i64) -> Result<i64> {
    if (1..=MAX_SEATS).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be between 1 and {MAX_SEATS}"),
        ))
    }
}

/// Refuses a field the order kind does not take.
fn unused(field: &str, set: bool, kind: &str) -> Result<()> {
    if set {
        Err(Error::invalid(
            field,
            format!("does not apply to a {kind} order"),
        ))
    } else {
        Ok(())
    }
}

fn new_order(request: &RecordOrderRequest) -> Result<NewOrder> {
    let received_on = date_field("received_on", &request.received_on)?;
    let purchased_on = optional_date_field("purchased_on", &request.purchased_on)?;
    let kind = pb_order_kind(request.kind)?;
    let name = kind.as_str();
    if kind != OrderKind::Certificate {
        unused("start_on", !request.start_on.is_empty(), name)?;
        unused("end_on", !request.end_on.is_empty(), name)?;
        unused("certificate_no", !request.certificate_no.is_empty(), name)?;
    }
    if kind != OrderKind::AddSeats {
        unused("seats", request.seats != 0, name)?;
    }
    let require_purchase = || {
        purchased_on.ok_or_else(|| {
            Error::invalid("purchased_on", format!("is required for a {name} order"))
        })
    };
    Ok(match kind {
        OrderKind::FirstYear => NewOrder::FirstYear {
            received_on,
            purchased_on: require_purchase()?,
        },
        OrderKind::Renewal | OrderKind::ReContinuation => {
            unused("purchased_on", purchased_on.is_some(), name)?;
            if kind == OrderKind::Renewal {
                NewOrder::Renewal { received_on }
            } else {
                NewOrder::ReContinuation { received_on }
            }
        }
        OrderKind::AddSeats => NewOrder::AddSeats {
            received_on,
            purchased_on: require_purchase()?,
            seats: seats_field("seats", request.seats)?,
        },
        OrderKind::Certificate => {
            unused("purchased_on", purchased_on.is_some(), name)?;
            let start = date_field("start_on", &request.start_on)?;
            let end = date_field("end_on", &request.end_on)?;
            if end < start {
                return Err(Error::invalid("end_on", "must not be before start_on"));
            }
            let certificate_no = name_field("certificate_no", &request.certificate_no)?;
            NewOrder::Certificate {
                received_on,
                start,
                end,
                certificate_no,
            }
        }
    })
}

fn pb_order_kind(value: i32) -> Result<OrderKind> {
    match crate::grpc::pb::OrderKind::try_from(value) {
        Ok(crate::grpc::pb::OrderKind::FirstYear) => Ok(OrderKind::FirstYear),
        Ok(crate::grpc::pb::OrderKind::Renewal) => Ok(OrderKind::Renewal),
        Ok(crate::grpc::pb::OrderKind::ReContinuation) => Ok(OrderKind::ReContinuation),
        Ok(crate::grpc::pb::OrderKind::AddSeats) => Ok(OrderKind::AddSeats),
        Ok(crate::grpc::pb::OrderKind::Certificate) => Ok(OrderKind::Certificate),
        _ => Err(Error::invalid("kind", "unknown or unset order kind")),
    }
}

impl SupportApi {
    pub(crate) async fn create_contract_call(
        &self,
        request: Request<CreateContractRequest>,
    ) -> Result<CreateContractResponse> {
        let caller = self.state.authenticate(request.metadata()).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let id = if r.id.is_empty() {
            ContractId::generate()
        } else {
            code_field("id", &r.id)?
        };
        let contract = NewContract {
            id,
            customer_name: name_field("customer_name", &r.customer_name)?,
            contact_email: email_field("contact_email", &r.contact_email)?,
            license_id: code_field("license_id", &r.license_id)?,
            seats: seats_field("seats", r.seats)?,
            customized: r.customized,
        };
        let created = self
            .state
            .store
            .create_contract(&contract, self.state.clock.now())
            .await?;
        tracing::info!(contract_id = %created.id, by = %caller.token_name, "contract created");
        Ok(CreateContractResponse {
            contract: Some(created.into()),
        })
    }

    pub(crate) async fn get_contract_call(
        &self,
        request: Request<GetContractRequest>,
    ) -> Result<GetContractResponse> {
        let caller = self.state.authenticate(request.metadata()).await?;
        let r = request.into_inner();
        let id = code_field("id", &r.id)?;
        caller.require_contract(id.as_str())?;
        let date = match optional_date_field("date", &r.date)? {
            Some(date) => date,
            None => jst_date(self.state.clock.now()),
        };
        let (contract, orders) = self
            .state
            .store
            .contract_with_orders(&r.id)
            .await?
            .ok_or_else(|| contract_not_found(&r.id))?;
        let status = status_on(&orders, date);
        let current_period_seats = period_on(&orders, date).map_or(0, |o| o.seats);
        let spans = coverage(&orders)
            .into_iter()
            .map(|(from, to)| DateSpan {
                start_on: format_date(from),
                end_on: format_date(to),
            })
            .collect();
        let support_end_on = format_optional_date(last_end(&orders));
        let periods = orders
            .iter()
            .filter(|o| o.is_live_period())
            .cloned()
            .map(Into::into)
            .collect();
        Ok(GetContractResponse {
            next_renewal_seats: contract.seats,
            contract: Some(contract.into()),
            orders: orders.into_iter().map(Into::into).collect(),
            periods,
            coverage: spans,
            date: format_date(date),
            status: crate::grpc::pb::ContractStatus::from(status).into(),
            current_period_seats,
            support_end_on,
        })
    }

    pub(crate) async fn list_contracts_call(
        &self,
        request: Request<ListContractsRequest>,
    ) -> Result<ListContractsResponse> {
        self.state
            .authenticate(request.metadata())
            .await?
            .require_staff()?;
        let r = request.into_inner();
        let limit = page_size_field("page_size", r.page_size)?;
        let status_on_date = match optional_date_field("status_on", &r.status_on)? {
            Some(date) => date,
            None => jst_date(self.state.clock.now()),
        };
        let query = ContractQuery {
            status: status_filter(r.status)?.map(|status| (status, status_on_date)),
            ends_before: optional_date_field("support_ends_before_on", &r.support_ends_before_on)?,
            after_id: decode_page_token(&r.page_token)?,
            limit: limit + 1,
        };
        let mut rows = self.state.store.list_contracts(&query).await?;
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page_token = match (more, rows.last()) {
            (true, Some((last, _))) => encode_page_token(&last.id),
            _ => String::new(),
        };
        let contracts = rows
            .into_iter()
            .map(|(contract, orders)| ContractSummary {
                status: crate::grpc::pb::ContractStatus::from(status_on(&orders, status_on_date))
                    .into(),
                support_end_on: format_optional_date(last_end(&orders)),
                contract: Some(contract.into()),
            })
            .collect();
        Ok(ListContractsResponse {
            contracts,
            next_page_token,
        })
    }

    pub(crate) async fn record_order_call(
        &self,
        request: Request<RecordOrderRequest>,
    ) -> Result<RecordOrderResponse> {
        let caller = self.state.authenticate(request.metadata()).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        let contract_id = code_field("contract_id", &r.contract_id)?;
        let order = new_order(&r)?;
        let recorded = self
            .state
            .store
            .record_order(
                contract_id.as_str(),
                &order,
                &caller.token_name,
                self.state.clock.now(),
            )
            .await?;
        tracing::info!(contract_id = %contract_id, order_id = recorded.id, kind = recorded.kind.as_str(), by = %caller.token_name, "order recorded");
        Ok(RecordOrderResponse {
            order: Some(recorded.into()),
        })
    }

    pub(crate) async fn quote_renewal_call(
        &self,
        request: Request<QuoteRenewalRequest>,
    ) -> Result<QuoteRenewalResponse> {
        self.state
            .authenticate(request.metadata())
            .await?
            .require_staff()?;
        let r = request.into_inner();
        code_field("contract_id", &r.contract_id)?;
        let received_on = date_field("received_on", &r.received_on)?;
        let (_, orders) = self
            .state
            .store
            .contract_with_orders(&r.contract_id)
            .await?
            .ok_or_else(|| contract_not_found(&r.contract_id))?;
        let quote =
            quote_renewal(&orders, received_on).map_err(|refusal| Error::FailedPrecondition {
                reason: refusal.reason(),
                message: refusal.to_string(),
            })?;
        Ok(QuoteRenewalResponse {
            kind: crate::grpc::pb::OrderKind::from(quote.kind).into(),
            start_on: format_date(quote.period.start),
            end_on: format_date(quote.period.end),
        })
    }

    pub(crate) async fn create_access_token_call(
        &self,
        request: Request<CreateAccessTokenRequest>,
    ) -> Result<CreateAccessTokenResponse> {
        let caller = self.state.authenticate(request.metadata()).await?;
        caller.require_staff()?;
        let r = request.into_inner();
        code_field("contract_id", &r.contract_id)?;
        if self
            .state
            .store
            .contract_with_orders(&r.contract_id)
            .await?
            .is_none()
        {
            return Err(contract_not_found(&r.contract_id));
        }
        let name = if r.name.is_empty() {
            let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
            format!("customer {} {suffix}", r.contract_id)
        } else {
            r.name.clone()
        };
        crate::domain::token::check_token_name(&name)
            .map_err(|message| Error::invalid("name", message))?;
        let secret = TokenSecret::generate();
        let role = Role::Customer {
            contract_id: r.contract_id.clone(),
        };
        let record = self
            .state
            .store
            .create_token(&name, &role, &secret.hash(), self.state.clock.now())
            .await?;
        tracing::info!(token_id = record.id, contract_id = %r.contract_id, by = %caller.token_name, "customer token created");
        Ok(CreateAccessTokenResponse {
            id: record.id,
            name: record.name,
            contract_id: r.contract_id,
            token: secret.expose().to_owned(),
        })
    }
}
